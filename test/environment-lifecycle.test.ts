// An environment made on demand, its whole life on real parts: OpenTofu/Terraform applies and
// destroys its module (state in PostgreSQL), BIND takes its DNS records (RFC 2136 with TSIG), the
// CMDB is the PostgreSQL server, and a plain `nsupdate` changes an alias behind greenlight's back.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Harness } from '../harness/release';
import { releaseRequest, startHarness, TEST_CONFIG } from '../harness/release';
import type { ConfigInput } from '../src/config/schema';
import type { EnvironmentStatus } from '../src/shared/environment';
import { postgresStateBackend } from '../src/providers/infra/terraform-backend';
import { TerraformEnvironment } from '../src/providers/infra/terraform-environment';
import { startBind } from './helpers/bind';
import type { BindServer } from './helpers/bind';
import { cliEnvironment, runCli } from './helpers/cli';
import { destroyModuleDeployments, EXAMPLE_MODULE, iacBinary } from './helpers/iac';
import { startPostgres } from './helpers/postgres';
import type { PostgresServer } from './helpers/postgres';
import { waitForStage } from './helpers/wait';

const ENVIRONMENT_MODULE = resolve(__dirname, '..', '..', 'examples', 'environment');
const ZONE = 'greenlight.test';

let bind: BindServer;
let postgres: PostgresServer;
let h: Harness;
let cliEnv: NodeJS.ProcessEnv;
/** A module that fails to apply until this file exists: a provisioning action that fails, then works. */
let fragileModule: string;
let marker: string;

before(async () => {
  [bind, postgres] = await Promise.all([startBind(ZONE), startPostgres()]);
  fragileModule = await mkdtemp(join(tmpdir(), 'greenlight-fragile-'));
  marker = join(fragileModule, 'ready');
  await writeFile(
    join(fragileModule, 'main.tf'),
    `variable "environment" { type = string }
variable "tags" { type = map(string) }
resource "terraform_data" "network" {
  input = { name = "\${var.environment}-network", tags = var.tags }
  provisioner "local-exec" { command = "test -f '${marker}' || { echo 'the network is not ready' >&2; exit 1; }" }
}
output "network" { value = terraform_data.network.output.name }
`,
  );
  const config: ConfigInput = {
    ...TEST_CONFIG,
    zone: ZONE,
    // A module that fails opens its breaker (3 failures); a short opening keeps the test short.
    breakers: { defaults: { waitDuration: '2s' } },
    targets: {
      dev: {
        policy: 'tests_passed',
        approval: { required: 1 },
        bake: '300ms',
        healthCheckInterval: '100ms',
        terminationWait: '200ms',
        recordTtl: 1,
        infra: { kind: 'terraform', module: EXAMPLE_MODULE, binary: iacBinary() },
        dns: {
          kind: 'rfc2136',
          server: `${bind.host}:${bind.port}`,
          tsig: { name: bind.keyName, secret: { env: 'GREENLIGHT_TSIG_SECRET' } },
        },
      },
    },
    environments: {
      flows: {
        // Decommissioning that forgets the module and the DNS names: the leak check must say so.
        forgetful: {
          states: ['provisioning', 'active', 'gone'],
          transitions: [
            {
              on: 'provision',
              from: 'provisioning',
              to: 'active',
              auto: true,
              policy: 'infrastructure_ready',
              actions: [{ run: 'terraform.apply' }],
            },
            { on: 'decommission', from: '*', to: 'gone', actions: [{ run: 'cmdb.retire' }] },
          ],
        },
      },
      templates: {
        review: { flow: 'lifecycle', like: 'dev', module: ENVIRONMENT_MODULE, protected: true, ttl: '72h' },
        fragile: { flow: 'ephemeral', like: 'dev', module: fragileModule },
        forgetful: { flow: 'forgetful', like: 'dev', module: ENVIRONMENT_MODULE },
      },
      defaultTemplate: 'review',
    },
  };
  h = await startHarness(config, {
    env: { GREENLIGHT_TSIG_SECRET: bind.secret },
    cmdbUrl: postgres.url,
  });
  cliEnv = await cliEnvironment(h, config, { GREENLIGHT_TSIG_SECRET: bind.secret });
});

