// Dependencies that hang instead of failing: a DNS server that accepts and never answers, a
// Terraform run stuck in its provisioner, an integration test that never exits, a CMDB that keeps
// its connections and answers nothing. Each call is cut short by its own limit, the breaker counts it
// as slow and failed, and the release neither hangs nor applies anything twice: it completes once
// the dependency answers again (the CMDB's records kept in the outbox meanwhile), or, for a test
// that hangs, ends failed with the reason.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Harness } from '../harness/release';
import { releaseRequest, startHarness, TEST_CONFIG } from '../harness/release';
import type { ConfigInput } from '../src/config/schema';
import { breakerName } from '../src/shared/breaker-name';
import { startBind } from './helpers/bind';
import type { BindServer } from './helpers/bind';
import { destroyModuleDeployments, EXAMPLE_MODULE, iacBinary } from './helpers/iac';
import { startPostgres } from './helpers/postgres';
import type { PostgresServer } from './helpers/postgres';
import { startTcpProxy } from './helpers/proxy';
import type { TcpProxy } from './helpers/proxy';

const ZONE = 'greenlight.test';
/**
 * The Terraform deployment's service, named per run: the example module derives its port from the
 * host name, and an instance a killed run left must not answer for this one.
 */
const TF_SERVICE = `tfs${process.pid}`;
/** A target whose waits are short: the tests are about the hanging dependency. */
const QUICK = {
  policy: 'tests_passed',
  bake: '300ms',
  healthCheckInterval: '100ms',
  terminationWait: '100ms',
  recordTtl: 1,
} as const;
let bind: BindServer;
let proxy: TcpProxy;
let h: Harness;
let dir: string;
/** While this file exists, the Terraform module's gate and the integration test hang. */
let hang: string;

before(async () => {
  bind = await startBind(ZONE);
  proxy = await startTcpProxy(bind.port);
  dir = await mkdtemp(join(tmpdir(), 'greenlight-hangs-'));
  hang = join(dir, 'hang');
  // The example module behind a gate that waits as long as the marker exists.
  const module = join(dir, 'module');
  await mkdir(module);
  await writeFile(
    join(module, 'main.tf'),
    `variable "service" { type = string }
variable "app_version" { type = string }
variable "target" { type = string }
variable "hostname" { type = string }
variable "release_id" { type = string }
resource "terraform_data" "gate" {
  input = var.hostname
  provisioner "local-exec" { command = "while [ -f '${hang}' ]; do sleep 0.2; done" }
}
module "app" {
  source      = "${EXAMPLE_MODULE}"
  service     = var.service
  app_version = var.app_version
  target      = var.target
  hostname    = var.hostname
  release_id  = var.release_id
  depends_on  = [terraform_data.gate]
}
output "endpoint" { value = module.app.endpoint }
output "release_id" { value = module.app.release_id }
`,
  );
  const config: ConfigInput = {
    ...TEST_CONFIG,
    zone: ZONE,
    targets: {
      dns: {
        ...QUICK,
        dns: {
          kind: 'rfc2136',
          server: `127.0.0.1:${proxy.port}`,
          tsig: { name: bind.keyName, secret: { env: 'TSIG_SECRET' } },
          timeout: '1s',
        },
      },
      tf: {
        ...QUICK,
        infra: { kind: 'terraform', module, binary: iacBinary(), timeout: '4s' },
      },
    },
    services: {
      stuck: {
        checks: [
          {
            name: 'never-exits',
            command: [
              process.execPath,
              '-e',
              `if (require('fs').existsSync(${JSON.stringify(hang)})) setInterval(() => {}, 1000)`,
            ],
            timeout: '1s',
          },
        ],
      },
    },
    // Calls that take longer than these are slow; short openings so the test sees trials soon.
    breakers: {
      dependencies: {
        dns: { slowCallDuration: '500ms', waitDuration: '1s' },
        infra: { slowCallDuration: '2s', waitDuration: '1s' },
      },
    },
  };
  h = await startHarness(config, { env: { TSIG_SECRET: bind.secret } });
});

