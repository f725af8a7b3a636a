import { z } from 'zod';
import { Duration } from './durations';
import { Policy } from './policy';
import { PersonName, TargetName } from './release';

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

const Weekday = z.enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']);
const ClockTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a time is HH:MM (UTC)');

export const MaintenanceWindow = z.strictObject({
  days: z.array(Weekday).min(1),
  /** Opening time, HH:MM UTC. */
  start: ClockTime,
  /** Closing time, HH:MM UTC; earlier than start means the window crosses midnight. */
  end: ClockTime,
});
export type MaintenanceWindow = z.infer<typeof MaintenanceWindow>;

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

const DAY_INDEX: Record<string, number> = { sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6 };

/** True when `now` falls in one of the windows, or when there are none. */
export function isMaintenanceWindowOpen(windows: readonly MaintenanceWindow[], now: Date): boolean {
  if (windows.length === 0) return true;
  const minutes = now.getUTCHours() * 60 + now.getUTCMinutes();
  const today = now.getUTCDay();
  const yesterday = (today + 6) % 7;
  return windows.some((w) => {
    const start = toMinutes(w.start);
    const end = toMinutes(w.end);
    const days = w.days.map((d) => DAY_INDEX[d]);
    if (start <= end) return days.includes(today) && minutes >= start && minutes < end;
    // Crosses midnight: opens on a listed day and closes the next morning.
    return (days.includes(today) && minutes >= start) || (days.includes(yesterday) && minutes < end);
  });
}

function toMinutes(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number);
  return h * 60 + m;
}
