import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Rfc2136Dns } from '../src/providers/dns/rfc2136';
import { Rcode, TsigKey } from '../src/providers/dns/wire';
import { isProviderError, ProviderErrorKinds } from '../src/providers/errors';
import { startBind } from './helpers/bind';
import type { DnsTestServer } from './helpers/bind';
import { startKnot } from './helpers/knot';
import { freePort } from './helpers/postgres';

interface ServerUnderTest {
  product: string;
  start: () => Promise<DnsTestServer & { unloadedZone?: string }>;
  /** How the server refuses a key it knows that may not update the zone. */
  readOnlyUpdateAnswer: RegExp;
  /** Whether the server answers SERVFAIL for a configured zone it could not load. */
  hasUnloadedZone: boolean;
}

const SERVERS: ServerUnderTest[] = [
  // BIND knows the key, signs its answer and refuses the update.
  {
    product: 'BIND 9',
    start: () => startBind(),
    readOnlyUpdateAnswer: /the server answered REFUSED: /,
    hasUnloadedZone: false,
  },
  // Knot treats a key that no ACL lets update as unknown, and cannot sign its answer.
  {
    product: 'Knot DNS',
    start: () => startKnot(),
    readOnlyUpdateAnswer: /the server answered NOTAUTH \(TSIG error BADKEY\): /,
    hasUnloadedZone: true,
  },
];

