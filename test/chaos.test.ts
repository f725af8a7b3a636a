// Durable execution under SIGKILL. A worker process is killed at seeded random points of releases,
// environment transitions and trains (each kill aimed at a stage, then a random moment later), and
// started again; later the Temporal dev server, persisted to its file, is stopped and started again
// in the middle of releases. Then every workflow must have ended where it should: each alias on its
// last release's green, one cutover per release, no instance, DNS record or Terraform resource left
// behind, the CMDB agreeing with DNS, no workflow task failed (a replay that diverged).
//
// GREENLIGHT_CHAOS_ROUNDS sets how many kills (default 4; a long sweep: 40); GREENLIGHT_CHAOS_SEED
// replays a run: every run prints its seed and the kill points it tried.
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { GreenlightClient } from '../src/client/api';
import { parseOrThrow } from '../src/config/errors';
import { templateEnvironment } from '../src/config/resolve';
import { Config } from '../src/config/schema';
import type { ConfigInput } from '../src/config/schema';
import { PostgresCmdb } from '../src/providers/cmdb/postgres';
import { LocalDnsStore } from '../src/providers/dns/local-store';
import { EXAMPLE_SERVICE, LocalProcessInfra } from '../src/providers/infra/local-process';
import { SearchAttributes } from '../src/shared/messages';
import type { ReleaseStatus } from '../src/shared/release';
import { isTrainEnded } from '../src/shared/train';
import type { TrainStatus } from '../src/shared/train';
import { freeLocalPort, startTemporalDevServer } from '../src/temporal/dev-server';
import type { DevServer } from '../src/temporal/dev-server';
import { destroyAll, releaseRequest, stateBackends, TEST_CONFIG } from '../harness/release';
import { postgresStateBackend } from '../src/providers/infra/terraform-backend';
import { temporalCliPath, workflowBundle } from '../harness/temporal';
import { destroyModuleDeployments, EXAMPLE_MODULE, iacBinary } from './helpers/iac';
import { startPostgres } from './helpers/postgres';
import type { PostgresServer } from './helpers/postgres';

const ZONE = 'chaos.test';
const ENVIRONMENT_MODULE = resolve(__dirname, '..', '..', 'examples', 'environment');
const ROUNDS = boundedInteger('GREENLIGHT_CHAOS_ROUNDS', 4, 1, 500);
const SEED = boundedInteger('GREENLIGHT_CHAOS_SEED', Math.floor(Math.random() * 2 ** 31), 0, 2 ** 31 - 1);
const taskQueue = `greenlight-chaos-${process.pid}`;

function boundedInteger(name: string, fallback: number, min: number, max: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max)
    throw new Error(`${name} must be a whole number from ${min} to ${max}, not ${JSON.stringify(text)}`);
  return value;
}

/** A small seeded generator (mulberry32): the same seed, the same kill points. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = seeded(SEED);
const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;

const config: ConfigInput = {
  zone: ZONE,
  checks: TEST_CONFIG.checks,
  healthCheck: TEST_CONFIG.healthCheck,
  targets: {
    dev: {
      recordTtl: 1,
      policy: 'tests_passed',
      bake: '1500ms',
      healthCheckInterval: '200ms',
      terminationWait: '1s',
    },
    stage: {
      recordTtl: 1,
      approval: { required: 1, timeout: '1h' },
      policy: { all: ['tests_passed', 'approval_obtained'] },
      bake: '1s',
      healthCheckInterval: '200ms',
      terminationWait: '1s',
    },
    tf: {
      recordTtl: 1,
      policy: 'tests_passed',
      bake: '1s',
      healthCheckInterval: '200ms',
      terminationWait: '1s',
      infra: { kind: 'terraform', module: EXAMPLE_MODULE, binary: iacBinary() },
    },
  },
  environments: {
    templates: { pr: { flow: 'ephemeral', like: 'tf', module: ENVIRONMENT_MODULE } },
    defaultTemplate: 'pr',
  },
};
const parsedConfig = parseOrThrow(Config, config, 'chaos config');

/** The releases each round starts, one per service: to a plain target, one that needs an approval, and Terraform. */
const RELEASED = [
  { service: 'web', target: 'dev' },
  { service: 'api', target: 'stage' },
  // Named per run: the example module derives its port from the host name, and an instance a
  // killed run left must not answer for this one.
  { service: `tfs${process.pid}`, target: 'tf' },
] as const;
const TRAIN_SERVICES = ['ta', 'tb'];

