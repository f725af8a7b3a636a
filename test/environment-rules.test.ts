// The environment workflow's rules in seconds: the real workflow on a real Temporal dev server,
// with typed fake activities that record the actions it runs.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { Activities } from '../src/activities';
import {
  environmentAdmitUpdate,
  environmentApproveUpdate,
  environmentCheckDriftUpdate,
  environmentExtendUpdate,
  environmentUpgradeUpdate,
  environmentRetryUpdate,
  environmentStatusQuery,
  environmentTransitionUpdate,
  environmentWorkflowId,
} from '../src/shared/environment';
import type { EnvironmentStartInput, EnvironmentStatus } from '../src/shared/environment';
import { EXECUTORS, ephemeralFlow, lifecycleFlow } from '../src/shared/flow';
import { Flow } from '../src/shared/flow';
import type { ExecutorName, FlowInput } from '../src/shared/flow';
import { startDevServer, workflowBundle } from '../harness/temporal';
import { replayAndRecord } from './helpers/histories';

const taskQueue = `environment-rules-${process.pid}`;
let env: TestWorkflowEnvironment;
let worker: Worker;
let running: Promise<void>;

/** The actions each environment ran, in order. */
const ran = new Map<string, string[]>();
/** Executors that fail, per environment, until a test clears them. */
const failing = new Map<string, Set<ExecutorName>>();
/** The transitions each environment recorded in the CMDB, in order. */
const journal = new Map<string, string[]>();
/** Drift checks run, per environment, and what they find (nothing unless set). */
const drifts = new Map<string, number>();
const driftFindings = new Map<string, string[]>();
/** Environments whose drift check takes a second. */
const slowDrift = new Set<string>();
/** Environments some webhook hears of, and what the notifications said of each. */
const heard = new Set<string>();
const told = new Map<string, string[]>();
/** A freeze per environment: what it blocks, and until when. */
const frozen = new Map<string, { name: string; blocks: string; until: number }>();
/** What the leak check finds after decommissioning, per environment (nothing unless set). */
const leaks = new Map<string, string[]>();
/** The definition the configuration has now, per environment (`upgrade`). */
const definitions = new Map<string, { flowName: string; flow: Flow; driftCheckMs: number }>();
/** Releases running, per environment. */
const releases = new Map<string, string[]>();

const notUsed = async () => {
  throw ApplicationFailure.nonRetryable('not used here');
};
const fakes: Activities = {
  async runEnvironmentAction(input) {
    const { environment, action } = input as { environment: string; action: { run: ExecutorName } };
    ran.set(environment, [...(ran.get(environment) ?? []), action.run]);
    if (failing.get(environment)?.has(action.run)) {
      throw ApplicationFailure.nonRetryable(`${action.run} failed on purpose`);
    }
    return { facts: Object.fromEntries(EXECUTORS[action.run].yields.map((f) => [f, true])), detail: 'ok' };
  },
  async recordEnvironmentChange(input) {
    const { change } = input as { change: { environment: string; transition: string; outcome: string } };
    journal.set(change.environment, [
      ...(journal.get(change.environment) ?? []),
      `${change.transition} ${change.outcome}`,
    ]);
    return { notRecorded: null };
  },
  async activeReleases(input) {
    return { activeReleases: releases.get((input as { target: string }).target) ?? [] };
  },
  async checkEnvironmentLeaks(input) {
    const leftovers = leaks.get((input as { environment: string }).environment) ?? [];
    return { clean: leftovers.length === 0, leftovers };
  },
  async checkEnvironmentDrift(input) {
    const { environment } = input as { environment: string };
    if (slowDrift.has(environment)) await new Promise((r) => setTimeout(r, 1_000));
    drifts.set(environment, (drifts.get(environment) ?? 0) + 1);
    const findings = driftFindings.get(environment) ?? [];
    return { clean: findings.length === 0, findings };
  },
  async environmentDefinition(input) {
    const definition = definitions.get((input as { environment: string }).environment);
    if (!definition) throw ApplicationFailure.nonRetryable('the configuration has no such environment');
    return definition;
  },
  environmentGate: notUsed,
  resolveArtifact: notUsed,
  loadTargetSettings: notUsed,
  resolveLiveDeployment: notUsed,
  deployGreen: notUsed,
  runIntegrationTests: notUsed,
  cutOverAlias: notUsed,
  checkHealth: notUsed,
  tearDownDeployment: notUsed,
  recordChange: notUsed,
  breakerStatus: notUsed,
  reclaimAbandonedDeployments: notUsed,
  trainParts: notUsed,
  trainMembers: notUsed,
  runTrainChecks: notUsed,
  runTrainAction: notUsed,
  laneHolder: notUsed,
  promotionFacts: notUsed,
  trainManifest: notUsed,
  recordTrain: notUsed,
  trainDecision: notUsed,
  async isNotified(input) {
    return heard.has((input as { target: string }).target);
  },
  async planNotifications(input) {
    const { target, event, detail } = input as { target: string; event: string; detail: string };
    told.set(target, [...(told.get(target) ?? []), `${event}: ${detail}`]);
    return [];
  },
  deliverWebhook: notUsed,
  async calendarGate(input) {
    const { target, action } = input as { target: string; action: string };
    if (target === 'unread') throw ApplicationFailure.nonRetryable('the CMDB is down', 'CmdbUnavailable');
    const freeze = frozen.get(target);
    const now = new Date().toISOString();
    if (!freeze || freeze.blocks !== action || Date.now() >= freeze.until)
      return { closedReason: null, nextAllowed: now, onClosedWindow: 'wait' };
    return {
      closedReason: `freeze ${freeze.name} blocks ${action}`,
      nextAllowed: new Date(freeze.until).toISOString(),
      onClosedWindow: 'wait',
    };
  },
};

