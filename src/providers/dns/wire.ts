import { createHmac, timingSafeEqual } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';

/**
 * The DNS wire format (RFC 1035), dynamic update messages (RFC 2136) and transaction signatures
 * (TSIG, RFC 8945): just what the RFC 2136 provider needs, with no dependency.
 */

export const RRType = { A: 1, NS: 2, CNAME: 5, SOA: 6, AAAA: 28, TSIG: 250, AXFR: 252, ANY: 255 } as const;
export const RRClass = { IN: 1, NONE: 254, ANY: 255 } as const;
export const Opcode = { query: 0, update: 5 } as const;
export const Rcode = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  YXDOMAIN: 6,
  YXRRSET: 7,
  NXRRSET: 8,
  NOTAUTH: 9,
  NOTZONE: 10,
} as const;
/** TSIG error codes (in the TSIG record, not the header). */
export const TsigError = { BADSIG: 16, BADKEY: 17, BADTIME: 18, BADTRUNC: 22 } as const;

export function rcodeName(code: number): string {
  const names: Record<number, string> = {};
  for (const [name, value] of Object.entries({ ...Rcode, ...TsigError })) names[value] = name;
  return names[code] ?? `RCODE${code}`;
}

export interface Question {
  name: string;
  type: number;
  class: number;
}

export interface ResourceRecord {
  name: string;
  type: number;
  class: number;
  ttl: number;
  /** The record data, uncompressed. Empty for the "delete" forms of an update. */
  rdata: Buffer;
  /** A, AAAA and CNAME data in text form, when decoded from a message. */
  data?: string;
}

export interface Message {
  id: number;
  isResponse: boolean;
  opcode: number;
  isAuthoritative: boolean;
  isTruncated: boolean;
  rcode: number;
  questions: Question[];
  /** Answers; in an update: prerequisites. */
  answers: ResourceRecord[];
  /** Authority; in an update: the updates. */
  authority: ResourceRecord[];
  additional: ResourceRecord[];
}

export class WireError extends Error {
  override readonly name = 'WireError';
}

// ---------------------------------------------------------------------------------------------
// Names and record data

/** A name in canonical wire form: lower case, uncompressed, absolute. */
export function encodeName(name: string): Buffer {
  const trimmed = name.replace(/\.$/, '');
  const parts: Buffer[] = [];
  if (trimmed !== '') {
    for (const label of trimmed.toLowerCase().split('.')) {
      const bytes = Buffer.from(label, 'ascii');
      if (bytes.length === 0 || bytes.length > 63)
        throw new WireError(
          `the DNS name ${quoteValue(name)} has an empty label or one longer than 63 characters`,
        );
      parts.push(Buffer.from([bytes.length]), bytes);
    }
  }
  parts.push(Buffer.from([0]));
  const wire = Buffer.concat(parts);
  if (wire.length > 255) throw new WireError(`the DNS name ${quoteValue(name)} is longer than 255 bytes`);
  return wire;
}

function decodeName(buf: Buffer, start: number): { name: string; end: number } {
  const labels: string[] = [];
  let offset = start;
  let end = -1;
  for (let jumps = 0; jumps < 64;) {
    if (offset >= buf.length) throw new WireError('name runs past the message');
    const len = buf[offset]!;
    if (len === 0) {
      if (end < 0) end = offset + 1;
      return { name: labels.join('.').toLowerCase(), end };
    }
    if ((len & 0xc0) === 0xc0) {
      if (end < 0) end = offset + 2;
      offset = ((len & 0x3f) << 8) | buf[offset + 1]!;
      jumps++;
      continue;
    }
    labels.push(buf.toString('ascii', offset + 1, offset + 1 + len));
    offset += 1 + len;
  }
  throw new WireError('name compression loop');
}

/** The 4 bytes of an IPv4 address in dotted-decimal form, or null if it is not one. */
export function encodeIPv4(address: string): Buffer | null {
  return isIPv4(address) ? Buffer.from(address.split('.').map(Number)) : null;
}

/**
 * The 16 bytes of an IPv6 address in any RFC 4291 §2.2 text form: full, `::`-compressed anywhere,
 * with an embedded IPv4 tail (`::ffff:192.0.2.1`), any case. Null if it is not one; a zone index
 * (`%eth0`) is not part of an address, so it is refused too.
 */
