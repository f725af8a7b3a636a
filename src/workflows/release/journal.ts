import { CancellationScope, getExternalWorkflowHandle, log } from '@temporalio/workflow';
import { TERMINAL_STAGES } from '../../shared/release';
import { trainNudgeSignal } from '../../shared/train';
import type { Deployment, DeploymentColour, DeploymentStatus, Stage } from '../../shared/release';
import { audit } from '../common/proxies';
import { describeFailure } from '../common/failures';
import { reportStage } from './metrics';
import type { Notifier } from './notifier';
import type { Publisher } from './publisher';
import type { ReleaseState } from './state';

/** A deployment whose CMDB item a stage change updates. */
export interface AuditedDeployment {
  deployment: Deployment;
  colour: DeploymentColour;
  status: DeploymentStatus;
}

const nowIso = (): string => new Date().toISOString();

/** The stages a train waits for its releases to reach. */
const NUDGING_STAGES = [
  'awaiting_go',
  'awaiting_termination',
  'rolling_back',
  'cleaning_up',
  ...TERMINAL_STAGES,
];

/**
 * Records each stage a release enters: in its state, in what it publishes, and in the CMDB with
 * the deployments the stage changed. The CMDB is a record, not a gate: a write that fails or is
 * deferred is noted and the release goes on.
 */
export class Journal {
  constructor(
    private readonly release: ReleaseState,
    private readonly publisher: Publisher,
    private readonly notifier?: Notifier,
  ) {}

  async enter(
    stage: Stage,
    note?: string,
    deployments: AuditedDeployment[] = [],
    waitingFor?: string,
  ): Promise<void> {
    this.release.setStage(stage, nowIso(), note);
    reportStage(this.release);
    if (waitingFor) this.release.setWaitingFor(waitingFor, nowIso());
    this.publisher.publish();
    await this.nudgeTrain();
    await this.audit(stage, note, deployments);
    if (stage === 'awaiting_approval') await this.notifier?.notify('approval_requested', waitingFor ?? '');
    if (stage === 'waiting_for_window') await this.notifier?.notify('window_waiting', note ?? '');
  }

  /**
   * Records an event within the current stage (an override) in the status's notes and the CMDB,
   * as a change of its own (`<n>:<label>`).
   */
  async record(label: string, note: string): Promise<void> {
    this.release.addNote(note, nowIso());
    this.publisher.publish();
    await this.audit(this.release.stage, note, [], label);
  }

  /** Ends the release in a final stage, with the reason people read. */
  async finish(stage: Stage, reason: string | null, deployments: AuditedDeployment[] = []): Promise<void> {
    this.release.end(stage, nowIso(), reason);
    reportStage(this.release);
    this.publisher.publish();
    await this.nudgeTrain();
    await this.audit(stage, reason ?? undefined, deployments);
    if (stage === 'completed' || stage === 'rolled_back' || stage === 'failed')
      await this.notifier?.notify(stage, reason ?? '');
  }

  /**
   * Tells a train's release's train that it reached a stage the train waits for (held before
   * cutover, baked, rolling back or ended); the train then reads its status. Best effort: the
   * train also notices a release's end by itself.
   */
  private async nudgeTrain(): Promise<void> {
    const { train, releaseId, stage } = this.release.status;
    if (!train || !(NUDGING_STAGES as readonly string[]).includes(stage)) return;
    await CancellationScope.nonCancellable(() =>
      getExternalWorkflowHandle(train)
        .signal(trainNudgeSignal, { releaseId })
        .catch((e: unknown) =>
          log.warn('could not tell the train', { train, error: describeFailure('signal', e) }),
        ),
    );
  }

  private async audit(
    stage: Stage,
    note: string | undefined,
    deployments: AuditedDeployment[],
    label: string = stage,
  ): Promise<void> {
    const { releaseId, service, target, version, artifact } = this.release.status;
    const step = `${this.release.status.history.length}:${label}`;
    try {
      const result = await CancellationScope.nonCancellable(() =>
        audit.recordChange.executeWithOptions({ summary: `record ${stage} in CMDB` }, [
          {
            change: {
              releaseId,
              step,
              service,
              target,
              version,
              stage,
              at: nowIso(),
              ...(note ? { note } : {}),
            },
            deployments: deployments.map(({ deployment, colour, status }) => ({
              deployment,
              colour,
              status,
              releaseId,
              // Green is the deployment made from the release's artifact.
              ...(colour === 'green' && artifact ? { artifactDigest: artifact.digest } : {}),
            })),
          },
        ]),
      );
      // Older workers returned nothing.
      if (result?.deferred) {
        this.release.addNote(
          `CMDB record of "${stage}" deferred: ${result.deferred}; kept in the outbox`,
          nowIso(),
        );
        this.publisher.publish();
      }
    } catch (e) {
      log.warn('CMDB write failed; the release goes on', { stage, error: describeFailure('cmdb', e) });
    }
  }
}
