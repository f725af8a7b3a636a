import { effectivePolicy } from '../../shared/policy';
import type { Policy } from '../../shared/policy';
import { isMaintenanceWindowOpen } from '../../shared/target';
import type { TargetSettings } from '../../shared/target';
import type { TrainStatus } from '../../shared/train';

/** The target's policy for a train, with its promotion rule's facts when it has one. */
export function trainPolicy(settings: TargetSettings): Policy {
  return effectivePolicy(settings.policy, Boolean(settings.promotion));
}

/**
 * The facts of the whole train: every release's tests and every cross-service check passed, every
 * artifact promoted and soaked (with a promotion rule), the train's approvals.
 */
export function trainFacts(
  status: TrainStatus,
  settings: TargetSettings,
  context: { isApproved: boolean; skipSlowScans: boolean },
): Record<string, boolean> {
  const promotions = status.services.map((m) => m.promotion);
  return {
    ...(settings.promotion
      ? {
          promoted: promotions.every((p) => p?.promoted === true),
          soaked: promotions.every((p) => p?.soaked === true),
        }
      : {}),
    tests_passed:
      status.services.every((m) => m.testsPassed === true) && (status.crossChecks?.passed ?? true),
    slow_scans_skipped: context.skipSlowScans,
    approval_obtained: context.isApproved,
    maintenance_window_open: isMaintenanceWindowOpen(settings.maintenanceWindows, new Date()),
    first_release: status.services.every((m) => m.replaces === null),
  };
}