/** The address an IPv6 text names, in one canonical text form, to compare two forms of it. */
function canonicalIPv6(address: string): string {
  return new URL(`http://[${address}]/`).hostname.slice(1, -1);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
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

for (const { product, start, readOnlyUpdateAnswer, hasUnloadedZone } of SERVERS) {
  describe(`RFC 2136 DNS against a real ${product}`, () => {
    const zone = 'greenlight.test';
    const alias = `web.dev.${zone}`;
    const blue = `web-v1.dev.${zone}`;
    const green = `web-v2.dev.${zone}`;
    let server: DnsTestServer & { unloadedZone?: string };
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

    it('refuses an address that is not one, quoting it, and publishes nothing', async () => {
      const name = `web-bad.dev.${zone}`;
      const invalid: [type: 'A' | 'AAAA', value: string][] = [
        ['AAAA', '::ffff:192.0.2'],
        ['AAAA', '2001:db8::1::2'],
        ['AAAA', '1:2:3:4:5:6:7:8:9'],
        ['AAAA', '[2001:db8::1]'],
        ['AAAA', 'fe80::1%eth0'],
        ['AAAA', '192.0.2.1'],
        ['AAAA', ''],
        ['A', '2001:db8::1'],
        ['A', '192.0.2.256'],
      ];
      for (const [type, value] of invalid) {
        const expected = type === 'A' ? 'IPv4' : 'IPv6';
        await rejectsWith(
          dns.upsert({ name, type, value, ttl: 30 }),
          ProviderErrorKinds.dnsRefused,
          false,
          new RegExp(
            `^update of ${name} on .*: the ${type} record value ${escapeRegExp(JSON.stringify(value))} is not an ${expected} address; expected one such as `,
          ),
        );
      }
      assert.equal(await lookup('AAAA', name), 'ENOTFOUND');
      assert.equal(await lookup('A', name), 'ENOTFOUND');
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
          assert.match(e.message, /the server answered (NOTAUTH|REFUSED)/);
          assert.match(e.message, /: check the /, 'a hint says what to check');
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

    it('says what the server answered when a key it knows may not update the zone', async () => {
      const readOnly = provider(server.readOnlySecret, { keyName: server.readOnlyKeyName });
      await rejectsWith(
        readOnly.upsert({ name: green, type: 'A', value: '127.0.0.99', ttl: 5 }),
        ProviderErrorKinds.dnsRefused,
        false,
        readOnlyUpdateAnswer,
      );
      await rejectsWith(
        readOnly.upsert({ name: green, type: 'A', value: '127.0.0.99', ttl: 5 }),
        ProviderErrorKinds.dnsRefused,
        false,
        /key greenlight-read-only .*update zone greenlight\.test.*: check .*the server's update ACL/,
      );
      assert.deepEqual(await lookup('A', green), ['127.0.0.13'], 'nothing changed');
    });

    it('says what the server answered for a zone it does not serve', async () => {
      const elsewhere = provider(server.secret, { zone: 'elsewhere.test' });
      await rejectsWith(
        elsewhere.upsert({ name: 'web.elsewhere.test', type: 'A', value: '127.0.0.99', ttl: 5 }),
        ProviderErrorKinds.dnsRefused,
        false,
        /the server answered (NOTAUTH|REFUSED): the server does not .*serve .*zone elsewhere\.test.*: check .*the zone name/,
      );
      await rejectsWith(
        elsewhere.get('web.elsewhere.test'),
        ProviderErrorKinds.dnsRefused,
        false,
        /^lookup of web\.elsewhere\.test on .*: the server answered REFUSED: .*does not serve that zone/,
      );
    });

    if (hasUnloadedZone) {
      it('reports SERVFAIL, for a zone the server could not load, as retryable', async () => {
        const unloaded = server.unloadedZone!;
        await rejectsWith(
          provider(server.secret, { zone: unloaded }).upsert({
            name: `web.${unloaded}`,
            type: 'A',
            value: '127.0.0.99',
            ttl: 5,
          }),
          ProviderErrorKinds.unavailable,
          true,
          /the server answered SERVFAIL$/,
        );
      });
    }

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

/**
 * A fake server for answers no real server gave us: each request gets an unsigned response with
 * `rcode`, to prove that greenlight never takes an unsigned answer to a signed request for success.
 */
async function startUnsignedResponder(rcode: number): Promise<{ port: number; stop(): Promise<void> }> {
  const server = createServer((socket) => {
    socket.on('data', (request: Buffer) => {
      const response = Buffer.alloc(14);
      response.writeUInt16BE(12, 0);
      response.writeUInt16BE(request.readUInt16BE(2), 2); // the request's id
      response.writeUInt16BE(0x8000 | (request.readUInt16BE(4) & 0x7800) | rcode, 4);
      socket.end(response);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('RFC 2136 DNS and unsigned answers to signed requests', () => {
  const zone = 'greenlight.test';
  const key = new TsigKey('greenlight-key', 'hmac-sha256', randomBytes(32));
  const answeredWith = async (rcode: number, call: (dns: Rfc2136Dns) => Promise<unknown>) => {
    const responder = await startUnsignedResponder(rcode);
    try {
      return await call(
        new Rfc2136Dns({ host: '127.0.0.1', port: responder.port, zone, key, timeoutMs: 2_000 }),
      );
    } finally {
      await responder.stop();
    }
  };
  const swap = (dns: Rfc2136Dns) =>
    dns.compareAndSwap({
      name: `web.${zone}`,
      type: 'CNAME',
      expected: `a.${zone}`,
      next: `b.${zone}`,
      ttl: 5,
    });

  it('never takes an unsigned success for one', async () => {
    await rejectsWith(
      answeredWith(Rcode.NOERROR, swap),
      ProviderErrorKinds.dnsRefused,
      false,
      /the response is not signed \(TSIG expected\)$/,
    );
  });

  it('names an unsigned refusal, and never takes it for a conflict', async () => {
    await rejectsWith(
      answeredWith(Rcode.NXRRSET, swap),
      ProviderErrorKinds.dnsRefused,
      false,
      /^update of web\.greenlight\.test on .*: the server answered NXRRSET$/,
    );
  });

  it('retries an unsigned SERVFAIL', async () => {
    await rejectsWith(
      answeredWith(Rcode.SERVFAIL, swap),
      ProviderErrorKinds.unavailable,
      true,
      /the server answered SERVFAIL$/,
    );
  });
});
