// The release workflow's rules, tested in seconds: the real workflow code on a real Temporal dev
// server, with typed fake activities that record what the release asked for. The tests against
// real providers (release.test.ts and the others) stay; these reach the rules directly.
import { Registry } from 'prom-client';
import { ReleaseMetrics } from '../src/metrics/release';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { Activities } from '../src/activities';
import { heartbeatInterceptors } from '../src/activities/heartbeat';
import { GreenlightClient } from '../src/client/api';
import type { Deployment, ReleaseRequestInput, ReleaseStatus } from '../src/shared/release';
import type { CalendarGate } from '../src/shared/calendar';
import type { TargetSettings } from '../src/shared/target';
import { goSignal } from '../src/shared/messages';
import { startDevServer, workflowBundle } from '../harness/temporal';
import { replayAndRecord } from './helpers/histories';
import { waitFor, waitForStage } from './helpers/wait';
import { releaseRequest } from '../harness/release';

const taskQueue = `release-rules-${process.pid}`;
let env: TestWorkflowEnvironment;
let worker: Worker;
let running: Promise<void>;
let api: GreenlightClient;

/** What the fakes were asked to do, in order, per service. */
const calls = new Map<string, string[]>();
/** How a test makes a fake behave, per service. */
const scripts = new Map<
  string,
  {
    isHealthy?: boolean;
    isTestSlow?: boolean;
    isTestFailing?: boolean;
    hasBlue?: boolean;
    /** How the cutover (green's first alias change) fails. */
    cutover?: 'verification' | 'conflict';
    isTearDownFailing?: boolean;
    /** The live deployment cannot be read: a failure outside every step. */
    isBlueUnreadable?: boolean;
  }
>();

/** The last stage each service's release recorded in the CMDB. */
const recordedEndings = new Map<string, string>();

/** How a target's calendar answers, per target: open unless a test says otherwise. */
const calendars = new Map<string, (look: number) => CalendarGate>();
const looks = new Map<string, number>();

const record = (service: string, call: string) => calls.set(service, [...(calls.get(service) ?? []), call]);
const deployment = (service: string, version: string, target: string): Deployment => ({
  service,
  version,
  target,
  hostname: `${service}-${version}.${target}.test.internal`,
  endpoint: 'http://127.0.0.1:1',
  releaseId: 'x',
});

function settings(target: string): TargetSettings {
  return {
    name: target,
    zone: 'test.internal',
    approval:
      target === 'frozen-prod'
        ? { required: 0, approvers: ['alice', 'bob'], initiatorMayApprove: false, timeout: 1_000 }
        : { required: target === 'stage' ? 1 : 0, initiatorMayApprove: true, timeout: 1_000 },
    policy: target === 'stage' ? { all: ['tests_passed', 'approval_obtained'] } : 'tests_passed',
    bake: 300,
    healthCheckInterval: 100,
    terminationWait: target === 'uat' ? 60_000 : 100,
    maintenanceWindows: [],
    recordTtl: 1,
  };
}

