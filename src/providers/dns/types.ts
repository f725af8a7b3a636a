export const RecordTypes = ['A', 'AAAA', 'CNAME'] as const;
export type RecordType = (typeof RecordTypes)[number];

export interface DnsRecord {
  name: string;
  type: RecordType;
  value: string;
  ttl: number;
}

export interface CompareAndSwap {
  name: string;
  type: RecordType;
  /** Value the record must hold now; null means the record must not exist. */
  expected: string | null;
  /** New value; null deletes the record. */
  next: string | null;
  ttl: number;
}

/** What a real lookup of a name returned: the CNAME chain followed and the final address. */
export interface Resolution {
  chain: string[];
  address: string | null;
}

export interface DnsProvider {
  get(name: string): Promise<DnsRecord | null>;
  /** Creates or replaces a record unconditionally (for names the release owns). */
  upsert(record: DnsRecord): Promise<void>;
  /** Changes a record only if it holds `expected`; otherwise throws a DnsConflict provider error. */
  compareAndSwap(change: CompareAndSwap): Promise<void>;
  /** Deletes a record; deleting a missing one succeeds. */
  remove(name: string): Promise<void>;
  /** Looks the name up the way a client would, following CNAMEs. */
  resolve(name: string): Promise<Resolution>;
  list(): Promise<DnsRecord[]>;
}
