import type { CalendarGate } from '../../shared/calendar';
import { DECOMMISSION } from '../../shared/flow';
import type { FlowTransition } from '../../shared/flow';
import type { FreezeAction } from '../../shared/target';

// What a freeze does to an environment's transition: pure rules, the workflow does the I/O.

/** What a freeze may block of a transition: going into maintenance, or decommissioning. */
export function freezeActionOf(t: FlowTransition): FreezeAction | null {
  if (t.on === DECOMMISSION) return 'decommission';
  if (t.on === 'start_maintenance' || t.to === 'maintenance') return 'maintenance';
  return null;
}

/** The gate when the calendar could not be read: nothing a freeze may block happens for an hour. */
export function unreadCalendar(why: string, now: number): CalendarGate {
  return {
    closedReason: `its calendar could not be read (${why})`,
    nextAllowed: new Date(now + 3_600_000).toISOString(),
    onClosedWindow: 'wait',
  };
}

export type FreezeVerdict =
  | { kind: 'open' }
  /** A TTL's decommission: put off until the freeze ends. */
  | { kind: 'postponed'; until: number; note: string }
  /** A forced request goes, saying what it forced. */
  | { kind: 'forced'; note: string }
  /** A request is blocked, saying until when. */
  | { kind: 'blocked'; reason: string };

/** What a transition asked for (or the TTL's expiry) does while the gate says what it says. */
export function freezeVerdict(
  gate: CalendarGate,
  request: { isExpiry?: boolean; force?: boolean } | null,
  now: number,
): FreezeVerdict {
  if (gate.closedReason === null) return { kind: 'open' };
  const until = gate.nextAllowed ?? 'no end within 400 days';
  if (request?.isExpiry) {
    const postponed = gate.nextAllowed ? Date.parse(gate.nextAllowed) : now + 86_400_000;
    const note = `${gate.closedReason}: the TTL's decommission waits until ${new Date(postponed).toISOString()}`;
    return { kind: 'postponed', until: postponed, note };
  }
  if (request?.force) return { kind: 'forced', note: `forced past ${gate.closedReason} (until ${until})` };
  return {
    kind: 'blocked',
    reason: `${gate.closedReason} until ${until}; ask again then, or force it with approval`,
  };
}
