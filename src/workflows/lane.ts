import {
  allHandlersFinished,
  CancellationScope,
  condition,
  ParentClosePolicy,
  setHandler,
  startChild,
  workflowInfo,
  WorkflowIdReusePolicy,
} from '@temporalio/workflow';
import {
  FailureTypes,
  laneHolderQuery,
  laneWorkflowId,
  releaseSearchAttributes,
  releaseSummary,
  startReleaseUpdate,
} from '../shared/messages';
import type { LaneHolder, LaneStartRequest } from '../shared/messages';
import { describeIssues } from '../shared/text';
import { ReleaseRequest } from '../shared/release';
import { outcome } from './common/failures';

const REQUEST_FIELDS = ['releaseId', 'request'] as const;

/**
 * The lock of one service and target: its workflow id is unique per lane, so at most one runs.
 *
 * Started by a client with Update-with-Start, it admits one release (the `startRelease` Update,
 * whose validator refuses synchronously while the lane is held, naming the holder), runs it as its
 * child and ends when the release has ended. Cancelling the lane cancels its release (an abort or
 * a rollback) and the lane still ends only after it. A release started directly (plain `temporal
 * workflow start`) starts the lane as its own child instead (`holder` given): that lane holds
 * until its parent closes (the parent-close policy terminates it), whatever it is sent.
 */
export async function releaseLane(holder?: LaneHolder): Promise<LaneHolder | null> {
  const { workflowId, parent } = workflowInfo();
  let current: LaneHolder | null = holder ?? null;
  let isReleaseDone = false;
  let release: Promise<unknown> | null = null;

  setHandler(laneHolderQuery, () => current);
  setHandler(
    startReleaseUpdate,
    async ({ releaseId, request }) => {
      const parsed = ReleaseRequest.parse(request);
      current = { releaseId, version: parsed.version };
      try {
        const child = await startChild('blueGreenRelease', {
          workflowId: releaseId,
          args: [parsed],
          // A release id is used once: a second run under it would mix two releases' records.
          workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
          parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
          typedSearchAttributes: releaseSearchAttributes(parsed),
          ...releaseSummary(parsed),
        });
        release = child.result().catch(() => undefined);
        return current;
      } catch (e) {
        current = null;
        throw outcome(
          FailureTypes.releaseConflict,
          `release ${releaseId} could not be started: ${e instanceof Error ? e.message : String(e)}`,
        );
      }
    },
    { validator: (input: LaneStartRequest) => validateStart(input, workflowId, current, isReleaseDone) },
  );

  if (holder) {
    // Held by the release that started this lane as its child, until that release closes. A lane
    // that names a holder which is not its parent holds nothing.
    if (parent?.workflowId === holder.releaseId)
      await CancellationScope.nonCancellable(() => condition(() => false));
    return holder;
  }
  // Admitted by Update-with-Start: hold the lane until the release has ended, even when the lane is
  // cancelled (its release is then cancelled with it). A lane started by hand, without an
  // admission, frees itself after a minute.
  await CancellationScope.nonCancellable(async () => {
    await condition(() => release !== null, ADMISSION_WAIT, { summary: 'wait for a release to be admitted' });
    // An admission under way (its release being started) finishes first.
    await condition(allHandlersFinished);
    if (release) await release;
    isReleaseDone = true;
    await condition(allHandlersFinished);
  });
  return current;
}

/** How long a lane started by hand waits for a release before it frees itself. */
const ADMISSION_WAIT = '1m';

/** The `startRelease` validator: refuses while the lane is held, and any malformed request. */
function validateStart(
  input: LaneStartRequest,
  workflowId: string,
  current: LaneHolder | null,
  isReleaseDone: boolean,
): void {
  if (current || isReleaseDone) {
    // The holder goes in the details, so a client can say more about it.
    throw outcome(
      isReleaseDone ? FailureTypes.laneClosing : FailureTypes.releaseConflict,
      isReleaseDone
        ? `the lane ${workflowId} is being freed; try again in a moment`
        : `release ${current!.releaseId} holds the lane ${workflowId}; only one release per service and target runs at a time`,
      current,
    );
  }
  const request = ReleaseRequest.safeParse(
    typeof input === 'object' && input !== null ? input.request : undefined,
  );
  if (!request.success) {
    throw outcome(
      FailureTypes.invalidInput,
      `invalid release start: ${describeIssues(request.error.issues, { fields: REQUEST_FIELDS })}`,
    );
  }
  const { service, target } = request.data;
  if (request.data.notBefore !== undefined) {
    throw outcome(
      FailureTypes.invalidInput,
      'a scheduled release (notBefore) is started directly, not through its lane, which it takes when its time comes',
    );
  }
  if (laneWorkflowId(service, target) !== workflowId) {
    throw outcome(
      FailureTypes.invalidInput,
      `a release of ${service} to ${target} belongs to lane ${laneWorkflowId(service, target)}`,
    );
  }
  // The release id starts with its service and target, so it can never be another lane's id.
  const prefix = `${service}-${target}-`;
  const releaseId = (input as { releaseId?: unknown }).releaseId;
  if (typeof releaseId !== 'string' || !releaseId.startsWith(prefix) || !RELEASE_ID.test(releaseId)) {
    throw outcome(
      FailureTypes.invalidInput,
      `invalid release start: releaseId must be "${prefix}" followed by letters, digits, ".", "_" or "-" (at most 200 characters)`,
    );
  }
}

const RELEASE_ID = /^[a-z0-9-]+-[A-Za-z0-9._-]{1,160}$/;
