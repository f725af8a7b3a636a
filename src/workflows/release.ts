import {
  ActivityCancellationType,
  allHandlersFinished,
  CancellationScope,
  condition,
  isCancellation,
  log,
  patched,
  ParentClosePolicy,
  proxyActivities,
  setCurrentDetails,
  setDefaultSignalHandler,
  setHandler,
  sleep,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { ChildWorkflowHandle } from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { Activities } from '../activities';
import {
  abortSignal,
  abortUpdate,
  approveSignal,
  approveUpdate,
  breakerNoticeSignal,
  FailureTypes,
  freeLaneSignal,
  laneWorkflowId,
  NON_RETRYABLE_FAILURES,
  rejectSignal,
  rejectUpdate,
  rollbackSignal,
  rollbackUpdate,
  SearchAttributes,
  statusQuery,
} from '../shared/messages';
import type { DecisionReceipt } from '../shared/messages';
import { evaluatePolicy } from '../shared/policy';
import type {
  Deployment,
  DeploymentColour,
  DeploymentStatus,
  ReleaseRequestInput,
  ReleaseStatus,
  Stage,
} from '../shared/release';
import { hostnames, isTerminalStage, ReleaseRequest } from '../shared/release';
import { isMaintenanceWindowOpen } from '../shared/target';
import type { TargetSettings } from '../shared/target';
import { currentDetails } from './details';
import { breakerNoticeHandler } from './breaker-notice';
import { describeFailure, isFailureOfType, outcome } from './failures';
import { releaseLane } from './lane';
import { ReleaseState } from './release-state';
import type { RequestKind, Verdict } from './release-state';

const RETRY = {
  initialInterval: '1s',
  backoffCoefficient: 2,
  maximumInterval: '30s',
  nonRetryableErrorTypes: NON_RETRYABLE_FAILURES,
} as const;

/**
 * Every activity heartbeats every 2 s while it runs (a worker interceptor): when its worker dies,
 * the attempt times out after this and is retried on another worker, whatever its start-to-close.
 */
const HEARTBEAT_TIMEOUT = '10s';

// Retries are bounded by time, not by a small attempt count: a dependency that is down for a few
// minutes delays a release instead of failing it.
const acts = proxyActivities<Activities>({
  startToCloseTimeout: '2m',
  scheduleToCloseTimeout: '15m',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: RETRY,
});

// Deploying and testing can take long; they heartbeat and finish cleanly when the release is aborted.
const longActs = proxyActivities<Activities>({
  startToCloseTimeout: '15m',
  scheduleToCloseTimeout: '1h',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: RETRY,
});

// The CMDB is a record, not a gate: a write that cannot be made soon is noted and the release goes on.
const auditActs = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  scheduleToCloseTimeout: '2m',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: RETRY,
});

/** A deployment whose CMDB item a stage change updates. */
interface AuditedDeployment {
  deployment: Deployment;
  colour: DeploymentColour;
  status: DeploymentStatus;
}

/**
 * Changes to the commands a release issues, gated with `patched()` so that releases started by an
 * earlier version replay unchanged (test/histories holds their histories).
 */
const Patches = {
  /** The stage search attribute is upserted only when the stage changes. */
  publishStageOnChange: 'publish-stage-on-change',
  /** A release started directly holds its lane until it closes; lanes ignore the `free` signal. */
  laneHeldUntilClose: 'lane-held-until-close',
} as const;

/** How often a rollback tries to restore the alias before it gives up and says so. */
const RESTORE_ATTEMPTS = 3;

const nowIso = (): string => new Date().toISOString();

