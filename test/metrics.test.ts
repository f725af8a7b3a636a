// The release flow's Prometheus metrics and the Temporal SDK's worker metrics, scraped from the admin
// endpoint of a worker run as an operator runs it (`node dist/src/main.js`) on a real dev server.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { GreenlightClient } from '../src/client/api';
import { LocalProcessInfra } from '../src/providers/infra/local-process';
import { EXAMPLE_SERVICE } from '../src/providers/infra/local-process';
import { destroyAll, releaseRequest, TEST_CONFIG } from '../harness/release';
import { startDevServer } from '../harness/temporal';
import { freePort } from './helpers/postgres';
import { waitForStage } from './helpers/wait';

const MAIN = join(__dirname, '..', 'src', 'main.js');

let env: TestWorkflowEnvironment;
let worker: ChildProcess;
let output = '';
let stateDir: string;
let adminPort: number;
let api: GreenlightClient;

before(async () => {
  env = await startDevServer();
  stateDir = await mkdtemp(join(tmpdir(), 'greenlight-metrics-'));
  await writeFile(join(stateDir, 'greenlight.config.json'), JSON.stringify(TEST_CONFIG));
  adminPort = await freePort();
  const taskQueue = `greenlight-metrics-${process.pid}`;
  worker = spawn(process.execPath, [MAIN], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TEMPORAL_ADDRESS: env.connection.options.address,
      GREENLIGHT_TASK_QUEUE: taskQueue,
      GREENLIGHT_CONFIG: join(stateDir, 'greenlight.config.json'),
      GREENLIGHT_STATE_DIR: stateDir,
      GREENLIGHT_ADMIN_PORT: String(adminPort),
      GREENLIGHT_LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  worker.stdout!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-100_000)));
  worker.stderr!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-100_000)));
  for (let i = 0; !output.includes('"msg":"worker started"'); i++) {
    assert.ok(worker.exitCode === null && i < 600, `the worker started:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  api = new GreenlightClient(env.client, { taskQueue });
});

after(async () => {
  if (worker && worker.exitCode === null) {
    const exited = new Promise((r) => worker.once('exit', r));
    worker.kill('SIGTERM');
    await exited;
  }
  await destroyAll(new LocalProcessInfra({ stateDir, entryPoint: EXAMPLE_SERVICE }), stateDir);
  await env?.teardown();
  await rm(stateDir, { recursive: true, force: true });
});

/** The admin endpoint's metrics, as Prometheus scrapes them. */
async function scrape(): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${adminPort}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
  return res.text();
}

/** One sample's value, by metric name and exact labels (in the order prom-client writes them). */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

describe("the worker's admin endpoint", () => {
  it('counts releases started and ended, their durations, approval waits, policy denials and rollbacks', async () => {
    const done = await api.startRelease(releaseRequest('web', 'v1', 'dev'));
    const denied = await api.startRelease(releaseRequest('broken', 'v1', 'dev'));
    const approved = await api.startRelease(releaseRequest('web', 'v1', 'stage'));
    // A rollback needs a blue to go back to: v1 first.
    await api.wait((await api.startRelease(releaseRequest('api', 'v1', 'uat'))).releaseId);
    const rolledBack = await api.startRelease(releaseRequest('api', 'v2', 'uat'));
    await waitForStage(api, approved.releaseId, 'awaiting_approval');
    await new Promise((r) => setTimeout(r, 1_000));
    await api.approve(approved.releaseId, { approver: 'alice' });
    await waitForStage(api, rolledBack.releaseId, 'awaiting_termination');
    await api.rollback(rolledBack.releaseId, { by: 'bob', reason: 'customers complain' });
    const ended = await Promise.all([done, denied, approved, rolledBack].map((r) => api.wait(r.releaseId)));
    assert.deepEqual(
      ended.map((s) => s.stage),
      ['completed', 'failed', 'completed', 'rolled_back'],
    );
    const text = await scrape();
    assert.equal(sample(text, 'greenlight_releases_started_total{target="dev"}'), 2);
    assert.equal(sample(text, 'greenlight_releases_started_total{target="stage"}'), 1);
    assert.equal(sample(text, 'greenlight_releases_ended_total{target="dev",outcome="completed"}'), 1);
    assert.equal(sample(text, 'greenlight_releases_ended_total{target="dev",outcome="failed"}'), 1);
    assert.equal(sample(text, 'greenlight_releases_ended_total{target="uat",outcome="rolled_back"}'), 1);
    assert.equal(sample(text, 'greenlight_releases_ended_total{target="uat",outcome="completed"}'), 1);
    assert.equal(sample(text, 'greenlight_release_policy_denials_total{target="dev",policy="release"}'), 1);
    assert.equal(sample(text, 'greenlight_release_rollbacks_total{target="uat",trigger="manual"}'), 1);
    assert.equal(
      sample(text, 'greenlight_release_duration_seconds_count{target="stage",outcome="completed"}'),
      1,
    );
    assert.equal(sample(text, 'greenlight_release_approval_wait_seconds_count{target="stage"}'), 1);
    // The approval came after a second's wait: it falls in no bucket below 1 s (the first is 1 s).
    assert.ok(sample(text, 'greenlight_release_approval_wait_seconds_sum{target="stage"}') >= 1);
    assert.equal(sample(text, 'greenlight_release_approval_wait_seconds_bucket{le="1",target="stage"}'), 0);
    // The breakers' metrics are still there beside them.
    assert.match(text, /^greenlight_circuit_breaker_calls_total\{dependency="cmdb",outcome="success"\} \d+/m);
  });

  it("serves the Temporal SDK's worker metrics too", async () => {
    const text = await scrape();
    const sdk = text.split('\n').filter((l) => l.startsWith('temporal_'));
    assert.ok(sdk.length > 10, `the SDK's metrics: ${sdk.slice(0, 5).join('\n')}`);
    assert.match(text, /^temporal_workflow_completed\{[^}]*\} \d+/m);
    assert.match(
      text,
      /^temporal_activity_execution_latency_count\{[^}]*activity_type="recordChange"[^}]*\} \d+/m,
    );
    assert.doesNotMatch(text, /Temporal SDK metrics unavailable/);
  });
});
