import {
  allHandlersFinished,
  CancellationScope,
  condition,
  log,
  patched,
  setCurrentDetails,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { FailureTypes, rollbackSignal, SearchAttributes } from '../../shared/messages';
import { evaluatePolicy } from '../../shared/policy';
import type { PolicyDecision } from '../../shared/policy';
import type { TargetSettings } from '../../shared/target';
import { describeIssues } from '../../shared/text';
import { isTrainEnded, trainCommitSignal, trainGoSignal, TrainRequest } from '../../shared/train';
import type { TrainMember, TrainRequestInput, TrainStage, TrainStatus } from '../../shared/train';
import { describeFailure, outcome } from '../common/failures';
import { audit, long, quick } from '../common/proxies';
import { trainFacts, trainPolicy } from './decision';
import { trainDetails } from './details';
import { hasReached, plainReason, stepsOf, TrainEnding } from './ending';
import { registerTrainHandlers } from './handlers';
import { TrainPatches } from './patches';
import { TrainReleases } from './releases';
import { isMemberCutOver, isMemberFailing, TrainState } from './state';

const nowIso = (): string => new Date().toISOString();

/** How long a train waits for news of its releases before it looks at them anyway. */
const LOOK_AGAIN = '5m';

/**
 * A release train: several services released to one target together. Each service is a child
 * release that deploys its green and runs its own checks; then the train checks all greens
 * together, judges the target's policy, waits for one approval, cuts the services over in
 * dependency order (each bakes before its dependents go), and lets them retire blue only once every
 * one has baked. A failure anywhere unwinds all of them: the services cut over roll back in reverse
 * order, the others tear green down. The workflow id is the train id.
 */
export async function releaseTrain(input: TrainRequestInput): Promise<TrainStatus> {
  const { workflowId: trainId } = workflowInfo();
  const parsed = TrainRequest.safeParse(input);
  if (!parsed.success) {
    throw outcome(FailureTypes.invalidInput, `invalid train: ${describeIssues(parsed.error.issues)}`);
  }
  const request = parsed.data;
  const prefix = `train-${request.target}-`;
  if (!trainId.startsWith(prefix)) {
    throw outcome(
      FailureTypes.invalidInput,
      `invalid train: a train to ${request.target} has an id starting ${prefix}`,
    );
  }
  const suffix = trainId.slice(prefix.length);
  const train = new TrainState(
    trainId,
    request,
    (service) => `${service}-${request.target}-${suffix}`,
    nowIso(),
  );
  // A train from another's manifest learns its services from the CMDB, as its first step.
  if (!request.from) train.plan(request.services, stepsOf(request.services, request.after));
  const run = new TrainRun(train, request);
  run.register();
  upsertSearchAttributes([
    { key: SearchAttributes.target, value: request.target },
    { key: SearchAttributes.train, value: trainId },
    { key: SearchAttributes.stage, value: train.stage },
  ]);
  run.publish();

  try {
    await CancellationScope.nonCancellable(() => run.steps());
  } catch (e) {
    if (!isTrainEnded(train.stage)) {
      train.end('failed', nowIso(), describeFailure(`stage ${train.stage}`, e));
      run.publish();
    }
  }
  await CancellationScope.nonCancellable(() => condition(allHandlersFinished));
  if (train.stage !== 'completed') {
    throw outcome(
      FailureTypes.releaseFailed,
      `train ${train.stage.replaceAll('_', ' ')}: ${train.status.reason ?? 'unknown reason'}`,
      train.status,
    );
  }
  return train.status;
}

/** One run of a train: its releases, what it has heard of them, and its steps. */
class TrainRun {
  private readonly releases: TrainReleases;
  private publishedStage: TrainStage | null = null;
  private settings: TargetSettings | null = null;
  /** The cutover order as pairs (the request's, or the replayed manifest's). */
  private after: [string, string][];
  constructor(
    private readonly train: TrainState,
    private readonly request: TrainRequest,
  ) {
    this.after = request.after.map(([a, b]) => [a, b]);
    this.releases = new TrainReleases(train, request, () => this.publish());
  }

  register(): void {
    registerTrainHandlers(
      this.train,
      () => this.publish(),
      (raw) => this.releases.nudge(raw),
    );
  }

  /** Who the train is in what it sends its releases (a person's name is at most 100 characters). */
  private by(): string {
    const name = `train ${this.train.status.trainId}`;
    return name.length <= 100 ? name : 'its train';
  }

  /** The search attribute of the stage (only when it changed) and the Web UI's details. */
  publish(): void {
    if (this.train.stage !== this.publishedStage) {
      upsertSearchAttributes([{ key: SearchAttributes.stage, value: this.train.stage }]);
      this.publishedStage = this.train.stage;
    }
    setCurrentDetails(trainDetails(this.train.status));
  }

  private enter(stage: TrainStage, note?: string, waitingFor?: string): void {
    this.train.setStage(stage, nowIso(), note, waitingFor ?? null);
    this.publish();
  }

  async steps(): Promise<void> {
    try {
      this.releases.startsTogether = patched(TrainPatches.startTogether);
      if (this.request.from) await this.loadManifest(this.request.from);
      const readParts = () =>
        quick.trainParts.executeWithOptions({ summary: 'find the checks and final action' }, [
          { checks: this.request.checks, finalAction: this.request.finalAction },
        ]);
      const readSettings = () =>
        quick.loadTargetSettings.executeWithOptions({ summary: `load settings of ${this.request.target}` }, [
          { target: this.request.target },
        ]);
      let parts: Awaited<ReturnType<typeof readParts>>;
      if (this.releases.startsTogether) {
        [parts, this.settings] = await Promise.all([readParts(), readSettings()]);
      } else {
        parts = await readParts();
        this.settings = await readSettings();
      }
      await this.releases.holdLanes();
      await this.releases.startReleases();
      this.enter('preparing', 'every release deploys its green and runs its own checks');
      await this.waitForMembers((m) => hasReached(m, 'awaiting_go'), 'every green to be deployed and tested');
      await this.checkTogether(parts.checks);
      await this.decide();
      await this.cutOver();
      await this.finalAction(parts.finalAction);
      await this.commit();
    } catch (e) {
      // Whatever stopped the train (a release that failed, or an activity that gave up), the
      // releases it started unwind in order rather than being cancelled all at once.
      if (!(e instanceof TrainEnding) && this.releases.children.size === 0) throw e;
      await this.unwind(
        e instanceof TrainEnding
          ? e
          : new TrainEnding('failed', describeFailure(`stage ${this.train.stage}`, e)),
      );
    } finally {
      await this.recordManifest();
    }
  }

  /**
   * `train start --from`: the services, versions and order of a completed train, from the CMDB;
   * each release must deploy exactly the artifact recorded then.
   */
  private async loadManifest(from: string): Promise<void> {
    const manifest = await quick.trainManifest.executeWithOptions(
      { summary: `read the manifest of ${from}` },
      [{ trainId: from }],
    );
    if (!manifest) throw new TrainEnding('failed', `the CMDB has no manifest of train ${from}`);
    if (manifest.outcome !== 'completed') {
      throw new TrainEnding(
        'failed',
        `train ${from} ended ${manifest.outcome.replaceAll('_', ' ')}; only a completed train's manifest is promoted`,
      );
    }
    this.after = manifest.after;
    for (const s of manifest.services) if (s.digest) this.releases.expectedDigests.set(s.service, s.digest);
    this.train.plan(manifest.services, stepsOf(manifest.services, manifest.after));
    this.publish();
  }

  /** What the train released, and how it ended, in the CMDB: the manifest `train start --from` replays. */
  private async recordManifest(): Promise<void> {
    const { train } = this;
    if (train.status.services.length === 0 || !patched(TrainPatches.recordManifest)) return;
    await audit.recordTrain
      .executeWithOptions({ summary: 'record the manifest in the CMDB' }, [
        {
          trainId: train.status.trainId,
          target: this.request.target,
          fromTrain: this.request.from ?? null,
          services: train.status.services.map((m) => ({
            service: m.service,
            version: m.version,
            digest: m.artifact?.digest ?? null,
          })),
          after: this.after,
          outcome: isTrainEnded(train.stage) ? train.stage : 'failed',
        },
      ])
      .catch((e: unknown) =>
        log.warn('the manifest was not recorded', { error: describeFailure('cmdb', e) }),
      );
  }

  /**
   * Waits until every release named by `which` (all by default) satisfies `isThere`; a release that
   * fails, or a request to stop, ends the wait by unwinding the train.
   */
  private async waitForMembers(
    isThere: (m: TrainMember) => boolean,
    what: string,
    which: readonly string[] = this.train.status.services.map((m) => m.service),
  ): Promise<void> {
    this.train.status.waitingFor = what;
    for (;;) {
      const members = (await this.releases.look()).filter((m) => which.includes(m.service));
      this.throwIfIntervened();
      this.throwIfFailing();
      if (members.every(isThere)) return;
      await condition(() => this.releases.isNudged || this.train.isIntervened, LOOK_AGAIN, {
        summary: `wait for ${what}`,
      });
    }
  }

  /** A release that failed or ended (stopped from outside, say) unwinds the train. */
  private throwIfFailing(): void {
    const failing = this.train.status.services.find(
      (m) => isMemberFailing(m) || (this.releases.ended.has(m.releaseId) && m.stage !== 'completed'),
    );
    if (failing) {
      throw new TrainEnding(
        'failed',
        `${failing.service} ${failing.stage.replaceAll('_', ' ')}${failing.reason ? `: ${failing.reason}` : ''}`,
      );
    }
  }

  private throwIfIntervened(): void {
    const { train } = this;
    if (train.isRollbackRequested)
      throw new TrainEnding('rolled_back', train.interventionNote ?? 'rollback requested');
    if (train.isAbortRequested) throw new TrainEnding('aborted', train.interventionNote ?? 'aborted');
  }

  /** The cross-service checks, against every green together. */
  private async checkTogether(checks: string[]): Promise<void> {
    if (checks.length === 0) return;
    const greens = this.train.status.services.map((m) => ({
      service: m.service,
      version: m.version,
      endpoint: m.green!.endpoint,
    }));
    this.enter('checking', `cross-service checks: ${checks.join(', ')}`);
    const report = await long.runTrainChecks.executeWithOptions(
      { summary: `cross-service checks against ${greens.length} greens` },
      [
        {
          trainId: this.train.status.trainId,
          target: this.request.target,
          checks,
          skipSlowScans: this.request.skipSlowScans,
          greens,
        },
      ],
    );
    this.train.status.crossChecks = report;
    this.throwIfIntervened();
  }

  /** The target's policy on the whole train, with the approvals it asks for: one gate for every service. */
  private async decide(): Promise<void> {
    const { train } = this;
    const settings = this.settings!;
    this.enter('evaluating_policy');
    train.status.approvals.required = settings.approval.required;
    const first = this.evaluate();
    if (first.allowed) return;
    const withApproval = evaluatePolicy(trainPolicy(this.settings!), {
      ...trainFacts(this.train.status, this.settings!, {
        isApproved: this.train.isApproved,
        skipSlowScans: this.request.skipSlowScans,
      }),
      approval_obtained: true,
    });
    if (!withApproval.allowed) {
      const why = train.status.services
        .filter((m) => m.promotion && !m.promotion.soaked)
        .map((m) => m.promotion!.explanation);
      throw new TrainEnding(
        'failed',
        `policy blocked promotion: ${first.explanation}${why.length ? ` (${why.join('; ')})` : ''}`,
      );
    }
    const timeoutMs = settings.approval.timeout;
    const until = new Date(Date.now() + timeoutMs).toISOString();
    train.openApprovalGate(settings.approval);
    this.enter(
      'awaiting_approval',
      `policy needs approval: ${first.explanation}`,
      `${settings.approval.required} approval(s) of the train until ${until}`,
    );
    const watchesEnds = patched(TrainPatches.unwindOnEnd);
    const isDecided =
      (await condition(
        () =>
          train.isApproved ||
          train.isRejected ||
          train.isIntervened ||
          (watchesEnds && this.releases.ended.size > 0),
        timeoutMs,
        { summary: `approval of the train until ${until}` },
      )) ||
      train.isApproved ||
      train.isRejected;
    this.throwIfIntervened();
    if (watchesEnds && this.releases.ended.size > 0) {
      // A release ended while the train waited (stopped from outside): the train cannot go on.
      await this.releases.look();
      this.throwIfFailing();
    }
    if (!isDecided) throw new TrainEnding('expired', `no decision within ${timeoutMs / 1000} s`);
    if (train.isRejected) {
      const r = train.status.approvals.rejectedBy!;
      throw new TrainEnding('rejected', `rejected by ${r.approver}${r.comment ? `: ${r.comment}` : ''}`);
    }
    const second = this.evaluate();
    if (!second.allowed)
      throw new TrainEnding('failed', `policy blocked promotion after approval: ${second.explanation}`);
  }

  private evaluate(): PolicyDecision {
    const facts = trainFacts(this.train.status, this.settings!, {
      isApproved: this.train.isApproved,
      skipSlowScans: this.request.skipSlowScans,
    });
    const policy = trainPolicy(this.settings!);
    const decision = evaluatePolicy(policy, facts);
    this.train.recordDecision(policy, decision, facts, nowIso());
    this.publish();
    return decision;
  }

  /** Cuts over step by step: each step's services go together once every earlier one has baked. */
  private async cutOver(): Promise<void> {
    const { train } = this;
    const approvals = train.status.approvals.approvedBy.map(({ approver, comment }) => ({
      approver,
      ...(comment ? { comment } : {}),
    }));
    for (const [i, step] of train.status.order.entries()) {
      this.throwIfIntervened();
      train.hasCutoverBegun = true;
      this.enter('cutting_over', `step ${i + 1} of ${train.status.order.length}: ${step.join(', ')}`);
      const members = step.map((service) => train.status.services.find((x) => x.service === service)!);
      // What each release confirms its go against: the signal alone proves nothing.
      train.status.released = [...(train.status.released ?? []), ...members.map((m) => m.releaseId)];
      this.publish();
      await this.releases.eachService(members, (m) =>
        this.releases.children
          .get(m.releaseId)!
          .signal(trainGoSignal, { by: this.by(), train: train.status.trainId, approvals })
          .catch((e: unknown) => {
            // It ended meanwhile (stopped from outside): the next look unwinds the train.
            log.warn('could not let a release cut over', {
              service: m.service,
              error: describeFailure('signal', e),
            });
          }),
      );
      await this.waitForMembers(
        (m) => hasReached(m, 'awaiting_termination'),
        `${step.join(', ')} to cut over and bake`,
        step,
      );
    }
  }

  /** The final action, once every service has baked: reported, never a reason to roll back. */
  private async finalAction(name: string | null): Promise<void> {
    if (!name) return;
    const { train } = this;
    this.enter('running_final_action', name);
    const services = train.status.services.map((m) => ({
      service: m.service,
      version: m.version,
      endpoint: m.green!.endpoint,
      digest: m.artifact?.digest ?? null,
    }));
    try {
      const result = await long.runTrainAction.executeWithOptions({ summary: `final action ${name}` }, [
        { trainId: train.status.trainId, target: this.request.target, name, services },
      ]);
      train.status.finalAction = { name, ...result };
    } catch (e) {
      train.status.finalAction = { name, passed: false, detail: describeFailure('final action', e) };
    }
    if (!train.status.finalAction.passed)
      log.warn('final action failed', { detail: train.status.finalAction.detail });
    this.publish();
  }

  /** Every service baked: each release may retire its blue; the train ends when they all have. */
  private async commit(): Promise<void> {
    const { train } = this;
    this.enter(
      'completing',
      'every service baked; the releases retire blue',
      'every release to retire its blue',
    );
    if (patched(TrainPatches.unwindOnEnd)) {
      // A rollback asked for during the final action, or a release stopped from outside, unwinds
      // every service rather than commit some of them.
      this.throwIfIntervened();
      await this.releases.look();
      this.throwIfFailing();
      train.status.committed = true;
      this.publish();
    }
    await this.releases.eachService([...this.releases.children.values()], (child) =>
      child
        .signal(trainCommitSignal, { train: train.status.trainId })
        .catch((e: unknown) =>
          log.warn('could not commit a release', { error: describeFailure('signal', e) }),
        ),
    );
    await condition(() => this.releases.ended.size === this.releases.children.size);
    const members = await this.releases.look();
    const notCompleted = members.filter((m) => m.stage !== 'completed');
    if (notCompleted.length) {
      train.end(
        'failed',
        nowIso(),
        `${notCompleted.map((m) => `${m.service} ${m.stage.replaceAll('_', ' ')}${m.reason ? `: ${m.reason}` : ''}`).join('; ')}`,
      );
    } else {
      const action = train.status.finalAction;
      train.end('completed', nowIso(), null);
      if (action && !action.passed)
        train.status.history.at(-1)!.note = `final action ${action.name} failed: ${action.detail}`;
    }
    this.publish();
  }

  /**
   * All or nothing: the releases not cut over tear green down (aborted, together), then those cut
   * over roll back one by one in reverse order of cutover, each waited for, so that no alias ever
   * points at a green that is gone.
   */
  private async unwind(ending: TrainEnding): Promise<void> {
    const { train } = this;
    const members = train.status.services;
    if (this.releases.children.size === 0) {
      train.end(ending.stage, nowIso(), ending.reason);
      return this.publish();
    }
    await this.releases.look().catch((e: unknown) =>
      log.warn('could not look at the releases; unwinding on what was last seen', {
        error: describeFailure('look', e),
      }),
    );
    const isBack = ending.stage === 'rolled_back' || members.some(isMemberCutOver);
    this.enter(isBack ? 'rolling_back' : 'aborting', ending.reason, 'every release to end');
    // A rollback, not an abort, even to a release not seen cut over: before cutover a release takes
    // it as an abort, and one that has just cut over still rolls back.
    const by = { by: this.by(), reason: plainReason(`${train.status.trainId}: ${ending.reason}`) };
    for (const m of members) {
      if (
        !this.releases.children.has(m.releaseId) ||
        this.releases.ended.has(m.releaseId) ||
        isMemberCutOver(m)
      )
        continue;
      await this.releases.children
        .get(m.releaseId)!
        .signal(rollbackSignal, by)
        .catch(() => undefined);
    }
    const cutOrder = train.status.order.flat().reverse();
    for (const service of cutOrder) {
      const m = members.find((x) => x.service === service)!;
      if (!isMemberCutOver(m) || this.releases.ended.has(m.releaseId)) continue;
      await this.releases.children
        .get(m.releaseId)!
        .signal(rollbackSignal, by)
        .catch(() => undefined);
      await condition(() => this.releases.ended.has(m.releaseId));
    }
    await condition(() => [...this.releases.children.keys()].every((id) => this.releases.ended.has(id)));
    await this.releases.look().catch(() => undefined);
    const stage =
      ending.stage === 'failed' && members.some((m) => m.stage === 'rolled_back')
        ? 'rolled_back'
        : ending.stage;
    const outcomes = members.map((m) => `${m.service} ${m.stage.replaceAll('_', ' ')}`).join(', ');
    train.end(stage, nowIso(), `${ending.reason} (${outcomes})`);
    this.publish();
  }
}
