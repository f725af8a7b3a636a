import { join } from 'node:path';
import { JsonFile } from '../json-file';
import { dnsConflict } from '../errors';
import { followCnames, normaliseName } from './names';
import type { CompareAndSwap, DnsProvider, DnsRecord, Resolution } from './types';

interface Zone {
  records: Record<string, DnsRecord>;
}

/**
 * The embedded default DNS: a record store in `<stateDir>/dns/records.json` that `greenlight dns list`
 * shows. Compare-and-swap is atomic within the worker process.
 */
export class LocalDnsStore implements DnsProvider {
  private readonly file: JsonFile<Zone>;

  constructor(stateDir: string) {
    this.file = new JsonFile(join(stateDir, 'dns', 'records.json'), () => ({ records: {} }));
  }

  async get(name: string): Promise<DnsRecord | null> {
    return (await this.file.read()).records[normaliseName(name)] ?? null;
  }

  async upsert(record: DnsRecord): Promise<void> {
    await this.file.update((zone) => {
      zone.records[normaliseName(record.name)] = { ...record, name: normaliseName(record.name) };
    });
  }

  async compareAndSwap(change: CompareAndSwap): Promise<void> {
    const name = normaliseName(change.name);
    await this.file.update((zone) => {
      const current = zone.records[name]?.value ?? null;
      if (current !== change.expected) throw dnsConflict(name, change.expected, current);
      if (change.next === null) delete zone.records[name];
      else zone.records[name] = { name, type: change.type, value: change.next, ttl: change.ttl };
    });
  }

  async remove(name: string): Promise<void> {
    await this.file.update((zone) => {
      delete zone.records[normaliseName(name)];
    });
  }

  async resolve(name: string): Promise<Resolution> {
    const { records } = await this.file.read();
    return followCnames(name, (n) => Promise.resolve(records[n] ?? null));
  }

  async list(): Promise<DnsRecord[]> {
    return Object.values((await this.file.read()).records).sort((a, b) => a.name.localeCompare(b.name));
  }
}