/** Where a kill is aimed: a workflow kind and a stage (its `GreenlightStage`), and whether round 0 can reach it. */
const TRIGGERS = [
  { kind: 'release', stage: 'deploying', first: true },
  { kind: 'release', stage: 'testing', first: true },
  { kind: 'release', stage: 'awaiting_approval', first: true },
  { kind: 'release', stage: 'cutting_over', first: true },
  { kind: 'release', stage: 'baking', first: true },
  { kind: 'release', stage: 'awaiting_termination', first: false },
  { kind: 'release', stage: 'terminating_blue', first: false },
  { kind: 'environment', stage: 'provisioning', first: true },
  { kind: 'environment', stage: 'decommissioning', first: false },
  { kind: 'train', stage: 'preparing', first: true },
  { kind: 'train', stage: 'cutting_over', first: true },
] as const;

type Kind = 'release' | 'environment' | 'train';
interface Item {
  kind: Kind;
  workflowId: string;
  round: number;
  /** Releases: their service and target. Environments: their name. */
  label: string;
  isDone: boolean;
}

let pg: PostgresServer;
let server: DevServer;
let serverPort: number;
let cliPath: string;
let root: string;
let stateDir: string;
let dbFilename: string;
let bundlePath: string;
let client: Client;
let api: GreenlightClient;
let cmdb: PostgresCmdb;
let worker: ChildProcess | null = null;
let workerLog = '';
const items: Item[] = [];
/** Kills done so far: a round's approvals wait for its kill. */
let kills = 0;
/** Environments of rounds before this one are decommissioned once active (so a later kill can meet one decommissioning). */
let decommissionBefore = 0;
let isStopping = false;

before(async () => {
  [pg, cliPath] = await Promise.all([startPostgres(), temporalCliPath()]);
  root = await mkdtemp(join(tmpdir(), 'greenlight-chaos-'));
  stateDir = join(root, 'state');
  // The Terraform target keeps its states in PostgreSQL (the CMDB's): the cleanup destroys from there.
  stateBackends.set(stateDir, postgresStateBackend(pg.url));
  dbFilename = join(root, 'temporal.db');
  bundlePath = join(root, 'workflows.js');
  serverPort = await freeLocalPort();
  server = await startServer();
  await writeFile(bundlePath, (await workflowBundle()).code);
  client = new Client({ connection: await Connection.connect({ address: server.address }) });
  api = new GreenlightClient(client, { taskQueue, knownTargets: Object.keys(parsedConfig.targets) });
  cmdb = new PostgresCmdb({ connectionString: pg.url });
  await startWorker();
});

after(async () => {
  isStopping = true;
  worker?.kill('SIGKILL');
  await destroyModuleDeployments(stateDir, 'tf').catch(() => undefined);
  await cmdb?.close();
  await client?.connection.close();
  await server?.stop();
  await pg?.stop();
  // Instances still running (a failed run) are stopped by their state files' pids.
  if (stateDir) await destroyAll(new LocalProcessInfra({ stateDir, entryPoint: EXAMPLE_SERVICE }), stateDir);
  // Whatever a failed run left, found by its program's path, so it cannot disturb the next run.
  if (root) for (const { pid } of await instanceProcesses()) process.kill(pid, 'SIGKILL');
  if (root) await rm(root, { recursive: true, force: true });
});

function startServer(): Promise<DevServer> {
  return startTemporalDevServer({
    cliPath,
    port: serverPort,
    dbFilename,
    onLog: (line, stream) => {
      if (stream === 'stderr') process.stderr.write(`temporal: ${line}\n`);
    },
  });
}

/** Starts the worker process and resolves once it polls. */
async function startWorker(): Promise<void> {
  const child = fork(
    join(__dirname, 'fixtures', 'release-worker.js'),
    [server.address, taskQueue, stateDir, JSON.stringify(config), pg.url, bundlePath],
    { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] },
  );
  const keep = (chunk: Buffer) => (workerLog = (workerLog + chunk.toString()).slice(-20_000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) =>
      reject(new Error(`the worker exited (${code}) before it was ready:\n${workerLog}`)),
    );
  });
  worker = child;
}

function killWorker(): void {
  worker?.kill('SIGKILL');
  worker = null;
}

