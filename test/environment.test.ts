// An ephemeral environment's life through the real CLI, on a real dev server with the local
// providers (embedded DNS store, local processes, the PGlite CMDB).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Harness } from '../harness/release';
import { releaseRequest, startHarness } from '../harness/release';
import { targetEnvironment } from '../src/config/resolve';
import type { EnvironmentStatus } from '../src/shared/environment';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { temporalCliPath } from '../harness/temporal';
import { cliEnvironment, runCli } from './helpers/cli';
import { waitForStage } from './helpers/wait';

const run = promisify(execFile);
let h: Harness;
let env: NodeJS.ProcessEnv;

before(async () => {
  h = await startHarness();
  env = await cliEnvironment(h);
});

after(async () => {
  await h?.stop();
});

const cli = (args: string[]) => runCli(args, env);

async function status(name: string): Promise<EnvironmentStatus> {
  const run = await cli(['env', 'status', name, '--json']);
  assert.equal(run.code, 0, run.stderr);
  return JSON.parse(run.stdout) as EnvironmentStatus;
}

async function until(name: string, predicate: (s: EnvironmentStatus) => boolean, what: string) {
  let last: EnvironmentStatus | undefined;
  for (let i = 0; i < 100; i++) {
    last = await h.api.environments.status(name);
    if (predicate(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}: ${JSON.stringify(last)}`);
}

describe('an ephemeral environment through the CLI', () => {
  it('is created active, refuses what its flow does not offer, and is decommissioned and retired', async () => {
    const create = await cli(['env', 'create', 'pr-142', '--ttl', '72h', '--by', 'alice']);
    assert.equal(create.code, 0, create.stderr);
    assert.equal(create.stdout, 'created environment pr-142 (ephemeral, flow ephemeral)\n');
    const again = await cli(['env', 'create', 'pr-142']);
    assert.equal(again.code, 1);
    assert.equal(again.stderr, 'greenlight: environment pr-142 exists already\n');

    const active = await until('pr-142', (s) => s.state === 'active' && !s.running, 'active');
    assert.deepEqual(
      active.history.map((x) => x.transition),
      ['provision', 'verify'],
    );
    assert.equal(active.ttl?.isExpiringSoon, false);
    assert.equal((await h.cmdb.environment('pr-142'))?.template, 'ephemeral');
    const text = await cli(['env', 'status', 'pr-142']);
    assert.match(text.stdout, /^environment pr-142 {2}\(ephemeral, flow ephemeral, created by alice at /);
    assert.match(text.stdout, /\nttl {9}decommissioned at /);

    // The ephemeral flow has no maintenance: refused, naming what it offers, and nothing changes.
    const refused = await cli(['env', 'maintenance', 'start', 'pr-142']);
    assert.equal(refused.code, 1);
    assert.equal(
      refused.stderr,
      'greenlight: pr-142 is active: no start_maintenance from here; from here: reconcile, decommission\n',
    );

    // A release into it works as into dev, the target its template is like.
    const release = await h.api.startRelease(releaseRequest('web', 'v1', 'pr-142'));
    const released = await h.api.wait(release.releaseId);
    assert.equal(released.stage, 'completed', released.reason ?? '');
    assert.equal(released.live?.hostname, 'web-v1.pr-142.test.internal');

    const list = await cli(['env', 'list', '--json']);
    assert.ok((JSON.parse(list.stdout) as { name: string }[]).some((e) => e.name === 'pr-142'));

    const decommission = await cli(['env', 'decommission', 'pr-142', '--reason', 'merged']);
    assert.equal(decommission.code, 0, decommission.stderr);
    const done = await until('pr-142', (s) => s.state === 'decommissioned', 'decommissioned');
    assert.equal(done.history.at(-1)?.note, 'merged');
    assert.equal((await h.cmdb.environment('pr-142'))?.state, 'decommissioned');
    // Every transition is a row of the CMDB's change log.
    assert.deepEqual(
      (await h.cmdb.environmentChanges('pr-142'))
        .map((c) => `${c.transition} ${c.from}→${c.to} ${c.outcome}`)
        .reverse(),
      [
        'provision provisioning→testing done',
        'verify testing→active done',
        'decommission active→decommissioned done',
      ],
    );
    // Its deployment was torn down and its names purged.
    assert.deepEqual(await h.cmdb.deploymentsIn('pr-142', 'running'), []);
    assert.equal(await h.dns.get('web.pr-142.test.internal'), null);
    assert.equal(await h.infra.pidOf('web-v1.pr-142.test.internal'), null);
    assert.equal((await status('pr-142')).state, 'decommissioned');
  });

  it("takes a configured target's environment through maintenance and back, refusing releases meanwhile", async () => {
    await h.api.environments.create(targetEnvironment(h.config, 'dev'));
    await until('dev', (s) => s.state === 'active' && !s.running, 'active');
    const start = await cli(['env', 'maintenance', 'start', 'dev', '--reason', 'db upgrade']);
    assert.equal(start.code, 0, start.stderr);
    await until('dev', (s) => s.state === 'maintenance', 'maintenance');
    // No release while it is in maintenance: refused before anything starts, saying why.
    const refusedRelease = await cli([
      'release',
      'start',
      '--service',
      'web',
      '--version',
      'v1',
      '--target',
      'dev',
    ]);
    assert.equal(refusedRelease.code, 1);
    assert.match(
      refusedRelease.stderr,
      /^greenlight: dev is in maintenance since \d\d:\d\d UTC \(start_maintenance by [^:]+: db upgrade\); releases need it active\n$/,
    );
    // A release started without the client asks too, and ends before anything is deployed.
    const direct = await h.client.workflow.start('blueGreenRelease', {
      taskQueue: h.taskQueue,
      workflowId: 'web-dev-direct-1',
      args: [releaseRequest('web', 'v9', 'dev')],
    });
    await assert.rejects(direct.result());
    const ended = await h.api.status('web-dev-direct-1');
    assert.equal(ended.stage, 'failed');
    assert.match(ended.reason ?? '', /^dev is in maintenance since .*; releases need it active$/);
    assert.equal(ended.green, null, 'nothing was deployed');
    const end = await cli(['env', 'maintenance', 'end', 'dev']);
    assert.equal(end.code, 0, end.stderr);
    await until('dev', (s) => s.state === 'active' && !s.running, 'active again');
    // Maintenance while a release runs is refused by the policy, with its explanation.
    const running = await h.api.startRelease(releaseRequest('web', 'v2', 'dev'));
    await waitForStage(h.api, running.releaseId, 'deploying');
    await h.api.environments.transition('dev', { on: 'start_maintenance', by: 'alice' });
    const blocked = await until('dev', (s) => s.blocked !== null, 'blocked');
    assert.equal(blocked.state, 'active');
    assert.match(blocked.blocked?.explanation ?? '', /no_active_deployments ✗/);
    assert.equal((await h.api.wait(running.releaseId)).stage, 'completed');
    // Any transition by name, with `env do`: one this flow does not offer here is refused, naming those it does.
    const unknown = await cli(['env', 'do', 'dev', 'end_maintenance']);
    assert.equal(unknown.code, 1);
    assert.equal(
      unknown.stderr,
      'greenlight: dev is active: no end_maintenance from here; from here: start_maintenance, reconcile, decommission\n',
    );
    const bad = await cli(['env', 'extend', 'dev', '--ttl', 'soon']);
    assert.equal(bad.code, 2, 'a malformed duration is bad usage');
    const noTtl = await cli(['env', 'extend', 'dev', '--ttl', '24h']);
    assert.equal(noTtl.stderr, 'greenlight: dev has no TTL to extend\n');
  });

  it('takes the same requests from the plain temporal CLI, as Updates and as Signals', async () => {
    const temporal = async (args: string[]) =>
      run(await temporalCliPath(), [...args, '--address', h.address, '--workflow-id', 'env-dev']).then(
        ({ stdout }) => ({ code: 0, stdout, stderr: '' }),
        (e: { code: number; stdout: string; stderr: string }) => e,
      );
    await until('dev', (s) => s.state === 'active' && !s.running, 'active');
    const update = await temporal([
      'workflow',
      'update',
      'execute',
      '--name',
      'transition',
      '--input',
      JSON.stringify({ on: 'start_maintenance', by: 'carol', reason: 'kernel' }),
    ]);
    assert.equal(update.code, 0, update.stderr);
    assert.match(update.stdout, /start_maintenance asked of dev/);
    await until('dev', (s) => s.state === 'maintenance', 'maintenance');
    // A refused Update: the reason, and nothing enters the history.
    const refusedUpdate = await temporal([
      'workflow',
      'update',
      'execute',
      '--name',
      'transition',
      '--input',
      JSON.stringify({ on: 'nope' }),
    ]);
    assert.notEqual(refusedUpdate.code, 0);
    assert.match(
      refusedUpdate.stderr,
      /dev is maintenance: no nope from here; from here: end_maintenance, decommission/,
    );
    // A Signal: judged when it arrives.
    const signal = await temporal([
      'workflow',
      'signal',
      '--name',
      'transition',
      '--input',
      JSON.stringify({ on: 'end_maintenance', by: 'carol' }),
    ]);
    assert.equal(signal.code, 0, signal.stderr);
    const active = await until('dev', (s) => s.state === 'active' && !s.running, 'active again');
    assert.deepEqual(
      active.history.slice(-2).map((x) => [x.transition, x.by, x.note ?? null]),
      [
        ['start_maintenance', 'carol', 'kernel'],
        ['end_maintenance', 'carol', null],
      ],
    );
  });
});