before(async () => {
  env = await startDevServer();
  worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    activities: fakes,
    workflowBundle: await workflowBundle(),
  });
  running = worker.run();
});

after(async () => {
  worker?.shutdown();
  await running;
  await env?.teardown();
});

async function create(name: string, flow: FlowInput, extra: Partial<EnvironmentStartInput> = {}) {
  return env.client.workflow.start('environmentLifecycle', {
    taskQueue,
    workflowId: environmentWorkflowId(name),
    args: [{ name, template: 'test', flowName: 'test', flow, createdBy: 'ci', ...extra }],
  });
}

async function until(
  name: string,
  predicate: (s: EnvironmentStatus) => boolean,
  what: string,
): Promise<EnvironmentStatus> {
  const handle = env.client.workflow.getHandle(environmentWorkflowId(name));
  let last: EnvironmentStatus | undefined;
  for (let i = 0; i < 300; i++) {
    last = await handle.query(environmentStatusQuery);
    if (predicate(last)) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}: ${JSON.stringify(last)}`);
}
/** An environment's history once it has stopped growing (the last activity's task has finished). */
async function settledHistory(name: string) {
  const handle = env.client.workflow.getHandle(environmentWorkflowId(name));
  let events = (await handle.fetchHistory()).events ?? [];
  for (let isSettled = false; !isSettled;) {
    await new Promise((r) => setTimeout(r, 500));
    const now = (await handle.fetchHistory()).events ?? [];
    isSettled = now.length === events.length;
    events = now;
  }
  return events;
}

/** An Update refused by its validator, with this reason. */
async function refused(update: Promise<unknown>, reason: RegExp): Promise<void> {
  await assert.rejects(update, (e: Error & { cause?: Error }) => {
    assert.match(e.cause?.message ?? e.message, reason);
    return true;
  });
}
const inState = (name: string, state: string) => until(name, (s) => s.state === state && !s.running, state);
const ask = (name: string, on: string, extra: Record<string, unknown> = {}) =>
  env.client.workflow.getHandle(environmentWorkflowId(name)).executeUpdate(environmentTransitionUpdate, {
    args: [{ on, by: 'alice', ...extra } as never],
  });

describe('environment rules, with typed fake activities', () => {
  it('takes the lifecycle to active by itself, then maintenance and back, then decommissions', async () => {
    await create('life', lifecycleFlow(true));
    const active = await inState('life', 'active');
    assert.deepEqual(
      active.history.map((h) => `${h.from}→${h.to}`),
      ['provisioning→configuring', 'configuring→testing', 'testing→active'],
    );
    assert.deepEqual(ran.get('life'), ['terraform.apply', 'dns.probe', 'secrets.verify', 'checks.run']);

    await ask('life', 'start_maintenance', { reason: 'db upgrade' });
    const maintenance = await inState('life', 'maintenance');
    assert.equal(maintenance.history.at(-1)?.by, 'alice');
    assert.equal(maintenance.history.at(-1)?.note, 'db upgrade');
    await ask('life', 'end_maintenance');
    await inState('life', 'active');
    await ask('life', 'decommission');
    const done = await env.client.workflow.getHandle(environmentWorkflowId('life')).result();
    assert.equal(done.state, 'decommissioned');
    assert.deepEqual(journal.get('life'), [
      'provision done',
      'configure done',
      'verify done',
      'start_maintenance done',
      'end_maintenance done',
      'decommission done',
    ]);
    assert.deepEqual(ran.get('life')!.slice(-4), [
      'deployments.teardown',
      'dns.purge',
      'terraform.destroy',
      'cmdb.retire',
    ]);
  });

  it('refuses maintenance while a release runs, with the policy explanation, and a transition not offered here', async () => {
    releases.set('busy', ['web-busy-v2-abc123']);
    await create('busy', lifecycleFlow(false));
    await inState('busy', 'active');
    await refused(
      ask('busy', 'end_maintenance'),
      /busy is active: no end_maintenance from here; from here: start_maintenance, reconcile, decommission/,
    );
    await ask('busy', 'start_maintenance');
    const blocked = await until('busy', (s) => s.blocked !== null, 'blocked');
    assert.equal(blocked.state, 'active');
    assert.equal(blocked.blocked?.reason, 'policy blocked start_maintenance');
    assert.match(blocked.blocked?.explanation ?? '', /no_active_deployments ✗/);
    releases.delete('busy');
    await env.client.workflow
      .getHandle(environmentWorkflowId('busy'))
      .executeUpdate(environmentRetryUpdate, { args: [{}] });
    await inState('busy', 'maintenance');
  });

  it('stays blocked when an action fails, and on retry compensates first, then runs the transition again', async () => {
    failing.set('flaky', new Set(['dns.probe']));
    await create('flaky', lifecycleFlow(true));
    const blocked = await until('flaky', (s) => s.blocked !== null, 'blocked');
    assert.equal(blocked.state, 'provisioning');
    assert.equal(blocked.blocked?.transition, 'provision');
    assert.match(blocked.blocked?.reason ?? '', /dns\.probe failed: dns\.probe failed on purpose/);
    assert.deepEqual(ran.get('flaky'), ['terraform.apply', 'dns.probe']);
    failing.delete('flaky');
    await env.client.workflow
      .getHandle(environmentWorkflowId('flaky'))
      .executeUpdate(environmentRetryUpdate, { args: [{ by: 'ops' }] });
    await inState('flaky', 'active');
    // Recorded in the CMDB right after the state changes.
    for (let i = 0; i < 100 && (journal.get('flaky') ?? []).length < 4; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual(journal.get('flaky'), [
      'provision blocked',
      'provision done',
      'configure done',
      'verify done',
    ]);
    // terraform.destroy undoes the half-done provision before it runs again.
    assert.deepEqual(ran.get('flaky')!.slice(2, 5), ['terraform.destroy', 'terraform.apply', 'dns.probe']);
  });

  it('takes maintenance while a release runs only when forced and approved, and records the force', async () => {
    releases.set('forced', ['web-forced-v2-abc123']);
    await create('forced', lifecycleFlow(false), { approval: { required: 1 } });
    await inState('forced', 'active');
    await ask('forced', 'start_maintenance', { force: true, reason: 'hotfix' });
    const waiting = await until('forced', (s) => s.approvals.pending === 'start_maintenance', 'approval');
    assert.equal(waiting.state, 'active', 'nothing happens before the approval');
    await env.client.workflow
      .getHandle(environmentWorkflowId('forced'))
      .executeUpdate(environmentApproveUpdate, { args: [{ approver: 'bob' }] });
    const maintenance = await inState('forced', 'maintenance');
    assert.match(
      maintenance.history.at(-1)?.note ?? '',
      /^hotfix; forced past all\(maintenance_window_open ✓, no_active_deployments ✗\) ✗$/,
    );
    releases.delete('forced');
  });

  it('blocks maintenance in a freeze that blocks it, saying until when; a force with approval passes, and says so', async () => {
    frozen.set('icy', {
      name: 'change-freeze',
      blocks: 'maintenance',
      until: Date.parse('2099-01-04T00:00:00Z'),
    });
    await create('icy', lifecycleFlow(false), { approval: { required: 1 } });
    await inState('icy', 'active');
    await ask('icy', 'start_maintenance', { by: 'alice' });
    const blocked = await until('icy', (s) => s.blocked !== null, 'the freeze to block it');
    assert.equal(blocked.state, 'active');
    assert.equal(
      blocked.blocked?.reason,
      'freeze change-freeze blocks maintenance until 2099-01-04T00:00:00.000Z; ask again then, or force it with approval',
    );
    // The status shows the block before its record reaches the CMDB.
    await until(
      'icy',
      () => (journal.get('icy') ?? []).includes('start_maintenance blocked'),
      'the block recorded',
    );
    await ask('icy', 'start_maintenance', { force: true, reason: 'disk full', by: 'alice' });
    await until('icy', (s) => s.approvals.pending === 'start_maintenance', 'approval of the force');
    await env.client.workflow
      .getHandle(environmentWorkflowId('icy'))
      .executeUpdate(environmentApproveUpdate, { args: [{ approver: 'bob' }] });
    const maintenance = await inState('icy', 'maintenance');
    assert.equal(
      maintenance.history.at(-1)?.note,
      'disk full; forced past freeze change-freeze blocks maintenance (until 2099-01-04T00:00:00.000Z)',
    );
    // The freeze blocks maintenance only: ending it and decommissioning go on.
    await ask('icy', 'end_maintenance');
    await inState('icy', 'active');
    await ask('icy', 'decommission');
    assert.equal(
      (await env.client.workflow.getHandle(environmentWorkflowId('icy')).result()).state,
      'decommissioned',
    );
  });

  it('tells the webhooks that listen of each transition, done or blocked, and of drift', async () => {
    heard.add('heard');
    releases.set('heard', ['web-heard-v2-abc123']);
    driftFindings.set('heard', ['dns: web.heard.test points at elsewhere.test']);
    await create('heard', lifecycleFlow(false));
    await inState('heard', 'active');
    await ask('heard', 'start_maintenance', { by: 'alice' });
    await until('heard', (s) => s.blocked !== null, 'the release to block maintenance');
    await env.client.workflow
      .getHandle(environmentWorkflowId('heard'))
      .executeUpdate(environmentCheckDriftUpdate, { args: [{ by: 'alice' }] });
    await until('heard', () => (told.get('heard') ?? []).length >= 5, 'five notifications');
    const said = told.get('heard')!;
    assert.deepEqual(said.slice(0, 3), [
      'environment_transition: provision provisioning → configuring',
      'environment_transition: configure configuring → testing',
      'environment_transition: verify testing → active',
    ]);
    assert.match(
      said[3]!,
      /^environment_transition: start_maintenance blocked in active by alice: policy blocked start_maintenance: /,
    );
    assert.equal(said[4], 'drift: dns: web.heard.test points at elsewhere.test');
    // An environment nobody listens to starts no notification.
    assert.equal(told.has('life'), false);
    releases.delete('heard');
    driftFindings.delete('heard');
    await ask('heard', 'decommission');
    await env.client.workflow.getHandle(environmentWorkflowId('heard')).result();
  });

  it('blocks maintenance, and lives on, when its calendar cannot be read', async () => {
    await create('unread', lifecycleFlow(false));
    await inState('unread', 'active');
    await ask('unread', 'start_maintenance', { by: 'alice' });
    const blocked = await until('unread', (s) => s.blocked !== null, 'the unread calendar to block it');
    assert.equal(blocked.state, 'active');
    assert.match(
      blocked.blocked?.reason ?? '',
      /^its calendar could not be read \(.*the CMDB is down.*\) until .+Z; ask again then/,
    );
    await ask('unread', 'decommission', { force: true, reason: 'cleanup' });
    // Decommissioning is forced past the unread calendar; no approval rule here, so it goes.
    assert.equal(
      (await env.client.workflow.getHandle(environmentWorkflowId('unread')).result()).state,
      'decommissioned',
    );
  });

  it("puts a TTL's decommission off until a freeze that blocks decommissioning ends", async () => {
    const thawsAt = Date.now() + 3_000;
    frozen.set('thaw', { name: 'audit', blocks: 'decommission', until: thawsAt });
    await create('thaw', ephemeralFlow(false), { ttlMs: 1_000 });
    const postponed = await until('thaw', (s) => Boolean(s.ttlPostponed), 'the decommission put off');
    assert.equal(postponed.state, 'active');
    assert.equal(postponed.ttl?.expiresAt, new Date(thawsAt).toISOString());
    assert.match(
      postponed.ttlPostponed ?? '',
      /^freeze audit blocks decommission: the TTL's decommission waits until .+Z \(at .+Z\)$/,
    );
    const done = await env.client.workflow.getHandle(environmentWorkflowId('thaw')).result();
    assert.equal(done.state, 'decommissioned');
    assert.equal(done.history.at(-1)?.by, 'ttl');
    assert.ok(Date.parse(done.history.at(-1)!.at) >= thawsAt, 'decommissioned once the freeze ended');
  });

  it('decommissions a protected environment only with approval', async () => {
    await create('guarded', lifecycleFlow(false), {
      isProtected: true,
      approval: { required: 1, approvers: ['bob'] },
    });
    await inState('guarded', 'active');
    // Calling oneself "ttl" does not pass for the TTL running out: approval is still needed.
    await ask('guarded', 'decommission', { by: 'ttl' });
    const waiting = await until('guarded', (s) => s.approvals.pending === 'decommission', 'approval');
    assert.equal(waiting.state, 'active');
    const handle = env.client.workflow.getHandle(environmentWorkflowId('guarded'));
    await refused(
      handle.executeUpdate(environmentApproveUpdate, { args: [{ approver: 'mallory' }] }),
      /mallory may not approve on guarded; allowed: bob/,
    );
    // A Signal is judged by the same rules when it arrives; its refusal is recorded in the status.
    await handle.signal('approve', { approver: 'mallory' });
    await handle.signal('no_such_request', { approver: 'bob' });
    // (A refused Update never entered the history; an unknown signal is logged and changes nothing.)
    const signalled = await until('guarded', (s) => s.approvals.refused.length > 0, 'the signal refused');
    assert.deepEqual(
      signalled.approvals.refused.map((r) => [r.kind, r.by, r.reason]),
      [['approve (signal)', 'mallory', 'mallory may not approve on guarded; allowed: bob']],
    );
    assert.deepEqual(signalled.approvals.approvedBy, []);
    await handle.signal('approve', { approver: 'bob' });
    const done = await handle.result();
    assert.equal(done.state, 'decommissioned');
    assert.equal(done.history.at(-1)?.transition, 'decommission');
  });

  it('continues as new when its history is long, keeping its state, history and TTL', async () => {
    await create('long', lifecycleFlow(false), { historyBudget: 50, ttlMs: 3_600_000 });
    const handle = env.client.workflow.getHandle(environmentWorkflowId('long'));
    const first = (await handle.describe()).runId;
    await inState('long', 'active');
    // Transitions grow the history past its budget.
    await ask('long', 'start_maintenance');
    await inState('long', 'maintenance');
    await ask('long', 'end_maintenance');
    const active = await inState('long', 'active');
    let runId = first;
    for (let i = 0; i < 100 && runId === first; i++) {
      await new Promise((r) => setTimeout(r, 50));
      runId = (await handle.describe()).runId;
    }
    assert.notEqual(runId, first, 'a new run');
    const carried = await handle.query(environmentStatusQuery);
    assert.equal(carried.state, 'active');
    assert.deepEqual(carried.history, active.history);
    assert.equal(carried.ttl?.expiresAt, active.ttl?.expiresAt);
    assert.equal(carried.history.length, 5);
    // The new run takes requests as the old one did.
    await ask('long', 'decommission');
    assert.equal(
      (await env.client.workflow.getHandle(environmentWorkflowId('long')).result()).state,
      'decommissioned',
    );
  });

  it('decommissions by itself when its TTL runs out, and an extension moves the deadline', async () => {
    await create('pr-1', ephemeralFlow(false), { ttlMs: 1_500 });
    const active = await inState('pr-1', 'active');
    assert.ok(active.ttl?.isExpiringSoon, 'the status warns ahead of expiry');
    const done = await env.client.workflow.getHandle(environmentWorkflowId('pr-1')).result();
    assert.equal(done.state, 'decommissioned');
    assert.equal(done.history.at(-1)?.by, 'ttl');

    await create('pr-2', ephemeralFlow(false), { ttlMs: 60_000 });
    const before = await inState('pr-2', 'active');
    const handle = env.client.workflow.getHandle(environmentWorkflowId('pr-2'));
    await handle.executeUpdate(environmentExtendUpdate, { args: [{ ttlMs: 3_600_000 }] });
    const after = await handle.query(environmentStatusQuery);
    assert.ok(Date.parse(after.ttl!.expiresAt) > Date.parse(before.ttl!.expiresAt) + 3_000_000);
    await ask('pr-2', 'decommission');
    assert.equal((await handle.result()).state, 'decommissioned');
  });

  it('adds no history events while idle: its one TTL timer waits, nothing polls', async () => {
    await create('idle', ephemeralFlow(false), { ttlMs: 24 * 3_600_000 });
    await inState('idle', 'active');
    const handle = env.client.workflow.getHandle(environmentWorkflowId('idle'));
    // Let the last activity's task finish (its history stops growing), then measure a quiet while.
    const before = await settledHistory('idle');
    await new Promise((r) => setTimeout(r, 3_000));
    const after = (await handle.fetchHistory()).events ?? [];
    assert.equal(after.length, before.length, 'no events while idle');
    const timers = after.filter((e) => e.timerStartedEventAttributes);
    assert.equal(timers.length, 1, 'one durable timer: the TTL');
    await ask('idle', 'decommission');
    await handle.result();
  });

  it('looks for drift on a timer while active, never in maintenance, and logs only what changes', async (t) => {
    await create('watch', lifecycleFlow(false), { driftCheckMs: 1_000 });
    const handle = env.client.workflow.getHandle(environmentWorkflowId('watch'));
    await inState('watch', 'active');
    await until('watch', () => (drifts.get('watch') ?? 0) >= 1, 'a first drift check');
    const first = (await handle.fetchHistory()).events?.length ?? 0;
    const checksBefore = drifts.get('watch')!;
    await until('watch', () => drifts.get('watch')! >= checksBefore + 3, 'three more drift checks');
    await new Promise((r) => setTimeout(r, 200)); // the last check's workflow task completes
    const events = ((await handle.fetchHistory()).events?.length ?? 0) - first;
    const checks = drifts.get('watch')! - checksBefore;
    const perCheck = events / checks;
    // A timer (2 events), an activity (3) and a workflow task on each side (3 + 3): at most 12.
    assert.ok(perCheck <= 12, `${perCheck} events per drift check`);
    t.diagnostic(
      `an idle environment adds ${perCheck.toFixed(1)} history events per drift check: ${(perCheck * 4).toFixed(0)} a day at the default 6h`,
    );
    // Clean checks add nothing to the CMDB's change log; a finding does, and so does its end.
    assert.ok(!(journal.get('watch') ?? []).some((j) => j.startsWith('drift_check')));
    driftFindings.set('watch', ['dns: web.watch.test points at elsewhere.test']);
    const drifted = await until('watch', (s) => s.lastDrift?.clean === false, 'drift found');
    assert.deepEqual(drifted.lastDrift?.findings, ['dns: web.watch.test points at elsewhere.test']);
    driftFindings.delete('watch');
    await until('watch', (s) => s.lastDrift?.clean === true, 'drift gone');
    // The status shows the clean check before its record reaches the CMDB.
    const driftRecords = () => (journal.get('watch') ?? []).filter((j) => j.startsWith('drift_check'));
    await until('watch', () => driftRecords().length >= 2, 'the end of the drift recorded');
    assert.deepEqual(
      (journal.get('watch') ?? []).filter((j) => j.startsWith('drift_check')),
      ['drift_check done', 'drift_check done'],
    );

    await ask('watch', 'start_maintenance');
    const maintenance = await inState('watch', 'maintenance');
    assert.equal(maintenance.nextDriftCheck, null);
    const during = drifts.get('watch');
    await new Promise((r) => setTimeout(r, 2_500));
    assert.equal(drifts.get('watch'), during, 'no drift check in maintenance');
    await refused(
      handle.executeUpdate(environmentCheckDriftUpdate, { args: [{ by: 'alice' }] }),
      /watch is maintenance; drift is checked while it is active and idle/,
    );
    await ask('watch', 'decommission');
    await handle.result();
  });

  it('checks drift when asked, even with the interval off, and after a reconcile', async () => {
    await create('asked', lifecycleFlow(false));
    const handle = env.client.workflow.getHandle(environmentWorkflowId('asked'));
    const active = await inState('asked', 'active');
    assert.equal(active.nextDriftCheck, null, 'drift checks are off');
    // One at a time: while one is on its way (this one takes a second), another is refused.
    slowDrift.add('asked');
    await handle.executeUpdate(environmentCheckDriftUpdate, { args: [{ by: 'alice' }] });
    await refused(
      handle.executeUpdate(environmentCheckDriftUpdate, { args: [{ by: 'mallory' }] }),
      /a drift check of asked is already on its way/,
    );
    await until('asked', (s) => s.lastDrift !== null, 'the asked drift check');
    slowDrift.delete('asked');
    assert.equal(drifts.get('asked'), 1);
    await ask('asked', 'reconcile');
    await until('asked', () => drifts.get('asked') === 2, 'a drift check after the reconcile');
    assert.deepEqual(ran.get('asked')?.slice(-1), ['dns.reconcile']);
    await ask('asked', 'decommission');
    await handle.result();
  });

  it('still looks for drift while blocked in active (maintenance refused by its policy)', async () => {
    releases.set('stuck', ['web-stuck-v1-000000']);
    await create('stuck', lifecycleFlow(false), { driftCheckMs: 60_000 });
    const handle = env.client.workflow.getHandle(environmentWorkflowId('stuck'));
    await inState('stuck', 'active');
    await ask('stuck', 'start_maintenance');
    // Once it is idle again, blocked, a drift check is due (none would be, were blocked not watched).
    await until(
      'stuck',
      (s) => s.blocked !== null && s.nextDriftCheck !== null,
      'blocked, a drift check due',
    );
    await handle.executeUpdate(environmentCheckDriftUpdate, { args: [{ by: 'alice' }] });
    await until('stuck', () => drifts.get('stuck') === 1, 'the asked drift check');
    releases.delete('stuck');
    await ask('stuck', 'decommission');
    await handle.result();
  });

  it('adopts the current definition on upgrade, records it, and keeps it across continue-as-new', async () => {
    await create('upg', ephemeralFlow(false), { historyBudget: 50 });
    const handle = env.client.workflow.getHandle(environmentWorkflowId('upg'));
    const first = (await handle.describe()).runId;
    await inState('upg', 'active');
    await refused(ask('upg', 'start_maintenance'), /no start_maintenance from here/);

    // The configuration's flow lacks the state the environment is in: refused, and nothing changes.
    definitions.set('upg', {
      flowName: 'tiny',
      flow: Flow.parse({
        states: ['provisioning', 'ready', 'decommissioned'],
        transitions: [
          { on: 'provision', from: 'provisioning', to: 'ready', auto: true },
          { on: 'decommission', from: '*', to: 'decommissioned' },
        ],
      }),
      driftCheckMs: 0,
    });
    await refused(
      handle.executeUpdate(environmentUpgradeUpdate, { args: [{ by: 'alice' }] }),
      /the flow tiny has no state active; upg keeps its flow \(test\)/,
    );
    assert.equal((await handle.query(environmentStatusQuery)).flowName, 'test');

    definitions.set('upg', {
      flowName: 'lifecycle',
      flow: Flow.parse(lifecycleFlow(false)),
      driftCheckMs: 0,
    });
    const receipt = await handle.executeUpdate(environmentUpgradeUpdate, { args: [{ by: 'alice' }] });
    assert.equal(receipt.message, 'upg follows the current definition of lifecycle');
    const upgraded = await handle.query(environmentStatusQuery);
    assert.equal(upgraded.flowName, 'lifecycle');
    assert.deepEqual(upgraded.history.at(-1), {
      transition: 'upgrade',
      from: 'active',
      to: 'active',
      at: upgraded.history.at(-1)!.at,
      by: 'alice',
      note: 'adopted the current definition of lifecycle (was test)',
    });
    assert.ok((journal.get('upg') ?? []).includes('upgrade done'));

    // The adopted flow offers maintenance; its round trips grow the history past the budget.
    await ask('upg', 'start_maintenance');
    await inState('upg', 'maintenance');
    await ask('upg', 'end_maintenance');
    await inState('upg', 'active');
    let runId = first;
    for (let i = 0; i < 100 && runId === first; i++) {
      await new Promise((r) => setTimeout(r, 50));
      runId = (await handle.describe()).runId;
    }
    assert.notEqual(runId, first, 'a new run');
    assert.equal((await handle.query(environmentStatusQuery)).flowName, 'lifecycle');
    await ask('upg', 'start_maintenance');
    await inState('upg', 'maintenance');
    await ask('upg', 'decommission');
    await handle.result();
  });

  it('admits releases only while active, lists each once, keeps the newest, and leaves refusals out of the history', async () => {
    await create('adm', lifecycleFlow(false));
    const handle = env.client.workflow.getHandle(environmentWorkflowId('adm'));
    await inState('adm', 'active');
    const admit = (n: number) =>
      handle.executeUpdate(environmentAdmitUpdate, {
        args: [{ releaseId: `web-v${n}`, service: 'web', version: `v${n}` }],
      });
    for (let n = 1; n <= 25; n++) await admit(n);
    await admit(25); // a retried activity asks again
    const listed = (await handle.query(environmentStatusQuery)).releases;
    assert.equal(listed.length, 20);
    assert.deepEqual([listed[0]!.releaseId, listed.at(-1)!.releaseId], ['web-v6', 'web-v25']);

    await ask('adm', 'start_maintenance', { reason: 'db upgrade' });
    await inState('adm', 'maintenance');
    const events = (await settledHistory('adm')).length;
    await refused(
      admit(26),
      /^adm is in maintenance since \d\d:\d\d UTC \(start_maintenance by alice: db upgrade\); releases need it active$/,
    );
    await refused(
      handle.executeUpdate(environmentAdmitUpdate, {
        args: [{ releaseId: 'x', service: 'web', version: 'v 1' }] as never,
      }),
      /invalid release: a version is a git SHA or tag/,
    );
    assert.equal(
      (await handle.fetchHistory()).events?.length,
      events,
      'a refused admission is not in the history',
    );
    await ask('adm', 'decommission');
    await handle.result();
  });

  it('reports leftovers after decommissioning by name in its status', async () => {
    leaks.set('leaky', ['terraform: module.environment.terraform_data.network', 'dns: web.leaky.test']);
    await create('leaky', ephemeralFlow(false));
    await inState('leaky', 'active');
    await ask('leaky', 'decommission');
    const done = await env.client.workflow.getHandle(environmentWorkflowId('leaky')).result();
    assert.deepEqual(done.leakCheck, {
      clean: false,
      leftovers: ['terraform: module.environment.terraform_data.network', 'dns: web.leaky.test'],
    });
  });

  it('replays the history of every environment above against the current workflow code', async () => {
    const names = [
      'life',
      'busy',
      'flaky',
      'forced',
      'icy',
      'thaw',
      'heard',
      'guarded',
      'long',
      'pr-1',
      'pr-2',
      'idle',
      'watch',
      'asked',
      'upg',
      'adm',
      'leaky',
      'stuck',
    ];
    await replayAndRecord(
      env.client,
      names.map((name) => [name, environmentWorkflowId(name)]),
      'env-',
    );
  });
});