export function encodeIPv6(address: string): Buffer | null {
  if (!isIPv6(address) || address.includes('%')) return null;
  const halves = address.split('::');
  const groups = (text: string | undefined) => (text ? text.split(':') : []);
  const toWords = (group: string): number[] => {
    const ipv4 = group.includes('.') ? encodeIPv4(group) : null;
    return ipv4 ? [ipv4.readUInt16BE(0), ipv4.readUInt16BE(2)] : [parseInt(group, 16)];
  };
  const left = groups(halves[0]).flatMap(toWords);
  const right = groups(halves[1]).flatMap(toWords);
  // `::` stands for one or more zero groups (isIPv6 has checked the rest of the syntax).
  const zeros = halves.length === 2 ? 8 - left.length - right.length : 0;
  if (halves.length === 2 && zeros < 1) return null;
  const words = [...left, ...new Array<number>(zeros).fill(0), ...right];
  if (words.length !== 8) return null;
  const out = Buffer.alloc(16);
  words.forEach((w, i) => out.writeUInt16BE(w, i * 2));
  return out;
}

function decodeAddress(rdata: Buffer): string {
  if (rdata.length === 4) return [...rdata].join('.');
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push(rdata.readUInt16BE(i).toString(16));
  // The URL parser writes an IPv6 address in its canonical, compressed form.
  return new URL(`http://[${words.join(':')}]/`).hostname.slice(1, -1);
}

/** A value as a person typed it, quoted and cut short, for a message. */
export function quoteValue(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
}

/** Record data of a value: an IPv4 address for A, an IPv6 address for AAAA, a name for CNAME. */
export function encodeRdata(type: number, value: string): Buffer {
  if (type === RRType.A) {
    const rdata = encodeIPv4(value);
    if (rdata) return rdata;
    throw new WireError(
      `the A record value ${quoteValue(value)} is not an IPv4 address; expected one such as 192.0.2.1`,
    );
  }
  if (type === RRType.AAAA) {
    const rdata = encodeIPv6(value);
    if (rdata) return rdata;
    throw new WireError(
      `the AAAA record value ${quoteValue(value)} is not an IPv6 address; expected one such as 2001:db8::1 or ::ffff:192.0.2.1`,
    );
  }
  if (type === RRType.CNAME) return encodeName(value);
  throw new WireError(`unsupported record type ${type}`);
}

// ---------------------------------------------------------------------------------------------
// Messages

function encodeRecord(rr: ResourceRecord): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(rr.type, 0);
  fixed.writeUInt16BE(rr.class, 2);
  fixed.writeUInt32BE(rr.ttl, 4);
  fixed.writeUInt16BE(rr.rdata.length, 8);
  return Buffer.concat([encodeName(rr.name), fixed, rr.rdata]);
}

export function encodeMessage(
  m: Omit<Message, 'isResponse' | 'isAuthoritative' | 'isTruncated' | 'rcode'>,
): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(m.id, 0);
  header.writeUInt16BE((m.opcode & 0xf) << 11, 2);
  header.writeUInt16BE(m.questions.length, 4);
  header.writeUInt16BE(m.answers.length, 6);
  header.writeUInt16BE(m.authority.length, 8);
  header.writeUInt16BE(m.additional.length, 10);
  const questions = m.questions.map((q) => {
    const tail = Buffer.alloc(4);
    tail.writeUInt16BE(q.type, 0);
    tail.writeUInt16BE(q.class, 2);
    return Buffer.concat([encodeName(q.name), tail]);
  });
  return Buffer.concat([
    header,
    ...questions,
    ...[...m.answers, ...m.authority, ...m.additional].map(encodeRecord),
  ]);
}

