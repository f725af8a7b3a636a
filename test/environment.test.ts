// An ephemeral environment's life through the real CLI, on a real dev server with the local
// providers (embedded DNS store, local processes, the PGlite CMDB).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Harness } from '../harness/release';
import { startHarness } from '../harness/release';
import { targetEnvironment } from '../src/config/resolve';
import type { EnvironmentStatus } from '../src/shared/environment';
import { cliEnvironment, runCli } from './helpers/cli';

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
      'greenlight: pr-142 is active: no start_maintenance from here; from here: decommission\n',
    );

    const list = await cli(['env', 'list', '--json']);
    assert.ok((JSON.parse(list.stdout) as { name: string }[]).some((e) => e.name === 'pr-142'));

    const decommission = await cli(['env', 'decommission', 'pr-142', '--reason', 'merged']);
    assert.equal(decommission.code, 0, decommission.stderr);
    const done = await until('pr-142', (s) => s.state === 'decommissioned', 'decommissioned');
    assert.equal(done.history.at(-1)?.note, 'merged');
    assert.equal((await h.cmdb.environment('pr-142'))?.state, 'decommissioned');
    assert.equal((await status('pr-142')).state, 'decommissioned');
  });

  it('takes a configured flow with maintenance through maintenance and back', async () => {
    await h.api.environments.create({ ...targetEnvironment(h.config, 'dev'), name: 'qa-env' });
    await until('qa-env', (s) => s.state === 'active' && !s.running, 'active');
    const start = await cli(['env', 'maintenance', 'start', 'qa-env', '--reason', 'db upgrade']);
    assert.equal(start.code, 0, start.stderr);
    await until('qa-env', (s) => s.state === 'maintenance', 'maintenance');
    const end = await cli(['env', 'maintenance', 'end', 'qa-env']);
    assert.equal(end.code, 0, end.stderr);
    await until('qa-env', (s) => s.state === 'active' && !s.running, 'active again');
    const bad = await cli(['env', 'extend', 'qa-env', '--ttl', 'soon']);
    assert.equal(bad.code, 2, 'a malformed duration is bad usage');
    const noTtl = await cli(['env', 'extend', 'qa-env', '--ttl', '24h']);
    assert.equal(noTtl.stderr, 'greenlight: qa-env has no TTL to extend\n');
  });
});
