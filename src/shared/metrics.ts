import type { Sinks } from '@temporalio/workflow';
import type { Stage } from './release';

/** A stage a release entered, as the worker's metrics see it (never during replay). */
export interface ReleaseStageEvent {
  target: string;
  stage: Stage;
  /** When the stage was entered, and when the release started (ISO). */
  at: string;
  startedAt: string;
  /** The stage it left, with when it had entered it; null for none. */
  left: { stage: Stage; at: string } | null;
  /** For a rollback: whether a person asked for it or a policy decided it. */
  rollback?: 'manual' | 'automatic';
}

/**
 * What release workflows tell the worker for its Prometheus metrics. Sinks are called once, when
 * the workflow code first runs, not when a worker replays its history.
 */
export interface ReleaseMetricsSinks extends Sinks {
  releaseMetrics: {
    started(target: string): void;
    stage(event: ReleaseStageEvent): void;
    policyDenied(target: string, policy: 'release'): void;
  };
}
