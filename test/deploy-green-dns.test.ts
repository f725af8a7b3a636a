import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../src/activities';
import { parseOrThrow } from '../src/config/errors';
import { Config } from '../src/config/schema';
import { composeDependencies } from '../src/worker';
import type { Dependencies } from '../src/worker';
import type { Deployment } from '../src/shared/release';
import { iacBinary } from './helpers/iac';
import { startKnot } from './helpers/knot';
import type { KnotServer } from './helpers/knot';

const IPV6_MODULE = resolve(__dirname, '..', '..', 'test', 'fixtures', 'ipv6-endpoint');

let knot: KnotServer;
let stateDir: string;
let providers: Dependencies;

before(async () => {
  knot = await startKnot();
  stateDir = await mkdtemp(join(tmpdir(), 'greenlight-deploy-'));
  const config = parseOrThrow(
    Config,
    {
      zone: knot.zone,
      targets: {
        v6: {
          infra: { kind: 'terraform', module: IPV6_MODULE, binary: iacBinary() },
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
  providers = await composeDependencies(config, stateDir, {
    searchPath: process.env.PATH ?? '',
    env: { GREENLIGHT_TSIG_SECRET: knot.secret },
  });
});

after(async () => {
  await providers?.close();
  await knot?.stop();
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

describe('deploying green behind an IPv6 endpoint', () => {
  it('publishes an AAAA record of the bare address that a resolver answers', async () => {
    const activities = createActivities(providers.deps);
    const deployGreen = activities.deployGreen;
    const deployment = await new MockActivityEnvironment().run<
      Parameters<typeof deployGreen>,
      Deployment,
      typeof deployGreen
    >(deployGreen, {
      service: 'web',
      target: 'v6',
      zone: knot.zone,
      releaseId: 'release-1',
      version: 'v2',
      ttl: 30,
    });
    assert.equal(deployment.endpoint, 'http://[2001:db8::1]:8080/');
    assert.equal(deployment.hostname, `web-v2.v6.${knot.zone}`);
    assert.deepEqual(await knot.resolver.resolve6(deployment.hostname), ['2001:db8::1']);
    assert.deepEqual(await providers.dns.forTarget('v6').get(deployment.hostname), {
      name: deployment.hostname,
      type: 'AAAA',
      value: '2001:db8::1',
      ttl: 30,
    });
  });
});