/** A decoded message, and where its last additional record (a TSIG, if any) starts. */
export function decodeMessage(buf: Buffer): Message & { lastRecordOffset: number } {
  if (buf.length < 12) throw new WireError('message shorter than its header');
  const flags = buf.readUInt16BE(2);
  const counts = [4, 6, 8, 10].map((o) => buf.readUInt16BE(o)) as [number, number, number, number];
  let offset = 12;
  const questions: Question[] = [];
  for (let i = 0; i < counts[0]; i++) {
    const { name, end } = decodeName(buf, offset);
    questions.push({ name, type: buf.readUInt16BE(end), class: buf.readUInt16BE(end + 2) });
    offset = end + 4;
  }
  let lastRecordOffset = offset;
  const records = (count: number): ResourceRecord[] => {
    const out: ResourceRecord[] = [];
    for (let i = 0; i < count; i++) {
      lastRecordOffset = offset;
      const { name, end } = decodeName(buf, offset);
      if (end + 10 > buf.length) throw new WireError('record runs past the message');
      const type = buf.readUInt16BE(end);
      const rdlength = buf.readUInt16BE(end + 8);
      const rdStart = end + 10;
      if (rdStart + rdlength > buf.length) throw new WireError('record data runs past the message');
      let rdata = buf.subarray(rdStart, rdStart + rdlength);
      let data: string | undefined;
      if ((type === RRType.A && rdlength === 4) || (type === RRType.AAAA && rdlength === 16)) {
        data = decodeAddress(rdata);
      } else if (type === RRType.CNAME && rdlength > 0) {
        data = decodeName(buf, rdStart).name;
        rdata = encodeName(data);
      }
      out.push({ name, type, class: buf.readUInt16BE(end + 2), ttl: buf.readUInt32BE(end + 4), rdata, data });
      offset = rdStart + rdlength;
    }
    return out;
  };
  const answers = records(counts[1]);
  const authority = records(counts[2]);
  const additional = records(counts[3]);
  return {
    id: buf.readUInt16BE(0),
    isResponse: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0xf,
    isAuthoritative: (flags & 0x0400) !== 0,
    isTruncated: (flags & 0x0200) !== 0,
    rcode: flags & 0xf,
    questions,
    answers,
    authority,
    additional,
    lastRecordOffset,
  };
}

// ---------------------------------------------------------------------------------------------
// TSIG (RFC 8945)

export const TsigAlgorithms = {
  'hmac-sha1': 'sha1',
  'hmac-sha224': 'sha224',
  'hmac-sha256': 'sha256',
  'hmac-sha384': 'sha384',
  'hmac-sha512': 'sha512',
} as const;
export type TsigAlgorithm = keyof typeof TsigAlgorithms;

const FUDGE_SECONDS = 300;

/**
 * A TSIG key. The secret lives only in this closure: it has no property to print, log or
 * serialise, so it cannot leak through an error, a log line or a workflow history.
 */
export class TsigKey {
  readonly #hmac: (data: Buffer) => Buffer;

  constructor(
    readonly name: string,
    readonly algorithm: TsigAlgorithm,
    secret: Buffer,
  ) {
    if (secret.length === 0) throw new WireError(`TSIG key ${name} has an empty secret`);
    const hash = TsigAlgorithms[algorithm];
    this.#hmac = (data) => createHmac(hash, secret).update(data).digest();
  }

  mac(data: Buffer): Buffer {
    return this.#hmac(data);
  }

  toJSON(): unknown {
    return { name: this.name, algorithm: this.algorithm };
  }
}

function timeSigned(seconds: number): Buffer {
  const b = Buffer.alloc(6);
  b.writeUInt16BE(Math.floor(seconds / 2 ** 32), 0);
  b.writeUInt32BE(seconds % 2 ** 32, 2);
  return b;
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n, 0);
  return b;
}

/** The TSIG variables that follow the message in the MAC input (RFC 8945 §4.3.3). */
function tsigVariables(
  key: TsigKey,
  time: Buffer,
  error: number,
  other: Buffer,
  timersOnly: boolean,
): Buffer {
  if (timersOnly) return Buffer.concat([time, u16(FUDGE_SECONDS)]);
  const classTtl = Buffer.alloc(6);
  classTtl.writeUInt16BE(RRClass.ANY, 0);
  return Buffer.concat([
    encodeName(key.name),
    classTtl,
    encodeName(key.algorithm),
    time,
    u16(FUDGE_SECONDS),
    u16(error),
    u16(other.length),
    other,
  ]);
}