/** A workflow's `GreenlightStage` and the activities running in it, as the server has them (no worker needed). */
async function lookAt(
  workflowId: string,
): Promise<{ stage: string; activities: string[]; isRunning: boolean }> {
  const d = await client.workflow.getHandle(workflowId).describe();
  return {
    stage: d.typedSearchAttributes.get(SearchAttributes.stage) ?? '?',
    activities: (d.raw.pendingActivities ?? []).map((a) => a.activityType?.name ?? '?'),
    isRunning: d.status.name === 'RUNNING',
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts a round's workflows: a release of each service, a train, an environment. One release per
 * service and target runs at a time, so each waits for the previous round's to end.
 */
async function startRound(round: number): Promise<void> {
  const version = `r${round}`;
  const previous = (label: string) => items.find((i) => i.round === round - 1 && i.label === label);
  for (const { service, target } of RELEASED) {
    const before = previous(`${service}/${target}`);
    if (before) await untilEnded(before);
    const { releaseId } = await api.startRelease(
      releaseRequest(service, version, target, { initiator: 'chaos' }),
    );
    items.push({
      kind: 'release',
      workflowId: releaseId,
      round,
      label: `${service}/${target}`,
      isDone: false,
    });
  }
  const trainBefore = previous('train');
  if (trainBefore) await untilEnded(trainBefore);
  const { trainId } = await api.trains.start({
    target: 'dev',
    initiator: 'chaos',
    services: TRAIN_SERVICES.map((service) => ({ service, version })),
  });
  items.push({ kind: 'train', workflowId: trainId, round, label: 'train', isDone: false });
  const name = `pr-${round}`;
  const start = templateEnvironment(parsedConfig, name, 'pr', 'chaos');
  assert.ok(!('error' in start), JSON.stringify(start));
  await api.environments.create(start);
  items.push({ kind: 'environment', workflowId: `env-${name}`, round, label: name, isDone: false });
  decommissionBefore = round;
}

/**
 * What an operator does meanwhile: approves the releases waiting for an approval once their round's
 * kill is behind them, and decommissions the environments of earlier rounds once they are active.
 */
async function operate(): Promise<void> {
  const decommissionAsked = new Set<string>();
  while (!isStopping) {
    await sleep(250);
    if (!worker) continue;
    for (const item of items.filter((i) => !i.isDone)) {
      try {
        const { stage, isRunning } = await lookAt(item.workflowId);
        if (item.kind === 'release' && stage === 'awaiting_approval' && item.round < kills) {
          await api.approve(item.workflowId, { approver: 'alice' });
        } else if (
          item.kind === 'environment' &&
          item.round < decommissionBefore &&
          stage === 'active' &&
          !decommissionAsked.has(item.label)
        ) {
          await api.environments.transition(item.label, { on: 'decommission', by: 'chaos' });
          decommissionAsked.add(item.label);
        }
        if (!isRunning) item.isDone = true;
      } catch {
        // The worker was killed in the middle of the request: asked again on the next look.
      }
    }
  }
}

/** Waits (up to 20 s) for a workflow of the trigger's kind to reach its stage; false when none did. */
async function awaitTrigger(round: number, trigger: (typeof TRIGGERS)[number]): Promise<boolean> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const candidates = items.filter((i) => i.kind === trigger.kind && !i.isDone && i.round >= round - 1);
    for (const item of candidates) {
      const { stage } = await lookAt(item.workflowId).catch(() => ({ stage: '?' }));
      if (stage === trigger.stage) return true;
    }
    await sleep(20);
  }
  return false;
}

/** Every unfinished workflow's stage and running activities at the moment of a kill. */
async function killPoints(): Promise<string[]> {
  const points: string[] = [];
  for (const item of items.filter((i) => !i.isDone)) {
    const look = await lookAt(item.workflowId).catch(() => null);
    if (!look?.isRunning) continue;
    const running = look.activities.length ? ` (${look.activities.join(', ')})` : '';
    points.push(`${item.kind} ${item.label} ${look.stage}${running}`);
  }
  return points;
}

