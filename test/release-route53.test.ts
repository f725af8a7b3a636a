import assert from 'node:assert/strict';
import { ListResourceRecordSetsCommand, Route53Client } from '@aws-sdk/client-route-53';
import { after, before, describe, it } from 'node:test';
import type { ConfigInput } from '../src/config/schema';
import { startMoto } from './helpers/moto';
import type { MotoServer } from './helpers/moto';
import type { Harness } from '../harness/release';
import { releaseRequest, startHarness, TEST_CONFIG } from '../harness/release';
import { workerLog } from '../harness/temporal';
import { readableText } from './helpers/inspect';

let moto: MotoServer;
let h: Harness;
let zoneId: string;

before(async () => {
  moto = await startMoto();
  zoneId = await moto.createZone('aws.test');
  // The provider takes its credentials from the AWS SDK's default chain: here, the environment.
  process.env.AWS_ACCESS_KEY_ID = moto.credentials.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = moto.credentials.secretAccessKey;
  const config: ConfigInput = {
    ...TEST_CONFIG,
    targets: {
      aws: {
        zone: 'aws.test',
        policy: 'tests_passed',
        bake: '300ms',
        healthCheckInterval: '100ms',
        terminationWait: '100ms',
        recordTtl: 1,
        dns: { kind: 'route53', hostedZoneId: zoneId, endpoint: moto.endpoint, region: 'eu-west-1' },
      },
    },
  };
  h = await startHarness(config);
});

after(async () => {
  await h?.stop();
  await moto?.stop();
});

describe('a release whose DNS is Route 53 (a real Route 53-compatible server)', () => {
  it('cuts the alias over with a compare-and-swap change batch, and leaks no AWS key', async () => {
    for (const version of ['v1', 'v2']) {
      const { releaseId } = await h.api.startRelease(releaseRequest('web', version, 'aws'));
      const done = await h.api.wait(releaseId);
      assert.equal(done.stage, 'completed', done.reason ?? '');
    }
    const client = new Route53Client({
      region: 'eu-west-1',
      endpoint: moto.endpoint,
      credentials: moto.credentials,
    });
    const sets = (await client.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId })))
      .ResourceRecordSets!;
    client.destroy();
    const records = sets
      .filter((s) => s.Type === 'CNAME' || s.Type === 'A')
      .map((s) => `${s.Name} ${s.Type} ${s.ResourceRecords?.[0]?.Value}`);
    assert.deepEqual(records.sort(), [
      'web-v2.aws.aws.test. A 127.0.0.1',
      'web.aws.aws.test. CNAME web-v2.aws.aws.test.',
    ]);

    for (const r of await h.api.list({ service: 'web' })) {
      const history = readableText(await h.client.workflow.getHandle(r.releaseId).fetchHistory());
      assert.ok(history.includes('web-v'), 'the history is the real one');
      assert.ok(!history.includes(moto.credentials.secretAccessKey), 'no secret key in the history');
      assert.ok(!history.includes(moto.credentials.accessKeyId), 'no access key id in the history');
    }
    assert.ok(workerLog.length > 0);
    assert.ok(!workerLog.join('\n').includes(moto.credentials.secretAccessKey), 'no secret key in the logs');
  });
});
