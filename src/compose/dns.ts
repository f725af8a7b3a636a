import { readFileSync } from 'node:fs';
import { ConfigError } from '../config/errors';
import type { Config, SecretRef } from '../config/schema';
import { LocalDnsStore } from '../providers/dns/local-store';
import { Rfc2136Dns } from '../providers/dns/rfc2136';
import { Route53Dns } from '../providers/dns/route53';
import type { DnsProvider } from '../providers/dns/types';
import { TsigKey } from '../providers/dns/wire';

/** The DNS providers of a configuration: one per target, local targets sharing the embedded store. */
export interface DnsProviders {
  forTarget(target: string): DnsProvider;
  /** Each distinct provider once, with the targets it serves and where it is (no secrets). */
  all(): { targets: string[]; location: string; provider: DnsProvider }[];
}

/**
 * Builds each target's DNS provider, reading secrets from where the configuration says they are.
 * A missing or malformed secret is a ConfigError that names the key, never the value.
 */
export function openDnsProviders(config: Config, stateDir: string, env: NodeJS.ProcessEnv): DnsProviders {
  const local = new LocalDnsStore(stateDir);
  const byTarget = new Map<string, { provider: DnsProvider; location: string }>();
  for (const [target, t] of Object.entries(config.targets)) {
    const zone = t.dns.kind === 'local' ? undefined : (t.dns.zone ?? t.zone ?? config.zone);
    const dns = t.dns;
    if (dns.kind === 'rfc2136') {
      const key = dns.tsig
        ? new TsigKey(
            dns.tsig.name,
            dns.tsig.algorithm,
            readTsigSecret(dns.tsig.secret, `targets.${target}.dns.tsig.secret`, env),
          )
        : undefined;
      const provider = new Rfc2136Dns({ ...dns.server, zone: zone!, key, timeoutMs: dns.timeout });
      byTarget.set(target, { provider, location: `RFC 2136 ${provider.describe()}` });
    } else if (dns.kind === 'route53') {
      const provider = new Route53Dns({
        hostedZoneId: dns.hostedZoneId,
        zone: zone!,
        region: dns.region,
        endpoint: dns.endpoint,
        syncTimeoutMs: dns.syncTimeout,
      });
      byTarget.set(target, { provider, location: provider.describe() });
    }
  }
  return {
    forTarget: (target) => byTarget.get(target)?.provider ?? local,
    all() {
      const groups = new Map<string, { targets: string[]; location: string; provider: DnsProvider }>();
      for (const target of Object.keys(config.targets)) {
        const entry = byTarget.get(target) ?? { provider: local, location: `local store in ${stateDir}` };
        const group = groups.get(entry.location) ?? { ...entry, targets: [] };
        group.targets.push(target);
        groups.set(entry.location, group);
      }
      return [...groups.values()];
    },
  };
}

/** A TSIG secret: base64 text, or a BIND key file (`tsig-keygen` output) that holds it. */
export function readTsigSecret(ref: SecretRef, key: string, env: NodeJS.ProcessEnv): Buffer {
  let text: string;
  if ('env' in ref) {
    const value = env[ref.env];
    if (!value) throw new ConfigError(`${key}: the environment variable ${ref.env} is not set`);
    text = value;
  } else {
    try {
      text = readFileSync(ref.file, 'utf8');
    } catch (e) {
      throw new ConfigError(
        `${key}: cannot read ${ref.file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
      );
    }
    text = /secret\s+"([^"]*)"/.exec(text)?.[1] ?? text;
  }
  const base64 = text.trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64) || base64.length % 4 !== 0) {
    throw new ConfigError(`${key}: the secret is not base64 text (as tsig-keygen writes it)`);
  }
  return Buffer.from(base64, 'base64');
}
