import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Rfc2136Dns } from '../src/providers/dns/rfc2136';
import { TsigKey } from '../src/providers/dns/wire';
import { isProviderError, ProviderErrorKinds } from '../src/providers/errors';
import { startBind } from './helpers/bind';
import type { DnsTestServer } from './helpers/bind';
import { startKnot } from './helpers/knot';
import { freePort } from './helpers/postgres';

const SERVERS: { product: string; start: () => Promise<DnsTestServer> }[] = [
  { product: 'BIND 9', start: () => startBind() },
  { product: 'Knot DNS', start: () => startKnot() },
];

/** The address an IPv6 text names, in one canonical text form, to compare two forms of it. */
function canonicalIPv6(address: string): string {
  return new URL(`http://[${address}]/`).hostname.slice(1, -1);
}

async function rejectsWith(promise: Promise<unknown>, kind: string, isRetryable: boolean, pattern: RegExp) {
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(isProviderError(e), `a provider error, got ${String(e)}`);
    assert.equal(e.kind, kind);
    assert.equal(e.isRetryable, isRetryable);
    assert.match(e.message, pattern);
    return true;
  });
}

for (const { product, start } of SERVERS) {
  describe(`RFC 2136 DNS against a real ${product}`, () => {
    const zone = 'greenlight.test';
    const alias = `web.dev.${zone}`;
    const blue = `web-v1.dev.${zone}`;
    const green = `web-v2.dev.${zone}`;
    let server: DnsTestServer;
    let dns: Rfc2136Dns;

    before(async () => {
      server = await start();
      dns = provider(server.secret);
    });
    after(async () => {
      await server?.stop();
    });

    function provider(
      secret: string | null,
      overrides: { port?: number; zone?: string; keyName?: string } = {},
    ): Rfc2136Dns {
      const keyName = overrides.keyName ?? server.keyName;
      return new Rfc2136Dns({
        host: server.host,
        port: overrides.port ?? server.port,
        zone: overrides.zone ?? server.zone,
        key: secret === null ? undefined : new TsigKey(keyName, 'hmac-sha256', Buffer.from(secret, 'base64')),
        timeoutMs: 2_000,
      });
    }

    /** What a stub resolver (c-ares, not greenlight's code) gets from the server; codes on failure. */
    async function lookup(kind: 'A' | 'AAAA' | 'CNAME', name: string): Promise<string[] | string> {
      try {
        if (kind === 'A') return await server.resolver.resolve4(name);
        if (kind === 'AAAA') return await server.resolver.resolve6(name);
        return await server.resolver.resolveCname(name);
      } catch (e) {
        return (e as NodeJS.ErrnoException).code ?? String(e);
      }
    }

    it('publishes suffixed records that a resolver then answers', async () => {
      await dns.upsert({ name: blue, type: 'A', value: '127.0.0.11', ttl: 30 });
      await dns.upsert({ name: green, type: 'A', value: '127.0.0.12', ttl: 30 });
      await dns.upsert({ name: `web-v6.dev.${zone}`, type: 'AAAA', value: '::1', ttl: 30 });
      assert.deepEqual(await lookup('A', blue), ['127.0.0.11']);
      assert.deepEqual(await lookup('A', green), ['127.0.0.12']);
      assert.deepEqual(await lookup('AAAA', `web-v6.dev.${zone}`), ['::1']);
      assert.deepEqual(await dns.get(green), { name: green, type: 'A', value: '127.0.0.12', ttl: 30 });

      await dns.upsert({ name: green, type: 'A', value: '127.0.0.13', ttl: 45 });
      assert.deepEqual(await lookup('A', green), ['127.0.0.13'], 'upsert replaces, it does not add');
      assert.deepEqual(await dns.get(green), { name: green, type: 'A', value: '127.0.0.13', ttl: 45 });
    });

    it('publishes every IPv6 text form as the address it names', async () => {
      const forms = [
        '::ffff:192.0.2.1',
        '64:ff9b::192.0.2.1',
        '::192.0.2.1',
        '2001:db8:1:2:3:4:192.0.2.1',
        '2001:DB8::1',
        '2001:0db8:0000:0000:0000:0000:0000:0001',
        '::',
        '2001:db8::',
        '::1:2:3:4:5:6:7',
        '1:2:3:4:5:6:7::',
        '2001:db8:0:1::1:0:1',
      ];
      for (const [i, value] of forms.entries()) {
        const name = `web-v6-${i}.dev.${zone}`;
        await dns.upsert({ name, type: 'AAAA', value, ttl: 30 });
        const answered = await lookup('AAAA', name);
        assert.ok(Array.isArray(answered), `${value}: ${String(answered)}`);
        assert.deepEqual(answered.map(canonicalIPv6), [canonicalIPv6(value)], value);
        assert.equal((await dns.get(name))?.value, canonicalIPv6(value), value);
      }
    });

    it('swaps an AAAA record whose expected value has an embedded IPv4 part', async () => {
      const name = `web-v6-swap.dev.${zone}`;
      await dns.upsert({ name, type: 'AAAA', value: '::ffff:192.0.2.1', ttl: 30 });
      await dns.compareAndSwap({
        name,
        type: 'AAAA',
        expected: '::ffff:192.0.2.1',
        next: '64:ff9b::198.51.100.7',
        ttl: 30,
      });
      assert.deepEqual(await lookup('AAAA', name), [canonicalIPv6('64:ff9b::198.51.100.7')]);
    });

    it('creates the alias only where none exists, and swaps it only from the expected value', async () => {
      await dns.compareAndSwap({ name: alias, type: 'CNAME', expected: null, next: blue, ttl: 5 });
      assert.deepEqual(await lookup('CNAME', alias), [blue]);
      assert.deepEqual(await lookup('A', alias), ['127.0.0.11'], 'a client following the alias reaches blue');
      assert.deepEqual(await dns.resolve(alias), { chain: [blue], address: '127.0.0.11' });

      await rejectsWith(
        dns.compareAndSwap({ name: alias, type: 'CNAME', expected: null, next: green, ttl: 5 }),
        ProviderErrorKinds.dnsConflict,
        false,
        new RegExp(`${alias} points to ${blue}, expected nothing`),
      );

      await dns.compareAndSwap({ name: alias, type: 'CNAME', expected: blue, next: green, ttl: 5 });
      assert.deepEqual(await lookup('CNAME', alias), [green]);
      assert.deepEqual(await dns.get(alias), { name: alias, type: 'CNAME', value: green, ttl: 5 });
    });

    it('never overwrites a change made elsewhere', async () => {
      // Somebody points the alias at their own host; greenlight still believes it points at green.
      const theirs = `elsewhere.${zone}`;
      await dns.upsert({ name: alias, type: 'CNAME', value: theirs, ttl: 5 });
      await rejectsWith(
        dns.compareAndSwap({ name: alias, type: 'CNAME', expected: green, next: blue, ttl: 5 }),
        ProviderErrorKinds.dnsConflict,
        false,
        new RegExp(`${alias} points to ${theirs}, expected ${green}; refusing to overwrite`),
      );
      assert.deepEqual(await lookup('CNAME', alias), [theirs], 'their change stands');
      await dns.compareAndSwap({ name: alias, type: 'CNAME', expected: theirs, next: green, ttl: 5 });
    });

    it('removes records, and removing a missing one succeeds', async () => {
      await dns.remove(blue);
      assert.equal(await lookup('A', blue), 'ENOTFOUND');
      assert.equal(await dns.get(blue), null);
      await dns.remove(blue);
      assert.deepEqual(await dns.resolve(`web-missing.dev.${zone}`), { chain: [], address: null });
      assert.deepEqual(await dns.resolve(alias), { chain: [green], address: '127.0.0.13' });
    });

    it('lists the zone by a signed zone transfer', async () => {
      const names = (await dns.list()).map((r) => `${r.name} ${r.type} ${r.value}`);
      assert.ok(names.includes(`${alias} CNAME ${green}`), names.join('\n'));
      assert.ok(names.includes(`${green} A 127.0.0.13`), names.join('\n'));
      assert.ok(names.includes(`web-v6-0.dev.${zone} AAAA ::ffff:c000:201`), names.join('\n'));
      assert.ok(!names.some((n) => n.startsWith(`${blue} `)), 'the removed record is gone');
    });

    it('fails clearly, without retrying, when the key is wrong or missing, and never shows the secret', async () => {
      const wrong = randomBytes(32).toString('base64');
      const attempts = [
        () => provider(wrong).upsert({ name: green, type: 'A', value: '127.0.0.99', ttl: 5 }),
        () => provider(wrong).get(green),
        () =>
          provider(server.secret, { keyName: 'nobody-knows-this-key' }).upsert({
            name: green,
            type: 'A',
            value: '127.0.0.99',
            ttl: 5,
          }),
        () => provider(null).upsert({ name: green, type: 'A', value: '127.0.0.99', ttl: 5 }),
      ];
      for (const attempt of attempts) {
        await assert.rejects(attempt(), (e: unknown) => {
          assert.ok(isProviderError(e));
          assert.equal(e.kind, ProviderErrorKinds.dnsRefused);
          assert.equal(e.isRetryable, false);
          assert.match(e.message, /BADSIG|BADKEY|REFUSED|NOTAUTH|signature/);
          for (const text of [e.message, JSON.stringify(e), String(e.stack)]) {
            assert.ok(!text.includes(wrong) && !text.includes(server.secret), 'no secret in the error');
          }
          return true;
        });
      }
      assert.deepEqual(await lookup('A', green), ['127.0.0.13'], 'nothing changed');
      const key = new TsigKey(server.keyName, 'hmac-sha256', Buffer.from(server.secret, 'base64'));
      assert.ok(!JSON.stringify({ key }).includes(server.secret), 'a key serialises without its secret');
    });

    it('refuses names outside its zone before sending anything', async () => {
      await rejectsWith(
        dns.upsert({ name: 'web.example.org', type: 'A', value: '127.0.0.1', ttl: 5 }),
        ProviderErrorKinds.dnsRefused,
        false,
        /not in the zone greenlight\.test/,
      );
    });

    it('reports an unreachable server as retryable', async () => {
      const closed = await freePort();
      await rejectsWith(
        provider(server.secret, { port: closed }).get(green),
        ProviderErrorKinds.unavailable,
        true,
        /ECONNREFUSED/,
      );
    });
  });
}
