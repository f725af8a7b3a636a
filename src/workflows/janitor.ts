import { proxyActivities } from '@temporalio/workflow';
import type { Activities, Reclaimed } from '../activities';

const acts = proxyActivities<Activities>({
  startToCloseTimeout: '30m',
  heartbeatTimeout: '10s',
  retry: { initialInterval: '10s', maximumAttempts: 3 },
});

/**
 * One round of the janitor, run by the `greenlight-janitor` schedule: reclaims the deployments of
 * releases that ended without cleaning up (see `reclaimAbandonedDeployments`).
 */
export async function janitor(input: {
  graceMs: number;
}): Promise<{ reclaimed: Reclaimed[]; checked: number; failed: number }> {
  return acts.reclaimAbandonedDeployments.executeWithOptions(
    { summary: 'reclaim deployments of releases that ended without cleaning up' },
    [input],
  );
}
