import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Route53Dns } from '../src/providers/dns/route53';
import { isProviderError, ProviderErrorKinds } from '../src/providers/errors';
import { startMoto } from './helpers/moto';
import type { MotoServer } from './helpers/moto';

let moto: MotoServer;
let zoneId: string;
const zone = 'greenlight.test';

before(async () => {
  moto = await startMoto();
  zoneId = await moto.createZone(zone);
});
after(async () => {
  await moto?.stop();
});

function provider(overrides: { endpoint?: string; zoneId?: string; secret?: string } = {}): Route53Dns {
  return new Route53Dns({
    hostedZoneId: overrides.zoneId ?? zoneId,
    zone,
    region: 'us-east-1',
    endpoint: overrides.endpoint ?? moto.endpoint,
    syncTimeoutMs: 10_000,
    pollIntervalMs: 50,
    credentials: { ...moto.credentials, ...(overrides.secret ? { secretAccessKey: overrides.secret } : {}) },
  });
}

/**
 * A pass-through proxy to moto that reports every change as PENDING when it is submitted, as
 * Route 53 does; GetChange then answers from moto. Counts the GetChange calls.
 */
async function pendingProxy(): Promise<{
  endpoint: string;
  statusPolls: () => number;
  close: () => Promise<void>;
}> {
  let polls = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const isChange = req.method === 'POST' && /\/rrset\/?$/.test(req.url ?? '');
      if (req.method === 'GET' && /\/change\//.test(req.url ?? '')) polls++;
      void fetch(`${moto.endpoint}${req.url}`, {
        method: req.method,
        headers: Object.fromEntries(
          Object.entries(req.headers).filter(([k]) => k !== 'host' && k !== 'content-length') as [
            string,
            string,
          ][],
        ),
        body: chunks.length ? Buffer.concat(chunks) : undefined,
      }).then(async (upstream) => {
        let body = await upstream.text();
        if (isChange) body = body.replace('<Status>INSYNC</Status>', '<Status>PENDING</Status>');
        res.writeHead(upstream.status, {
          'content-type': upstream.headers.get('content-type') ?? 'text/xml',
        });
        res.end(body);
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    statusPolls: () => polls,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

describe('Route 53 DNS against a real Route 53-compatible server (moto)', () => {
  const alias = `web.dev.${zone}`;
  const blue = `web-v1.dev.${zone}`;
  const green = `web-v2.dev.${zone}`;

  it('upserts owned records and reads them back', async () => {
    const dns = provider();
    await dns.upsert({ name: blue, type: 'A', value: '127.0.0.11', ttl: 30 });
    await dns.upsert({ name: green, type: 'A', value: '127.0.0.12', ttl: 30 });
    await dns.upsert({ name: green, type: 'A', value: '127.0.0.13', ttl: 45 });
    assert.deepEqual(await dns.get(green), { name: green, type: 'A', value: '127.0.0.13', ttl: 45 });
    assert.equal(await dns.get(`web-missing.dev.${zone}`), null);
  });

  it('creates the alias only where none exists, and swaps it only from the expected value', async () => {
    const dns = provider();
    await dns.compareAndSwap({ name: alias, type: 'CNAME', expected: null, next: blue, ttl: 5 });
    assert.deepEqual(await dns.resolve(alias), { chain: [blue], address: '127.0.0.11' });
    await assert.rejects(
      dns.compareAndSwap({ name: alias, type: 'CNAME', expected: null, next: green, ttl: 5 }),
      (e: unknown) => isProviderError(e) && e.kind === ProviderErrorKinds.dnsConflict && !e.isRetryable,
    );
    await dns.compareAndSwap({ name: alias, type: 'CNAME', expected: blue, next: green, ttl: 5 });
    assert.deepEqual(await dns.get(alias), { name: alias, type: 'CNAME', value: green, ttl: 5 });
  });

  it('never overwrites a change made elsewhere', async () => {
    const dns = provider();
    const theirs = `elsewhere.${zone}`;
    await dns.upsert({ name: alias, type: 'CNAME', value: theirs, ttl: 5 });
    await assert.rejects(
      dns.compareAndSwap({ name: alias, type: 'CNAME', expected: green, next: blue, ttl: 5 }),
      (e: unknown) => {
        assert.ok(isProviderError(e));
        assert.equal(e.kind, ProviderErrorKinds.dnsConflict);
        assert.match(e.message, new RegExp(`points to ${theirs}, expected ${green}`));
        return true;
      },
    );
    assert.equal((await dns.get(alias))?.value, theirs, 'their change stands');
    await dns.compareAndSwap({ name: alias, type: 'CNAME', expected: theirs, next: green, ttl: 5 });
  });

  it('waits for a PENDING change to be INSYNC', async () => {
    const proxy = await pendingProxy();
    try {
      const dns = provider({ endpoint: proxy.endpoint });
      await dns.compareAndSwap({ name: alias, type: 'CNAME', expected: green, next: blue, ttl: 5 });
      assert.ok(proxy.statusPolls() >= 1, 'the change status was polled');
      assert.equal((await dns.get(alias))?.value, blue);
    } finally {
      await proxy.close();
    }
  });

  it('removes records and lists the zone', async () => {
    const dns = provider();
    await dns.remove(green);
    await dns.remove(green);
    assert.equal(await dns.get(green), null);
    const listed = (await dns.list()).map((r) => `${r.name} ${r.type} ${r.value}`);
    assert.deepEqual(listed, [`${blue} A 127.0.0.11`, `${alias} CNAME ${blue}`]);
  });

  it('refuses names outside its zone, and reports a wrong zone without retrying or leaking keys', async () => {
    await assert.rejects(
      provider().upsert({ name: 'web.example.org', type: 'A', value: '127.0.0.1', ttl: 5 }),
      (e: unknown) => isProviderError(e) && e.kind === ProviderErrorKinds.dnsRefused,
    );
    await assert.rejects(provider({ zoneId: 'ZNOSUCHZONE' }).get(alias), (e: unknown) => {
      assert.ok(isProviderError(e));
      assert.equal(e.kind, ProviderErrorKinds.dnsRefused);
      assert.equal(e.isRetryable, false);
      assert.match(e.message, /NoSuchHostedZone/);
      for (const text of [e.message, JSON.stringify(e), String(e.stack)]) {
        assert.ok(!text.includes(moto.credentials.secretAccessKey));
        assert.ok(!text.includes(moto.credentials.accessKeyId));
      }
      return true;
    });
  });

  it('reports an unreachable endpoint as retryable', async () => {
    await assert.rejects(provider({ endpoint: 'http://127.0.0.1:9' }).get(alias), (e: unknown) => {
      assert.ok(isProviderError(e));
      assert.equal(e.kind, ProviderErrorKinds.unavailable);
      assert.equal(e.isRetryable, true);
      return true;
    });
  });
});