after(async () => {
  if (h) {
    await destroyModuleDeployments(h.stateDir, 'dev');
    await h.stop();
  }
  await Promise.all([bind?.stop(), postgres?.stop()]);
  if (fragileModule) await rm(fragileModule, { recursive: true, force: true });
});

async function cli(args: string[]): Promise<string> {
  const run = await runCli(args, cliEnv);
  assert.equal(run.code, 0, `${args.join(' ')}: ${run.stderr}`);
  return run.stdout;
}

async function until(name: string, predicate: (s: EnvironmentStatus) => boolean, what: string) {
  let last: EnvironmentStatus | undefined;
  for (let i = 0; i < 1200; i++) {
    last = await h.api.environments.status(name);
    if (predicate(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}: ${JSON.stringify(last)}`);
}

/** The workspaces of environment modules in the PostgreSQL state backend. */
async function stateWorkspaces(): Promise<{ name: string; data: string }[]> {
  const { rows } = await h.cmdb.query<{ name: string; data: string }>(
    `SELECT name, data FROM greenlight_terraform.states WHERE name LIKE 'environment_%' ORDER BY name`,
    [],
  );
  return rows;
}

/** Every record name under the environment's names, as BIND has them. */
async function recordsOf(environment: string): Promise<string[]> {
  const records = await h.dnsFor('dev').list();
  return records.map((r) => r.name).filter((n) => n.endsWith(`.${environment}.${ZONE}`));
}

/** A plain `nsupdate`, signed with the zone's key: a change made behind greenlight's back. */
async function nsupdate(script: string): Promise<void> {
  const child = spawn('nsupdate', ['-y', `hmac-sha256:${bind.keyName}:${bind.secret}`], {
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(`server ${bind.host} ${bind.port}\nzone ${ZONE}\n${script}\nsend\n`);
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  assert.equal(code, 0, `nsupdate failed: ${stderr}`);
}

describe('an environment made on demand, its whole life on tofu/terraform, BIND and PostgreSQL', () => {
  it('is provisioned, takes a release, keeps maintenance out while it runs, finds and mends drift, and leaves nothing behind', async (t) => {
    const started = Date.now();
    await cli(['env', 'create', 'pr-7', '--by', 'alice']);
    const active = await until('pr-7', (s) => s.state === 'active' && !s.running, 'active');
    const provisionedMs = Date.now() - started;
    assert.deepEqual(
      active.history.map((x) => x.transition),
      ['provision', 'configure', 'verify'],
    );
    // The module's resources are in the environment's own workspace, each tagged with its name.
    const [workspace] = await stateWorkspaces();
    assert.equal(workspace?.name, 'environment_pr-7');
    const state = JSON.parse(workspace.data) as {
      resources: { type: string; instances: { attributes: { input: { value: { tags: object } } } }[] }[];
    };
    assert.deepEqual(
      state.resources.flatMap((r) => r.instances.map((i) => [r.type, i.attributes.input.value.tags])),
      [
        ['terraform_data', { 'greenlight-environment': 'pr-7' }],
        ['terraform_data', { 'greenlight-environment': 'pr-7' }],
      ],
    );
    assert.ok(active.nextDriftCheck, 'an active environment has its next drift check due');

    // A release into it, held before its cutover: the environment lists it, and its lane is held.
    const { releaseId } = await h.api.startRelease(
      releaseRequest('web', 'v1', 'pr-7', { holdBeforeCutover: true }),
    );
    await waitForStage(h.api, releaseId, 'awaiting_go');
    assert.deepEqual(
      (await h.api.environments.status('pr-7')).releases.map((r) => r.releaseId),
      [releaseId],
    );

    // Maintenance while it runs: the policy says no, with its explanation, and nothing changes.
    await cli(['env', 'maintenance', 'start', 'pr-7', '--by', 'alice', '--reason', 'db upgrade']);
    const blocked = await until('pr-7', (s) => s.blocked !== null, 'maintenance blocked');
    assert.equal(blocked.state, 'active');
    assert.match(blocked.blocked?.explanation ?? '', /no_active_deployments/);

    await h.api.go(releaseId, { by: 'alice' });
    const released = await h.api.wait(releaseId);
    assert.equal(released.stage, 'completed', released.reason ?? '');
    assert.deepEqual(await bind.resolver.resolveCname(`web.pr-7.${ZONE}`), [`web-v1.pr-7.${ZONE}`]);

    // Now maintenance, and a release is refused, saying why and since when.
    await cli(['env', 'maintenance', 'start', 'pr-7', '--by', 'alice', '--reason', 'db upgrade']);
    await until('pr-7', (s) => s.state === 'maintenance', 'maintenance');
    await assert.rejects(h.api.startRelease(releaseRequest('web', 'v2', 'pr-7')), {
      message:
        /^pr-7 is in maintenance since \d\d:\d\d UTC \(start_maintenance by alice: db upgrade\); releases need it active$/,
    });
    await cli(['env', 'maintenance', 'end', 'pr-7', '--by', 'alice']);
    await until('pr-7', (s) => s.state === 'active' && !s.running, 'active again');

    // Drift: the alias moved with a plain nsupdate is found, shown, and mended by a reconcile.
    await nsupdate(
      `update delete web.pr-7.${ZONE} CNAME\nupdate add web.pr-7.${ZONE} 60 CNAME elsewhere.${ZONE}`,
    );
    await cli(['env', 'drift', 'pr-7']);
    const drifted = await until('pr-7', (s) => s.lastDrift?.clean === false, 'drift found');
    assert.deepEqual(drifted.lastDrift?.findings, [
      `dns: web.pr-7.${ZONE} points at elsewhere.${ZONE}; the CMDB says web-v1.pr-7.${ZONE} is live`,
    ]);
    assert.match(await cli(['env', 'status', 'pr-7']), /\ndrift {7}\S+: found\n {2}dns: web\.pr-7\./);
    const logged = await h.cmdb.environmentChanges('pr-7');
    assert.ok(logged.some((c) => c.transition === 'drift_check' && /elsewhere/.test(c.note ?? '')));

    await cli(['env', 'reconcile', 'pr-7', '--by', 'alice']);
    await until('pr-7', (s) => s.approvals.pending === 'reconcile', 'reconcile waits for approval');
    await cli(['env', 'approve', 'pr-7', '--approver', 'bob']);
    const mended = await until(
      'pr-7',
      (s) => s.lastDrift?.clean === true && s.history.at(-1)?.transition === 'reconcile',
      'drift mended',
    );
    assert.equal(mended.state, 'active');
    assert.deepEqual(await bind.resolver.resolveCname(`web.pr-7.${ZONE}`), [`web-v1.pr-7.${ZONE}`]);

    // Decommissioned with approval (the template is protected); then nothing of it is left.
    await cli(['env', 'decommission', 'pr-7', '--by', 'alice', '--reason', 'merged']);
    await until('pr-7', (s) => s.approvals.pending === 'decommission', 'decommission waits for approval');
    await cli(['env', 'approve', 'pr-7', '--approver', 'bob']);
    const ended = await until('pr-7', (s) => s.leakCheck !== null, 'leak check');
    const lifecycleMs = Date.now() - started;
    assert.equal(ended.state, 'decommissioned');
    assert.deepEqual(ended.leakCheck, { clean: true, leftovers: [] });
    assert.deepEqual(await stateWorkspaces(), []);
    assert.deepEqual(await recordsOf('pr-7'), []);
    assert.equal((await h.cmdb.environment('pr-7'))?.state, 'decommissioned');
    assert.deepEqual(await h.cmdb.deploymentsIn('pr-7', 'running'), []);
    t.diagnostic(`provisioned in ${provisionedMs} ms; whole lifecycle in ${lifecycleMs} ms`);
  });

  it('stays blocked when its module fails to apply, and a retry compensates, then provisions it', async () => {
    await cli(['env', 'create', 'pr-8', '--template', 'fragile']);
    const blocked = await until('pr-8', (s) => s.blocked !== null, 'blocked');
    assert.equal(blocked.state, 'provisioning');
    assert.equal(blocked.blocked?.transition, 'provision');
    assert.match(blocked.blocked?.reason ?? '', /terraform\.apply.*(apply failed|local-exec)/s);

    await writeFile(marker, '');
    await cli(['env', 'retry', 'pr-8']);
    const active = await until('pr-8', (s) => s.state === 'active' && !s.running, 'active');
    assert.deepEqual(
      active.history.map((x) => `${x.transition}${x.note ? ` (${x.note})` : ''}`),
      ['provision (retry)', 'verify'],
    );
    assert.deepEqual(
      (await stateWorkspaces()).map((w) => w.name),
      ['environment_pr-8'],
    );

    await cli(['env', 'decommission', 'pr-8']);
    const ended = await until('pr-8', (s) => s.leakCheck !== null, 'leak check');
    assert.deepEqual(ended.leakCheck, { clean: true, leftovers: [] });
    assert.deepEqual(await stateWorkspaces(), []);
  });

  it('names what a decommissioning left behind: resources in the module state and DNS records', async () => {
    await cli(['env', 'create', 'pr-10', '--template', 'forgetful']);
    await until('pr-10', (s) => s.state === 'active' && !s.running, 'active');
    await nsupdate(`update add db.pr-10.${ZONE} 60 A 192.0.2.10`);
    await cli(['env', 'decommission', 'pr-10']);
    const ended = await until('pr-10', (s) => s.leakCheck !== null, 'leak check');
    assert.equal(ended.state, 'gone');
    assert.deepEqual(ended.leakCheck, {
      clean: false,
      leftovers: [
        'terraform: module.environment.terraform_data.network',
        'terraform: module.environment.terraform_data.shared',
        `dns: db.pr-10.${ZONE}`,
      ],
    });
    assert.match(
      await cli(['env', 'status', 'pr-10']),
      /\nleak check {2}left behind:\n {2}terraform: module\./,
    );
    // What the forgetful flow left, removed by hand, so the next test starts clean.
    await nsupdate(`update delete db.pr-10.${ZONE} A`);
    await new TerraformEnvironment({
      binary: iacBinary(),
      moduleDir: ENVIRONMENT_MODULE,
      workDir: join(h.stateDir, 'manual'),
      backend: postgresStateBackend(postgres.url),
      searchPath: process.env.PATH ?? '',
    }).destroy('pr-10');
    assert.deepEqual(await stateWorkspaces(), []);
  });

  it('is decommissioned by itself when its TTL runs out, module and all', async () => {
    await writeFile(marker, ''); // the fragile module applies
    await cli(['env', 'create', 'pr-9', '--template', 'fragile', '--ttl', '4s']);
    const active = await until('pr-9', (s) => s.state === 'active' && !s.running, 'active');
    assert.equal(active.ttl?.isExpiringSoon, true, 'the status warns ahead of expiry');
    assert.deepEqual(
      (await stateWorkspaces()).map((w) => w.name),
      ['environment_pr-9'],
    );
    const ended = await until('pr-9', (s) => s.leakCheck !== null, 'decommissioned by its TTL');
    assert.equal(ended.state, 'decommissioned');
    assert.deepEqual(ended.history.at(-1), {
      transition: 'decommission',
      from: 'active',
      to: 'decommissioned',
      at: ended.history.at(-1)!.at,
      by: 'ttl',
      note: 'the TTL ran out',
    });
    assert.deepEqual(ended.leakCheck, { clean: true, leftovers: [] });
    assert.deepEqual(await stateWorkspaces(), []);
  });
});
