// The baseline of the release benchmark: Temporal's own cost for a workflow that runs the same
// number of activities as a release, each doing nothing.
import { proxyActivities } from '@temporalio/workflow';

const { noop } = proxyActivities<{ noop(): Promise<void> }>({ startToCloseTimeout: '1m' });

export async function baselineRelease(activityCount: number): Promise<void> {
  for (let i = 0; i < activityCount; i++) await noop();
}