function answers(endpoint: string): Promise<boolean> {
  const url = new URL(endpoint);
  return new Promise((resolve) => {
    const socket = connect({ host: url.hostname, port: Number(url.port) });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Waits (up to 3 min) for a workflow to end; an environment ends decommissioned. */
async function untilEnded(item: Item): Promise<void> {
  const deadline = Date.now() + 180_000;
  const handle = client.workflow.getHandle(item.workflowId);
  while (Date.now() < deadline) {
    const { stage, isRunning } = await lookAt(item.workflowId);
    if (!isRunning || (item.kind === 'environment' && stage === 'decommissioned')) return;
    await sleep(250);
  }
  const d = await handle.describe();
  const pending = (d.raw.pendingActivities ?? []).map(
    (a) => `${a.activityType?.name} attempt ${a.attempt}: ${a.lastFailure?.message ?? 'no failure'}`,
  );
  throw new Error(
    `${item.kind} ${item.label} (${item.workflowId}) did not end in 3 min: ${d.typedSearchAttributes.get(SearchAttributes.stage)}; ${pending.join('; ') || 'no activity pending'}\nworker log:\n${workerLog.slice(-3000)}`,
  );
}

/**
 * The instances of this run that are processes now, found by their program: each deployment runs
 * its artifact, `<state dir>/artifacts/<service>/<version>.artifact`, whichever infrastructure
 * started it (Linux's /proc: what no state file can hide).
 */
async function instanceProcesses(): Promise<{ pid: number; deployment: string }[]> {
  const prefix = join(stateDir, 'artifacts');
  const found: { pid: number; deployment: string }[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const args = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    const program = args.split('\0').find((a) => a.startsWith(prefix));
    const match = program?.slice(prefix.length).match(/^\/([^/]+)\/([^/]+)\.artifact$/);
    if (match) found.push({ pid: Number(entry), deployment: `${match[1]}@${match[2]}` });
  }
  return found;
}

/** Every workflow task that failed in a workflow's history: a replay that diverged would show here. */
async function failedTasks(workflowId: string): Promise<number> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).filter((e) => e.workflowTaskFailedEventAttributes).length;
}

async function cutovers(workflowId: string): Promise<number> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).filter(
    (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'cutOverAlias',
  ).length;
}

describe('workflows killed at random points', () => {
  it(
    `end where they should after ${ROUNDS} worker kills (seed ${SEED})`,
    { timeout: 180_000 + ROUNDS * 90_000 },
    async (t) => {
      t.diagnostic(`seed ${SEED} (GREENLIGHT_CHAOS_SEED=${SEED} replays these kill points)`);
      const operator = operate();
      const tried: string[] = [];
      let missed = 0;
      try {
        for (let round = 0; round < ROUNDS; round++) {
          await startRound(round);
          const trigger = pick(TRIGGERS.filter((x) => round > 0 || x.first));
          const isReached = await awaitTrigger(round, trigger);
          if (!isReached) missed++;
          // A random moment after the stage began: within a short step, or well into a long one.
          await sleep(trigger.stage === 'cutting_over' ? 0 : Math.floor(random() * 400));
          const points = await killPoints();
          killWorker();
          kills++;
          tried.push(...points);
          t.diagnostic(
            `kill ${round + 1} aimed at ${trigger.kind} ${trigger.stage}${isReached ? '' : ' (not reached in 20 s)'}: ${points.join('; ')}`,
          );
          await sleep(Math.floor(random() * 1500));
          await startWorker();
        }
        t.diagnostic(
          `${tried.length} kill points tried in ${ROUNDS} kills; ${missed} aimed at a stage not reached`,
        );
        decommissionBefore = ROUNDS;
        await Promise.all(items.map(untilEnded));
      } finally {
        isStopping = true;
        await operator;
      }

      // Every release completed, with one cutover, and no workflow task failed anywhere.
      const trainReleases: string[] = [];
      for (const train of items.filter((i) => i.kind === 'train')) {
        const status = (await client.workflow.getHandle(train.workflowId).query('status')) as TrainStatus;
        assert.ok(isTrainEnded(status.stage));
        assert.equal(status.stage, 'completed', `${train.workflowId}: ${status.reason ?? ''}`);
        trainReleases.push(...status.services.map((s) => s.releaseId));
      }
      const releaseIds = [
        ...items.filter((i) => i.kind === 'release').map((i) => i.workflowId),
        ...trainReleases,
      ];
      const statuses: ReleaseStatus[] = [];
      for (const id of releaseIds) {
        const status = await api.status(id);
        assert.equal(status.stage, 'completed', `${id}: ${status.reason ?? ''}`);
        assert.equal(await cutovers(id), 1, `${id} cut over once`);
        statuses.push(status);
      }
      for (const item of items)
        assert.equal(await failedTasks(item.workflowId), 0, `${item.workflowId}: no failed task`);

      // Each alias leads to its service's last green; the CMDB says the same, and only that one is live.
      const dns = new LocalDnsStore(stateDir);
      const live = new Set<string>();
      const aliases = new Set<string>();
      for (const { service, target } of [
        ...RELEASED,
        ...TRAIN_SERVICES.map((service) => ({ service, target: 'dev' })),
      ]) {
        const last = statuses.find(
          (s) => s.service === service && s.target === target && s.version === `r${ROUNDS - 1}`,
        );
        assert.ok(last?.green, `${service}/${target} has its last release`);
        live.add(last.green.hostname);
        aliases.add(`${service}.${target}.${ZONE}`);
        assert.equal((await dns.get(`${service}.${target}.${ZONE}`))?.value, last.green.hostname);
        const recorded = (await cmdb.deployments(service, target)).filter((d) => d.status === 'live');
        assert.deepEqual(
          recorded.map((d) => d.hostname),
          [last.green.hostname],
          `${service}/${target}: the CMDB's live deployment`,
        );
      }

      // Nothing left behind: one process per live deployment and none other, each live one answering;
      // only live names and aliases in DNS; Terraform resources only for live deployments.
      const liveDeployments = statuses.filter((s) => live.has(s.green!.hostname));
      assert.deepEqual(
        (await instanceProcesses()).map((p) => p.deployment).sort(),
        liveDeployments.map((s) => `${s.service}@${s.version}`).sort(),
        'the instances that run',
      );
      for (const s of liveDeployments)
        assert.equal(await answers(s.green!.endpoint), true, s.green!.hostname);
      const records = (await dns.list()).map((r) => r.name);
      const leftover = records.filter((name) => !live.has(name) && !aliases.has(name));
      assert.deepEqual(leftover, [], 'DNS records of deployments and environments that are gone');
      const { rows } = await cmdb.query<{ name: string; data: string }>(
        'SELECT name, data FROM greenlight_terraform.states ORDER BY name',
        [],
      );
      const withResources = rows
        .filter((r) => ((JSON.parse(r.data) as { resources?: unknown[] }).resources ?? []).length > 0)
        .map((r) => r.name);
      const liveTf = liveDeployments.filter((s) => s.target === 'tf');
      assert.equal(
        withResources.length,
        liveTf.length,
        `Terraform states with resources: ${withResources.join(', ')}`,
      );

      // Environments: each decommissioned by its own leak check's account, and retired in the CMDB.
      for (const env of items.filter((i) => i.kind === 'environment')) {
        const status = await api.environments.status(env.label);
        assert.equal(status.state, 'decommissioned', env.label);
        assert.equal(status.leakCheck?.clean, true, `${env.label}: ${JSON.stringify(status.leakCheck)}`);
        assert.equal((await cmdb.environment(env.label))?.state, 'decommissioned');
      }
    },
  );
});

