// A worker run as an operator runs it (`node dist/src/main.js`) on a real dev server: the release
// flow's Prometheus metrics and the Temporal SDK's worker metrics on its admin endpoint, its log
// lines bound to what they are about, and a graceful shutdown that lets running activities finish.
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
let stateDir: string;
let adminPort: number;
let api: GreenlightClient;
const taskQueue = `greenlight-operations-${process.pid}`;

interface WorkerProcess {
  child: ChildProcess;
  output(): string;
  /** Resolves with its exit code. */
  exited: Promise<number | null>;
}
const workers: WorkerProcess[] = [];

/** `node dist/src/main.js` against the dev server, until it polls; `adminPort` 0 turns its endpoint off. */
async function startWorker(port: number): Promise<WorkerProcess> {
  const child = spawn(process.execPath, [MAIN], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TEMPORAL_ADDRESS: env.connection.options.address,
      GREENLIGHT_TASK_QUEUE: taskQueue,
      GREENLIGHT_CONFIG: join(stateDir, 'greenlight.config.json'),
      GREENLIGHT_STATE_DIR: stateDir,
      GREENLIGHT_ADMIN_PORT: String(port),
      // The SDK's own lines (an activity's start and end) are at debug.
      GREENLIGHT_LOG_LEVEL: 'debug',
      GREENLIGHT_SHUTDOWN_GRACE: '60s',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-2_000_000)));
  child.stderr!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-2_000_000)));
  const worker = {
    child,
    output: () => output,
    exited: new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code))),
  };
  workers.push(worker);
  for (let i = 0; !output.includes('"msg":"worker started"'); i++) {
    assert.ok(child.exitCode === null && i < 600, `the worker started:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return worker;
}

before(async () => {
  env = await startDevServer();
  stateDir = await mkdtemp(join(tmpdir(), 'greenlight-operations-'));
  await writeFile(join(stateDir, 'greenlight.config.json'), JSON.stringify(TEST_CONFIG));
  adminPort = await freePort();
  await startWorker(adminPort);
  api = new GreenlightClient(env.client, { taskQueue });
});

after(async () => {
  for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGKILL');
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

/** The worker's JSON log lines. */
function logLines(worker: WorkerProcess): Record<string, unknown>[] {
  return worker
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Which worker completed each activity of a release, in order: `[activity type, identity]`. */
async function completedActivities(releaseId: string): Promise<[string, string][]> {
  const events = (await env.client.workflow.getHandle(releaseId).fetchHistory()).events ?? [];
  const types = new Map<string, string>();
  const done: [string, string][] = [];
  for (const e of events) {
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled) types.set(String(e.eventId), scheduled.activityType?.name ?? '');
    const completed = e.activityTaskCompletedEventAttributes;
    if (completed) done.push([types.get(String(completed.scheduledEventId)) ?? '', completed.identity ?? '']);
  }
  return done;
}

describe("the worker's logs and its shutdown", () => {
  it('binds log lines to the release, service, target and activity they are about', () => {
    const lines = logLines(workers[0]!);
    const deploy = lines.find((l) => l.activityType === 'deployGreen' && l.release !== undefined);
    assert.ok(deploy, 'a line of the deployGreen activity');
    assert.equal(deploy.activity, 'deployGreen');
    assert.equal(deploy.service, 'web');
    assert.match(String(deploy.target), /^(dev|stage)$/);
    assert.match(String(deploy.release), /^web-(dev|stage)-v1-/);
    // A workflow's own lines name their release.
    assert.ok(
      lines.some(
        (l) =>
          l.workflowType === 'blueGreenRelease' &&
          l.activityType === undefined &&
          typeof l.release === 'string',
      ),
    );
  });

  it('on SIGTERM, lets a running activity finish, hands the rest back, and exits 0', async () => {
    const first = workers[0]!;
    const { releaseId } = await api.startRelease(releaseRequest('slowtests', 'v1', 'dev'));
    const handle = env.client.workflow.getHandle(releaseId);
    for (let i = 0; ; i++) {
      const pending = (await handle.describe()).raw.pendingActivities ?? [];
      // PENDING_ACTIVITY_STATE_STARTED: the integration tests (several seconds) are running.
      if (pending.some((a) => a.activityType?.name === 'runIntegrationTests' && a.state === 2)) break;
      assert.ok(i < 300, 'the integration tests started');
      await new Promise((r) => setTimeout(r, 100));
    }
    first.child.kill('SIGTERM');
    assert.equal(await first.exited, 0);
    const lines = logLines(first);
    assert.ok(
      lines.some((l) => String(l.msg).startsWith('shutting down: no new tasks') && l.graceSeconds === 60),
    );
    assert.ok(lines.some((l) => String(l.msg).startsWith('worker stopped')));
    const identity = `${first.child.pid}@`;
    const tests = (await completedActivities(releaseId)).filter(([type]) => type === 'runIntegrationTests');
    assert.equal(tests.length, 1, 'the tests ran once');
    assert.ok(tests[0]![1].startsWith(identity), `the stopping worker finished them (${tests[0]![1]})`);
    // What was left is done by the next worker.
    const second = await startWorker(0);
    const done = await api.wait(releaseId);
    assert.equal(done.stage, 'completed', done.reason ?? '');
    const after = (await completedActivities(releaseId)).slice(-1)[0]!;
    assert.ok(after[1].startsWith(`${second.child.pid}@`), 'the rest ran on the new worker');
  });
});
