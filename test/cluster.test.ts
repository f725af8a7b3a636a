// The production shape: the Temporal server itself on PostgreSQL (not the dev server), two greenlight
// workers on one task queue sharing their circuit breakers through PostgreSQL, a PostgreSQL CMDB,
// OpenTofu with its state in PostgreSQL, and BIND updated over RFC 2136. A worker is killed in the
// middle of releases, then the Temporal server is: every release finishes.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { Client as PgClient } from 'pg';
import { GreenlightClient } from '../src/client/api';
import type { ConfigInput } from '../src/config/schema';
import { isTerminalStage } from '../src/shared/release';
import type { ReleaseStatus } from '../src/shared/release';
import { startTemporalCluster } from '../harness/temporal-cluster';
import type { TemporalCluster } from '../harness/temporal-cluster';
import { releaseRequest, TEST_CONFIG } from '../harness/release';
import { startBind } from './helpers/bind';
import type { BindServer } from './helpers/bind';
import { EXAMPLE_MODULE, iacBinary } from './helpers/iac';
import { startPostgres } from './helpers/postgres';
import type { PostgresServer } from './helpers/postgres';

const MAIN = join(__dirname, '..', 'src', 'main.js');
const ZONE = 'greenlight.test';
const SERVICES = ['web', 'api', 'shop', 'cart'];

let pg: PostgresServer;
let bind: BindServer;
let cluster: TemporalCluster;
let client: Client;
let api: GreenlightClient;
let cmdbUrl: string;
let root: string;
const workers: { name: string; child: ChildProcess; output: () => string; stateDir: string }[] = [];

const config: ConfigInput = {
  zone: ZONE,
  breakers: { backend: 'postgres' },
  targets: {
    live: {
      recordTtl: 1,
      policy: 'tests_passed',
      // Long enough that a worker or the server can be stopped while releases bake.
      bake: '4s',
      healthCheckInterval: '250ms',
      terminationWait: '500ms',
      infra: { kind: 'terraform', module: EXAMPLE_MODULE, binary: iacBinary() },
      dns: {
        kind: 'rfc2136',
        server: '127.0.0.1:0',
        tsig: { name: 'greenlight-key', secret: { env: 'TSIG_SECRET' } },
      },
    },
  },
  checks: TEST_CONFIG.checks,
  healthCheck: TEST_CONFIG.healthCheck,
};

