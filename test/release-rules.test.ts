// The release workflow's rules, tested in seconds: the real workflow code on a real Temporal dev
// server, with typed fake activities that record what the release asked for. The tests against
// real providers (release.test.ts and the others) stay; these reach the rules directly.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { Activities } from '../src/activities';
import { heartbeatInterceptors } from '../src/activities/heartbeat';
import { GreenlightClient } from '../src/client/api';
import type { Deployment } from '../src/shared/release';
import type { TargetSettings } from '../src/shared/target';
import { startDevServer, waitForStage, workflowBundle } from './helpers/temporal';

const taskQueue = `release-rules-${process.pid}`;
let env: TestWorkflowEnvironment;
let worker: Worker;
let running: Promise<void>;
let api: GreenlightClient;

/** What the fakes were asked to do, in order, per service. */
const calls = new Map<string, string[]>();
/** How a test makes a fake behave, per service. */
const scripts = new Map<string, { isHealthy?: boolean; isTestSlow?: boolean; hasBlue?: boolean }>();

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
    approval: { required: target === 'stage' ? 1 : 0, initiatorMayApprove: true, timeout: 1_000 },
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
    return { passed: true, checks: [], startedAt: now, finishedAt: now };
  },
  async cutOverAlias({ service, to }) {
    record(service, `alias → ${to?.split('.')[0] ?? 'nothing'}`);
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
    record(hostname.split('-')[0]!, `tear down ${hostname.split('.')[0]}`);
  },
  async recordChange() {
    return { deferred: null };
  },
  async breakerStatus() {
    return { state: 'closed', retryAfterMs: 0 };
  },
  async reclaimAbandonedDeployments() {
    throw ApplicationFailure.nonRetryable('not used here');
  },
};

before(async () => {
  env = await startDevServer();
  worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    activities: fakes,
    interceptors: { activity: [heartbeatInterceptors] },
    maxHeartbeatThrottleInterval: '2s',
    workflowBundle: await workflowBundle(),
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

describe('release rules, with typed fake activities', () => {
  it('rolls back in reverse when green fails while baking: alias back to blue, then green torn down', async () => {
    scripts.set('bake', { hasBlue: true, isHealthy: false });
    const { releaseId } = await api.startRelease({
      service: 'bake',
      version: 'v2',
      target: 'dev',
      initiator: 'ci',
    });
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
  });

  it('on an abort during integration tests, tears green down and never touches the alias', async () => {
    scripts.set('abort', { isTestSlow: true });
    const { releaseId } = await api.startRelease({
      service: 'abort',
      version: 'v2',
      target: 'dev',
      initiator: 'ci',
    });
    await waitForStage(api, releaseId, 'testing');
    for (let i = 0; i < 100 && !steps('abort').includes('test green'); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    await api.abort(releaseId, { by: 'ops' });
    assert.equal((await api.wait(releaseId)).stage, 'aborted');
    assert.deepEqual(steps('abort'), ['resolve blue', 'deploy v2', 'test green', 'tear down abort-v2']);
  });

  it('expires when no approval comes in time, and cleans up without touching the alias', async () => {
    const { releaseId } = await api.startRelease({
      service: 'wait',
      version: 'v2',
      target: 'stage',
      initiator: 'ci',
    });
    const done = await api.wait(releaseId);
    assert.equal(done.stage, 'expired');
    assert.deepEqual(steps('wait'), ['resolve blue', 'deploy v2', 'test green', 'tear down wait-v2']);
  });

  it('rolls back on request while blue is kept: alias back to blue, green torn down, blue kept', async () => {
    scripts.set('keep', { hasBlue: true });
    const { releaseId } = await api.startRelease({
      service: 'keep',
      version: 'v2',
      target: 'uat',
      initiator: 'ci',
    });
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
  });
});