/** Typed fakes: a change to an activity's signature is a compile error here. */
const fakes: Activities = {
  async loadTargetSettings({ target }) {
    return settings(target);
  },
  async resolveLiveDeployment({ service, target }) {
    record(service, 'resolve blue');
    if (scripts.get(service)?.isBlueUnreadable)
      throw ApplicationFailure.nonRetryable('the DNS server refused the query', 'DnsRefused');
    return scripts.get(service)?.hasBlue ? deployment(service, 'v1', target) : null;
  },
  async deployGreen({ service, version, target }) {
    record(service, `deploy ${version}`);
    return deployment(service, version, target);
  },
  async runIntegrationTests({ deployment: green }) {
    record(green.service, 'test green');
    if (scripts.get(green.service)?.isTestSlow) {
      // Until the release cancels it (an abort), as a long test suite would.
      await Context.current().cancelled;
    }
    const now = new Date().toISOString();
    return {
      passed: !scripts.get(green.service)?.isTestFailing,
      checks: [],
      startedAt: now,
      finishedAt: now,
    };
  },
  async cutOverAlias({ service, from, to }) {
    record(service, `alias → ${to?.split('.')[0] ?? 'nothing'}`);
    const failure = scripts.get(service)?.cutover;
    if (failure && to?.startsWith(`${service}-v2.`) && from !== to) {
      throw failure === 'conflict'
        ? ApplicationFailure.nonRetryable('the alias points at something else', 'DnsConflict')
        : ApplicationFailure.nonRetryable('the alias does not resolve to green', 'DnsVerificationFailed');
    }
    return { alias: `${service}.x`, chain: to ? [to] : [], previousTtl: 1 };
  },
  async checkHealth({ deployment: green }) {
    const isHealthy = scripts.get(green.service)?.isHealthy ?? true;
    record(green.service, `health ${isHealthy ? 'ok' : 'failed'}`);
    return {
      name: 'health',
      passed: isHealthy,
      slow: false,
      skipped: false,
      durationMs: 1,
      detail: isHealthy ? 'ok' : '503',
    };
  },
  async tearDownDeployment({ hostname }) {
    const service = hostname.split('-')[0]!;
    record(service, `tear down ${hostname.split('.')[0]}`);
    if (scripts.get(service)?.isTearDownFailing)
      throw ApplicationFailure.nonRetryable('the instance is stuck');
  },
  async recordChange(input) {
    const { change } = input as { change: { step: string; service: string; stage: string; note?: string } };
    recordedEndings.set(change.service, change.stage);
    if (change.step.endsWith(':window_override')) record(change.service, `cmdb: ${change.note}`);
    return { deferred: null };
  },
  async isNotified() {
    return false;
  },
  async planNotifications() {
    return [];
  },
  async deliverWebhook() {
    throw ApplicationFailure.nonRetryable('not used here');
  },
  async calendarGate({ target }) {
    const look = (looks.get(target) ?? 0) + 1;
    looks.set(target, look);
    const calendar = calendars.get(target);
    return calendar
      ? calendar(look)
      : { closedReason: null, nextAllowed: new Date().toISOString(), onClosedWindow: 'wait' };
  },
  async breakerStatus() {
    return { state: 'closed', retryAfterMs: 0 };
  },
  async reclaimAbandonedDeployments() {
    throw ApplicationFailure.nonRetryable('not used here');
  },
  async runEnvironmentAction() {
    throw ApplicationFailure.nonRetryable('not used here');
  },
  async activeReleases() {
    throw ApplicationFailure.nonRetryable('not used here');
  },
  async recordEnvironmentChange() {
    throw ApplicationFailure.nonRetryable('not used here');
  },
  async environmentGate() {
    return { refusal: null };
  },
  async checkEnvironmentLeaks() {
    throw ApplicationFailure.nonRetryable('not used here');
  },
  async checkEnvironmentDrift() {
    throw ApplicationFailure.nonRetryable('not used here');
  },
  async environmentDefinition() {
    throw ApplicationFailure.nonRetryable('not used here');
  },
  async trainParts() {
    throw ApplicationFailure.nonRetryable('not used here');
  },
  async trainMembers() {
    throw ApplicationFailure.nonRetryable('not used here');
  },
  async runTrainChecks() {
    throw ApplicationFailure.nonRetryable('not used here');
  },
  async runTrainAction() {
    throw ApplicationFailure.nonRetryable('not used here');
  },
  async promotionFacts() {
    return null;
  },
  async trainManifest() {
    throw ApplicationFailure.nonRetryable('not used here');
  },
  async recordTrain() {
    throw ApplicationFailure.nonRetryable('not used here');
  },
  async trainDecision() {
    throw ApplicationFailure.nonRetryable('not used here');
  },
  async laneHolder() {
    throw ApplicationFailure.nonRetryable('not used here');
  },
  async resolveArtifact({ service, version }) {
    return {
      service,
      version,
      uri: `file:///artifacts/${service}/${version}`,
      digest: `sha256:${'0'.repeat(64)}`,
      size: 1,
    };
  },
};

const registry = new Registry();
const releaseMetrics = new ReleaseMetrics(registry);

