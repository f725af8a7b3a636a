import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { startAdminServer } from '../src/admin';
import type { AdminServer } from '../src/admin';
import { isDependency } from '../src/breaker/registry';
import type { BreakerView } from '../src/breaker/registry';
import { breakerNoticeSignal } from '../src/shared/messages';
import type { Harness } from '../harness/release';
import { releaseRequest, startHarness, TEST_CONFIG } from '../harness/release';
import { cliEnvironment, runCli } from './helpers/cli';
import { waitFor } from './helpers/wait';

let h: Harness;
let admin: AdminServer;
let env: NodeJS.ProcessEnv;
const TOKEN = 'admin-token-for-the-test';

before(async () => {
  // A short open period: callers held back by a forced-open breaker look again that often.
  h = await startHarness({ ...TEST_CONFIG, breakers: { dependencies: { dns: { waitDuration: '2s' } } } });
  admin = await startAdminServer({
    breakers: h.breakers,
    metrics: h.metrics,
    host: '127.0.0.1',
    port: 0,
    token: TOKEN,
    isDependency: (name) => isDependency(name, Object.keys(TEST_CONFIG.targets)),
  });
  env = await cliEnvironment(h, TEST_CONFIG, {
    GREENLIGHT_ADMIN_PORT: String(admin.port),
    GREENLIGHT_ADMIN_TOKEN: TOKEN,
  });
});

after(async () => {
  await admin?.close();
  await h?.stop();
});

const cli = (args: string[]) => runCli(args, env);

