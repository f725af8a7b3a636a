import type { Client } from '@temporalio/client';
import { ScheduleAlreadyRunning, ScheduleNotFoundError, ScheduleOverlapPolicy } from '@temporalio/client';
import type { JanitorConfig } from '../config/schema';

/** The id of the janitor's schedule: one per namespace and task queue's fleet. */
export const JANITOR_SCHEDULE_ID = 'greenlight-janitor';

/**
 * Keeps the janitor's Temporal Schedule as the configuration says: created when missing, updated
 * when present (any worker of the fleet may do it; the result is the same), deleted when disabled.
 * One schedule runs one round at a time, whatever the number of workers.
 */
export async function ensureJanitorSchedule(
  client: Client,
  taskQueue: string,
  janitor: JanitorConfig,
): Promise<'created' | 'updated' | 'deleted' | 'absent'> {
  const handle = client.schedule.getHandle(JANITOR_SCHEDULE_ID);
  if (!janitor.enabled) {
    try {
      await handle.delete();
      return 'deleted';
    } catch (e) {
      if (e instanceof ScheduleNotFoundError) return 'absent';
      throw e;
    }
  }
  const spec = { intervals: [{ every: janitor.interval }] };
  const action = {
    type: 'startWorkflow' as const,
    workflowType: 'janitor',
    workflowId: `${JANITOR_SCHEDULE_ID}-round`,
    taskQueue,
    args: [{ graceMs: janitor.grace }],
  };
  try {
    await client.schedule.create({
      scheduleId: JANITOR_SCHEDULE_ID,
      spec,
      action,
      policies: { overlap: ScheduleOverlapPolicy.SKIP },
      state: { note: 'reclaims deployments of releases that ended without cleaning up' },
    });
    return 'created';
  } catch (e) {
    if (!(e instanceof ScheduleAlreadyRunning)) throw e;
    await handle.update((previous) => ({ ...previous, spec, action }));
    return 'updated';
  }
}