/** A worker as an operator runs it: `node dist/src/main.js` against the cluster, until it polls. */
async function startWorker(name: string): Promise<void> {
  const stateDir = join(root, name);
  const child = spawn(process.execPath, [MAIN], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TEMPORAL_ADDRESS: cluster.address,
      TEMPORAL_NAMESPACE: cluster.namespace,
      GREENLIGHT_CONFIG: join(root, 'greenlight.config.json'),
      GREENLIGHT_CMDB_URL: cmdbUrl,
      GREENLIGHT_STATE_DIR: stateDir,
      GREENLIGHT_ADMIN_PORT: '0',
      GREENLIGHT_LOG_LEVEL: 'info',
      TSIG_SECRET: bind.secret,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-200_000)));
  child.stderr!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-200_000)));
  workers.push({ name, child, output: () => output, stateDir });
  const deadline = Date.now() + 90_000;
  while (!output.includes('"msg":"worker started"')) {
    if (child.exitCode !== null) throw new Error(`worker ${name} exited ${child.exitCode}:\n${output}`);
    if (Date.now() > deadline) throw new Error(`worker ${name} did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The identity a worker gives Temporal: the SDK's `<pid>@<host>`. */
const identityOf = (w: (typeof workers)[number]) => `${w.child.pid}@`;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'greenlight-cluster-'));
  pg = await startPostgres();
  const admin = new PgClient({ connectionString: pg.url });
  await admin.connect();
  await admin.query('CREATE DATABASE cmdb');
  await admin.end();
  cmdbUrl = pg.url.replace(/\/postgres$/, '/cmdb');
  bind = await startBind(ZONE);
  const target = config.targets!.live!;
  const dns = { ...target.dns!, server: `127.0.0.1:${bind.port}` };
  await writeFile(
    join(root, 'greenlight.config.json'),
    JSON.stringify({ ...config, targets: { live: { ...target, dns } } }),
  );
  cluster = await startTemporalCluster({
    host: '127.0.0.1',
    port: Number(new URL(pg.url).port),
    user: 'greenlight',
    password: pg.password,
  });
  client = new Client({ connection: await Connection.connect({ address: cluster.address }) });
  api = new GreenlightClient(client);
  await startWorker('worker-a');
  await startWorker('worker-b');
});

after(async () => {
  for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGKILL');
  // The example module's instances are local processes: stop every one the workers' tofu started.
  for (const w of workers) {
    const terraform = join(w.stateDir, 'terraform', 'live');
    for (const host of await readdir(terraform).catch(() => [] as string[])) {
      const stateFile = join(terraform, host, 'instance.json');
      if (existsSync(stateFile)) {
        execFileSync(process.execPath, [join(EXAMPLE_MODULE, 'stop.js')], { env: { STATE_FILE: stateFile } });
      }
    }
  }
  await client?.connection.close();
  await cluster?.stop();
  await bind?.stop();
  await pg?.stop();
  await rm(root, { recursive: true, force: true });
});

/** Waits until every release satisfies `predicate`, failing with their stages (and the workers' logs) when they do not. */
async function untilAll(
  ids: string[],
  predicate: (s: ReleaseStatus) => boolean,
  what: string,
  timeoutMs = 120_000,
): Promise<ReleaseStatus[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const statuses = await Promise.all(ids.map((id) => api.status(id)));
    if (statuses.every(predicate)) return statuses;
    if (Date.now() > deadline) {
      const stages = statuses.map((s) => `${s.service}: ${s.stage} ${s.reason ?? ''}`).join('\n');
      const logs = workers.map((w) => `--- ${w.name}\n${w.output().slice(-3000)}`).join('\n');
      throw new Error(`not all releases reached ${what}:\n${stages}\n${logs}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The activities of a release's history that completed: which worker completed each, and when. */
async function completions(releaseId: string): Promise<{ identity: string; at: number }[]> {
  const history = await client.workflow.getHandle(releaseId).fetchHistory();
  return (history.events ?? []).flatMap((e) => {
    const identity = e.activityTaskCompletedEventAttributes?.identity;
    return identity
      ? [{ identity, at: Number(e.eventTime?.seconds ?? 0) * 1000 + (e.eventTime?.nanos ?? 0) / 1e6 }]
      : [];
  });
}

/** What the alias resolves to, asked of BIND by the system's resolver. */
async function aliasOf(service: string): Promise<string[]> {
  return bind.resolver.resolveCname(`${service}.live.${ZONE}`);
}

/** Starts a release of `version` of every service, and waits until each is past deploying and none has ended. */
async function releasesMidway(version: string): Promise<string[]> {
  const ids: string[] = [];
  for (const service of SERVICES)
    ids.push((await api.startRelease(releaseRequest(service, version, 'live'))).releaseId);
  await untilAll(
    ids,
    (s) => !['queued', 'deploying'].includes(s.stage) && !isTerminalStage(s.stage),
    'past deploying',
  );
  return ids;
}

describe('two workers on a Temporal cluster on PostgreSQL', () => {
  it('finishes every release on the other worker when one is killed mid-release', async (t) => {
    const ids = await releasesMidway('v1');
    const [a, b] = workers as [(typeof workers)[number], (typeof workers)[number]];
    a.child.kill('SIGKILL');
    const killedAt = Date.now();
    const done = await untilAll(ids, (s) => isTerminalStage(s.stage), 'an end');
    t.diagnostic(
      `all ${ids.length} releases ended ${((Date.now() - killedAt) / 1000).toFixed(1)} s after worker-a was killed`,
    );
    for (const s of done) assert.equal(s.stage, 'completed', `${s.service}: ${s.reason ?? ''}`);
    const all = (await Promise.all(ids.map(completions))).flat();
    const byA = all.filter((c) => c.identity.startsWith(identityOf(a)));
    assert.ok(byA.length > 0, `worker-a completed activities before it was killed`);
    // A completion worker-a sent just before it died may be recorded a moment later: 2 s of margin.
    assert.ok(
      byA.every((c) => c.at <= killedAt + 2_000),
      'worker-a completed nothing after it was killed',
    );
    const afterKill = all.filter((c) => c.at > killedAt + 2_000);
    assert.ok(
      afterKill.length >= ids.length,
      `every release went on after the kill (${afterKill.length} activities)`,
    );
    for (const c of afterKill) assert.ok(c.identity.startsWith(identityOf(b)), `${c.identity} is worker-b`);
    for (const service of SERVICES) assert.deepEqual(await aliasOf(service), [`${service}-v1.live.${ZONE}`]);
    // What the workers share lives in PostgreSQL: the CMDB, the breakers' calls, OpenTofu's state.
    const cmdb = new PgClient({ connectionString: cmdbUrl });
    await cmdb.connect();
    try {
      const live = await cmdb.query<{ service: string; version: string }>(
        `SELECT service, version FROM deployments WHERE status = 'live' ORDER BY service`,
      );
      assert.deepEqual(
        live.rows,
        [...SERVICES].sort().map((service) => ({ service, version: 'v1' })),
      );
      const callers = await cmdb.query<{ worker: string }>(
        `SELECT DISTINCT worker FROM circuit_breaker_calls`,
      );
      const pids = callers.rows.map((r) => r.worker.split(':').pop()).sort();
      assert.deepEqual(
        pids,
        [String(a.child.pid), String(b.child.pid)].sort(),
        'both workers used the shared breakers',
      );
      const states = await cmdb.query<{ name: string }>(
        `SELECT name FROM greenlight_terraform.states ORDER BY name`,
      );
      for (const service of SERVICES) {
        assert.ok(
          states.rows.some((r) => r.name.includes(`${service}-v1`)),
          `OpenTofu's state of ${service} v1 is in PostgreSQL: ${states.rows.map((r) => r.name).join(', ')}`,
        );
      }
    } finally {
      await cmdb.end();
    }
  });

  it('resumes every release after the Temporal server is killed and started again', async (t) => {
    // Two workers again: worker-b, and a new one in place of the killed worker-a.
    await startWorker('worker-c');
    const ids = await releasesMidway('v2');
    await cluster.kill('SIGKILL');
    // Down long enough for every worker's polls and in-flight calls to fail.
    await new Promise((r) => setTimeout(r, 3_000));
    await cluster.start();
    const startedAt = Date.now();
    const done = await untilAll(ids, (s) => isTerminalStage(s.stage), 'an end');
    t.diagnostic(
      `all ${ids.length} releases ended ${((Date.now() - startedAt) / 1000).toFixed(1)} s after the server was back`,
    );
    for (const s of done) {
      assert.equal(s.stage, 'completed', `${s.service}: ${s.reason ?? ''}`);
      assert.equal(s.previous?.version, 'v1');
      assert.equal(s.isBlueTerminated, true, `${s.service}'s blue (v1) was terminated`);
    }
    for (const service of SERVICES) assert.deepEqual(await aliasOf(service), [`${service}-v2.live.${ZONE}`]);
    const running = workers.filter((w) => w.name !== 'worker-a');
    for (const w of running) assert.equal(w.child.exitCode, null, `${w.name} outlived the server's restart`);
  });
});
