import { DateTime, IANAZone } from 'luxon';
import { z } from 'zod';

// Windows and freezes on the wall clock of a time zone: what is open at an instant, and when the
// next allowed instant comes. Correct across daylight-saving changes: a window is a span of local
// time on local weekdays, so a 22:00–02:00 window in Europe/Berlin opens at 22:00 Berlin time in
// winter and in summer alike; a local time skipped by the clock moving forward opens the window at
// the first instant after it.

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export const Weekday = z.enum(WEEKDAYS);
export type Weekday = z.infer<typeof Weekday>;

/** An IANA time zone such as Europe/Berlin, or UTC. */
export const TimeZone = z
  .string()
  .max(64)
  .refine((zone) => IANAZone.isValidZone(zone), 'an IANA time zone such as Europe/Berlin or UTC');

export const ClockTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a time is HH:MM');

/** A span of local time on some weekdays; `end` before `start` crosses midnight. */
export interface ClockSpan {
  days: readonly Weekday[];
  start: string;
  end: string;
  /** Absent in settings written before time zones: UTC. */
  timeZone?: string;
}

const minutesOf = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
const weekdayOf = (local: DateTime): Weekday => WEEKDAYS[local.weekday - 1]!;
const previousDay = (day: Weekday): Weekday => WEEKDAYS[(WEEKDAYS.indexOf(day) + 6) % 7]!;

/** Whether `at` falls in the span, on the span's own wall clock. */
export function isInSpan(span: ClockSpan, at: Date): boolean {
  const local = DateTime.fromJSDate(at, { zone: span.timeZone ?? 'UTC' });
  const minutes = local.hour * 60 + local.minute;
  const start = minutesOf(span.start);
  const end = minutesOf(span.end);
  const today = weekdayOf(local);
  if (start <= end) return span.days.includes(today) && minutes >= start && minutes < end;
  // Crosses midnight: opens on a listed day and closes the next morning.
  return (
    (span.days.includes(today) && minutes >= start) ||
    (span.days.includes(previousDay(today)) && minutes < end)
  );
}

/** Whether any window is open at `at`; no windows means always open. */
export function isWindowOpen(windows: readonly ClockSpan[], at: Date): boolean {
  return windows.length === 0 || windows.some((w) => isInSpan(w, at));
}

/** A freeze: a period (from–to, local date-times in its zone) or a recurring span, blocking some actions. */
export interface FreezePeriod {
  name: string;
  blocks: readonly string[];
  timeZone?: string;
  /** `YYYY-MM-DD` (the start of that day) or `YYYY-MM-DDTHH:MM`. */
  from?: string;
  /** `YYYY-MM-DD` (the end of that day) or `YYYY-MM-DDTHH:MM` (exclusive). */
  to?: string;
  recurring?: { days: readonly Weekday[]; start: string; end: string };
}

/** The instants a dated freeze starts and ends. */
export function freezeBounds(freeze: FreezePeriod): { start: Date; end: Date } | null {
  if (!freeze.from || !freeze.to) return null;
  const zone = freeze.timeZone ?? 'UTC';
  const start = DateTime.fromISO(freeze.from, { zone });
  const isWholeDay = !freeze.to.includes('T');
  const end = isWholeDay
    ? DateTime.fromISO(freeze.to, { zone }).plus({ days: 1 }).startOf('day')
    : DateTime.fromISO(freeze.to, { zone });
  return { start: start.toJSDate(), end: end.toJSDate() };
}

/** The freeze blocking `action` at `at`, or null. */
export function activeFreeze(
  freezes: readonly FreezePeriod[],
  action: string,
  at: Date,
): FreezePeriod | null {
  return (
    freezes.find((f) => {
      if (!f.blocks.includes(action)) return false;
      if (f.recurring) return isInSpan({ ...f.recurring, timeZone: f.timeZone }, at);
      const bounds = freezeBounds(f);
      return bounds !== null && at >= bounds.start && at < bounds.end;
    }) ?? null
  );
}

/** Why `action` may not happen at `at` (a freeze, or every window closed), or null when it may. */
export function closedReason(
  windows: readonly ClockSpan[],
  freezes: readonly FreezePeriod[],
  action: string,
  at: Date,
): string | null {
  const freeze = activeFreeze(freezes, action, at);
  if (freeze) return `freeze ${freeze.name} blocks ${action}`;
  return isWindowOpen(windows, at) ? null : 'outside every window';
}

/** How far ahead `nextAllowed` looks. */
export const HORIZON_DAYS = 400;

/**
 * The first instant at or after `at` when `action` may happen: inside a window and in no freeze
 * that blocks it; null when none comes within the horizon. Only a window's opening or a freeze's
 * end can turn "closed" into "open", so those instants are the candidates.
 */
