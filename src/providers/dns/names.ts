import { ProviderError, ProviderErrorKinds } from '../errors';
import type { DnsRecord, Resolution } from './types';

/** A DNS name as the providers compare and store it: lower case, without the trailing dot. */
export function normaliseName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/** The normalised name, if it is in `zone`; otherwise a refusal made before any request is sent. */
export function requireInZone(name: string, zone: string, zoneKind: 'zone' | 'hosted zone'): string {
  const fqdn = normaliseName(name);
  if (fqdn !== zone && !fqdn.endsWith(`.${zone}`)) {
    throw new ProviderError(
      ProviderErrorKinds.dnsRefused,
      `${fqdn} is not in the ${zoneKind} ${zone} that this target updates`,
      false,
    );
  }
  return fqdn;
}

/** Looks a name up the way a client would: follows CNAMEs (at most 8) to an address, or to nothing. */
export async function followCnames(
  name: string,
  get: (name: string) => Promise<DnsRecord | null>,
): Promise<Resolution> {
  const chain: string[] = [];
  let current = normaliseName(name);
  for (let hops = 0; hops < 8; hops++) {
    const record = await get(current);
    if (!record) return { chain, address: null };
    if (record.type !== 'CNAME') return { chain, address: record.value };
    current = normaliseName(record.value);
    chain.push(current);
  }
  throw new ProviderError(ProviderErrorKinds.dnsVerification, `CNAME loop resolving ${name}`, false);
}
