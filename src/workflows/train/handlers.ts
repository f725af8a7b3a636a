import { CancellationScope, log, setDefaultSignalHandler, setHandler } from '@temporalio/workflow';
import {
  abortSignal,
  approveSignal,
  FailureTypes,
  rejectSignal,
  rollbackSignal,
} from '../../shared/messages';
import {
  trainAbortUpdate,
  trainApproveUpdate,
  trainNudgeSignal,
  trainRejectUpdate,
  trainRollbackUpdate,
  trainStatusQuery,
} from '../../shared/train';
import type { TrainReceipt } from '../../shared/train';
import { outcome } from '../common/failures';
import type { Verdict } from '../release/requests';
import type { TrainRequestKind, TrainState } from './state';

const nowIso = (): string => new Date().toISOString();

/**
 * Registers what a train answers: its status query, the approve/reject/abort/rollback Updates
 * (each judged by a validator before it is accepted) and Signals, its releases' nudges, and the
 * cancellation of the workflow itself (an abort before cutover, a rollback after).
 */
export function registerTrainHandlers(
  train: TrainState,
  publish: () => void,
  onNudge: (raw: unknown) => void,
): void {
  setHandler(trainStatusQuery, () => train.status);
  const apply = (verdict: Verdict): TrainReceipt => {
    publish();
    if (!verdict.ok) throw outcome(FailureTypes.requestRefused, verdict.reason);
    return { accepted: true, stage: train.stage, message: verdict.message };
  };
  const validator = (kind: TrainRequestKind) => (input: unknown) => {
    const verdict = train.judge(kind, input);
    if (!verdict.ok) throw outcome(FailureTypes.requestRefused, verdict.reason);
  };
  const logRefusal = (verdict: Verdict): void => {
    publish();
    if (!verdict.ok) log.warn('request refused', { reason: verdict.reason });
  };
  setHandler(trainApproveUpdate, (a) => apply(train.decide('approve', a, 'update', nowIso())), {
    validator: validator('approve'),
  });
  setHandler(trainRejectUpdate, (a) => apply(train.decide('reject', a, 'update', nowIso())), {
    validator: validator('reject'),
  });
  setHandler(trainAbortUpdate, (i) => apply(train.intervene('abort', i, 'update', nowIso())), {
    validator: validator('abort'),
  });
  setHandler(trainRollbackUpdate, (i) => apply(train.intervene('rollback', i, 'update', nowIso())), {
    validator: validator('rollback'),
  });
  setHandler(approveSignal, (a) => logRefusal(train.decide('approve', a, 'signal', nowIso())));
  setHandler(rejectSignal, (a) => logRefusal(train.decide('reject', a, 'signal', nowIso())));
  setHandler(abortSignal, (i) => logRefusal(train.intervene('abort', i, 'signal', nowIso())));
  setHandler(rollbackSignal, (i) => logRefusal(train.intervene('rollback', i, 'signal', nowIso())));
  // The releases' nudges, by the default handler so the Web UI offers only what people send.
  setDefaultSignalHandler((name, ...args) => {
    if (name === trainNudgeSignal.name) onNudge(args[0]);
    else log.warn('unknown signal ignored', { signal: name.slice(0, 100) });
  });
  // Cancelling the train is an abort before cutover and a rollback after: it always unwinds.
  CancellationScope.current().cancelRequested.catch(() => {
    const kind = train.hasCutoverBegun ? 'rollback' : 'abort';
    train.intervene(kind, { by: 'temporal', reason: 'workflow cancellation requested' }, 'cancel', nowIso());
    publish();
  });
}