async function metric(name: string, labels: string): Promise<number> {
  const text = await (
    await fetch(`http://127.0.0.1:${admin.port}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })
  ).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

describe('breakers for operators: CLI, metrics, fallback', () => {
  it('lists the breakers a release used, and counts its calls and health checks', async () => {
    const { releaseId } = await h.api.startRelease(releaseRequest('web', 'v1', 'dev'));
    assert.equal((await h.api.wait(releaseId)).stage, 'completed');
    const listed = await cli(['breakers', '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    const names = (JSON.parse(listed.stdout) as BreakerView[]).map((b) => `${b.name} ${b.state}`);
    for (const expected of ['checks closed', 'cmdb closed', 'dns:dev closed', 'infra:dev closed']) {
      assert.ok(names.includes(expected), `${expected} in ${names.join(', ')}`);
    }
    assert.ok(
      (await metric('greenlight_circuit_breaker_calls_total', 'dependency="dns:dev",outcome="success"')) >= 4,
    );
    assert.ok(
      (await metric('greenlight_health_check_results_total', 'service="web",target="dev",result="passed"')) >=
        1,
    );
    assert.equal(await metric('greenlight_circuit_breaker_state', 'dependency="cmdb",state="closed"'), 1);
  });

  it('keeps CMDB writes in the outbox while its breaker is forced open, and replays them when it closes', async () => {
    const opened = await cli(['breakers', 'open', 'cmdb', '--by', 'alice']);
    assert.equal(opened.code, 0, opened.stderr);
    assert.match(opened.stdout, /^cmdb\s+forced_open/);
    assert.equal(await metric('greenlight_circuit_breaker_open', 'dependency="cmdb"'), 1);

    const { releaseId } = await h.api.startRelease(releaseRequest('api', 'v1', 'dev'));
    const done = await h.api.wait(releaseId);
    assert.equal(done.stage, 'completed', 'the CMDB is not a gate');
    assert.ok(
      done.notes.some((n) => /CMDB record of "completed" deferred: .*forced open/.test(n)),
      done.notes.join('\n'),
    );
    assert.ok((await h.outbox.size()) > 0);
    assert.equal((await h.cmdb.changes('api', 'dev')).length, 0, 'nothing reached the CMDB');
    assert.ok((await metric('greenlight_fallback_invocations_total', 'dependency="cmdb"')) >= 1);

    const closed = await cli(['breakers', 'close', 'cmdb']);
    assert.equal(closed.code, 0, closed.stderr);
    const deadline = Date.now() + 10_000;
    while ((await h.outbox.size()) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.equal(await h.outbox.size(), 0, 'the outbox was replayed');
    const changes = await h.cmdb.changes('api', 'dev');
    assert.ok(changes.some((c) => c.releaseId === releaseId && c.stage === 'completed'));
    assert.deepEqual(
      (await h.cmdb.deployments('api', 'dev')).map((d) => d.status),
      ['live'],
    );
  });

  it('shows a release held back by a forced-open breaker, and lets it go on when closed', async () => {
    assert.equal((await cli(['breakers', 'open', 'dns:dev'])).code, 0);
    const { releaseId } = await h.api.startRelease(releaseRequest('web', 'v2', 'dev'));
    const held = await waitFor(h.api, releaseId, (s) => s.blockedBy !== null, 'a breaker notice');
    assert.equal(held.blockedBy!.state, 'forced_open');
    assert.match(held.blockedBy!.message, /dns:dev is forced open by an operator/);
    // A malformed notice is ignored: it never corrupts the release's status.
    await h.client.workflow.getHandle(releaseId).signal(breakerNoticeSignal, {
      breaker: '',
      state: 'melted',
      step: 'x',
      message: 'x',
      retryAt: 'soon',
    } as never);
    const after = (await h.api.status(releaseId)).blockedBy;
    assert.equal(after?.breaker, 'dns:dev');
    assert.equal(after?.state, 'forced_open');
    const text = await cli(['release', 'status', releaseId]);
    assert.match(
      text.stdout,
      /blocked\s+by circuit breaker dns:dev \(forced open\) while trying to read alias/,
    );
    // The live deployment is not known until the alias has been read: not "none".
    assert.match(text.stdout, /live\s+not known yet/);
    // Attempts go on every few seconds: the next attempt the status names is always the real one.
    const firstRetryAt = held.blockedBy!.retryAt;
    const later = await waitFor(
      h.api,
      releaseId,
      (s) => s.blockedBy !== null && s.blockedBy.retryAt !== firstRetryAt,
      'a later attempt',
      30_000,
    );
    assert.ok(Date.parse(later.blockedBy!.retryAt) > Date.parse(firstRetryAt));
    assert.ok(
      Date.parse(later.blockedBy!.retryAt) >= Date.now() - 2_000,
      'the next attempt is not in the past',
    );
    assert.equal((await cli(['breakers', 'reset', 'dns:dev'])).code, 0);
    assert.equal((await h.api.wait(releaseId)).stage, 'completed');
  });

  it('without a token, answers only this machine’s tools, and never listens beyond it', async () => {
    const open = await startAdminServer({
      breakers: h.breakers,
      metrics: h.metrics,
      host: '127.0.0.1',
      port: 0,
      isDependency: (name) => isDependency(name, Object.keys(TEST_CONFIG.targets)),
    });
    try {
      const base = `http://127.0.0.1:${open.port}`;
      assert.equal((await fetch(`${base}/breakers`)).status, 200);
      const fromPage = await fetch(`${base}/breakers/infra:dev/open`, {
        method: 'POST',
        headers: { origin: 'http://evil.example' },
      });
      assert.equal(fromPage.status, 403, 'a web page cannot drive it');
      const rebound = await new Promise<number>((resolve, reject) =>
        request(
          {
            host: '127.0.0.1',
            port: open.port,
            path: '/breakers',
            headers: { host: `evil.example:${open.port}` },
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        )
          .on('error', reject)
          .end(),
      );
      assert.equal(rebound, 403, 'nor a rebound DNS name');
      assert.equal((await fetch(`${base}/breakers/dns:nowhere/open`, { method: 'POST' })).status, 404);
      assert.equal(h.breakers.get('infra:dev').state, 'closed');
    } finally {
      await open.close();
    }
    await assert.rejects(
      startAdminServer({
        breakers: h.breakers,
        metrics: h.metrics,
        host: '0.0.0.0',
        port: 0,
        isDependency: () => true,
      }),
      /set GREENLIGHT_ADMIN_TOKEN/,
    );
  });

  it('refuses bad names and requests without the token', async () => {
    const bad = await cli(['breakers', 'open', 'dns;rm -rf /']);
    assert.equal(bad.code, 2, 'a malformed name is bad usage');
    assert.match(bad.stderr, /invalid breaker name "dns;rm -rf \/"/);
    const unauthorised = await runCli(['breakers'], { ...env, GREENLIGHT_ADMIN_TOKEN: 'wrong' });
    assert.equal(unauthorised.code, 1);
    assert.match(unauthorised.stderr, /the worker refused: a valid bearer token is required/);
    const nobody = await runCli(['breakers'], { ...env, GREENLIGHT_ADMIN_PORT: '9' });
    assert.equal(nobody.code, 1);
    assert.match(nobody.stderr, /cannot reach the worker's admin endpoint at 127\.0\.0\.1:9/);
  });
});