describe('the Temporal dev server stopped and started again', () => {
  it('lets releases in flight continue from its database file', { timeout: 300_000 }, async (t) => {
    const pid = worker?.pid;
    assert.ok(pid, 'the worker of the kills runs');
    const started = await Promise.all(
      RELEASED.map(({ service, target }) =>
        api.startRelease(releaseRequest(service, 'restart', target, { initiator: 'chaos' })),
      ),
    );
    const ids = started.map((s) => s.releaseId);
    // Stopped while the first bakes: the others are deploying, testing or waiting for an approval.
    for (let i = 0; (await lookAt(ids[0]!)).stage !== 'baking'; i++) {
      assert.ok(i < 600, 'the first release bakes');
      await sleep(50);
    }
    const points = await Promise.all(ids.map(async (id) => `${id} ${(await lookAt(id)).stage}`));
    t.diagnostic(`server stopped with ${points.join('; ')}`);
    await server.stop();
    await sleep(2_000);
    server = await startServer();

    const ended = await Promise.all(
      ids.map(async (id) => {
        for (let i = 0; i < 1_200; i++) {
          const { stage, isRunning } = await lookAt(id).catch(() => ({ stage: '?', isRunning: true }));
          if (!isRunning) return api.status(id);
          if (stage === 'awaiting_approval')
            await api.approve(id, { approver: 'alice' }).catch(() => undefined);
          await sleep(250);
        }
        throw new Error(`${id} did not end within 5 min of the server's restart`);
      }),
    );
    assert.equal(worker?.pid, pid, 'the same worker carried on');
    const dns = new LocalDnsStore(stateDir);
    for (const status of ended) {
      assert.equal(status.stage, 'completed', `${status.releaseId}: ${status.reason ?? ''}`);
      assert.equal(await cutovers(status.releaseId), 1, `${status.releaseId} cut over once`);
      assert.equal(await failedTasks(status.releaseId), 0);
      assert.equal(
        (await dns.get(`${status.service}.${status.target}.${ZONE}`))?.value,
        status.green?.hostname,
      );
      assert.equal(await answers(status.green!.endpoint), true, 'green runs');
      assert.equal(status.isBlueTerminated, true);
      assert.equal(await answers(status.previous!.endpoint), false, 'blue is gone');
    }
    assert.deepEqual(
      (await instanceProcesses()).map((p) => p.deployment).sort(),
      [
        ...ended.map((s) => `${s.service}@restart`),
        ...TRAIN_SERVICES.map((s) => `${s}@r${ROUNDS - 1}`),
      ].sort(),
      'the instances that run',
    );
  });
});
