import {
  ChangeResourceRecordSetsCommand,
  GetChangeCommand,
  ListResourceRecordSetsCommand,
  Route53Client,
} from '@aws-sdk/client-route-53';
import type { Change, ResourceRecordSet, Route53ClientConfig } from '@aws-sdk/client-route-53';
import { z } from 'zod';
import { dnsConflict, ProviderError, ProviderErrorKinds } from '../errors';
import { followCnames, normaliseName, requireInZone } from './names';
import type { CompareAndSwap, DnsProvider, DnsRecord, RecordType, Resolution } from './types';
import { RecordTypes } from './types';

export interface Route53Options {
  hostedZoneId: string;
  /** The hosted zone's name; records outside it are refused before any request. */
  zone: string;
  region: string;
  /** A Route 53-compatible endpoint; default: AWS's. */
  endpoint?: string;
  /** How long to wait for a change to be INSYNC. */
  syncTimeoutMs: number;
  pollIntervalMs?: number;
  /** Default: the AWS SDK's credential chain (environment, shared files, SSO, instance roles). */
  credentials?: Route53ClientConfig['credentials'];
}

/** What Route 53 returns for a record set, checked before use: provider responses are an edge. */
const RecordSetResponse = z.object({
  Name: z.string(),
  Type: z.string(),
  TTL: z.number().int().nonnegative().optional(),
  ResourceRecords: z.array(z.object({ Value: z.string() })).optional(),
  AliasTarget: z.object({ DNSName: z.string() }).optional(),
});

/** AWS errors that retrying cannot fix: credentials, permissions, a wrong zone or a bad request. */
const REFUSALS = new Set([
  'AccessDenied',
  'AccessDeniedException',
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'NoSuchHostedZone',
  'InvalidInput',
]);

/**
 * DNS on Amazon Route 53, through the AWS SDK v3. Owned records (green's) are UPSERTed. The alias
 * swap is a compare-and-swap: an UPSERT alone is unconditional, so the swap reads the alias, and if
 * it holds the expected value sends one atomic change batch that DELETEs exactly that record and
 * UPSERTs the new one (CREATE when there was none). Route 53 rejects the whole batch if the record
 * changed in between (a DELETE must match the current record exactly; a CREATE fails on an existing
 * one), so a change made elsewhere is never overwritten. Every change is waited on until INSYNC.
 */
export class Route53Dns implements DnsProvider {
  private readonly client: Route53Client;
  private readonly zone: string;

  constructor(private readonly options: Route53Options) {
    this.zone = normaliseName(options.zone);
    this.client = new Route53Client({
      region: options.region,
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      ...(options.credentials ? { credentials: options.credentials } : {}),
      // Temporal retries the activity, with the policy shown in the UI; one retry authority only.
      maxAttempts: 1,
    });
  }

  describe(): string {
    return `Route 53 hosted zone ${this.options.hostedZoneId} (${this.zone})`;
  }

  async get(name: string): Promise<DnsRecord | null> {
    const fqdn = normaliseName(name);
    const sets = await this.recordSets(fqdn);
    const set = sets[0];
    if (!set) return null;
    return toRecord(set);
  }

  async upsert(record: DnsRecord): Promise<void> {
    const name = this.inZone(record.name);
    const others = (await this.recordSets(name)).filter((s) => s.Type !== record.type);
    await this.change(`upsert of ${name}`, [
      ...others.map((set) => ({ Action: 'DELETE' as const, ResourceRecordSet: set })),
      { Action: 'UPSERT', ResourceRecordSet: toRecordSet({ ...record, name }) },
    ]);
  }

  async compareAndSwap(change: CompareAndSwap): Promise<void> {
    const name = this.inZone(change.name);
    const current = (await this.recordSets(name))[0];
    const currentValue = current ? toRecord(current).value : null;
    const expected = change.expected === null ? null : normaliseName(change.expected);
    if (currentValue !== expected) throw dnsConflict(name, change.expected, currentValue);
    const changes: Change[] = [];
    if (current) changes.push({ Action: 'DELETE', ResourceRecordSet: current });
    if (change.next !== null) {
      // After the DELETE in the same batch an UPSERT acts as a create; with no record to delete,
      // CREATE is the precondition that the name is still free.
      changes.push({
        Action: current ? 'UPSERT' : 'CREATE',
        ResourceRecordSet: toRecordSet({ name, type: change.type, value: change.next, ttl: change.ttl }),
      });
    }
    try {
      await this.change(`swap of ${name}`, changes);
    } catch (e) {
      // The batch was refused: if the record changed since it was read, that is a conflict.
      const now = (await this.recordSets(name))[0];
      const nowValue = now ? toRecord(now).value : null;
      if (nowValue !== currentValue) throw dnsConflict(name, change.expected, nowValue);
      throw e;
    }
  }

  async remove(name: string): Promise<void> {
    const fqdn = this.inZone(name);
    const sets = await this.recordSets(fqdn);
    if (sets.length === 0) return;
    await this.change(
      `removal of ${fqdn}`,
      sets.map((set) => ({ Action: 'DELETE', ResourceRecordSet: set })),
    );
  }

  resolve(name: string): Promise<Resolution> {
    return followCnames(name, (n) => this.get(n));
  }

