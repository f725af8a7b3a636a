import { proxySinks } from '@temporalio/workflow';
import type { ReleaseMetricsSinks } from '../../shared/metrics';
import type { ReleaseState } from './state';

/** The worker's release metrics: calls add no command to the history and are skipped on replay. */
export const { releaseMetrics } = proxySinks<ReleaseMetricsSinks>();

/** Tells the worker's metrics the stage the release just entered, and the one it left. */
export function reportStage(release: ReleaseState): void {
  const { history, target, startedAt } = release.status;
  const entered = history.at(-1);
  if (!entered) return;
  const left = history.at(-2);
  releaseMetrics.stage({
    target,
    stage: entered.stage,
    at: entered.at,
    startedAt,
    left: left ? { stage: left.stage, at: left.at } : null,
    ...(entered.stage === 'rolled_back'
      ? { rollback: release.isRollbackRequested ? ('manual' as const) : ('automatic' as const) }
      : {}),
  });
}
