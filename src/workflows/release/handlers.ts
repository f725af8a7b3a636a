import { CancellationScope, log, setDefaultSignalHandler, setHandler } from '@temporalio/workflow';
import {
  abortSignal,
  abortUpdate,
  approveSignal,
  approveUpdate,
  breakerNoticeSignal,
  FailureTypes,
  goSignal,
  goUpdate,
  overrideWindowUpdate,
  rejectSignal,
  rejectUpdate,
  rollbackSignal,
  rollbackUpdate,
  statusQuery,
} from '../../shared/messages';
import type { DecisionReceipt } from '../../shared/messages';
import { trainCommitSignal } from '../../shared/train';
import { outcome } from '../common/failures';
import { breakerNoticeHandler } from './breaker-notice';
import type { Notifier } from './notifier';
import type { Publisher } from './publisher';
import type { ReleaseState, RequestKind, Verdict, Via } from './state';

const nowIso = (): string => new Date().toISOString();

/**
 * Registers what a release answers: its status query, the approve/reject/abort/rollback/go/overrideWindow Updates
 * (each judged by a validator before it is accepted) and Signals, the breaker notices activities
 * send, and the cancellation of the workflow itself. `onAbort` cancels the steps an accepted abort
 * stops.
 */
export function registerHandlers(
  release: ReleaseState,
  publisher: Publisher,
  onAbort: () => void,
  notifier?: Notifier,
): void {
  const publish = () => publisher.publish();
  const intervene = (kind: 'abort' | 'rollback', input: unknown, via: Via): Verdict => {
    const verdict = release.intervene(kind, input, via, nowIso());
    if (verdict.ok && release.isAbortRequested) onAbort();
    return verdict;
  };

  setHandler(statusQuery, () => release.status);
  const apply = (verdict: Verdict): DecisionReceipt => {
    publish();
    if (!verdict.ok) throw outcome(FailureTypes.requestRefused, verdict.reason);
    return { accepted: true, stage: release.stage, message: verdict.message };
  };
  const logRefusal = (verdict: Verdict): void => {
    publish();
    if (!verdict.ok) log.warn('request refused', { reason: verdict.reason });
  };
  // Each Update is judged by its validator before it is accepted: a refused or malformed one is
  // rejected without entering the history, and never changes the release.
  const validator = (kind: RequestKind) => (input: unknown) => {
    const verdict = release.judge(kind, input);
    if (!verdict.ok) {
      log.info('update refused', { kind, reason: verdict.reason });
      throw outcome(FailureTypes.requestRefused, verdict.reason);
    }
  };
  setHandler(approveUpdate, (a) => apply(release.decide('approve', a, 'update', nowIso())), {
    validator: validator('approve'),
  });
  setHandler(rejectUpdate, (a) => apply(release.decide('reject', a, 'update', nowIso())), {
    validator: validator('reject'),
  });
  setHandler(rollbackUpdate, (i) => apply(intervene('rollback', i, 'update')), {
    validator: validator('rollback'),
  });
  setHandler(abortUpdate, (i) => apply(intervene('abort', i, 'update')), { validator: validator('abort') });
  setHandler(goUpdate, (i) => apply(release.go(i, 'update', nowIso())), { validator: validator('go') });
  setHandler(overrideWindowUpdate, (i) => apply(release.overrideWindow(i, nowIso())), {
    validator: validator('override'),
  });
  setHandler(approveSignal, (a) => logRefusal(release.decide('approve', a, 'signal', nowIso())));
  setHandler(rejectSignal, (a) => logRefusal(release.decide('reject', a, 'signal', nowIso())));
  setHandler(rollbackSignal, (i) => logRefusal(intervene('rollback', i, 'signal')));
  setHandler(abortSignal, (i) => logRefusal(intervene('abort', i, 'signal')));
  // Signals sent by other workflows and activities, handled by the default handler so that the
  // Web UI's "Send a Signal" list offers only what people send (it lists signals registered by
  // name; people send a go as an Update): a train's `go`, an activity's breaker notice.
  const onBreakerNotice = breakerNoticeHandler(release, publish, (breaker, detail) =>
    notifier ? notifier.breakerOpened(breaker, detail) : Promise.resolve(),
  );
  setDefaultSignalHandler(async (name, ...args) => {
    if (name === goSignal.name) logRefusal(release.go(args[0], 'signal', nowIso()));
    else if (name === trainCommitSignal.name && release.status.train)
      logRefusal(release.commit(args[0], nowIso()));
    else if (name === breakerNoticeSignal.name) await onBreakerNotice(args[0]);
    else log.warn('unknown signal ignored', { signal: name.slice(0, 100) });
  });

  // Cancelling the workflow (e.g. from the Web UI) is an abort before cutover and a rollback after:
  // the release always compensates instead of stopping half-way.
  CancellationScope.current().cancelRequested.catch(() => {
    const kind = release.isCutOver ? 'rollback' : 'abort';
    intervene(kind, { by: 'temporal', reason: 'workflow cancellation requested' }, 'cancel');
    publish();
  });
}
