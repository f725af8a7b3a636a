import {
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  log,
  ParentClosePolicy,
  setHandler,
  startChild,
  workflowInfo,
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

const REQUEST_FIELDS = ['releaseId', 'request'] as const;
const ReleaseId = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$/;

/**
 * The lock of one service and target: its workflow id is unique per lane, so at most one runs.
 *
 * Started by a client with Update-with-Start, it admits one release (the `startRelease` Update,
 * whose validator refuses synchronously while the lane is held, naming the holder), runs it as its
 * child and ends when the release ends. A release started directly (plain `temporal workflow
 * start`) starts the lane as its own child instead (`holder` given) and cancels it when it ends.
 * There is no signal to free a lane: only its holder's end frees it.
 */
export async function releaseLane(holder?: LaneHolder): Promise<LaneHolder | null> {
  const { workflowId } = workflowInfo();
  let current: LaneHolder | null = holder ?? null;
  let isReleaseDone = false;
  let release: Promise<unknown> | null = null;

  setHandler(laneHolderQuery, () => current);
  setHandler(
    startReleaseUpdate,
    async ({ releaseId, request }) => {
      const parsed = ReleaseRequest.parse(request);
      current = { releaseId };
      try {
        const child = await startChild('blueGreenRelease', {
          workflowId: releaseId,
          args: [parsed],
          // Cancelling the lane (an operator's act) aborts or rolls back the release, never leaves it.
          parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
          typedSearchAttributes: releaseSearchAttributes(parsed),
          ...releaseSummary(parsed),
        });
        release = child.result().catch(() => undefined);
        return { releaseId };
      } catch (e) {
        current = null;
        throw ApplicationFailure.create({
          type: FailureTypes.releaseConflict,
          message: `release ${releaseId} could not be started: ${e instanceof Error ? e.message : String(e)}`,
          nonRetryable: true,
        });
      }
    },
    {
      validator: (input: LaneStartRequest) => {
        if (current || isReleaseDone) {
          // The holder goes in the details, so a client can say more about it.
          throw refusal(
            isReleaseDone
              ? `the lane ${workflowId} is being freed; try again in a moment`
              : `release ${current!.releaseId} holds the lane ${workflowId}; only one release per service and target runs at a time`,
            isReleaseDone ? FailureTypes.laneClosing : FailureTypes.releaseConflict,
            current,
          );
        }
        const parsedRequest = ReleaseRequest.safeParse(input?.request);
        if (
          typeof input !== 'object' ||
          input === null ||
          typeof input.releaseId !== 'string' ||
          !ReleaseId.test(input.releaseId) ||
          !parsedRequest.success
        ) {
          const issues = parsedRequest.success
            ? ''
            : `: ${describeIssues(parsedRequest.error.issues, REQUEST_FIELDS)}`;
          throw refusal(`invalid release start${issues}`, FailureTypes.invalidInput);
        }
        const { service, target } = parsedRequest.data;
        if (laneWorkflowId(service, target) !== workflowId) {
          throw refusal(
            `a release of ${service} to ${target} belongs to lane ${laneWorkflowId(service, target)}`,
            FailureTypes.invalidInput,
          );
        }
      },
    },
  );

  if (holder) {
    // Held by the release that started this lane as its child; it cancels the lane when it ends,
    // and the lane ends with it in any case. A lane that names a holder which is not its parent
    // holds nothing.
    if (workflowInfo().parent?.workflowId === holder.releaseId) await freedByHolder(holder);
    return holder;
  }
  // Admitted by Update-with-Start: wait for the release to start and end, then free the lane. A
  // lane started without an admission (by hand) frees itself after a minute.
  const isAdmitted = await condition(() => release !== null, ADMISSION_WAIT, {
    summary: 'wait for a release to be admitted',
  });
  if (isAdmitted) await release;
  isReleaseDone = true;
  await condition(allHandlersFinished);
  return current;
}

/** How long a lane started by hand waits for a release before it frees itself. */
const ADMISSION_WAIT = '1m';

async function freedByHolder(holder: LaneHolder): Promise<void> {
  try {
    await CancellationScope.current().cancelRequested;
  } catch (e) {
    if (!isCancellation(e)) throw e;
  }
  log.info('lane freed by its holder', { releaseId: holder.releaseId });
}

function refusal(message: string, type: string, holder: LaneHolder | null = null): ApplicationFailure {
  const failure = ApplicationFailure.create({
    type,
    message,
    nonRetryable: true,
    details: holder ? [holder] : [],
  });
  failure.stack = `${type}: ${message}`;
  return failure;
}