/** One request to the admin endpoint, with the token, as sent: no client rewrites its target. */
function ask(
  method: string,
  path: string,
  body?: string,
): Promise<{ status: number; allow?: string; type?: string; error: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: admin.port,
        method,
        path,
        headers: { authorization: `Bearer ${TOKEN}` },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            allow: res.headers.allow,
            type: res.headers['content-type'],
            error: (JSON.parse(text) as { error: string }).error,
          }),
        );
      },
    ).on('error', reject);
    req.end(body);
  });
}

describe('the admin endpoint refuses bad input with a 4xx and a message for a person', () => {
  const cases: [string, string, number, RegExp, string?][] = [
    [
      'POST',
      '/breakers/%E0%A4%A/open',
      400,
      /^invalid breaker name "%E0%A4%A": not valid percent-encoding; expected infra, dns, cmdb, checks, artifacts, notify or prometheus, optionally :<target>$/,
    ],
    [
      'POST',
      '/breakers/dns:%E0%A4%A/close',
      400,
      /^invalid breaker name "dns:%E0%A4%A": not valid percent-encoding/,
    ],
    [
      'POST',
      `/breakers/dns:${'a'.repeat(5_000)}/open`,
      400,
      /^invalid breaker name "dns:a{36}…": 5004 characters, at most 64; expected infra/,
    ],
    ['POST', '/breakers/dns%3Bdev/reset', 400, /^invalid breaker name "dns;dev": expected infra, dns/],
    ['POST', '/breakers/cmdb/explode', 400, /^unknown action "explode": expected open, close or reset$/],
    ['POST', '/breakers/cmdb/OPEN', 400, /^unknown action "OPEN"/],
    ['POST', `/breakers/cmdb/${'x'.repeat(500)}`, 400, /^unknown action "x{40}…": expected open/],
    [
      'POST',
      '/breakers/cmdb/open?by=%E0%A4%A',
      400,
      /^invalid query parameter "by=%E0%A4%A": not valid percent-encoding$/,
    ],
    ['POST', '/breakers/cmdb/open?by=a%20b', 400, /^invalid operator name "a b" \(\?by=\): expected 1 to 64/],
    ['POST', `/breakers/cmdb/open?by=${'b'.repeat(65)}`, 400, /^invalid operator name "b{40}…"/],
    ['POST', '/breakers/cmdb/open?by=alice&force=1', 400, /^unknown parameter "force": only \?by=<name>/],
    ['POST', '/breakers/cmdb/open?by=alice&by=bob', 400, /^\?by= given 2 times: name one operator$/],
    [
      'POST',
      '/breakers/cmdb/open',
      400,
      /^unexpected request body \(a 14-byte body\): the admin endpoint takes none; name the operator with \?by=<name>$/,
      '{"by":"alice"}',
    ],
    [
      'POST',
      'http://[/breakers/cmdb/open',
      400,
      /^invalid request target "http:\/\/\[\/breakers\/cmdb\/open": expected a path/,
    ],
    ['OPTIONS', '*', 400, /^invalid request target "\*"/],
    [
      'GET',
      '/breakers/cmdb/open',
      405,
      /^method "GET" is not served for "\/breakers\/cmdb\/open": use POST$/,
    ],
    ['POST', '/metrics', 405, /^method "POST" is not served for "\/metrics": use GET$/],
    [
      'GET',
      '/breakers/cmdb',
      404,
      /^no such path "\/breakers\/cmdb": expected GET \/metrics, GET \/breakers or POST/,
    ],
  ];
  for (const [method, path, status, error, body] of cases) {
    it(`${method} ${path.length > 60 ? `${path.slice(0, 60)}…` : path}${body ? ' with a body' : ''}: ${status}`, async () => {
      const before = h.breakers.get('cmdb').state;
      const answer = await ask(method, path, body);
      assert.equal(answer.status, status, answer.error);
      assert.equal(answer.type, 'application/json');
      assert.match(answer.error, error);
      assert.ok(!answer.error.includes('\n') && answer.error.length <= 200, 'one short line');
      if (status === 405) assert.ok(answer.allow === 'GET' || answer.allow === 'POST');
      assert.equal(h.breakers.get('cmdb').state, before, 'nothing was done');
    });
  }
});
