import { randomInt } from 'node:crypto';
import { connect } from 'node:net';
import { dnsConflict, isProviderError, ProviderError, ProviderErrorKinds } from '../errors';
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
  TsigError,
  tsigErrorOf,
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

/** What a request asks of the server, for messages and hints: the verb its ACL is written for. */
interface Purpose {
  verb: 'query' | 'update' | 'transfer';
  /** `lookup of web.example.org`, `update of web.example.org`, `zone transfer`. */
  what: string;
}

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
    const purpose: Purpose = { verb: 'query', what: `lookup of ${fqdn}` };
    for (const type of ['A', 'AAAA'] as const) {
      // A CNAME owns its name: a query for an address at an alias answers with the CNAME.
      const { answers } = await this.query(fqdn, RRType[type], purpose);
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
    await this.update(name, () => [
      [],
      [
        ...MANAGED_TYPES.map((t) => deleteRRset(name, RRType[t])),
        addRecord(name, record.type, record.value, record.ttl),
      ],
    ]);
  }

  async compareAndSwap(change: CompareAndSwap): Promise<void> {
    const name = normaliseName(change.name);
    const rcode = await this.update(name, () => [casPrerequisite(name, change), casUpdates(name, change)], [
      Rcode.NXRRSET,
      Rcode.YXDOMAIN,
    ]);
    if (rcode !== Rcode.NOERROR) {
      const current = await this.get(name);
      throw dnsConflict(name, change.expected, current?.value ?? null);
    }
  }

  async remove(name: string): Promise<void> {
    const fqdn = normaliseName(name);
    await this.update(fqdn, () => [[], MANAGED_TYPES.map((t) => deleteRRset(fqdn, RRType[t]))]);
  }

  resolve(name: string): Promise<Resolution> {
    return followCnames(name, (n) => this.get(n));
  }

  /** The zone's A, AAAA and CNAME records, by a zone transfer (the server must allow it to the key). */
  async list(): Promise<DnsRecord[]> {
    const zone = normaliseName(this.options.zone);
    const messages = await this.exchange(
      { questions: [{ name: zone, type: RRType.AXFR, class: RRClass.IN }] },
      { verb: 'transfer', what: 'zone transfer' },
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

  private async query(name: string, type: number, purpose: Purpose): Promise<Message> {
    const [response] = await this.exchange({ questions: [{ name, type, class: RRClass.IN }] }, purpose);
    if (response!.rcode !== Rcode.NOERROR && response!.rcode !== Rcode.NXDOMAIN) {
      throw this.failure(purpose, response!.rcode);
    }
    return response!;
  }

  /**
   * Sends one update, its prerequisites and changes built by `build` (a value that cannot be
   * encoded is refused before anything is sent); returns the response code if it is one of
   * `accepted`, throws otherwise.
   */
  private async update(
    name: string,
    build: () => [prerequisites: ResourceRecord[], updates: ResourceRecord[]],
    accepted: number[] = [],
  ): Promise<number> {
    const zone = normaliseName(this.options.zone);
    const purpose: Purpose = { verb: 'update', what: `update of ${name}` };
    requireInZone(name, zone, 'zone');
    const [prerequisites, updates] = this.encoding(purpose, build);
    const [response] = await this.exchange(
      {
        opcode: Opcode.update,
        questions: [{ name: zone, type: RRType.SOA, class: RRClass.IN }],
        answers: prerequisites,
        authority: updates,
      },
      purpose,
    );
    const rcode = response!.rcode;
    if (rcode === Rcode.NOERROR || accepted.includes(rcode)) return rcode;
    throw this.failure(purpose, rcode);
  }

  /** Runs `encode`; a WireError (a value or name that has no wire form) becomes a refusal. */
  private encoding<T>(purpose: Purpose, encode: () => T): T {
    try {
      return encode();
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      throw new ProviderError(
        ProviderErrorKinds.dnsRefused,
        `${purpose.what} on ${this.describe()}: ${e.message}`,
        false,
        { cause: e },
      );
    }
  }

  /**
   * What the server answered, and what to check: SERVFAIL is retryable (the server may recover),
   * every other refusal is not. `tsigError` is the error in the response's TSIG record, if any.
   */
  private failure(purpose: Purpose, rcode: number, tsigError = 0): ProviderError {
    const answered = `${purpose.what} on ${this.describe()}: the server answered ${rcodeName(rcode)}`;
    if (rcode === Rcode.SERVFAIL && tsigError === 0) {
      return new ProviderError(ProviderErrorKinds.unavailable, answered, true);
    }
    const tsig = tsigError === 0 ? '' : ` (TSIG error ${rcodeName(tsigError)})`;
    const hint = this.hint(purpose, rcode, tsigError);
    return new ProviderError(
      ProviderErrorKinds.dnsRefused,
      `${answered}${tsig}${hint ? `: ${hint}` : ''}`,
      false,
    );
  }

  private hint(purpose: Purpose, rcode: number, tsigError: number): string {
    const zone = normaliseName(this.options.zone);
    const key = this.options.key;
    const { verb } = purpose;
    if (tsigError === TsigError.BADTIME) {
      return "the server's clock and this worker's differ by more than 5 minutes: check both clocks";
    }
    const isKeyRejected = tsigError === TsigError.BADKEY || tsigError === TsigError.BADSIG;
    if (isKeyRejected || rcode === Rcode.NOTAUTH) {
      if (!key) {
        return `the server does not serve zone ${zone}, or requires a TSIG key to ${verb} it: check the zone name, and configure the key the server expects`;
      }
      const checks = `the key's name, algorithm (${key.algorithm}) and secret, and the server's ${verb} ACL`;
      if (isKeyRejected) {
        return `the server does not know key ${key.name} or does not allow it to ${verb} zone ${zone}: check ${checks}`;
      }
      // Knot answers NOTAUTH, unsigned, for a zone it does not serve.
      return `the server does not serve zone ${zone}, does not know key ${key.name} or does not allow it to ${verb} the zone: check the zone name, ${checks}`;
    }
    if (rcode === Rcode.REFUSED) {
      const who = key ? `key ${key.name}` : 'a request without a TSIG key';
      return `the server does not let ${who} ${verb} zone ${zone}, or does not serve that zone: check the server's ${verb} ACL and the zone name`;
    }
    if (rcode === Rcode.NOTZONE) return `the name is outside zone ${zone}`;
    return '';
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
    purpose: Purpose,
    isDone: (m: Message, soaSeen: number) => boolean = () => true,
  ): Promise<Message[]> {
    const { host, port, key, timeoutMs } = this.options;
    const id = randomInt(0, 0x10000);
    const signed = this.encoding(purpose, () => {
      const unsigned = encodeMessage({
        id,
        opcode: parts.opcode ?? Opcode.query,
        questions: parts.questions,
        answers: parts.answers ?? [],
        authority: parts.authority ?? [],
        additional: [],
      });
      return key ? signMessage(unsigned, key) : { wire: unsigned, mac: Buffer.alloc(0) };
    });
    const verifier = key ? new TsigVerifier(key, signed.mac) : null;
    const frame = Buffer.alloc(2);
    frame.writeUInt16BE(signed.wire.length, 0);
    const { what } = purpose;

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
          let message: Message;
          try {
            message = this.accept(wire, id, verifier, purpose);
          } catch (e) {
            fail(isProviderError(e) ? e : this.malformed(purpose, e));
            return;
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
        }
      });
    });
  }

  /**
   * Decodes a response and checks that it answers this request and carries the key's signature.
   * A refusal often comes unsigned, or with a TSIG error and no signature (RFC 8945 §5.3.2): it is
   * reported with what the server said, and never taken for a success.
   */
  private accept(wire: Buffer, id: number, verifier: TsigVerifier | null, purpose: Purpose): Message {
    const message = decodeMessage(wire);
    if (message.id !== id || !message.isResponse) throw new WireError('a response to another request');
    if (!verifier) {
      if (message.additional.some((a) => a.type === RRType.TSIG)) {
        throw new WireError('a signed response to an unsigned request');
      }
      return message;
    }
    try {
      verifier.verify(wire, message);
    } catch (e) {
      const tsigError = tsigErrorOf(message);
      if (message.rcode !== Rcode.NOERROR || tsigError !== 0)
        throw this.failure(purpose, message.rcode, tsigError);
      throw e;
    }
    return message;
  }

  private malformed(purpose: Purpose, e: unknown): ProviderError {
    const detail = e instanceof WireError ? e.message : 'a malformed response';
    return new ProviderError(
      ProviderErrorKinds.dnsRefused,
      `${purpose.what} on ${this.describe()}: ${detail}`,
      false,
    );
  }
}

/** RFC 2136 §2.4.5 (the name is not in use) or §2.4.2 (the RRset holds exactly this value). */
function casPrerequisite(name: string, change: CompareAndSwap): ResourceRecord[] {
  if (change.expected === null) {
    return [{ name, type: RRType.ANY, class: RRClass.NONE, ttl: 0, rdata: Buffer.alloc(0) }];
  }
  const type = RRType[change.type];
  return [
    { name, type, class: RRClass.IN, ttl: 0, rdata: encodeRdata(type, normaliseName(change.expected)) },
  ];
}

/** Replaces the RRset with the next value, or deletes it. */
function casUpdates(name: string, change: CompareAndSwap): ResourceRecord[] {
  const updates = [deleteRRset(name, RRType[change.type])];
  if (change.next !== null) updates.push(addRecord(name, change.type, change.next, change.ttl));
  return updates;
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