/** A blue/green release of one service version to one target. The workflow id is the release id. */
export async function blueGreenRelease(input: ReleaseRequestInput): Promise<ReleaseStatus> {
  const parsed = ReleaseRequest.safeParse(input);
  if (!parsed.success) {
    throw outcome(
      FailureTypes.invalidInput,
      `invalid release request: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  const request = parsed.data;
  const release = new ReleaseState(workflowInfo().workflowId, request, nowIso());
  registerHandlers(release);
  upsertSearchAttributes([
    { key: SearchAttributes.service, value: request.service },
    { key: SearchAttributes.target, value: request.target },
    { key: SearchAttributes.version, value: request.version },
    { key: SearchAttributes.stage, value: release.stage },
  ]);
  release.publishedStage = release.stage;
  publish(release);

  // Cancelling the workflow (e.g. from the Web UI) is an abort before cutover and a rollback after:
  // the release always compensates instead of stopping half-way.
  CancellationScope.current().cancelRequested.catch(() => {
    const kind = release.isCutOver ? 'rollback' : 'abort';
    release.intervene(
      kind,
      { by: 'temporal', reason: 'workflow cancellation requested' },
      'cancel',
      nowIso(),
    );
    publish(release);
  });

  const freeLane = await holdLane(release);
  try {
    await CancellationScope.nonCancellable(() => new ReleaseRun(release).run());
  } catch (e) {
    // A failure no step handled (settings or blue unreadable, blue could not be terminated…):
    // the release still ends with a stage and a reason.
    if (!isTerminalStage(release.stage)) {
      release.end('failed', nowIso(), describeFailure(`stage ${release.stage}`, e));
      publish(release);
    }
  } finally {
    await freeLane();
  }
  // Requests still being handled (a breaker notice being verified) finish before the release
  // completes, so no message is left unhandled as it ends.
  await CancellationScope.nonCancellable(() => condition(allHandlersFinished));
  if (release.stage === 'failed' || release.stage === 'rolled_back') {
    throw outcome(
      FailureTypes.releaseFailed,
      `release ${release.stage.replace('_', ' ')}: ${release.status.reason ?? 'unknown reason'}`,
      release.status,
    );
  }
  return release.status;
}

function registerHandlers(release: ReleaseState): void {
  setHandler(statusQuery, () => release.status);
  const apply = (verdict: Verdict): DecisionReceipt => {
    publish(release);
    if (!verdict.ok) throw outcome(FailureTypes.requestRefused, verdict.reason);
    return { accepted: true, stage: release.stage, message: verdict.message };
  };
  const logRefusal = (verdict: Verdict): void => {
    publish(release);
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
  setHandler(rollbackUpdate, (i) => apply(release.intervene('rollback', i, 'update', nowIso())), {
    validator: validator('rollback'),
  });
  setHandler(abortUpdate, (i) => apply(release.intervene('abort', i, 'update', nowIso())), {
    validator: validator('abort'),
  });
  setHandler(approveSignal, (a) => logRefusal(release.decide('approve', a, 'signal', nowIso())));
  setHandler(rejectSignal, (a) => logRefusal(release.decide('reject', a, 'signal', nowIso())));
  setHandler(rollbackSignal, (i) => logRefusal(release.intervene('rollback', i, 'signal', nowIso())));
  setHandler(abortSignal, (i) => logRefusal(release.intervene('abort', i, 'signal', nowIso())));
  const onBreakerNotice = breakerNoticeHandler(release, () => publish(release));
  setDefaultSignalHandler(async (name, ...args) => {
    if (name === breakerNoticeSignal.name) await onBreakerNotice(args[0]);
    else log.warn('unknown signal ignored', { signal: name.slice(0, 100) });
  });
}

/**
 * Keeps the search attribute and the UI's current details in step with the state. The attribute is
 * upserted only when the stage changed: each upsert is a history event, and requests that change
 * nothing must not grow the history.
 */
function publish(release: ReleaseState): void {
  if (!patched(Patches.publishStageOnChange) || release.stage !== release.publishedStage) {
    upsertSearchAttributes([{ key: SearchAttributes.stage, value: release.stage }]);
    release.publishedStage = release.stage;
  }
  setCurrentDetails(currentDetails(release.status));
}

/**
 * Holds the release's lane until it ends; returns how to free it. A release admitted by its lane
 * (Update-with-Start, as the client does) already holds it, and the lane ends after the release. A
 * release started directly takes the lane as its child, shielded from the release's own
 * cancellation (which must not free the lane while green is cleaned up); the parent-close policy
 * ends that lane when the release closes, and nothing sent to the lane frees it. Releases of earlier
 * versions (their histories replay unchanged) took it in their root scope and signalled it free.
 */
async function holdLane(release: ReleaseState): Promise<() => Promise<void>> {
  const { service, target } = release.status;
  if (workflowInfo().parent?.workflowId === laneWorkflowId(service, target)) return async () => {};
  if (patched(Patches.laneHeldUntilClose)) {
    await CancellationScope.nonCancellable(() => acquireLane(release));
    return async () => {};
  }
  const lane = await acquireLane(release);
  return () => CancellationScope.nonCancellable(() => lane.signal(freeLaneSignal).catch(() => undefined));
}

async function acquireLane(release: ReleaseState): Promise<ChildWorkflowHandle<typeof releaseLane>> {
  const { service, target, releaseId } = release.status;
  for (let attempt = 1; ; attempt++) {
    try {
      return await startChild(releaseLane, {
        workflowId: laneWorkflowId(service, target),
        args: [{ releaseId }],
        parentClosePolicy: ParentClosePolicy.TERMINATE,
        staticSummary: `lock: ${service} → ${target} held by ${releaseId}`,
      });
    } catch (e) {
      if (!(e instanceof WorkflowExecutionAlreadyStartedError)) throw e;
      // A release that has just ended frees its lane a moment after its final stage: wait briefly.
      if (attempt < LANE_ATTEMPTS) {
        await sleep('1s', { summary: 'wait for the lane: the previous release is ending' });
        continue;
      }
    }
    const reason = `another release of ${service} to ${target} is running (lane ${laneWorkflowId(service, target)}); only one runs at a time`;
    release.end('failed', nowIso(), reason);
    publish(release);
    throw outcome(FailureTypes.releaseConflict, reason, release.status);
  }
}

/** Tries to take a lane before refusing the release. */
const LANE_ATTEMPTS = 5;

/** One run of the release steps; each step records its stage, and failures compensate in reverse. */
class ReleaseRun {
  private settings!: TargetSettings;
  private blue: Deployment | null = null;
  private green: Deployment | null = null;
  /** When blue may go: the termination wait, but never before the old alias record's TTL has run out. */
  private blueNeededUntil = 0;

  constructor(private readonly release: ReleaseState) {}

  private get request() {
    return this.release.status;
  }

  async run(): Promise<void> {
    this.settings = await acts.loadTargetSettings.executeWithOptions(
      { summary: `load settings of ${this.request.target}` },
      [{ target: this.request.target }],
    );
    this.blue = await acts.resolveLiveDeployment.executeWithOptions(
      { summary: 'resolve live (blue) deployment' },
      [this.coordinates()],
    );
    this.release.setBlue(this.blue);
    const greenHostname = this.greenHostname();
    if (this.blue?.hostname === greenHostname) {
      await this.finish(
        'failed',
        `${this.request.version} is already live on ${this.request.target} (${greenHostname})`,
      );
      return;
    }

    const scope = new CancellationScope();
    this.release.onAbort = () => scope.cancel();
    let isPromotable = false;
    try {
      if (this.release.isAbortRequested) scope.cancel();
      isPromotable = await scope.run(() => this.prepareGreen());
    } catch (e) {
      if (isCancellation(e) && this.release.isAbortRequested) {
        await this.tearDownGreen('aborted', this.release.interventionNote ?? 'aborted');
        return;
      }
      await this.tearDownGreen('failed', describeFailure('preparing green', e));
      return;
    } finally {
      this.release.onAbort = null;
    }
    if (!isPromotable) return;
    if (!(await this.cutOver())) return;
    await this.bakeAndRetire();
  }

  /** Deploys green, tests it, and gets the promotion decision. False when the release ended here. */
  private async prepareGreen(): Promise<boolean> {
    const { service, version, releaseId, skipSlowScans } = this.request;
    await this.enter('deploying', `deploying ${version} beside ${this.blue?.version ?? 'nothing'}`);
    this.green = await longActs.deployGreen.executeWithOptions(
      { summary: `deploy green ${service} ${version}` },
      [{ ...this.coordinates(), releaseId, version, ttl: this.settings.recordTtl }],
    );
    this.release.setGreen(this.green);
    await this.enter('testing', `green at ${this.green.hostname}`, [
      { deployment: this.green, colour: 'green', status: 'candidate' },
    ]);
    const tests = await longActs.runIntegrationTests.executeWithOptions(
      {
        summary: `integration tests against ${this.green.hostname}${skipSlowScans ? ' (slow scans skipped)' : ''}`,
      },
      [{ deployment: this.green, skipSlowScans }],
    );
    this.release.setTests(tests);

    await this.enter('evaluating_policy');
    this.release.status.approvals.required = this.settings.approval.required;
    const first = this.evaluate();
    if (first.allowed) return true;
    const withApproval = evaluatePolicy(this.settings.policy, { ...this.facts(), approval_obtained: true });
    if (!withApproval.allowed) {
      await this.tearDownGreen('failed', `policy blocked promotion: ${first.explanation}`);
      return false;
    }

    const timeoutMs = this.settings.approval.timeout;
    this.release.openApprovalGate(this.settings.approval, new Date(Date.now() + timeoutMs).toISOString());
    await this.enter(
      'awaiting_approval',
      `policy needs approval: ${first.explanation}`,
      [],
      this.release.approvalWaitText(),
    );
    const isDecided =
      (await condition(() => this.release.isApproved || this.release.isRejected, timeoutMs, {
        summary: `approval timeout (${this.settings.approval.required} approval(s) needed)`,
      })) ||
      this.release.isApproved ||
      this.release.isRejected; // a decision in the same task as the timeout still counts
    if (!isDecided) {
      await this.tearDownGreen('expired', `no decision within ${timeoutMs / 1000} s`);
      return false;
    }
    if (this.release.isRejected) {
      const r = this.release.status.approvals.rejectedBy;
      await this.tearDownGreen('rejected', `rejected by ${r?.approver}${r?.comment ? `: ${r.comment}` : ''}`);
      return false;
    }
    const second = this.evaluate();
    if (!second.allowed) {
      await this.tearDownGreen('failed', `policy blocked promotion after approval: ${second.explanation}`);
      return false;
    }
    return true;
  }

  /** Points the alias at green (compare-and-swap against blue). False when the release ended here. */
  private async cutOver(): Promise<boolean> {
    // An abort accepted while the last pre-cutover activity was finishing wins over promotion.
    // Nothing awaits between this check and the stage change, so no abort slips in after it.
    if (this.release.isAbortRequested) {
      await this.tearDownGreen('aborted', this.release.interventionNote ?? 'aborted');
      return false;
    }
    const green = this.green!;
    await this.enter('cutting_over', `${this.aliasName()} → ${green.hostname}`);
    try {
      const { previousTtl } = await acts.cutOverAlias.executeWithOptions(
        { summary: `cut over ${this.aliasName()} → ${green.hostname}` },
        [
          {
            ...this.coordinates(),
            from: this.blue?.hostname ?? null,
            to: green.hostname,
            ttl: this.settings.recordTtl,
          },
        ],
      );
      // Until resolvers have dropped the old answer, clients may still reach blue.
      this.blueNeededUntil = Date.now() + (previousTtl ?? this.settings.recordTtl) * 1000;
    } catch (e) {
      const reason = describeFailure('cutover', e);
      if (!isFailureOfType(e, FailureTypes.dnsConflict) && !(await this.restoreAlias())) {
        await this.finish(
          'failed',
          `${reason}; the alias could not be restored and may point at green, which was kept running`,
        );
        return false;
      }
      await this.tearDownGreen('failed', reason);
      return false;
    }
    this.release.setLive(green);
    return true;
  }

  private async bakeAndRetire(): Promise<void> {
    const green = this.green!;
    await this.enter('baking', `health checks for ${this.settings.bake / 1000} s`, [
      { deployment: green, colour: 'green', status: 'live' },
    ]);
    const failure = await this.bake();
    if (failure) return this.rollBack(failure);
    if (this.release.isRollbackRequested)
      return this.rollBack(this.release.interventionNote ?? 'rollback requested');

    if (this.blue) {
      const wait = Math.max(this.settings.terminationWait, this.blueNeededUntil - Date.now());
      const until = new Date(Date.now() + wait).toISOString();
      await this.enter(
        'awaiting_termination',
        `blue ${this.blue.version} kept until ${until} for a quick rollback`,
        [],
        `termination of blue ${this.blue.version} at ${until}; rollback possible until then`,
      );
      await condition(() => this.release.isRollbackRequested, wait, {
        summary: `keep blue ${this.blue.version} for a quick rollback until ${until}`,
      });
      if (this.release.isRollbackRequested)
        return this.rollBack(this.release.interventionNote ?? 'rollback requested');
      await this.enter('terminating_blue', `terminating ${this.blue.hostname}`);
      const leak = await this.tearDown(this.blue.hostname);
      this.release.status.isBlueTerminated = leak === null;
      if (leak) {
        // Green is live and healthy: the release did its job; the note says what is left to clean.
        await this.finish('completed', `green is live; ${leak}`);
        return;
      }
    }
    await this.finish('completed', null, [
      ...(this.blue
        ? [{ deployment: this.blue, colour: 'blue' as const, status: 'terminated' as const }]
        : []),
    ]);
  }

  /** Health checks until the bake time is over; returns why it failed, or null. */
  private async bake(): Promise<string | null> {
    const green = this.green!;
    const deadline = Date.now() + this.settings.bake;
    while (Date.now() < deadline && !this.release.isRollbackRequested) {
      try {
        const result = await acts.checkHealth.executeWithOptions(
          { summary: `health check ${green.hostname}`, scheduleToCloseTimeout: '1m' },
          [{ deployment: green }],
        );
        if (!result.passed) return `health check failed while baking: ${result.detail}`;
      } catch (e) {
        return describeFailure('health check', e);
      }
      const left = deadline - Date.now();
      if (left <= 0) break;
      await condition(
        () => this.release.isRollbackRequested,
        Math.min(this.settings.healthCheckInterval, left),
        { summary: 'next health check while baking' },
      );
    }
    return null;
  }

  private async rollBack(reason: string): Promise<void> {
    await this.enter('rolling_back', reason);
    const isRestored = await this.restoreAlias();
    if (!isRestored) {
      // Green stays: tearing it down while the alias still points at it would take the service down.
      await this.finish(
        'rolled_back',
        `${reason}; the alias could not be restored and still points at green, which was kept running`,
      );
      return;
    }
    this.release.setLive(this.blue);
    const leak = await this.tearDown(this.green!.hostname);
    if (!leak) this.release.setGreenTornDown();
    await this.finish('rolled_back', leak ? `${reason}; ${leak}` : reason, [
      { deployment: this.green!, colour: 'green', status: 'torn_down' },
    ]);
  }

  /**
   * Points the alias back at blue (or removes it on a first release). True when the alias no longer
   * leads to green: restored, never moved, or moved by someone else. Gives up after a few attempts,
   * each of which retries its activity for up to 15 minutes.
   */
  private async restoreAlias(): Promise<boolean> {
    const green = this.green!;
    const to = this.blue?.hostname ?? null;
    for (let attempt = 1; ; attempt++) {
      try {
        await acts.cutOverAlias.executeWithOptions(
          { summary: `restore ${this.aliasName()} → ${to ?? 'nothing'}` },
          [
            {
              ...this.coordinates(),
              from: green.hostname,
              to,
              ttl: this.settings.recordTtl,
              // A blue whose instance is gone has no address to verify; the alias is restored all the same.
              requireAddress: !this.blue?.isGone,
            },
          ],
        );
        return true;
      } catch (e) {
        if (isFailureOfType(e, FailureTypes.dnsConflict)) return true;
        log.error('restoring the alias failed', { attempt, error: describeFailure('restore', e) });
        if (attempt >= RESTORE_ATTEMPTS) return false;
        await sleep('1m', { summary: `wait before restoring the alias again (attempt ${attempt + 1})` });
      }
    }
  }

  /** Ends a release before cutover: green is removed, the alias was never touched. */
  private async tearDownGreen(stage: Stage, reason: string): Promise<void> {
    await CancellationScope.nonCancellable(async () => {
      await this.enter('cleaning_up', reason);
      let leak: string | null = null;
      if (this.green) {
        leak = await this.tearDown(this.green.hostname);
        if (!leak) this.release.setGreenTornDown();
      } else if (this.settings) {
        // Deploy may have created green before it failed or was cancelled: remove it by name, but
        // only if this release created it.
        leak = await this.tearDown(this.greenHostname(), this.request.releaseId);
      }
      await this.finish(
        stage,
        leak ? `${reason}; ${leak}` : reason,
        this.green ? [{ deployment: this.green, colour: 'green', status: 'torn_down' }] : [],
      );
    });
  }

  /** Removes a deployment; returns what was left behind when that failed, so the outcome can say so. */
  private async tearDown(hostname: string, ifOwnedBy?: string): Promise<string | null> {
    try {
      await acts.tearDownDeployment.executeWithOptions({ summary: `tear down ${hostname}` }, [
        { hostname, target: this.request.target, ...(ifOwnedBy ? { ifOwnedBy } : {}) },
      ]);
      return null;
    } catch (e) {
      log.error('tear-down failed; the deployment may still run', {
        hostname,
        error: describeFailure('tear-down', e),
      });
      return `tearing down ${hostname} failed (${describeFailure('tear-down', e)}); it may still run`;
    }
  }

  private greenHostname(): string {
    return hostnames(this.request.service, this.request.version, this.request.target, this.settings.zone)
      .green;
  }

  private evaluate() {
    const facts = this.facts();
    const decision = evaluatePolicy(this.settings.policy, facts);
    this.release.recordDecision(this.settings.policy, decision, facts, nowIso());
    log.info('policy decision', { allowed: decision.allowed, explanation: decision.explanation });
    return decision;
  }

  private facts(): Record<string, boolean> {
    return {
      tests_passed: this.release.status.tests?.passed === true,
      slow_scans_skipped: this.request.skipSlowScans,
      approval_obtained: this.release.isApproved,
      maintenance_window_open: isMaintenanceWindowOpen(this.settings.maintenanceWindows, new Date()),
      first_release: this.blue === null,
    };
  }

  private async enter(
    stage: Stage,
    note?: string,
    deployments: AuditedDeployment[] = [],
    waitingFor?: string,
  ): Promise<void> {
    this.release.setStage(stage, nowIso(), note);
    if (waitingFor) this.release.setWaitingFor(waitingFor, nowIso());
    publish(this.release);
    await this.audit(stage, note, deployments);
  }

  private async finish(
    stage: Stage,
    reason: string | null,
    deployments: AuditedDeployment[] = [],
  ): Promise<void> {
    this.release.end(stage, nowIso(), reason);
    publish(this.release);
    await this.audit(stage, reason ?? undefined, deployments);
  }

  private async audit(
    stage: Stage,
    note: string | undefined,
    deployments: AuditedDeployment[],
  ): Promise<void> {
    const { releaseId, service, target, version } = this.request;
    const step = `${this.release.status.history.length}:${stage}`;
    try {
      const result = await CancellationScope.nonCancellable(() =>
        auditActs.recordChange.executeWithOptions({ summary: `record ${stage} in CMDB` }, [
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
            deployments: deployments.map((x) => ({
              deployment: x.deployment,
              colour: x.colour,
              status: x.status,
              releaseId,
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
        publish(this.release);
      }
    } catch (e) {
      log.warn('CMDB write failed; the release goes on', { stage, error: describeFailure('cmdb', e) });
    }
  }

  private coordinates() {
    return { service: this.request.service, target: this.request.target, zone: this.settings.zone };
  }

  private aliasName(): string {
    return hostnames(this.request.service, this.request.version, this.request.target, this.settings.zone)
      .alias;
  }
}
