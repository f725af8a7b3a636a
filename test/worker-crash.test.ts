import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { GreenlightClient } from '../src/client/api';
import type { ConfigInput } from '../src/config/schema';
import { LocalProcessInfra } from '../src/providers/infra/local-process';
import { EXAMPLE_SERVICE } from '../src/providers/infra/local-process';
import { startBind } from './helpers/bind';
import type { BindServer } from './helpers/bind';
import { startTcpProxy } from './helpers/proxy';
import type { TcpProxy } from './helpers/proxy';
import { destroyAll, releaseRequest, TEST_CONFIG } from '../harness/release';
import { startDevServer } from '../harness/temporal';
import { waitFor } from './helpers/wait';

let env: TestWorkflowEnvironment;
let bind: BindServer;
let proxy: TcpProxy;
let stateDir: string;
const workers: ChildProcess[] = [];
/** `PendingActivityState.PENDING_ACTIVITY_STATE_STARTED`: an attempt is running. */
const STARTED = 2;
const taskQueue = `greenlight-crash-${process.pid}`;

before(async () => {
  env = await startDevServer();
  bind = await startBind('greenlight.test');
  proxy = await startTcpProxy(bind.port);
  stateDir = await mkdtemp(join(tmpdir(), 'greenlight-crash-'));
});

after(async () => {
  for (const w of workers) w.kill('SIGKILL');
  await destroyAll(new LocalProcessInfra({ stateDir, entryPoint: EXAMPLE_SERVICE }), stateDir);
  await proxy?.close();
  await bind?.stop();
  await env?.teardown();
  await rm(stateDir, { recursive: true, force: true });
});

const config: ConfigInput = {
  ...TEST_CONFIG,
  zone: 'greenlight.test',
  targets: {
    dev: {
      policy: 'tests_passed',
      recordTtl: 1,
      dns: {
        kind: 'rfc2136',
        server: `127.0.0.1:0`,
        tsig: { name: 'greenlight-key', secret: { env: 'TSIG_SECRET' } },
        // Far longer than a worker restart: only the heartbeat timeout can end the lost attempt early.
        timeout: '90s',
      },
    },
  },
};

/** Starts a worker process and resolves once it polls. */
async function startWorker(): Promise<ChildProcess> {
  const target = {
    ...config.targets!.dev!,
    dns: { ...config.targets!.dev!.dns!, server: `127.0.0.1:${proxy.port}` },
  };
  const child = fork(
    join(__dirname, 'fixtures', 'release-worker.js'),
    [
      env.connection.options.address,
      taskQueue,
      stateDir,
      JSON.stringify({ ...config, targets: { dev: target } }),
    ],
    { env: { ...process.env, TSIG_SECRET: bind.secret }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] },
  );
  workers.push(child);
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`the worker exited (${code}) before it was ready`)));
  });
  return child;
}

describe('a worker killed in the middle of an activity', () => {
  it('lets the release resume within 30 s of a new worker starting, even for a short activity', async (t) => {
    const api = new GreenlightClient(env.client, { taskQueue });
    const first = await startWorker();
    proxy.stall();
    const { releaseId } = await api.startRelease(releaseRequest('web', 'v1', 'dev'));
    const handle = env.client.workflow.getHandle(releaseId);
    // Reading the alias (a 2-minute activity) hangs on the stalled DNS server.
    for (let i = 0; ; i++) {
      const pending = (await handle.describe()).raw.pendingActivities ?? [];
      if (pending.some((a) => a.activityType?.name === 'resolveLiveDeployment' && a.state === STARTED)) break;
      assert.ok(i < 300, 'the activity started');
      await new Promise((r) => setTimeout(r, 100));
    }
    first.kill('SIGKILL');
    proxy.up();
    await startWorker();
    const restartedAt = Date.now();
    const moved = await waitFor(
      api,
      releaseId,
      (s) => s.stage !== 'queued',
      'the release to move on',
      60_000,
    );
    const seconds = (Date.now() - restartedAt) / 1000;
    t.diagnostic(`resumed ${seconds.toFixed(1)} s after the new worker started`);
    assert.ok(seconds < 30, `the release resumed ${seconds.toFixed(1)} s after the new worker started`);
    assert.notEqual(moved.stage, 'failed', moved.reason ?? '');
    await api.wait(releaseId);
  });
});