  async list(): Promise<DnsRecord[]> {
    const records: DnsRecord[] = [];
    let start: { name?: string; type?: string } = {};
    for (let page = 0; page < 1000; page++) {
      const out = await this.call('listing', () =>
        this.client.send(
          new ListResourceRecordSetsCommand({
            HostedZoneId: this.options.hostedZoneId,
            ...(start.name ? { StartRecordName: start.name } : {}),
            ...(start.type ? { StartRecordType: start.type as RecordType } : {}),
          }),
        ),
      );
      for (const raw of out.ResourceRecordSets ?? []) {
        const set = RecordSetResponse.parse(raw) as ResourceRecordSet;
        if (isManaged(set)) records.push(toRecord(set));
      }
      if (!out.IsTruncated) break;
      start = { name: out.NextRecordName, type: out.NextRecordType };
    }
    return records.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The A, AAAA and CNAME record sets at exactly this name (simple routing: one set per type). */
  private async recordSets(name: string): Promise<ResourceRecordSet[]> {
    const out = await this.call(`lookup of ${name}`, () =>
      this.client.send(
        new ListResourceRecordSetsCommand({
          HostedZoneId: this.options.hostedZoneId,
          StartRecordName: name,
          MaxItems: 10,
        }),
      ),
    );
    const sets: ResourceRecordSet[] = [];
    for (const raw of out.ResourceRecordSets ?? []) {
      const parsed = RecordSetResponse.safeParse(raw);
      if (!parsed.success) {
        throw new ProviderError(
          ProviderErrorKinds.unavailable,
          `lookup of ${name}: ${this.describe()} returned a record set greenlight cannot read`,
          true,
        );
      }
      const set = raw as ResourceRecordSet;
      if (normaliseName(decodeName(parsed.data.Name)) === name && isManaged(set)) sets.push(set);
    }
    return sets;
  }

  /** Submits one change batch and waits until Route 53 reports it INSYNC. */
  private async change(what: string, changes: Change[]): Promise<void> {
    const out = await this.call(what, () =>
      this.client.send(
        new ChangeResourceRecordSetsCommand({
          HostedZoneId: this.options.hostedZoneId,
          ChangeBatch: { Comment: 'greenlight', Changes: changes },
        }),
      ),
    );
    let info = out.ChangeInfo;
    const deadline = Date.now() + this.options.syncTimeoutMs;
    while (info?.Status !== 'INSYNC') {
      if (!info?.Id) {
        throw new ProviderError(
          ProviderErrorKinds.unavailable,
          `${what}: Route 53 returned no change id`,
          true,
        );
      }
      if (Date.now() > deadline) {
        throw new ProviderError(
          ProviderErrorKinds.unavailable,
          `${what}: change ${info.Id} is still ${info.Status ?? 'unknown'} after ${this.options.syncTimeoutMs} ms`,
          true,
        );
      }
      await new Promise((r) => setTimeout(r, this.options.pollIntervalMs ?? 2_000));
      const id = info.Id;
      info = (await this.call(`${what} (status)`, () => this.client.send(new GetChangeCommand({ Id: id }))))
        .ChangeInfo;
    }
  }

  /** One SDK call; its errors become provider errors whose text carries no credential. */
  private async call<T>(what: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (e) {
      if (e instanceof ProviderError) throw e;
      const err = e as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
      const code = err.name ?? 'Error';
      // AWS messages may quote the request (a signature mismatch quotes the string to sign).
      const firstSentence = (err.message ?? '').split(/(?<=\.)\s|\n/)[0]!.slice(0, 200);
      const message = await this.redact(`${what} on ${this.describe()}: ${code}: ${firstSentence}`);
      const isRefusal = REFUSALS.has(code) || code === 'InvalidChangeBatch';
      throw new ProviderError(
        isRefusal ? ProviderErrorKinds.dnsRefused : ProviderErrorKinds.unavailable,
        message,
        !isRefusal,
      );
    }
  }

  private async redact(text: string): Promise<string> {
    let out = text;
    try {
      const c = await this.client.config.credentials();
      for (const secret of [c.secretAccessKey, c.sessionToken, c.accessKeyId]) {
        if (secret) out = out.split(secret).join('[redacted]');
      }
    } catch {
      // No credentials at all: nothing to redact.
    }
    return out;
  }

  private inZone(name: string): string {
    return requireInZone(name, this.zone, 'hosted zone');
  }
}

/** Route 53 writes some characters of names in octal escapes (`\052` for `*`). */
function decodeName(name: string): string {
  return name.replace(/\\(\d{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

function isManaged(set: ResourceRecordSet): boolean {
  return (RecordTypes as readonly string[]).includes(set.Type ?? '');
}

function toRecord(set: ResourceRecordSet): DnsRecord {
  const value = set.AliasTarget?.DNSName ?? set.ResourceRecords?.[0]?.Value ?? '';
  return {
    name: normaliseName(decodeName(set.Name!)),
    type: set.Type as RecordType,
    value: set.Type === 'CNAME' || set.AliasTarget ? normaliseName(value) : value,
    ttl: set.TTL ?? 0,
  };
}

function toRecordSet(record: DnsRecord): ResourceRecordSet {
  return {
    Name: `${record.name}.`,
    Type: record.type,
    TTL: record.ttl,
    ResourceRecords: [{ Value: record.type === 'CNAME' ? `${normaliseName(record.value)}.` : record.value }],
  };
}
