import { z } from 'zod';
import { Duration } from './durations';
import { Policy } from './policy';
import { PersonName, TargetName } from './release';
import { ClockTime, isWindowOpen, TimeZone, Weekday } from './calendar';
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

/** True when `now` falls in one of the windows (each on its own clock), or when there are none. */
export function isMaintenanceWindowOpen(windows: readonly ClockSpan[], now: Date): boolean {
  return isWindowOpen(windows, now);
}
