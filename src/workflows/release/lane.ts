import { reportStage } from './metrics';
import {
  CancellationScope,
  condition,
  ParentClosePolicy,
  patched,
  sleep,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import type { ChildWorkflowHandle } from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { FailureTypes, freeLaneSignal, laneWorkflowId } from '../../shared/messages';
import { outcome } from '../common/failures';
import { releaseLane } from '../lane';
import { Patches } from './patches';
import type { Publisher } from './publisher';
import type { ReleaseState } from './state';

/** Tries to take a lane before refusing the release. */
const LANE_ATTEMPTS = 5;
/** A scheduled release waits up to an hour (every 10 s) for another release to free its lane. */
const SCHEDULED_LANE_ATTEMPTS = 360;

/**
 * Holds the release's lane until it ends; returns how to free it. A release admitted by its lane
 * (Update-with-Start, as the client does) already holds it, and the lane ends after the release. A
 * release started directly takes the lane as its child, shielded from the release's own
 * cancellation (which must not free the lane while green is cleaned up); the parent-close policy
 * ends that lane when the release closes, and nothing sent to the lane frees it. Releases of earlier
 * versions (their histories replay unchanged) took it in their root scope and signalled it free.
 */
export async function holdLane(
  release: ReleaseState,
  publisher: Publisher,
  isScheduled = false,
): Promise<(() => Promise<void>) | null> {
  const { service, target } = release.status;
  const parent = workflowInfo().parent?.workflowId;
  // Admitted by its lane, or one of a train's releases: the lane is held for it already.
  if (parent === laneWorkflowId(service, target) || (release.status.train && parent === release.status.train))
    return async () => {};
  if (patched(Patches.laneHeldUntilClose)) {
    const lane = await CancellationScope.nonCancellable(() => acquireLane(release, publisher, isScheduled));
    return lane ? async () => {} : null;
  }
  const lane = (await acquireLane(release, publisher))!;
  return () => CancellationScope.nonCancellable(() => lane.signal(freeLaneSignal).catch(() => undefined));
}

async function acquireLane(
  release: ReleaseState,
  publisher: Publisher,
  isScheduled = false,
): Promise<ChildWorkflowHandle<typeof releaseLane> | null> {
  const { service, target, releaseId } = release.status;
  // A scheduled release whose time has come waits for a release that runs there to end.
  const attempts = isScheduled ? SCHEDULED_LANE_ATTEMPTS : LANE_ATTEMPTS;
  const pause = isScheduled ? '10s' : '1s';
  for (let attempt = 1; ; attempt++) {
    try {
      return await startChild(releaseLane, {
        workflowId: laneWorkflowId(service, target),
        args: [{ releaseId }],
        parentClosePolicy: ParentClosePolicy.TERMINATE,
        staticSummary: `lock: ${service} → ${target} held by ${releaseId}`,
      });
    } catch (e) {
      if (!(e instanceof WorkflowExecutionAlreadyStartedError)) throw e;
      // A release that has just ended frees its lane a moment after its final stage: wait briefly.
      if (attempt < attempts && isScheduled) {
        // An abort meanwhile ends the release here: it has taken nothing.
        await condition(() => release.isAbortRequested, pause, {
          summary: 'wait for the lane: another release is running or ending',
        });
        if (!release.isAbortRequested) continue;
        release.end(
          'aborted',
          new Date().toISOString(),
          `${release.interventionNote ?? 'aborted'} while it waited for its lane; nothing was done`,
        );
        reportStage(release);
        publisher.publish();
        return null;
      }
      if (attempt < attempts) {
        await sleep(pause, { summary: 'wait for the lane: another release is running or ending' });
        continue;
      }
    }
    const reason = `another release of ${service} to ${target} is running (lane ${laneWorkflowId(service, target)}); only one runs at a time${isScheduled ? ', and it still ran an hour after this one’s time' : ''}`;
    release.end('failed', new Date().toISOString(), reason);
    reportStage(release);
    publisher.publish();
    throw outcome(FailureTypes.releaseConflict, reason, release.status);
  }
}
