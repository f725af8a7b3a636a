import { Counter, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';
import type { InjectedSinks } from '@temporalio/worker';
import { isTerminalStage } from '../shared/release';
import type { ReleaseMetricsSinks, ReleaseStageEvent } from '../shared/metrics';

/** From seconds to a day: releases wait minutes to days (an approval, a bake, a window). */
const DURATION_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21_600, 86_400, 259_200];

/**
 * Prometheus metrics of the release flow, on the admin endpoint beside the breakers': releases
 * started and ended by target and outcome, how long they took, how long approvals took, policy
 * denials and rollbacks. Each worker counts what its workflows did first (never a replay), so the
 * sum over workers is the fleet's.
 */
export class ReleaseMetrics {
  private readonly started: Counter<'target'>;
  private readonly ended: Counter<'target' | 'outcome'>;
  private readonly duration: Histogram<'target' | 'outcome'>;
  private readonly approvalWait: Histogram<'target'>;
  private readonly denials: Counter<'target' | 'policy'>;
  private readonly rollbacks: Counter<'target' | 'trigger'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.started = new Counter({
      name: 'greenlight_releases_started_total',
      help: 'Releases started, by target.',
      labelNames: ['target'],
      registers,
    });
    this.ended = new Counter({
      name: 'greenlight_releases_ended_total',
      help: 'Releases ended, by target and outcome (completed, rolled_back, failed, aborted, rejected, expired).',
      labelNames: ['target', 'outcome'],
      registers,
    });
    this.duration = new Histogram({
      name: 'greenlight_release_duration_seconds',
      help: 'From start to end of a release, by target and outcome (waits for approval and windows included).',
      labelNames: ['target', 'outcome'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.approvalWait = new Histogram({
      name: 'greenlight_release_approval_wait_seconds',
      help: 'How long releases waited for approval, by target (until approved, rejected, expired or aborted).',
      labelNames: ['target'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.denials = new Counter({
      name: 'greenlight_release_policy_denials_total',
      help: 'Release policy decisions that denied a cutover, by target.',
      labelNames: ['target', 'policy'],
      registers,
    });
    this.rollbacks = new Counter({
      name: 'greenlight_release_rollbacks_total',
      help: 'Releases rolled back, by target and trigger: automatic (the rollback policy) or manual.',
      labelNames: ['target', 'trigger'],
      registers,
    });
  }

  releaseStarted(target: string): void {
    this.started.inc({ target });
  }

  stageEntered(e: ReleaseStageEvent): void {
    const seconds = (from: string) => Math.max(0, (Date.parse(e.at) - Date.parse(from)) / 1000);
    if (e.left?.stage === 'awaiting_approval')
      this.approvalWait.observe({ target: e.target }, seconds(e.left.at));
    if (!isTerminalStage(e.stage)) return;
    this.ended.inc({ target: e.target, outcome: e.stage });
    this.duration.observe({ target: e.target, outcome: e.stage }, seconds(e.startedAt));
    if (e.stage === 'rolled_back')
      this.rollbacks.inc({ target: e.target, trigger: e.rollback ?? 'automatic' });
  }

  policyDenied(target: string, policy: string): void {
    this.denials.inc({ target, policy });
  }

  /** The worker's side of the release workflows' metrics sink. */
  sinks(): InjectedSinks<ReleaseMetricsSinks> {
    return {
      releaseMetrics: {
        started: { fn: (_, target) => this.releaseStarted(target), callDuringReplay: false },
        stage: { fn: (_, event) => this.stageEntered(event), callDuringReplay: false },
        policyDenied: {
          fn: (_, target, policy) => this.policyDenied(target, policy),
          callDuringReplay: false,
        },
      },
    };
  }
}