export function nextAllowed(
  windows: readonly ClockSpan[],
  freezes: readonly FreezePeriod[],
  action: string,
  at: Date,
  horizonDays = HORIZON_DAYS,
): Date | null {
  const until = at.getTime() + horizonDays * 86_400_000;
  const candidates = [
    at.getTime(),
    ...windows.flatMap((w) => spanStarts(w, at, horizonDays)),
    ...freezes
      .filter((f) => f.blocks.includes(action))
      .flatMap((f) => {
        if (f.recurring) return spanEnds({ ...f.recurring, timeZone: f.timeZone }, at, horizonDays);
        const bounds = freezeBounds(f);
        return bounds ? [bounds.end.getTime()] : [];
      }),
  ]
    .filter((t) => t >= at.getTime() && t <= until)
    .sort((a, b) => a - b);
  for (const t of candidates) {
    const instant = new Date(t);
    if (closedReason(windows, freezes, action, instant) === null) return instant;
  }
  return null;
}

/** The instants a span opens, on each listed day from the day before `at` through the horizon. */
function spanStarts(span: ClockSpan, at: Date, days: number): number[] {
  return localInstants(span, span.start, at, days);
}

/** The instants a span closes (a crossing span closes the morning after a listed day). */
function spanEnds(span: ClockSpan, at: Date, days: number): number[] {
  const crosses = minutesOf(span.end) < minutesOf(span.start);
  return localInstants(span, span.end, at, days, crosses ? 1 : 0);
}

function localInstants(span: ClockSpan, hhmm: string, at: Date, days: number, dayShift = 0): number[] {
  const zone = span.timeZone ?? 'UTC';
  const first = DateTime.fromJSDate(at, { zone }).startOf('day').minus({ days: 1 });
  const out: number[] = [];
  for (let d = 0; d <= days + 1; d++) {
    const day = first.plus({ days: d });
    if (!span.days.includes(weekdayOf(day))) continue;
    const hour = Number(hhmm.slice(0, 2));
    const minute = Number(hhmm.slice(3, 5));
    const local = day.plus({ days: dayShift }).set({ hour, minute });
    out.push(local.toMillis());
    if (local.hour !== hour || local.minute !== minute) {
      // The clock skipped this time (spring forward): the span opens the instant the clock jumps,
      // some time in the three hours before the shifted one; those quarter hours are candidates too.
      for (let m = 15; m <= 180; m += 15) out.push(local.toMillis() - m * 60_000);
    }
  }
  return out;
}

/** An interval of the coming calendar, for people: a window's opening hours or a freeze. */
export interface CalendarEntry {
  kind: 'window' | 'freeze';
  name: string;
  start: string;
  end: string;
  blocks?: readonly string[];
}

/** The windows and freezes that overlap the next `days` days from `at`, in order of start. */
export function upcoming(
  windows: readonly ClockSpan[],
  freezes: readonly FreezePeriod[],
  at: Date,
  days: number,
): CalendarEntry[] {
  const until = at.getTime() + days * 86_400_000;
  const entries: CalendarEntry[] = [];
  const spans = (span: ClockSpan, name: string, kind: CalendarEntry['kind'], blocks?: readonly string[]) => {
    const starts = spanStarts(span, at, days);
    const zone = span.timeZone ?? 'UTC';
    for (const start of starts) {
      const opening = DateTime.fromMillis(start, { zone });
      const crosses = minutesOf(span.end) < minutesOf(span.start);
      const end = opening
        .startOf('day')
        .plus({ days: crosses ? 1 : 0 })
        .set({ hour: Number(span.end.slice(0, 2)), minute: Number(span.end.slice(3, 5)) });
      if (end.toMillis() <= at.getTime() || start >= until) continue;
      entries.push({ kind, name, start: opening.toISO()!, end: end.toISO()!, ...(blocks ? { blocks } : {}) });
    }
  };
  windows.forEach((w, i) => spans(w, `window ${i + 1} (${w.timeZone ?? 'UTC'})`, 'window'));
  for (const f of freezes) {
    if (f.recurring) {
      spans({ ...f.recurring, timeZone: f.timeZone }, f.name, 'freeze', f.blocks);
      continue;
    }
    const bounds = freezeBounds(f);
    if (!bounds || bounds.end.getTime() <= at.getTime() || bounds.start.getTime() >= until) continue;
    const zone = f.timeZone ?? 'UTC';
    entries.push({
      kind: 'freeze',
      name: f.name,
      start: DateTime.fromJSDate(bounds.start, { zone }).toISO()!,
      end: DateTime.fromJSDate(bounds.end, { zone }).toISO()!,
      blocks: f.blocks,
    });
  }
  return entries.sort((a, b) => Date.parse(a.start) - Date.parse(b.start));
}

/** Whether a target is open for an action now, and if not, why and from when. */
export interface CalendarGate {
  /** Why the action may not happen now (a freeze, or outside every window); null when it may. */
  closedReason: string | null;
  /** The first allowed instant (now when open); null when none comes within the horizon. */
  nextAllowed: string | null;
  /** What the target does with a release while closed. */
  onClosedWindow: 'wait' | 'refuse';
}
