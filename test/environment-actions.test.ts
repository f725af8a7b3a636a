// The executors of environment flows, and the drift and leak checks, against real parts: Knot DNS (RFC 2136 + TSIG), local
// processes, and the embedded PGlite CMDB.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../src/activities';
import { parseOrThrow } from '../src/config/errors';
import { Config } from '../src/config/schema';
import type { EnvironmentActionResult } from '../src/shared/environment';
import type { FlowAction } from '../src/shared/flow';
import { composeDependencies } from '../src/worker';
import type { Dependencies } from '../src/worker';
import { isProcessAlive } from './helpers/inspect';
import { startKnot } from './helpers/knot';
import type { KnotServer } from './helpers/knot';

let knot: KnotServer;
let stateDir: string;
let deps: Dependencies;

before(async () => {
  knot = await startKnot();
  stateDir = await mkdtemp(join(tmpdir(), 'greenlight-env-actions-'));
  const config = parseOrThrow(
    Config,
    {
      zone: knot.zone,
      targets: {
        e1: {
          dns: {
            kind: 'rfc2136',
            server: `${knot.host}:${knot.port}`,
            tsig: { name: knot.keyName, secret: { env: 'GREENLIGHT_TSIG_SECRET' } },
          },
        },
      },
      checks: [{ name: 'health', path: '/healthz' }],
      healthCheck: { name: 'health', path: '/healthz' },
    },
    'test config',
  );
  deps = await composeDependencies(config, stateDir, {
    searchPath: process.env.PATH ?? '',
    env: { GREENLIGHT_TSIG_SECRET: knot.secret, PRESENT_SECRET: 'not shown' },
  });
});

after(async () => {
  await deps?.close();
  await knot?.stop();
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

async function act(action: FlowAction, state = 'provisioning'): Promise<EnvironmentActionResult> {
  const { runEnvironmentAction } = createActivities(deps.deps);
  return new MockActivityEnvironment().run(runEnvironmentAction, {
    environment: 'e1',
    action,
    item: { template: 'ephemeral', state, ttlExpiresAt: null },
  });
}

/** The drift check or the leak check of e1, as the workflow runs it. */
async function survey(name: 'checkEnvironmentDrift' | 'checkEnvironmentLeaks'): Promise<unknown> {
  const activity = createActivities(deps.deps)[name];
  return new MockActivityEnvironment().run(activity, { environment: 'e1', template: 'target' });
}

describe('environment actions on real parts', () => {
  it('probes DNS through a real server, leaving nothing behind', async () => {
    const result = await act({ run: 'dns.probe' });
    assert.deepEqual(result.facts, { network_configured: true });
    assert.equal(await deps.dns.forTarget('e1').get(`greenlight-probe.e1.${knot.zone}`), null);
  });

  it('registers the environment in the CMDB, tears its deployments down, purges its names, and retires it', async () => {
    assert.deepEqual((await act({ run: 'cmdb.register' })).facts, { registered: true });
    assert.equal((await deps.deps.cmdb.environment('e1'))?.state, 'provisioning');

    // A deployment that runs: a real process, its record on the DNS server, live in the CMDB.
    const hostname = `web-v1.e1.${knot.zone}`;
    const deployment = await deps.deps
      .infra('e1')
      .deploy({ service: 'web', version: 'v1', target: 'e1', hostname, releaseId: 'r1' });
    const pid = await deps.localInfra.pidOf(hostname);
    assert.ok(pid && isProcessAlive(pid));
    const dns = deps.dns.forTarget('e1');
    await dns.upsert({ name: hostname, type: 'A', value: '127.0.0.1', ttl: 5 });
    await dns.upsert({ name: `web.e1.${knot.zone}`, type: 'CNAME', value: hostname, ttl: 5 });
    await dns.upsert({ name: `other.elsewhere.${knot.zone}`, type: 'A', value: '127.0.0.1', ttl: 5 });
    await deps.deps.cmdb.upsertDeployment({
      ...deployment,
      colour: 'green',
      status: 'live',
      releaseId: 'r1',
      updatedAt: new Date().toISOString(),
    });

    // No drift while the alias leads to the live deployment; drift once it does not, mended by dns.reconcile.
    assert.deepEqual(await survey('checkEnvironmentDrift'), { clean: true, findings: [] });
    await dns.upsert({ name: `web.e1.${knot.zone}`, type: 'CNAME', value: `elsewhere.${knot.zone}`, ttl: 5 });
    assert.deepEqual(await survey('checkEnvironmentDrift'), {
      clean: false,
      findings: [
        `dns: web.e1.${knot.zone} points at elsewhere.${knot.zone}; the CMDB says ${hostname} is live`,
      ],
    });
    assert.equal(
      (await act({ run: 'dns.reconcile' }, 'active')).detail,
      '1 of 1 alias(es) pointed back at their live deployment',
    );
    assert.equal((await dns.get(`web.e1.${knot.zone}`))?.value, hostname);
    assert.deepEqual(await survey('checkEnvironmentDrift'), { clean: true, findings: [] });

    // Before decommissioning, the leak check names everything of the environment.
    assert.deepEqual(await survey('checkEnvironmentLeaks'), {
      clean: false,
      leftovers: [
        `dns: ${hostname}`,
        `dns: web.e1.${knot.zone}`,
        `cmdb: deployment ${hostname} is still live`,
        `instance: ${hostname} still runs`,
        'cmdb: the item of e1 is provisioning, not retired',
      ],
    });

    assert.equal(
      (await act({ run: 'deployments.teardown' }, 'decommissioning')).detail,
      '1 deployment(s) torn down',
    );
    assert.equal(isProcessAlive(pid), false, 'the instance is gone');
    assert.equal(await dns.get(hostname), null, "the deployment's record is gone");
    assert.deepEqual(await deps.deps.cmdb.deploymentsIn('e1', 'running'), []);

    assert.equal((await act({ run: 'dns.purge' }, 'decommissioning')).detail, '1 record(s) deleted');
    assert.equal(await dns.get(`web.e1.${knot.zone}`), null, 'the alias is gone');
    assert.notEqual(await dns.get(`other.elsewhere.${knot.zone}`), null, "another environment's name stays");

    await act({ run: 'cmdb.retire' }, 'decommissioning');
    const retired = await deps.deps.cmdb.environment('e1');
    assert.equal(retired?.state, 'decommissioned');
    assert.ok(retired?.decommissionedAt);
    assert.deepEqual(await survey('checkEnvironmentLeaks'), { clean: true, leftovers: [] });
  });

  it('names the secrets that do not resolve, never their values, and fails a command that exits non-zero', async () => {
    await assert.rejects(
      act({
        run: 'secrets.verify',
        with: { env: ['PRESENT_SECRET', 'MISSING_SECRET'], files: ['/nonexistent/key.pem'] },
      }),
      (e: Error) => {
        assert.match(
          e.message,
          /secrets not available: environment variable MISSING_SECRET, file \/nonexistent\/key\.pem/,
        );
        assert.doesNotMatch(e.message, /not shown/);
        return true;
      },
    );
    assert.deepEqual((await act({ run: 'secrets.verify', with: { env: ['PRESENT_SECRET'] } })).facts, {
      config_valid: true,
      secrets_available: true,
    });
    await assert.rejects(
      act({ run: 'command.run', with: { command: [process.execPath, '-e', 'process.exit(3)'] } }),
      /exited 3/,
    );
    assert.deepEqual(
      (await act({ run: 'command.run', with: { command: [process.execPath, '-e', '0'] } })).facts,
      {
        command_succeeded: true,
      },
    );
  });
});
