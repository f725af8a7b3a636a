import { ProviderError, ProviderErrorKinds } from '../errors';
import type { DnsRecord, Resolution } from './types';

/** Looks a name up the way a client would: follows CNAMEs (at most 8) to an address, or to nothing. */
export async function followCnames(
  name: string,
  get: (name: string) => Promise<DnsRecord | null>,
): Promise<Resolution> {
  const chain: string[] = [];
  let current = name.toLowerCase().replace(/\.$/, '');
  for (let hops = 0; hops < 8; hops++) {
    const record = await get(current);
    if (!record) return { chain, address: null };
    if (record.type !== 'CNAME') return { chain, address: record.value };
    current = record.value.toLowerCase().replace(/\.$/, '');
    chain.push(current);
  }
  throw new ProviderError(ProviderErrorKinds.dnsVerification, `CNAME loop resolving ${name}`, false);
}