/** Appends a TSIG record to an encoded message; returns the signed message and its MAC. */
export function signMessage(message: Buffer, key: TsigKey, now = Date.now()): { wire: Buffer; mac: Buffer } {
  const time = timeSigned(Math.floor(now / 1000));
  const mac = key.mac(Buffer.concat([message, tsigVariables(key, time, 0, Buffer.alloc(0), false)]));
  const rdata = Buffer.concat([
    encodeName(key.algorithm),
    time,
    u16(FUDGE_SECONDS),
    u16(mac.length),
    mac,
    message.subarray(0, 2),
    u16(0),
    u16(0),
  ]);
  const wire = Buffer.concat([
    message,
    encodeRecord({ name: key.name, type: RRType.TSIG, class: RRClass.ANY, ttl: 0, rdata }),
  ]);
  wire.writeUInt16BE(wire.readUInt16BE(10) + 1, 10);
  return { wire, mac };
}

interface TsigRecord {
  algorithm: string;
  time: Buffer;
  mac: Buffer;
  originalId: number;
  error: number;
  other: Buffer;
}

function parseTsig(rdata: Buffer): TsigRecord {
  const { name: algorithm, end } = decodeName(rdata, 0);
  const macSize = rdata.readUInt16BE(end + 8);
  const macEnd = end + 10 + macSize;
  const otherLen = rdata.readUInt16BE(macEnd + 4);
  return {
    algorithm,
    time: rdata.subarray(end, end + 6),
    mac: rdata.subarray(end + 10, macEnd),
    originalId: rdata.readUInt16BE(macEnd),
    error: rdata.readUInt16BE(macEnd + 2),
    other: rdata.subarray(macEnd + 6, macEnd + 6 + otherLen),
  };
}

/**
 * Verifies the responses to a signed request, message by message (a zone transfer has several):
 * each signed response's MAC covers the previous MAC and everything since it.
 */
export class TsigVerifier {
  private priorMac: Buffer;
  private unsigned: Buffer[] = [];
  private isFirst = true;

  constructor(
    private readonly key: TsigKey,
    requestMac: Buffer,
  ) {
    this.priorMac = requestMac;
  }

  /** Throws a WireError naming the TSIG problem; returns whether this message carried a TSIG. */
  verify(wire: Buffer, message: ReturnType<typeof decodeMessage>): boolean {
    const last = message.additional.at(-1);
    if (!last || last.type !== RRType.TSIG) {
      if (this.isFirst) throw new WireError('the response is not signed (TSIG expected)');
      this.unsigned.push(wire);
      if (this.unsigned.length > 99) throw new WireError('more than 99 unsigned messages in a row');
      return false;
    }
    if (last.name !== this.key.name.toLowerCase().replace(/\.$/, '')) {
      throw new WireError(`the response is signed with another key (${last.name})`);
    }
    const tsig = parseTsig(last.rdata);
    if (tsig.error !== 0) throw new WireError(`the server rejected the signature: ${rcodeName(tsig.error)}`);
    const body = Buffer.from(wire.subarray(0, message.lastRecordOffset));
    body.writeUInt16BE(tsig.originalId, 0);
    body.writeUInt16BE(body.readUInt16BE(10) - 1, 10);
    const input = Buffer.concat([
      u16(this.priorMac.length),
      this.priorMac,
      ...this.unsigned,
      body,
      tsigVariables(this.key, tsig.time, tsig.error, tsig.other, !this.isFirst),
    ]);
    const expected = this.key.mac(input);
    if (expected.length !== tsig.mac.length || !timingSafeEqual(expected, tsig.mac)) {
      throw new WireError('the response signature does not verify (BADSIG)');
    }
    const signedAt = tsig.time.readUInt16BE(0) * 2 ** 32 + tsig.time.readUInt32BE(2);
    if (Math.abs(Date.now() / 1000 - signedAt) > FUDGE_SECONDS) {
      throw new WireError('the response was signed outside the allowed clock skew (BADTIME)');
    }
    this.priorMac = tsig.mac;
    this.unsigned = [];
    this.isFirst = false;
    return true;
  }
}

/** The error code in a message's TSIG record (BADKEY, BADSIG, BADTIME…); 0 if it has none. */
export function tsigErrorOf(message: Message): number {
  const last = message.additional.at(-1);
  if (!last || last.type !== RRType.TSIG) return 0;
  try {
    return parseTsig(last.rdata).error;
  } catch {
    return 0;
  }
}
