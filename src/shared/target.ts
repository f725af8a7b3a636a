import { z } from 'zod';
import { Duration } from './durations';
import { Policy } from './policy';
import { PersonName, TargetName } from './release';
import { ClockTime, freezeBounds, isWindowOpen, TimeZone, Weekday } from './calendar';
import { plainText } from './text';
import { NOTIFY_EVENTS } from './notify';
import type { ClockSpan } from './calendar';

export const ApprovalRule = z.strictObject({
  /** Distinct approvals needed. 0 means the target needs no approval. Default 0. */
  required: z.number().int().min(0).max(10).default(0),
  /** Who may approve or reject; absent means anyone. */
  approvers: z.array(PersonName).min(1).optional(),
  /** Whether the person who started a release may approve it. Default true. */
  initiatorMayApprove: z.boolean().default(true),
  /** How long a release waits for a decision before it expires and cleans up. Default 24h. */
  timeout: Duration.prefault('24h'),
});
export type ApprovalRule = z.infer<typeof ApprovalRule>;

export const MaintenanceWindow = z.strictObject({
  days: z.array(Weekday).min(1),
  /** Opening time, HH:MM on the window's clock. */
  start: ClockTime,
  /** Closing time, HH:MM; earlier than start means the window crosses midnight. */
  end: ClockTime,
  /** The IANA time zone of its clock; default UTC. Daylight-saving changes are followed. */
  timeZone: TimeZone.default('UTC'),
});
export type MaintenanceWindow = z.infer<typeof MaintenanceWindow>;

/** What a freeze can block: releases, and an environment's maintenance or decommissioning. */
export const FREEZE_ACTIONS = ['release', 'maintenance', 'decommission'] as const;
export const FreezeAction = z.enum(FREEZE_ACTIONS);
export type FreezeAction = z.infer<typeof FreezeAction>;

/** A local date, or date and time, on the freeze's clock: `2026-12-24`, `2026-12-24T18:00`. */
const LocalDateTime = z
  .string()
  .regex(
    /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])(T([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?)?$/,
    "a date YYYY-MM-DD, or a date and time YYYY-MM-DDTHH:MM[:SS] (on the freeze's timeZone)",
  );

/**
 * A freeze: a period (`from`–`to`; a bare `to` date freezes that whole day) or a recurring span
 * (`days`, `start`, `end`), on the clock of `timeZone`, blocking the actions it names. A rollback
 * is never blocked.
 */
export const Freeze = z
  .strictObject({
    name: plainText(100, 'name').pipe(z.string().min(1, 'a freeze needs a name')),
    blocks: z.array(FreezeAction).min(1).max(3).default(['release']),
    timeZone: TimeZone.default('UTC'),
    from: LocalDateTime.optional(),
    to: LocalDateTime.optional(),
    recurring: z
      .strictObject({ days: z.array(Weekday).min(1).max(7), start: ClockTime, end: ClockTime })
      .optional(),
  })
  .superRefine((f, ctx) => {
    const isDated = f.from !== undefined || f.to !== undefined;
    if (isDated === (f.recurring !== undefined)) {
      ctx.addIssue({ code: 'custom', message: 'a freeze has either from and to, or recurring' });
      return;
    }
    if (f.recurring && f.recurring.start === f.recurring.end) {
      ctx.addIssue({
        code: 'custom',
        path: ['recurring', 'end'],
        message: 'end is start: the freeze would never hold',
      });
      return;
    }
    if (isDated && (!f.from || !f.to)) {
      ctx.addIssue({ code: 'custom', message: 'a dated freeze needs both from and to' });
      return;
    }
    const bounds = freezeBounds(f);
    if (!bounds) return;
    let isValid = true;
    for (const key of ['from', 'to'] as const) {
      if (Number.isNaN((key === 'from' ? bounds.start : bounds.end).getTime())) {
        ctx.addIssue({ code: 'custom', path: [key], message: `${f[key]} is not a date on the calendar` });
        isValid = false;
      }
    }
    if (isValid && !(bounds.start < bounds.end)) {
      ctx.addIssue({ code: 'custom', path: ['to'], message: `${f.to} is not after ${f.from}` });
    }
  });
export type Freeze = z.output<typeof Freeze>;

/** What a target does with a release that comes while it is closed (frozen, or outside its windows). */
export const OnClosedWindow = z.enum(['wait', 'refuse']);
export type OnClosedWindow = z.infer<typeof OnClosedWindow>;

/** A DNS zone: lowercase labels of letters, digits and `-`, joined by dots. */
export const Zone = z
  .string()
  .max(253)
  .regex(/^[a-z0-9-]+(\.[a-z0-9-]+)*$/, 'a zone is a DNS name such as example.internal');

/** Everything the release workflow needs to know about a target; resolved by the worker's config. */
export const TargetSettings = z.strictObject({
  name: TargetName,
  /** DNS zone of the target's host names. */
  zone: Zone,
  approval: ApprovalRule,
  policy: Policy,
  /** How long health checks run after cutover before the release is considered good. Default 10s. */
  bake: Duration,
  /** Interval between health checks while baking. Default 2s. */
  healthCheckInterval: Duration,
  /** How long blue is kept after a successful bake, for a quick rollback. Default 30s. */
  terminationWait: Duration,
  /** When empty, the window is always open. */
  maintenanceWindows: z.array(MaintenanceWindow),
  /**
   * The target's freezes and the global ones, and what a release does while the target is closed.
   * Absent in the settings of releases started before freezes.
   */
  freezes: z.array(Freeze).max(100).optional(),
  onClosedWindow: OnClosedWindow.optional(),
  /** When a baking release rolls back (facts health_check_failed, error_threshold_exceeded). Absent before metric analysis. */
  rollbackPolicy: Policy.optional(),
  /** The events some webhook hears of on this target. Absent before notifications. */
  notify: z.array(z.enum(NOTIFY_EVENTS)).max(NOTIFY_EVENTS.length).optional(),
  /** TTL of the records greenlight writes, in seconds. */
  recordTtl: z.number().int().min(1).max(86_400),
  /**
   * Only an artifact that completed on `from` and stayed live there `soakMs` is promoted here.
   * Absent in the settings of releases started before promotion rules.
   */
  promotion: z
    .strictObject({ from: TargetName, soakMs: z.number().int().min(0) })
    .nullable()
    .optional(),
});
export type TargetSettings = z.output<typeof TargetSettings>;

/** True when `now` falls in one of the windows (each on its own clock), or when there are none. */
export function isMaintenanceWindowOpen(windows: readonly ClockSpan[], now: Date): boolean {
  return isWindowOpen(windows, now);
}
