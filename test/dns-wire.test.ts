import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { describe, it } from 'node:test';
import { encodeIPv6, encodeRdata, RRType, WireError } from '../src/providers/dns/wire';

/** The address an IPv6 text names, as WHATWG URL's own IPv6 parser (not greenlight's) reads it. */
function urlParserBytes(address: string): Buffer {
  const words = new URL(`http://[${address}]/`).hostname.slice(1, -1);
  const [head = '', tail] = words.split('::');
  const groups = (text: string | undefined) => (text ? text.split(':').map((g) => parseInt(g, 16)) : []);
  const left = groups(head);
  const right = groups(tail);
  const all = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  const out = Buffer.alloc(16);
  all.forEach((w, i) => out.writeUInt16BE(w, i * 2));
  return out;
}

/** Every RFC 4291 §2.2 text form of an address: full, `::` over any zero run, embedded IPv4, case. */
function textForms(bytes: Buffer): string[] {
  const words = Array.from({ length: 8 }, (_, i) => bytes.readUInt16BE(i * 2));
  const ipv4 = `${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  const forms: string[] = [];
  for (const withIPv4 of [false, true]) {
    const groups = withIPv4 ? words.slice(0, 6) : words;
    const hex = groups.map((w) => w.toString(16));
    const tail = withIPv4 ? [ipv4] : [];
    forms.push([...hex, ...tail].join(':'));
    forms.push([...groups.map((w) => w.toString(16).padStart(4, '0').toUpperCase()), ...tail].join(':'));
    // `::` may stand for any run of one or more zero groups.
    for (let start = 0; start < groups.length; start++) {
      for (let end = start + 1; end <= groups.length && groups[end - 1] === 0; end++) {
        const left = hex.slice(0, start).join(':');
        const right = [...hex.slice(end), ...tail].join(':');
        forms.push(`${left}::${right}`);
      }
    }
  }
  return forms;
}

/** 16 random bytes, mostly zeros and 0xffff so that `::` and mapped addresses come up often. */
function randomAddress(): Buffer {
  const out = Buffer.alloc(16);
  for (let i = 0; i < 8; i++) {
    const pick = randomInt(0, 4);
    out.writeUInt16BE(pick === 0 ? randomInt(0, 0x10000) : pick === 1 ? 0xffff : 0, i * 2);
  }
  return out;
}

describe('the IPv6 encoder', () => {
  it('encodes addresses with an embedded IPv4 part', () => {
    assert.equal(encodeIPv6('::ffff:192.0.2.1')?.toString('hex'), '00000000000000000000ffffc0000201');
    assert.equal(encodeIPv6('64:ff9b::192.0.2.1')?.toString('hex'), '0064ff9b0000000000000000c0000201');
    assert.equal(encodeIPv6('::192.0.2.1')?.toString('hex'), '000000000000000000000000c0000201');
    assert.equal(encodeIPv6('1:2:3:4:5:6:192.0.2.1')?.toString('hex'), '000100020003000400050006c0000201');
  });

  it('encodes `::` at the start, in the middle and at the end', () => {
    assert.equal(encodeIPv6('::')?.toString('hex'), '0'.repeat(32));
    assert.equal(encodeIPv6('::1')?.toString('hex'), `${'0'.repeat(31)}1`);
    assert.equal(encodeIPv6('2001:db8::')?.toString('hex'), `20010db8${'0'.repeat(24)}`);
    assert.equal(encodeIPv6('2001:db8::7:8')?.toString('hex'), `20010db8${'0'.repeat(16)}00070008`);
    assert.equal(encodeIPv6('1:2:3:4:5:6:7::')?.toString('hex'), '00010002000300040005000600070000');
  });

  it('reads every text form of random addresses as the URL parser does', () => {
    for (let n = 0; n < 500; n++) {
      const bytes = randomAddress();
      for (const form of textForms(bytes)) {
        assert.deepEqual(encodeIPv6(form), bytes, form);
        assert.deepEqual(urlParserBytes(form), bytes, `the oracle agrees on ${form}`);
      }
    }
  });

  it('refuses what is not an IPv6 address', () => {
    const invalid = [
      '',
      '::ffff:192.0.2',
      '::ffff:192.0.2.256',
      '::ffff:01.2.3.4',
      '192.0.2.1',
      '2001:db8::1::2',
      '1:2:3:4:5:6:7:8:9',
      '1:2:3:4:5:6:7',
      '1:2:3:4:5:6::1.2.3.4',
      '1.2.3.4::',
      '12345::',
      'g::1',
      '[2001:db8::1]',
      'fe80::1%eth0',
      ' ::1',
    ];
    for (const value of invalid) assert.equal(encodeIPv6(value), null, value);
  });

  it('says which value a record type cannot take, and what it expects', () => {
    const message = (type: number, value: string) => {
      try {
        encodeRdata(type, value);
      } catch (e) {
        assert.ok(e instanceof WireError);
        return e.message;
      }
      return 'accepted';
    };
    assert.equal(
      message(RRType.AAAA, '::ffff:192.0.2'),
      'the AAAA record value "::ffff:192.0.2" is not an IPv6 address; expected one such as 2001:db8::1 or ::ffff:192.0.2.1',
    );
    assert.equal(
      message(RRType.A, '2001:db8::1'),
      'the A record value "2001:db8::1" is not an IPv4 address; expected one such as 192.0.2.1',
    );
    assert.match(message(RRType.AAAA, 'x'.repeat(5000)), /^the AAAA record value "x{80}…" is not/);
  });
});
