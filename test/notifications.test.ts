// Webhooks told of releases, against a real HTTP receiver on loopback: what they get, how it is
// signed, how a failing receiver is retried, and that one that is down never holds a release up.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import type { Harness } from '../harness/release';
import { releaseRequest, startHarness, TEST_CONFIG } from '../harness/release';
import type { WebhookBody } from '../src/shared/notify';
import { replayAndRecord } from './helpers/histories';
import { freePort } from './helpers/postgres';
import { waitForStage } from './helpers/wait';

const SECRET = 'test-signing-key-not-a-real-one';
const SECRET_ENV = 'GREENLIGHT_TEST_WEBHOOK_SECRET';

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  raw: string;
  body: WebhookBody;
}

let h: Harness;
let receiver: Server;
const received: Received[] = [];
/** What the receiver answers next on a path (then 200). */
const answers = new Map<string, number[]>();
let downPort: number;

before(async () => {
  receiver = createServer((req, res) => {
    let raw = '';
    req.on('data', (d: Buffer) => (raw += d.toString()));
    req.on('end', () => {
      const path = req.url ?? '';
      received.push({ path, headers: req.headers, raw, body: JSON.parse(raw) as WebhookBody });
      const status = answers.get(path)?.shift() ?? 200;
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  downPort = await freePort(); // nobody listens there
  process.env[SECRET_ENV] = SECRET;
  process.env.GREENLIGHT_TEST_WEBHOOK_URL = `${base}/by-reference`;
  h = await startHarness({
    ...TEST_CONFIG,
    notifications: {
      webUiUrl: 'http://ui.example.test:8233/',
      webhooks: [
        {
          name: 'team-chat',
          url: `${base}/team-chat`,
          secret: { env: SECRET_ENV },
          events: ['approval_requested', 'completed', 'rolled_back', 'failed'],
          targets: ['stage'],
        },
        { name: 'flaky', url: `${base}/flaky`, events: ['completed'], targets: ['dev'], retryFor: '20s' },
        {
          name: 'secret-url',
          url: { env: 'GREENLIGHT_TEST_WEBHOOK_URL' },
          events: ['completed'],
          targets: ['dev'],
        },
        // A release that fails on dev (the broken service's check) is told to nobody listening.
        {
          name: 'gone',
          url: `http://127.0.0.1:${downPort}/hook`,
          events: ['failed'],
          targets: ['dev'],
          retryFor: '3s',
        },
      ],
    },
  });
});

after(async () => {
  await h?.stop();
  await new Promise((r) => receiver?.close(r));
});

async function receivedOn(path: string, count: number): Promise<Received[]> {
  for (let i = 0; i < 300; i++) {
    const got = received.filter((r) => r.path === path);
    if (got.length >= count) return got;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${path} received ${received.filter((r) => r.path === path).length} of ${count}`);
}

describe('webhook notifications, to a real HTTP receiver', () => {
  it('tells a webhook of the events it hears of on its targets, signed, with a Slack text and a link', async () => {
    const { releaseId } = await h.api.startRelease(releaseRequest('told', 'v1', 'stage'));
    await waitForStage(h.api, releaseId, 'awaiting_approval');
    const [asked] = await receivedOn('/team-chat', 1);
    const link = `http://ui.example.test:8233/namespaces/default/workflows/${releaseId}`;
    assert.deepEqual(
      { ...asked!.body, at: undefined },
      {
        text: `[greenlight] *told v1 → stage* waits for approval: 1 more approval (0 of 1 given) from anyone; expires at ${asked!.body.detail.split('expires at ')[1]} <${link}|${releaseId}>`,
        event: 'approval_requested',
        target: 'stage',
        service: 'told',
        version: 'v1',
        workflowId: releaseId,
        detail: asked!.body.detail,
        link,
        at: undefined,
      },
    );
    assert.match(asked!.body.detail, /^1 more approval \(0 of 1 given\) from anyone; expires at /);
    // The signature is over "<timestamp>.<body>", with the secret the configuration references.
    const timestamp = asked!.headers['x-greenlight-timestamp'] as string;
    assert.ok(Math.abs(Number(timestamp) - Date.now() / 1000) < 60, 'a current timestamp');
    const expected = createHmac('sha256', SECRET).update(`${timestamp}.${asked!.raw}`).digest('hex');
    assert.equal(asked!.headers['x-greenlight-signature'], `sha256=${expected}`);
    assert.equal(asked!.headers['x-greenlight-event'], 'approval_requested');
    assert.equal(asked!.headers['content-type'], 'application/json');

    await h.api.approve(releaseId, { approver: 'bob' });
    assert.equal((await h.api.wait(releaseId)).stage, 'completed');
    const [, done] = await receivedOn('/team-chat', 2);
    assert.equal(done!.body.event, 'completed');
    assert.equal(done!.body.text, `[greenlight] *told v1 → stage* completed <${link}|${releaseId}>`);
    // No secret in any history: not in the release's, not in the notifications'.
    for (const id of [releaseId, `notify-${releaseId}-1`, `notify-${releaseId}-2`]) {
      const history = JSON.stringify(await h.client.workflow.getHandle(id).fetchHistory());
      assert.ok(!history.includes(SECRET), `${id} has no secret`);
    }
    // The release's history replays (and is kept as a fixture: it names its notifications).
    await replayAndRecord(h.client, [['told', releaseId]], 'notify-');
    // Nothing else heard of it: the other webhooks are for other targets.
    assert.deepEqual(
      received.filter((r) => r.body.workflowId === releaseId).map((r) => r.path),
      ['/team-chat', '/team-chat'],
    );
  });

  it('retries a receiver that fails (same delivery id), and reaches a URL given by reference', async () => {
    answers.set('/flaky', [503, 500]);
    const { releaseId } = await h.api.startRelease(releaseRequest('retried', 'v1', 'dev'));
    assert.equal((await h.api.wait(releaseId)).stage, 'completed');
    const attempts = (await receivedOn('/flaky', 3)).filter((r) => r.body.workflowId === releaseId);
    assert.equal(attempts.length, 3);
    assert.equal(new Set(attempts.map((a) => a.headers['x-greenlight-delivery'])).size, 1);
    assert.equal(attempts[0]!.headers['x-greenlight-signature'], undefined, 'unsigned without a secret');
    const [byReference] = await receivedOn('/by-reference', 1);
    assert.equal(byReference!.body.workflowId, releaseId);
    const reports = await h.client.workflow.getHandle(`notify-${releaseId}-1`).result();
    assert.deepEqual(
      [...reports].sort((a, b) => a.webhook.localeCompare(b.webhook)),
      [
        { webhook: 'flaky', delivered: true, detail: 'HTTP 200' },
        { webhook: 'secret-url', delivered: true, detail: 'HTTP 200' },
      ],
    );
  });

  it('never holds up or fails a release when a receiver is down, and reports what was not delivered', async () => {
    const { releaseId } = await h.api.startRelease(releaseRequest('broken', 'v1', 'dev'));
    const ended = await h.api.wait(releaseId);
    assert.equal(ended.stage, 'failed', 'the release ends by itself');
    await assert.rejects(h.client.workflow.getHandle(`notify-${releaseId}-1`).result(), (e: unknown) => {
      assert.ok(e instanceof WorkflowFailedError);
      assert.match(
        e.cause?.message ?? '',
        /^not delivered to gone \(.*webhook gone did not answer \(ECONNREFUSED\).*\)$/,
      );
      assert.ok(!(e.cause?.message ?? '').includes(`${downPort}/hook`), 'the URL is not repeated');
      return true;
    });
  });
});
