import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Transition } from '../src/breaker/breaker';
import type { ConfigInput } from '../src/config/schema';
import { startBind } from './helpers/bind';
import type { BindServer } from './helpers/bind';
import { startTcpProxy } from './helpers/proxy';
import type { TcpProxy } from './helpers/proxy';
import type { Harness } from '../harness/release';
import { releaseRequest, startHarness, TEST_CONFIG } from '../harness/release';
import { waitFor } from './helpers/wait';

let bind: BindServer;
let proxy: TcpProxy;
let h: Harness;
const transitions: Transition[] = [];

before(async () => {
  bind = await startBind('greenlight.test');
  proxy = await startTcpProxy(bind.port);
  const config: ConfigInput = {
    ...TEST_CONFIG,
    zone: 'greenlight.test',
    targets: {
      dev: {
        policy: 'tests_passed',
        bake: '300ms',
        healthCheckInterval: '100ms',
        terminationWait: '100ms',
        recordTtl: 1,
        dns: {
          kind: 'rfc2136',
          server: `127.0.0.1:${proxy.port}`,
          tsig: { name: bind.keyName, secret: { env: 'TSIG_SECRET' } },
          timeout: '2s',
        },
      },
    },
    // The documented defaults but a 2 s open period, so the test sees several trials quickly.
    breakers: { dependencies: { dns: { waitDuration: '2s' } } },
  };
  h = await startHarness(config, { env: { TSIG_SECRET: bind.secret } });
  h.breakers.listen({ onTransition: (t) => transitions.push(t) });
});

after(async () => {
  await h?.stop();
  await proxy?.close();
  await bind?.stop();
});

describe('a DNS outage during concurrent releases', () => {
  it('opens the breaker, keeps calls off the dead server, and completes the releases when it returns', async (t) => {
    proxy.down();
    const services = ['alpha', 'bravo', 'charlie'];
    const ids = await Promise.all(
      services.map(
        async (service) => (await h.api.startRelease(releaseRequest(service, 'v1', 'dev'))).releaseId,
      ),
    );

    // The releases say what holds them back, in their status and the UI's details.
    const blocked = await waitFor(h.api, ids[0]!, (s) => s.blockedBy !== null, 'a breaker notice', 20_000);
    assert.equal(blocked.blockedBy!.breaker, 'dns:dev');
    assert.match(blocked.blockedBy!.message, /circuit breaker dns:dev is (open|half-open)/);
    const description = await h.client.workflow.getHandle(ids[0]!).describe();
    assert.ok(description.status.name === 'RUNNING');

    // Let the breaker go through a few open periods (2 s each) while the server stays down.
    await new Promise((r) => setTimeout(r, 7_000));
    const trials = transitions.filter((t) => t.breaker === 'dns:dev' && t.to === 'half_open').length;
    const received = proxy.callsWhileDown();
    assert.ok(trials >= 2, `several trials were made (${trials})`);
    assert.ok(
      received <= 3 + trials,
      `the dead server received ${received} calls; at most the threshold (3) plus the ${trials} trials`,
    );
    assert.ok(received >= 3, 'the breaker opened on real failures');
    t.diagnostic(`while down: ${received} calls reached the server, ${trials} trials`);

    proxy.up();
    const returnedAt = Date.now();
    for (const id of ids) {
      const done = await h.api.wait(id);
      assert.equal(done.stage, 'completed', done.reason ?? '');
      assert.equal(done.blockedBy, null, 'the notice is cleared once the release moves on');
    }
    t.diagnostic(`all releases completed ${Date.now() - returnedAt} ms after the server returned`);
    assert.equal(h.breakers.get('dns:dev').state, 'closed');
    // A notice per breaker state a release waited in, not one per retried attempt.
    let allNotices = 0;
    for (const id of ids) {
      const history = await h.client.workflow.getHandle(id).fetchHistory();
      const notices = history.events!.filter(
        (e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'breakerNotice',
      ).length;
      assert.ok(notices <= 2 * trials + 2, `${id} got ${notices} notices in ${trials} trials`);
      allNotices += notices;
    }
    assert.ok(allNotices >= 1, 'the releases were told');
    for (const service of services) {
      assert.deepEqual(await bind.resolver.resolveCname(`${service}.dev.greenlight.test`), [
        `${service}-v1.dev.greenlight.test`,
      ]);
    }
  });
});
