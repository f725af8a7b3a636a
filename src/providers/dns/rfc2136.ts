import { randomInt } from 'node:crypto';
import { connect } from 'node:net';
import { dnsConflict, ProviderError, ProviderErrorKinds } from '../errors';
import { followCnames, normaliseName, requireInZone } from './names';
import type { CompareAndSwap, DnsProvider, DnsRecord, RecordType, Resolution } from './types';
import type { Message, ResourceRecord, TsigKey } from './wire';
import {
  decodeMessage,
  encodeMessage,
  encodeRdata,
  Opcode,
  Rcode,
  rcodeName,
  RRClass,
  RRType,
  signMessage,
  TsigVerifier,
  WireError,
} from './wire';

export interface Rfc2136Options {
  /** The primary server that takes updates, and answers for the zone. */
  host: string;
  port: number;
  /** The zone that updates name (the apex). */
  zone: string;
  /** Signs every request and verifies every response; without one, requests are unsigned. */
  key?: TsigKey;
  timeoutMs: number;
}

const MANAGED_TYPES: readonly RecordType[] = ['CNAME', 'A', 'AAAA'];

/**
 * DNS through RFC 2136 dynamic updates, signed with TSIG: BIND, Knot and PowerDNS take these.
 * Every exchange is over TCP with the primary, which answers authoritatively, so a read after a
 * write sees the write. The alias swap is one update whose prerequisite is the alias's current
 * value: the server applies it only if nobody changed the alias in between.
 */
export class Rfc2136Dns implements DnsProvider {
  constructor(private readonly options: Rfc2136Options) {}

  /** Where the server is, for messages (never the key). */
  describe(): string {
    return `${this.options.host}:${this.options.port} zone ${this.options.zone}`;
  }

  async get(name: string): Promise<DnsRecord | null> {
    const fqdn = normaliseName(name);
    for (const type of ['A', 'AAAA'] as const) {
      // A CNAME owns its name: a query for an address at an alias answers with the CNAME.
      const { answers } = await this.query(fqdn, RRType[type]);
      const rr = answers.find(
        (a) => a.name === fqdn && a.data && (a.type === RRType.CNAME || a.type === RRType[type]),
      );
      if (rr)
        return { name: fqdn, type: rr.type === RRType.CNAME ? 'CNAME' : type, value: rr.data!, ttl: rr.ttl };
    }
    return null;
  }

  async upsert(record: DnsRecord): Promise<void> {
    const name = normaliseName(record.name);
    await this.update(
      name,
      [],
      [
        ...MANAGED_TYPES.map((t) => deleteRRset(name, RRType[t])),
        addRecord(name, record.type, record.value, record.ttl),
      ],
    );
  }

  async compareAndSwap(change: CompareAndSwap): Promise<void> {
    const name = normaliseName(change.name);
    const type = RRType[change.type];
    const prerequisite =
      change.expected === null
        ? // RFC 2136 §2.4.5: the name is not in use.
          [{ name, type: RRType.ANY, class: RRClass.NONE, ttl: 0, rdata: Buffer.alloc(0) }]
        : // §2.4.2: the RRset exists with exactly this value.
          [
            {
              name,
              type,
              class: RRClass.IN,
              ttl: 0,
              rdata: encodeRdata(type, normaliseName(change.expected)),
            },
          ];
    const updates = [deleteRRset(name, type)];
    if (change.next !== null) updates.push(addRecord(name, change.type, change.next, change.ttl));
    const rcode = await this.update(name, prerequisite, updates, [Rcode.NXRRSET, Rcode.YXDOMAIN]);
    if (rcode !== Rcode.NOERROR) {
      const current = await this.get(name);
      throw dnsConflict(name, change.expected, current?.value ?? null);
    }
  }

  async remove(name: string): Promise<void> {
    const fqdn = normaliseName(name);
    await this.update(
      fqdn,
      [],
      MANAGED_TYPES.map((t) => deleteRRset(fqdn, RRType[t])),
    );
  }

  resolve(name: string): Promise<Resolution> {
    return followCnames(name, (n) => this.get(n));
  }

  /** The zone's A, AAAA and CNAME records, by a zone transfer (the server must allow it to the key). */
  async list(): Promise<DnsRecord[]> {
    const zone = normaliseName(this.options.zone);
    const messages = await this.exchange(
      { questions: [{ name: zone, type: RRType.AXFR, class: RRClass.IN }] },
      'zone transfer',
      (m, seen) => m.answers.filter((a) => a.type === RRType.SOA).length + seen >= 2,
    );
    const records: DnsRecord[] = [];
    for (const m of messages) {
      for (const rr of m.answers) {
        const type = MANAGED_TYPES.find((t) => RRType[t] === rr.type);
        if (type && rr.data) records.push({ name: rr.name, type, value: rr.data, ttl: rr.ttl });
      }
    }
    return records.sort((a, b) => a.name.localeCompare(b.name));
  }

  private async query(name: string, type: number): Promise<Message> {
    const [response] = await this.exchange(
      { questions: [{ name, type, class: RRClass.IN }] },
      `lookup of ${name}`,
    );
    if (response!.rcode !== Rcode.NOERROR && response!.rcode !== Rcode.NXDOMAIN) {
      throw this.failure(`lookup of ${name}`, response!.rcode);
    }
    return response!;
  }