after(async () => {
  await rm(hang, { force: true });
  if (h) {
    await destroyModuleDeployments(h.stateDir, 'tf').catch(() => undefined);
    await h.stop();
  }
  await proxy?.close();
  await bind?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The failure of the newest attempt of an activity the release waits on, once there is one. */
async function lastFailure(releaseId: string, activity: string): Promise<string | null> {
  const { raw } = await h.client.workflow.getHandle(releaseId).describe();
  const pending = (raw.pendingActivities ?? []).find((a) => a.activityType?.name === activity);
  return pending?.lastFailure?.message ?? null;
}

async function until<T>(look: () => Promise<T | null>, what: string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await look();
    if (found !== null) return found;
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function activitiesScheduled(releaseId: string, activity: string, harness = h): Promise<number> {
  const history = await harness.client.workflow.getHandle(releaseId).fetchHistory();
  return (history.events ?? []).filter(
    (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === activity,
  ).length;
}

describe('a dependency that hangs', () => {
  it('DNS: each call ends at its timeout, counted slow, and the release completes with one cutover once it answers', async (t) => {
    const first = await h.api.startRelease(releaseRequest('web', 'v1', 'dns'));
    assert.equal((await h.api.wait(first.releaseId)).stage, 'completed');
    const { releaseId } = await h.api.startRelease(
      releaseRequest('web', 'v2', 'dns', { holdBeforeCutover: true }),
    );
    await until(
      async () => ((await h.api.status(releaseId)).stage === 'awaiting_go' ? true : null),
      'awaiting_go',
    );

    // The server takes connections and never answers, from the moment the cutover starts.
    proxy.stall();
    t.after(() => proxy.up());
    await h.api.go(releaseId, { by: 'alice' });
    const failure = await until(() => lastFailure(releaseId, 'cutOverAlias'), 'a failed cutover attempt');
    assert.match(failure, /no answer within 1000 ms/);
    const view = await until(async () => {
      const v = await h.breakers.view(breakerName('dns', 'dns'));
      return v.slow >= 1 ? v : null;
    }, 'a slow call counted');
    assert.ok(view.failures >= 1, JSON.stringify(view));
    assert.equal(
      (await h.api.status(releaseId)).stage,
      'cutting_over',
      'the release waits, it does not fail',
    );

    proxy.up();
    const done = await h.api.wait(releaseId);
    assert.equal(done.stage, 'completed', done.reason ?? '');
    assert.equal(await activitiesScheduled(releaseId, 'cutOverAlias'), 1, 'one cutover');
    assert.deepEqual(await bind.resolver.resolveCname(`web.dns.${ZONE}`), [`web-v2.dns.${ZONE}`]);
  });

  it('Terraform: a run stuck in its provisioner is stopped at infra.timeout and retried, and the deployment is made once', async () => {
    await writeFile(hang, '');
    const { releaseId } = await h.api.startRelease(releaseRequest(TF_SERVICE, 'v1', 'tf'));
    const failure = await until(
      () => lastFailure(releaseId, 'deployGreen'),
      'a failed deploy attempt',
      90_000,
    );
    // The apply hangs in its provisioner (on a busy machine an init may already take the 4 s).
    assert.match(failure, /(apply|init|plan) did not finish within 4 s and was stopped \(infra\.timeout\)/);
    const view = await h.breakers.view(breakerName('infra', 'tf'));
    assert.ok(view.slow >= 1 && view.failures >= 1, JSON.stringify(view));

    await rm(hang);
    const done = await h.api.wait(releaseId);
    assert.equal(done.stage, 'completed', done.reason ?? '');
    assert.equal(await activitiesScheduled(releaseId, 'deployGreen'), 1);
    // Applied once: one gate and one instance in the state, whatever the attempts before.
    const state = JSON.parse(
      await readFile(
        join(h.stateDir, 'terraform', 'tf', `${TF_SERVICE}-v1.tf.${ZONE}`, 'terraform.tfstate'),
        'utf8',
      ),
    ) as { resources: { type: string }[] };
    assert.deepEqual(state.resources.map((r) => r.type).sort(), ['terraform_data', 'terraform_data']);
  });

  it('a check: an integration test that never exits fails at its timeout, and the release ends failed, saying so', async () => {
    await writeFile(hang, '');
    try {
      const { releaseId } = await h.api.startRelease(releaseRequest('stuck', 'v1', 'dns'));
      const done = await h.api.wait(releaseId);
      assert.equal(done.stage, 'failed', done.reason ?? '');
      assert.equal(done.reason, 'policy blocked promotion: tests_passed ✗');
      const check = done.tests?.checks.find((c) => c.name === 'never-exits');
      assert.equal(check?.passed, false);
      assert.match(check?.detail ?? '', /timed out after 1000 ms/);
      assert.equal(done.isGreenTornDown, true, 'green is torn down');
    } finally {
      await rm(hang, { force: true });
    }
  });
});

describe('a CMDB that hangs', () => {
  let pg: PostgresServer;
  let pgProxy: TcpProxy;
  let c: Harness;

  before(async () => {
    pg = await startPostgres();
    pgProxy = await startTcpProxy(Number(new URL(pg.url).port));
    const url = new URL(pg.url);
    url.port = String(pgProxy.port);
    c = await startHarness(
      {
        ...TEST_CONFIG,
        targets: {
          dev: QUICK,
        },
        // A call that takes 500 ms is slow; a short opening, so the outbox is replayed soon.
        breakers: { dependencies: { cmdb: { slowCallDuration: '500ms', waitDuration: '1s' } } },
      },
      { cmdbUrl: url.toString(), cmdbTimeoutMs: 1_000 },
    );
  });

  after(async () => {
    await c?.stop();
    await pgProxy?.close();
    await pg?.stop();
  });

  it('each query ends at GREENLIGHT_CMDB_TIMEOUT, counted slow; the release completes, its records kept and written once when the CMDB answers', async (t) => {
    const first = await c.api.startRelease(releaseRequest('web', 'v1', 'dev'));
    assert.equal((await c.api.wait(first.releaseId)).stage, 'completed');

    // The server keeps its connections and answers nothing, from before the release starts. A
    // query on a connection the pool holds ends at the timeout; so does a new connection's handshake.
    await c.cmdb.changes('web', 'dev');
    pgProxy.stall();
    t.after(() => pgProxy.up());
    await assert.rejects(c.cmdb.changes('web', 'dev'), {
      message:
        /^the CMDB at postgres:\/\/greenlight@127\.0\.0\.1:\d+\/postgres did not answer within 1 s; could not /,
    });
    const { releaseId } = await c.api.startRelease(releaseRequest('web', 'v2', 'dev'));
    // Counted before the breaker opens (opening starts a new window).
    const view = await until(async () => {
      const v = await c.breakers.view(breakerName('cmdb'));
      return v.slow >= 1 ? v : null;
    }, 'a slow CMDB call counted');
    assert.ok(view.failures >= 1, JSON.stringify(view));
    const done = await c.api.wait(releaseId);
    assert.equal(done.stage, 'completed', done.reason ?? '');
    const deferred = await c.outbox.size();
    assert.ok(deferred >= 1, 'the records wait in the outbox');
    const outbox = JSON.parse(await readFile(join(c.stateDir, 'outbox', 'cmdb.json'), 'utf8')) as {
      entries: { reason: string }[];
    };
    assert.ok(
      // Its open connections hang at the query, new ones at the handshake: each ends within 1 s.
      outbox.entries.some((e) =>
        /did not answer within 1 s; could not record change|unreachable \(Connection terminated due to connection timeout\)/.test(
          e.reason,
        ),
      ),
      outbox.entries.map((e) => e.reason).join('\n'),
    );
    assert.equal(await activitiesScheduled(releaseId, 'cutOverAlias', c), 1, 'one cutover');

    // Back: the outbox is replayed, each stage recorded once, v2 live.
    pgProxy.up();
    const deadline = Date.now() + 30_000;
    while ((await c.outbox.size()) > 0) {
      assert.ok(Date.now() < deadline, 'the outbox was not replayed within 30 s');
      await new Promise((r) => setTimeout(r, 200));
    }
    const changes = (await c.cmdb.changes('web', 'dev', 200)).filter((ch) => ch.releaseId === releaseId);
    assert.ok(changes.length >= deferred, `${changes.length} changes recorded`);
    assert.equal(new Set(changes.map((ch) => ch.step)).size, changes.length, 'each step once');
    const live = (await c.cmdb.deployments('web', 'dev')).filter((d) => d.status === 'live');
    assert.deepEqual(
      live.map((d) => d.version),
      ['v2'],
    );
  });
});