/** The rollbacks the worker's metrics counted on a target by trigger, once counted (the sink is called after the task). */
async function rollbacks(target: string, trigger: string): Promise<number> {
  let value = 0;
  for (let i = 0; i < 40 && value === 0; i++) {
    const metric = await registry.getSingleMetric('greenlight_release_rollbacks_total')!.get();
    value = metric.values.find((v) => v.labels.target === target && v.labels.trigger === trigger)?.value ?? 0;
    if (value === 0) await new Promise((r) => setTimeout(r, 50));
  }
  return value;
}

before(async () => {
  env = await startDevServer();
  worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    activities: fakes,
    interceptors: { activity: [heartbeatInterceptors] },
    maxHeartbeatThrottleInterval: '2s',
    workflowBundle: await workflowBundle(),
    // The release workflows' metrics, as every greenlight worker registers them.
    sinks: releaseMetrics.sinks(),
  });
  running = worker.run();
  api = new GreenlightClient(env.client, { taskQueue });
});

after(async () => {
  worker?.shutdown();
  await running;
  await env?.teardown();
});

/** The calls a release made, without the health checks' repetitions. */
const steps = (service: string) => (calls.get(service) ?? []).filter((c, i, all) => c !== all[i - 1]);
/** The stages a release went through, in order. */
const stages = (status: ReleaseStatus) => status.history.map((x) => x.stage);

/** The releases these tests ran, by fixture name: their histories must replay (see the last test). */
const ran = new Map<string, string>();
async function start(name: string, request: Omit<ReleaseRequestInput, 'initiator'>): Promise<string> {
  const { releaseId } = await api.startRelease({ initiator: 'ci', ...request });
  ran.set(name, releaseId);
  return releaseId;
}

