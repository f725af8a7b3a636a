import { embeddedOwner } from '../providers/cmdb/embedded';
import { LocalDnsStore } from '../providers/dns/local-store';
import { EXAMPLE_SERVICE, LocalProcessInfra } from '../providers/infra/local-process';
import { GreenlightError } from './api';

/** What `greenlight local teardown` removed. */
export interface LocalTeardown {
  stopped: { hostname: string; service: string; version: string }[];
  records: string[];
}

/**
 * Stops the local example services the embedded infrastructure started (they outlive the worker,
 * like real infrastructure) and removes their names from the local DNS store. Refused while a
 * worker owns the state dir: its releases would lose their deployments.
 */
export async function tearDownLocal(stateDir: string): Promise<LocalTeardown> {
  const owner = await embeddedOwner(stateDir);
  if (owner !== null) {
    throw new GreenlightError(
      `the worker (process ${owner}) is running on ${stateDir}; stop it first (Ctrl-C on npm start)`,
      'refused',
    );
  }
  const infra = new LocalProcessInfra({ stateDir, entryPoint: EXAMPLE_SERVICE });
  const dns = new LocalDnsStore(stateDir);
  const running = await infra.list();
  const names = new Set(running.map((d) => d.hostname));
  const records = (await dns.list()).filter(
    (r) => names.has(r.name) || (r.type === 'CNAME' && names.has(r.value)),
  );
  for (const d of running) await infra.destroy({ hostname: d.hostname });
  for (const r of records) await dns.remove(r.name);
  return {
    stopped: running.map(({ hostname, service, version }) => ({ hostname, service, version })),
    records: records.map((r) => r.name),
  };
}
