import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { checkUrl, HttpCheckRunner } from '../src/providers/checks/http';
import type { HttpCheck } from '../src/providers/checks/types';

/** A real HTTP server that counts the requests it receives. */
async function countingServer(): Promise<{ server: Server; origin: string; requests: string[] }> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(req.url ?? '');
    res.end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

describe('HTTP checks reach only the endpoint they test', () => {
  let green: Awaited<ReturnType<typeof countingServer>>;
  // Another origin on the same machine stands for another host.
  let elsewhere: Awaited<ReturnType<typeof countingServer>>;
  before(async () => {
    green = await countingServer();
    elsewhere = await countingServer();
  });
  after(() => {
    green.server.close();
    elsewhere.server.close();
  });

  const check = (path: string): HttpCheck => ({
    kind: 'http',
    name: 'c',
    path,
    expectStatus: 200,
    latencyBudgetMs: 2000,
    repeat: 1,
    slow: false,
  });
  const runner = new HttpCheckRunner();

  it('refuses a path that would send the request to another host, and sends nothing', async () => {
    const host = new URL(elsewhere.origin).host;
    for (const path of [`//${host}/steal`, `/\\${host}/steal`, `/\t/${host}/steal`, `/\n/${host}/steal`]) {
      const result = await runner.run(check(path), {
        endpoint: `${green.origin}/`,
        service: 'web',
        version: 'v1',
      });
      assert.equal(result.passed, false, path);
      assert.match(
        result.detail,
        new RegExp(`refused: .*; checks only reach ${green.origin}`),
        result.detail,
      );
    }
    assert.deepEqual(elsewhere.requests, [], 'the other host received nothing');
    assert.deepEqual(green.requests, [], 'nor was green asked for a path that names another host');
  });

  it('requests a path with a query on the endpoint itself', async () => {
    const result = await runner.run(check('/healthz?full=1'), {
      endpoint: `${green.origin}/base/`,
      service: 'web',
      version: 'v1',
    });
    assert.equal(result.passed, true, result.detail);
    assert.deepEqual(green.requests, ['/healthz?full=1']);
  });

  it('builds every URL on the endpoint origin', () => {
    assert.equal(checkUrl('http://10.0.0.5:8080/x/', '/a//b?c=d').href, 'http://10.0.0.5:8080/a//b?c=d');
    assert.throws(() => checkUrl('http://10.0.0.5:8080', '//evil.example/x'), /refused: .*another host/);
    assert.throws(
      () => checkUrl('http://10.0.0.5:8080', '@evil.example/x'),
      /refused: a path starts with \//,
    );
  });
});
