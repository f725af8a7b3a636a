import { ParentClosePolicy, startChild, WorkflowIdReusePolicy } from '@temporalio/workflow';
import type { ChildWorkflowHandle } from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import {
  laneWorkflowId,
  releaseSearchAttributes,
  releaseSummary,
  SearchAttributes,
} from '../../shared/messages';
import type { TrainMember, TrainRequest } from '../../shared/train';
import { quick } from '../common/proxies';
import { releaseLane } from '../lane';
import type { blueGreenRelease } from '../release/workflow';
import { TrainEnding } from './ending';
import type { TrainState } from './state';

const nowIso = (): string => new Date().toISOString();

/** Nudges a release sends in a whole train are about ten; more are not believed. */
const NUDGES_PER_RELEASE = 30;

/**
 * A train's releases: their lanes, the child workflows, what the train has heard of them (an end,
 * a nudge) and what it reads of them (their statuses, by an activity).
 */
export class TrainReleases {
  readonly children = new Map<string, ChildWorkflowHandle<typeof blueGreenRelease>>();
  readonly ended = new Set<string>();
  /** A release told the train it moved on (or ended): look at the releases again. */
  isNudged = false;
  /** Nudges believed so far. */
  private nudges = 0;
  /** Whether lanes, releases and settings are started and read all at once (trains since the patch). */
  startsTogether = false;
  /** The artifact digest each service must deploy, when the train replays a manifest. */
  readonly expectedDigests = new Map<string, string>();

  constructor(
    private readonly train: TrainState,
    private readonly request: TrainRequest,
    private readonly publish: () => void,
  ) {}

  /** Takes every service's lane for the whole train; one already held refuses the train, naming its holder. */
  async holdLanes(): Promise<void> {
    const { target } = this.request;
    const { trainId } = this.train.status;
    const services = this.train.status.services.map((m) => m.service);
    const outcomes = await this.eachService(services, (service) =>
      startChild(releaseLane, {
        workflowId: laneWorkflowId(service, target),
        args: [{ releaseId: trainId }],
        parentClosePolicy: ParentClosePolicy.TERMINATE,
        staticSummary: `lock: ${service} → ${target} held by ${trainId}`,
      }),
    );
    for (const [i, outcome] of outcomes.entries()) {
      if (outcome.status === 'fulfilled') continue;
      if (!(outcome.reason instanceof WorkflowExecutionAlreadyStartedError)) throw outcome.reason;
      const service = services[i]!;
      const { holder } = await quick.laneHolder.executeWithOptions(
        { summary: `who holds ${service} → ${target}` },
        [{ service, target }],
      );
      throw new TrainEnding(
        'failed',
        `${service} to ${target} is being released by ${holder ?? 'another release or train'} (lane ${laneWorkflowId(service, target)}); a train runs only when none of its services is`,
      );
    }
  }

  async startReleases(): Promise<void> {
    const members = this.train.status.services;
    const outcomes = await this.eachService(members, (m) => this.startRelease(m));
    for (const [i, outcome] of outcomes.entries()) {
      if (outcome.status === 'fulfilled') continue;
      if (!(outcome.reason instanceof WorkflowExecutionAlreadyStartedError)) throw outcome.reason;
      throw new TrainEnding(
        'failed',
        `release ${members[i]!.releaseId} exists already; a train id is used once`,
      );
    }
  }

  /**
   * Runs `start` for each item: all at once (one round trip to the server), or one after another as
   * trains of the version before did (their histories replay so). Every outcome is kept; on the
   * sequential path nothing starts after a failure.
   */
  async eachService<T, R>(items: readonly T[], start: (item: T) => Promise<R>) {
    if (this.startsTogether) return Promise.allSettled(items.map(start));
    const outcomes: PromiseSettledResult<R>[] = [];
    for (const item of items) {
      try {
        outcomes.push({ status: 'fulfilled', value: await start(item) });
      } catch (reason) {
        outcomes.push({ status: 'rejected', reason });
        break;
      }
    }
    return outcomes;
  }

  private async startRelease(m: TrainMember): Promise<void> {
    const { trainId, target, initiator } = this.train.status;
    {
      const releaseRequest = {
        service: m.service,
        version: m.version,
        target,
        initiator,
        skipSlowScans: this.request.skipSlowScans,
        holdBeforeCutover: false,
        train: trainId,
        ...(this.expectedDigests.has(m.service)
          ? { expectedDigest: this.expectedDigests.get(m.service) }
          : {}),
      };
      const child = await startChild<typeof blueGreenRelease>('blueGreenRelease', {
        workflowId: m.releaseId,
        args: [releaseRequest],
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        // A train that ends any way at all (terminated, say) cancels its releases: each cleans up.
        parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
        typedSearchAttributes: [
          ...releaseSearchAttributes(releaseRequest),
          { key: SearchAttributes.train, value: trainId },
        ],
        ...releaseSummary(releaseRequest),
      });
      this.children.set(m.releaseId, child);
      child.result().then(
        () => this.onEnded(m.releaseId),
        () => this.onEnded(m.releaseId),
      );
    }
  }

  private onEnded(releaseId: string): void {
    this.ended.add(releaseId);
    this.isNudged = true;
  }

  /**
   * A release's nudge: believed only as a reason to look. One that names no release of this train
   * is ignored, and so is any beyond a generous budget per release (a flood of forged ones must not
   * grow the history): the train still notices every end, and looks every few minutes.
   */
  nudge(raw: unknown): void {
    const releaseId =
      typeof raw === 'object' && raw !== null ? (raw as { releaseId?: unknown }).releaseId : null;
    if (typeof releaseId !== 'string' || !this.train.member(releaseId)) return;
    if (this.nudges >= NUDGES_PER_RELEASE * this.train.status.services.length) return;
    this.nudges++;
    this.isNudged = true;
  }

  /** Reads every release's status (an activity: the train believes no signal about them). */
  async look(): Promise<TrainMember[]> {
    this.isNudged = false;
    const { members } = await quick.trainMembers.executeWithOptions({ summary: 'look at the releases' }, [
      { releaseIds: this.train.status.services.map((m) => m.releaseId) },
    ]);
    for (const [releaseId, seen] of Object.entries(members))
      this.train.updateMember(releaseId, seen, nowIso());
    this.publish();
    return this.train.status.services;
  }
}