  /** Sends one update; returns the response code if it is one of `accepted`, throws otherwise. */
  private async update(
    name: string,
    prerequisites: ResourceRecord[],
    updates: ResourceRecord[],
    accepted: number[] = [],
  ): Promise<number> {
    const zone = normaliseName(this.options.zone);
    requireInZone(name, zone, 'zone');
    const [response] = await this.exchange(
      {
        opcode: Opcode.update,
        questions: [{ name: zone, type: RRType.SOA, class: RRClass.IN }],
        answers: prerequisites,
        authority: updates,
      },
      `update of ${name}`,
    );
    const rcode = response!.rcode;
    if (rcode === Rcode.NOERROR || accepted.includes(rcode)) return rcode;
    throw this.failure(`update of ${name}`, rcode);
  }

  private failure(what: string, rcode: number): ProviderError {
    const name = rcodeName(rcode);
    if (rcode === Rcode.SERVFAIL) {
      return new ProviderError(
        ProviderErrorKinds.unavailable,
        `${what} on ${this.describe()}: ${name}`,
        true,
      );
    }
    const hint =
      rcode === Rcode.REFUSED || rcode === Rcode.NOTAUTH
        ? ' (is the key allowed to update this zone?)'
        : rcode === Rcode.NOTZONE
          ? ' (the name is outside the zone)'
          : '';
    return new ProviderError(
      ProviderErrorKinds.dnsRefused,
      `${what} on ${this.describe()}: ${name}${hint}`,
      false,
    );
  }

  /**
   * One request and its responses over TCP: a single response, or, with `isDone`, messages until it
   * says the exchange is complete. Signed and verified with the key when there is one.
   */
  private exchange(
    parts: Partial<Pick<Message, 'answers' | 'authority'>> & {
      opcode?: number;
      questions: Message['questions'];
    },
    what: string,
    isDone: (m: Message, soaSeen: number) => boolean = () => true,
  ): Promise<Message[]> {
    const { host, port, key, timeoutMs } = this.options;
    const id = randomInt(0, 0x10000);
    const unsigned = encodeMessage({
      id,
      opcode: parts.opcode ?? Opcode.query,
      questions: parts.questions,
      answers: parts.answers ?? [],
      authority: parts.authority ?? [],
      additional: [],
    });
    const signed = key ? signMessage(unsigned, key) : { wire: unsigned, mac: Buffer.alloc(0) };
    const verifier = key ? new TsigVerifier(key, signed.mac) : null;
    const frame = Buffer.alloc(2);
    frame.writeUInt16BE(signed.wire.length, 0);

    return new Promise((resolve, reject) => {
      const socket = connect({ host, port });
      const messages: Message[] = [];
      let buffered = Buffer.alloc(0);
      let soaSeen = 0;
      const fail = (e: ProviderError) => {
        socket.destroy();
        reject(e);
      };
      const unavailable = (detail: string) =>
        new ProviderError(ProviderErrorKinds.unavailable, `${what} on ${this.describe()}: ${detail}`, true);
      socket.setTimeout(timeoutMs, () => fail(unavailable(`no answer within ${timeoutMs} ms`)));
      socket.on('error', (e: NodeJS.ErrnoException) => fail(unavailable(e.code ?? e.message)));
      socket.on('close', () => fail(unavailable('the server closed the connection')));
      socket.on('connect', () => socket.write(Buffer.concat([frame, signed.wire])));
      socket.on('data', (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
          const wire = buffered.subarray(2, 2 + buffered.readUInt16BE(0));
          buffered = buffered.subarray(2 + wire.length);
          try {
            const message = decodeMessage(wire);
            if (message.id !== id || !message.isResponse)
              throw new WireError('a response to another request');
            if (verifier) verifier.verify(wire, message);
            else if (message.additional.some((a) => a.type === RRType.TSIG)) {
              throw new WireError('a signed response to an unsigned request');
            }
            messages.push(message);
            const done = message.rcode !== Rcode.NOERROR || isDone(message, soaSeen);
            soaSeen += message.answers.filter((a) => a.type === RRType.SOA).length;
            if (done) {
              socket.removeAllListeners('close');
              socket.end();
              resolve(messages);
              return;
            }
          } catch (e) {
            const detail = e instanceof WireError ? e.message : String(e);
            fail(
              new ProviderError(
                ProviderErrorKinds.dnsRefused,
                `${what} on ${this.describe()}: ${detail}`,
                false,
              ),
            );
            return;
          }
        }
      });
    });
  }
}

/** RFC 2136 §2.5.2: delete an RRset. */
function deleteRRset(name: string, type: number): ResourceRecord {
  return { name, type, class: RRClass.ANY, ttl: 0, rdata: Buffer.alloc(0) };
}

/** RFC 2136 §2.5.1: add a record to an RRset. */
function addRecord(name: string, type: RecordType, value: string, ttl: number): ResourceRecord {
  return {
    name,
    type: RRType[type],
    class: RRClass.IN,
    ttl,
    rdata: encodeRdata(RRType[type], normaliseName(value)),
  };
}
