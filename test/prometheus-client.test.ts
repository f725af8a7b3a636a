// How the Prometheus client reads what a server answers, including the rare answers (infinity,
// NaN, refusals, garbage), from a tiny HTTP server that answers as told. The real server is in
// analysis.test.ts.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { isProviderError } from '../src/providers/errors';
import { PrometheusClient } from '../src/providers/metrics/prometheus';

let server: Server;
let answer: { status: number; body: string } = { status: 200, body: '' };
let client: PrometheusClient;
const seen: { query: string | null; authorization: string | undefined }[] = [];

const vector = (...values: string[]) =>
  JSON.stringify({
    status: 'success',
    data: {
      resultType: 'vector',
      result: values.map((v, i) => ({ metric: { i: String(i) }, value: [1, v] })),
    },
  });

before(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      seen.push({ query: new URLSearchParams(body).get('query'), authorization: req.headers.authorization });
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  client = new PrometheusClient({
    url: `http://127.0.0.1:${port}/prom`,
    headers: { authorization: 'Bearer not-a-real-token' },
    timeoutMs: 2_000,
  });
});

after(() => new Promise((r) => server.close(r)));

async function fails(kind: string, isRetryable: boolean, pattern: RegExp): Promise<void> {
  await assert.rejects(client.query('q'), (e: unknown) => {
    assert.ok(isProviderError(e));
    assert.equal(e.kind, kind);
    assert.equal(e.isRetryable, isRetryable);
    assert.match(e.message, pattern);
    assert.ok(!e.message.includes('not-a-real-token'), 'no header value in the message');
    return true;
  });
}

describe('the Prometheus client', () => {
  it('sums a vector, sends the query and the headers, and reads infinity as a value', async () => {
    answer = { status: 200, body: vector('1.5', '2') };
    assert.deepEqual(await client.query('sum(up)'), { value: 3.5, series: 2 });
    assert.deepEqual(seen.at(-1), { query: 'sum(up)', authorization: 'Bearer not-a-real-token' });
    answer = { status: 200, body: vector('+Inf') };
    assert.deepEqual(await client.query('q'), { value: Infinity, series: 1 });
  });

  it('takes no series, and only NaN, as no data', async () => {
    answer = { status: 200, body: vector() };
    assert.deepEqual(await client.query('q'), { value: null, series: 0 });
    answer = { status: 200, body: vector('NaN') };
    assert.deepEqual(await client.query('q'), { value: null, series: 0 });
  });

  it('says why when the query is refused, the answer is not one, or the server fails', async () => {
    answer = {
      status: 400,
      body: JSON.stringify({ status: 'error', errorType: 'bad_data', error: 'parse error at char 3' }),
    };
    await fails('InfraConfigInvalid', false, /refused the query \(bad_data\): parse error at char 3$/);
    answer = {
      status: 200,
      body: JSON.stringify({ status: 'success', data: { resultType: 'matrix', result: [] } }),
    };
    await fails(
      'InfraConfigInvalid',
      false,
      /gives a matrix; give one that gives an instant vector or a scalar/,
    );
    answer = { status: 503, body: 'overloaded' };
    await fails('DependencyUnavailable', true, /answered HTTP 503 without JSON$/);
    answer = { status: 200, body: JSON.stringify({ hello: 'world' }) };
    await fails(
      'DependencyUnavailable',
      false,
      /answered HTTP 200 with something that is not a query result$/,
    );
  });
});