describe('release rules, with typed fake activities', () => {
  it('rolls back in reverse when green fails while baking: alias back to blue, then green torn down', async () => {
    scripts.set('bake', { hasBlue: true, isHealthy: false });
    const { releaseId } = await api.startRelease(releaseRequest('bake', 'v2', 'dev'));
    ran.set('rollback-while-baking', releaseId);
    const done = await api.wait(releaseId);
    assert.equal(done.stage, 'rolled_back');
    assert.deepEqual(steps('bake'), [
      'resolve blue',
      'deploy v2',
      'test green',
      'alias → bake-v2',
      'health failed',
      'alias → bake-v1',
      'tear down bake-v2',
    ]);
    assert.deepEqual(stages(done), [
      'queued',
      'deploying',
      'testing',
      'evaluating_policy',
      'cutting_over',
      'baking',
      'rolling_back',
      'rolled_back',
    ]);
    // The rollback policy decided it: the worker's metrics count an automatic rollback.
    assert.equal(await rollbacks('dev', 'automatic'), 1);
  });

  it('on an abort during integration tests, tears green down and never touches the alias', async () => {
    scripts.set('abort', { isTestSlow: true });
    const { releaseId } = await api.startRelease(releaseRequest('abort', 'v2', 'dev'));
    ran.set('abort-while-testing', releaseId);
    await waitForStage(api, releaseId, 'testing');
    for (let i = 0; i < 100 && !steps('abort').includes('test green'); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    await api.abort(releaseId, { by: 'ops' });
    const done = await api.wait(releaseId);
    assert.equal(done.stage, 'aborted');
    assert.deepEqual(steps('abort'), ['resolve blue', 'deploy v2', 'test green', 'tear down abort-v2']);
    assert.deepEqual(stages(done), ['queued', 'deploying', 'testing', 'cleaning_up', 'aborted']);
    assert.equal(done.reason, 'abort requested by ops');
  });

  it('expires when no approval comes in time, and cleans up without touching the alias', async () => {
    const { releaseId } = await api.startRelease(releaseRequest('wait', 'v2', 'stage'));
    ran.set('approval-expired', releaseId);
    const done = await api.wait(releaseId);
    assert.equal(done.stage, 'expired');
    assert.deepEqual(steps('wait'), ['resolve blue', 'deploy v2', 'test green', 'tear down wait-v2']);
    assert.deepEqual(stages(done), [
      'queued',
      'deploying',
      'testing',
      'evaluating_policy',
      'awaiting_approval',
      'cleaning_up',
      'expired',
    ]);
  });

  it('rolls back on request while blue is kept: alias back to blue, green torn down, blue kept', async () => {
    scripts.set('keep', { hasBlue: true });
    const { releaseId } = await api.startRelease(releaseRequest('keep', 'v2', 'uat'));
    ran.set('rollback-while-blue-kept', releaseId);
    await waitForStage(api, releaseId, 'awaiting_termination');
    await api.rollback(releaseId, { by: 'ops' });
    const done = await api.wait(releaseId);
    assert.equal(done.stage, 'rolled_back');
    assert.equal(done.live?.version, 'v1');
    assert.deepEqual(steps('keep'), [
      'resolve blue',
      'deploy v2',
      'test green',
      'alias → keep-v2',
      'health ok',
      'alias → keep-v1',
      'tear down keep-v2',
    ]);
    assert.deepEqual(stages(done).slice(-4), [
      'baking',
      'awaiting_termination',
      'rolling_back',
      'rolled_back',
    ]);
    assert.equal(done.reason, 'rollback requested by ops');
    assert.equal(await rollbacks('uat', 'manual'), 1);
  });

  it('fails without changing anything when the version is already live', async () => {
    scripts.set('same', { hasBlue: true });
    const releaseId = await start('already-live', { service: 'same', version: 'v1', target: 'dev' });
    const done = await api.wait(releaseId);
    assert.equal(done.stage, 'failed');
    assert.equal(done.reason, 'v1 is already live on dev (same-v1.dev.test.internal)');
    assert.deepEqual(steps('same'), ['resolve blue']);
    assert.deepEqual(stages(done), ['queued', 'failed']);
  });

  it('records a failure outside its steps (blue unreadable) in the CMDB like any ending', async () => {
    scripts.set('unreadable', { isBlueUnreadable: true });
    const releaseId = await start('failed-outside-steps', {
      service: 'unreadable',
      version: 'v2',
      target: 'dev',
    });
    const done = await api.wait(releaseId);
    assert.equal(done.stage, 'failed');
    assert.match(done.reason ?? '', /the DNS server refused the query/);
    assert.deepEqual(steps('unreadable'), ['resolve blue']);
    assert.equal(recordedEndings.get('unreadable'), 'failed', 'the ending is in the CMDB');
  });

  it('tears green down when the policy blocks promotion, and never touches the alias', async () => {
    scripts.set('block', { hasBlue: true, isTestFailing: true });
    const releaseId = await start('policy-blocked', { service: 'block', version: 'v2', target: 'dev' });
    const done = await api.wait(releaseId);
    assert.equal(done.stage, 'failed');
    assert.match(done.reason ?? '', /^policy blocked promotion: /);
    assert.deepEqual(steps('block'), ['resolve blue', 'deploy v2', 'test green', 'tear down block-v2']);
    assert.deepEqual(stages(done), [
      'queued',
      'deploying',
      'testing',
      'evaluating_policy',
      'cleaning_up',
      'failed',
    ]);
    assert.equal(done.isGreenTornDown, true);
  });

  it('restores the alias, then tears green down, when the cutover fails', async () => {
    scripts.set('swap', { hasBlue: true, cutover: 'verification' });
    const releaseId = await start('cutover-failed', { service: 'swap', version: 'v2', target: 'dev' });
    const done = await api.wait(releaseId);
    assert.equal(done.stage, 'failed');
    assert.equal(done.reason, 'cutover failed: the alias does not resolve to green');
    assert.deepEqual(steps('swap'), [
      'resolve blue',
      'deploy v2',
      'test green',
      'alias → swap-v2',
      'alias → swap-v1',
      'tear down swap-v2',
    ]);
    assert.deepEqual(stages(done), [
      'queued',
      'deploying',
      'testing',
      'evaluating_policy',
      'cutting_over',
      'cleaning_up',
      'failed',
    ]);
    assert.equal(done.live?.version, 'v1');
  });

  it('leaves an alias someone else moved alone when the cutover conflicts, and tears green down', async () => {
    scripts.set('moved', { hasBlue: true, cutover: 'conflict' });
    const releaseId = await start('cutover-conflict', { service: 'moved', version: 'v2', target: 'dev' });
    const done = await api.wait(releaseId);
    assert.equal(done.stage, 'failed');
    assert.deepEqual(steps('moved'), [
      'resolve blue',
      'deploy v2',
      'test green',
      'alias → moved-v2',
      'tear down moved-v2',
    ]);
  });

  it('says what was left behind when tearing green down fails during a rollback', async () => {
    scripts.set('stuck', { hasBlue: true, isHealthy: false, isTearDownFailing: true });
    const releaseId = await start('rollback-leak', { service: 'stuck', version: 'v2', target: 'dev' });
    const done = await api.wait(releaseId);
    assert.equal(done.stage, 'rolled_back');
    assert.match(
      done.reason ?? '',
      /^health check failed while baking: 503; tearing down stuck-v2\.dev\.test\.internal failed \(tear-down failed: the instance is stuck\); it may still run$/,
    );
    assert.equal(done.live?.version, 'v1');
    assert.notEqual(done.isGreenTornDown, true);
    assert.deepEqual(stages(done).slice(-3), ['baking', 'rolling_back', 'rolled_back']);
  });

  it('holds a release before cutover until told to go, then cuts over', async () => {
    const releaseId = await start('held-then-go', {
      service: 'held',
      version: 'v2',
      target: 'dev',
      holdBeforeCutover: true,
    });
    const held = await waitForStage(api, releaseId, 'awaiting_go');
    assert.match(held.waitingFor ?? '', /^a go to cut over, until /);
    assert.deepEqual(steps('held'), ['resolve blue', 'deploy v2', 'test green']);
    const receipt = await api.go(releaseId, { by: 'train' });
    assert.equal(receipt.message, 'go from train; cutting over');
    const done = await api.wait(releaseId);
    assert.equal(done.stage, 'completed');
    assert.deepEqual(stages(done), [
      'queued',
      'deploying',
      'testing',
      'evaluating_policy',
      'awaiting_go',
      'cutting_over',
      'baking',
      'completed',
    ]);
    // The policy is judged again at the go, and who gave it is kept.
    assert.equal(done.policyDecisions.length, 2);
    assert.deepEqual(done.notes, ['go from train by update']);
    await assert.rejects(api.go(releaseId), /release has already ended \(completed\)/);
  });

  it('refuses a go to a release that is not held, before the Update is accepted', async () => {
    const releaseId = await start('go-refused', { service: 'unheld', version: 'v2', target: 'stage' });
    await waitForStage(api, releaseId, 'awaiting_approval');
    await assert.rejects(
      api.go(releaseId, { by: 'train' }),
      /release is not waiting for a go \(stage awaiting_approval\)/,
    );
    const handle = env.client.workflow.getHandle(releaseId);
    const events = (await handle.fetchHistory()).events ?? [];
    assert.equal(events.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes).length, 0);
    // A train sends its go as a Signal: refused the same way, and recorded.
    await handle.signal(goSignal, { by: 'train' });
    const status = await waitFor(api, releaseId, (s) => s.approvals.refused.length > 0, 'the refused go');
    assert.deepEqual(
      status.approvals.refused.map(({ kind, by, via }) => [kind, by, via]),
      [['go', 'train', 'signal']],
    );
    assert.equal((await api.wait(releaseId)).stage, 'expired');
  });

  it('tears green down when a held release is aborted, or gets no go in time', async () => {
    const aborted = await start('held-aborted', {
      service: 'stop',
      version: 'v2',
      target: 'dev',
      holdBeforeCutover: true,
    });
    await waitForStage(api, aborted, 'awaiting_go');
    await api.abort(aborted, { by: 'ops' });
    const done = await api.wait(aborted);
    assert.equal(done.stage, 'aborted');
    assert.deepEqual(steps('stop'), ['resolve blue', 'deploy v2', 'test green', 'tear down stop-v2']);
    assert.deepEqual(stages(done).slice(-3), ['awaiting_go', 'cleaning_up', 'aborted']);

    const expired = await start('held-expired', {
      service: 'late',
      version: 'v2',
      target: 'dev',
      holdBeforeCutover: true,
    });
    const ended = await api.wait(expired);
    assert.equal(ended.stage, 'expired');
    assert.equal(ended.reason, 'no go to cut over within 1 s');
    assert.deepEqual(steps('late'), ['resolve blue', 'deploy v2', 'test green', 'tear down late-v2']);
  });

  it('waits while its target is closed, showing when it goes, and goes by itself when it opens', async () => {
    const opensAt = Date.now() + 3_000;
    calendars.set('frozen', () =>
      Date.now() < opensAt
        ? {
            closedReason: 'freeze year-end blocks release',
            nextAllowed: new Date(opensAt).toISOString(),
            onClosedWindow: 'wait',
          }
        : { closedReason: null, nextAllowed: new Date().toISOString(), onClosedWindow: 'wait' },
    );
    const releaseId = await start('window-wait', { service: 'patient', version: 'v2', target: 'frozen' });
    const waiting = await waitForStage(api, releaseId, 'waiting_for_window');
    assert.deepEqual(
      { ...waiting.window, since: undefined },
      {
        reason: 'freeze year-end blocks release',
        goesAt: new Date(opensAt).toISOString(),
        moment: 'before deploying',
        since: undefined,
      },
    );
    assert.match(
      waiting.waitingFor ?? '',
      /^frozen to open at .+ \(freeze year-end blocks release\), or an approved override$/,
    );
    // Nothing is deployed while it waits.
    assert.deepEqual(steps('patient'), ['resolve blue']);
    const done = await api.wait(releaseId);
    assert.equal(done.stage, 'completed');
    assert.ok(
      Date.parse(done.history.find((h) => h.stage === 'deploying')!.at) >= opensAt,
      'deployed once open',
    );
    assert.deepEqual(stages(done).slice(0, 3), ['queued', 'waiting_for_window', 'deploying']);
    assert.equal(done.window, null);
    assert.equal(done.windowOverride, null);
  });

  it('goes at once on an override approved by the target’s rule with a reason; a refused one never enters the history', async () => {
    calendars.set('frozen-prod', () => ({
      closedReason: 'outside every window',
      nextAllowed: new Date(Date.now() + 86_400_000).toISOString(),
      onClosedWindow: 'wait',
    }));
    const releaseId = await start('window-override', {
      service: 'hotfix',
      version: 'v2',
      target: 'frozen-prod',
    });
    await waitForStage(api, releaseId, 'waiting_for_window');
    await assert.rejects(
      api.overrideWindow(releaseId, { approver: 'mallory', reason: 'trust me' }),
      /mallory may not approve releases to frozen-prod while it is closed; allowed: alice, bob/,
    );
    await assert.rejects(api.overrideWindow(releaseId, { approver: 'alice', reason: '' }), /reason/);
    const handle = env.client.workflow.getHandle(releaseId);
    const accepted = async () =>
      ((await handle.fetchHistory()).events ?? []).filter(
        (e) => e.workflowExecutionUpdateAcceptedEventAttributes,
      ).length;
    assert.equal(await accepted(), 0, 'refused overrides never enter the history');
    const receipt = await api.overrideWindow(releaseId, { approver: 'alice', reason: 'INC-42 outage fix' });
    assert.equal(receipt.message, 'overridden by alice: outside every window; going now');
    const done = await api.wait(releaseId);
    assert.equal(done.stage, 'completed');
    assert.deepEqual(
      { ...done.windowOverride, at: undefined },
      { approver: 'alice', reason: 'INC-42 outage fix', closedReason: 'outside every window', at: undefined },
    );
    const note = 'let go while closed (outside every window) by alice: INC-42 outage fix';
    assert.ok(done.notes.includes(note), JSON.stringify(done.notes));
    assert.ok(steps('hotfix').includes(`cmdb: ${note}`), 'recorded in the CMDB');
    // The override stands for the look before cutover too.
    assert.equal(stages(done).filter((s) => s === 'waiting_for_window').length, 1);
    assert.equal(await accepted(), 1);
    await assert.rejects(
      api.overrideWindow(releaseId, { approver: 'bob', reason: 'again' }),
      /release has already ended \(completed\)/,
    );
  });

  it('fails at once, deploying nothing, on a target that refuses releases while closed', async () => {
    calendars.set('refusing', () => ({
      closedReason: 'freeze audit blocks release',
      nextAllowed: '2027-01-04T08:00:00.000Z',
      onClosedWindow: 'refuse',
    }));
    const releaseId = await start('window-refused', { service: 'eager', version: 'v2', target: 'refusing' });
    const done = await api.wait(releaseId);
    assert.equal(done.stage, 'failed');
    assert.equal(
      done.reason,
      'refusing is closed: freeze audit blocks release, and it refuses releases while closed; it opens at 2027-01-04T08:00:00.000Z',
    );
    assert.deepEqual(steps('eager'), ['resolve blue']);
  });

  it('waits again before cutover when its target closed while green was held, and an abort ends the wait', async () => {
    // Open at the first look; closed from the second on (the look before cutover).
    calendars.set('closing', (look) =>
      look === 1
        ? { closedReason: null, nextAllowed: new Date().toISOString(), onClosedWindow: 'wait' }
        : {
            closedReason: 'freeze launch blocks release',
            nextAllowed: new Date(Date.now() + 3_600_000).toISOString(),
            onClosedWindow: 'wait',
          },
    );
    const releaseId = await start('window-before-cutover', {
      service: 'closer',
      version: 'v2',
      target: 'closing',
      holdBeforeCutover: true,
    });
    await waitForStage(api, releaseId, 'awaiting_go');
    await api.go(releaseId, { by: 'ops' });
    const waiting = await waitForStage(api, releaseId, 'waiting_for_window');
    assert.equal(waiting.window?.moment, 'before cutover');
    await api.abort(releaseId, { by: 'ops', reason: 'not today' });
    const done = await api.wait(releaseId);
    assert.equal(done.stage, 'aborted', JSON.stringify(done.history));
    assert.deepEqual(steps('closer'), ['resolve blue', 'deploy v2', 'test green', 'tear down closer-v2']);
    assert.deepEqual(stages(done).slice(-4), ['awaiting_go', 'waiting_for_window', 'cleaning_up', 'aborted']);
  });

  it('waits for its time when scheduled, holding no lane, and an abort before then ends it with nothing done', async () => {
    const at = new Date(Date.now() + 3_000).toISOString();
    const releaseId = await start('scheduled', {
      service: 'later',
      version: 'v2',
      target: 'dev',
      notBefore: at,
    });
    const scheduled = await waitForStage(api, releaseId, 'scheduled');
    assert.equal(scheduled.waitingFor, `its time, ${at}`);
    // Listed as scheduled (its stage search attribute), and its time is in the Web UI's details.
    const description = await env.client.workflow.getHandle(releaseId).describe();
    assert.deepEqual(description.searchAttributes.GreenlightStage, ['scheduled']);
    assert.match(
      (await description.staticDetails()) ?? '',
      new RegExp(`scheduled for ${at.replace(/[.]/g, '\\.')}`),
    );
    // It holds no lane: another release of the service runs meanwhile.
    const other = await start('scheduled-meanwhile', { service: 'later', version: 'v1', target: 'dev' });
    assert.equal((await api.wait(other)).stage, 'completed');
    const done = await api.wait(releaseId);
    assert.equal(done.stage, 'completed');
    assert.deepEqual(stages(done).slice(0, 4), ['queued', 'scheduled', 'queued', 'deploying']);
    assert.ok(Date.parse(done.history[2]!.at) >= Date.parse(at), 'taken up at its time');

    const aborted = await start('scheduled-aborted', {
      service: 'never',
      version: 'v2',
      target: 'dev',
      notBefore: new Date(Date.now() + 3_600_000).toISOString(),
    });
    await waitForStage(api, aborted, 'scheduled');
    const receipt = await api.abort(aborted, { by: 'ops', reason: 'plans changed' });
    assert.match(receipt.message, /^abort requested by ops: plans changed/);
    const ended = await api.wait(aborted);
    assert.equal(ended.stage, 'aborted');
    assert.equal(ended.reason, 'abort requested by ops: plans changed before its time; nothing was done');
    assert.deepEqual(steps('never'), [], 'nothing was asked of any provider');
  });

  it('replays the history of every release above against the current workflow code', async () => {
    await replayAndRecord(env.client, ran, 'rules-');
    assert.ok(ran.size >= 6, 'the releases above ran');
  });
});
