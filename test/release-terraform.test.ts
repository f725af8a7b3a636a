import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ConfigInput } from '../src/config/schema';
import { destroyModuleDeployments, EXAMPLE_MODULE, iacBinary } from './helpers/iac';
import type { Harness } from '../harness/release';
import { releaseRequest, startHarness, TEST_CONFIG } from '../harness/release';
import { getJson } from './helpers/inspect';

let h: Harness;

before(async () => {
  const config: ConfigInput = {
    ...TEST_CONFIG,
    targets: {
      tf: {
        policy: 'tests_passed',
        bake: '500ms',
        healthCheckInterval: '100ms',
        terminationWait: '200ms',
        recordTtl: 1,
        infra: { kind: 'terraform', module: EXAMPLE_MODULE, binary: iacBinary() },
      },
    },
  };
  h = await startHarness(config);
});

after(async () => {
  // Destroy what the module created, with the same tool, before the state dir goes.
  if (h) await destroyModuleDeployments(h.stateDir, 'tf');
  await h?.stop();
});

describe('a release whose infrastructure is a Terraform/OpenTofu module', () => {
  it('deploys green with a saved plan, cuts over, and destroys blue with the same tool', async () => {
    const first = await h.api.wait((await h.api.startRelease(releaseRequest('web', 'v1', 'tf'))).releaseId);
    assert.equal(first.stage, 'completed', first.reason ?? '');
    assert.deepEqual(first.green?.plan, { add: 1, change: 0, destroy: 0 });

    const { releaseId } = await h.api.startRelease(releaseRequest('web', 'v2', 'tf'));
    const done = await h.api.wait(releaseId);
    assert.equal(done.stage, 'completed', done.reason ?? '');
    assert.equal(done.previous?.version, 'v1');
    assert.equal(done.isBlueTerminated, true);
    assert.deepEqual(await getJson(`${done.live!.endpoint}/version`), { service: 'web', version: 'v2' });
    await assert.rejects(fetch(`${first.live!.endpoint}/healthz`), 'blue was destroyed by terraform');
    assert.equal((await h.dns.get('web.tf.test.internal'))?.value, 'web-v2.tf.test.internal');
  });
});
