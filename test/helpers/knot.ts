import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { Resolver } from 'node:dns/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { untilServing } from './bind';
import type { DnsTestServer } from './bind';
import { freePort } from './postgres';

export interface KnotServer extends DnsTestServer {
  /** A zone Knot is configured for but cannot load (it has no zone file): Knot answers SERVFAIL. */
  unloadedZone: string;
}

/** Knot DNS's `knotd` (Debian's knot package). */
export function knotdBinary(): string {
  const found = ['/usr/sbin/knotd', '/usr/bin/knotd'].find((p) => existsSync(p));
  if (!found) throw new Error('no Knot DNS knotd found (apt-get install knot)');
  return found;
}

/**
 * A real Knot DNS authoritative server for one test file, on a loopback port: one zone that a TSIG
 * key may update and transfer (an ACL with `action: [update, transfer]`), and nobody else may.
 */
export async function startKnot(zone = 'greenlight.test'): Promise<KnotServer> {
  const unloadedZone = 'unloaded.test';
  const dir = await mkdtemp(join(tmpdir(), 'greenlight-knot-'));
  const port = await freePort();
  const keyName = 'greenlight-key';
  const secret = randomBytes(32).toString('base64');
  const readOnlyKeyName = 'greenlight-read-only';
  const readOnlySecret = randomBytes(32).toString('base64');
  writeFileSync(
    join(dir, 'knot.conf'),
    `server:
  rundir: "${dir}"
  listen: 127.0.0.1@${port}
log:
  - target: stderr
    any: info
database:
  storage: "${dir}"
control:
  listen: "${dir}/knot.sock"
key:
  - id: ${keyName}
    algorithm: hmac-sha256
    secret: ${secret}
  - id: ${readOnlyKeyName}
    algorithm: hmac-sha256
    secret: ${readOnlySecret}
acl:
  - id: greenlight-update
    key: ${keyName}
    action: [update, transfer]
template:
  - id: default
    storage: "${dir}"
    file: "%s.zone"
    # Updates live in the journal; the zone file stays as the test wrote it.
    zonefile-sync: -1
zone:
  - domain: ${zone}
    acl: greenlight-update
  - domain: ${unloadedZone}
    acl: greenlight-update
`,
  );
  writeFileSync(
    join(dir, `${zone}.zone`),
    `$TTL 60
@ IN SOA ns.${zone}. hostmaster.${zone}. 1 60 60 3600 60
@ IN NS ns.${zone}.
ns IN A 127.0.0.1
`,
  );
  const server: ChildProcess = spawn(knotdBinary(), ['-c', join(dir, 'knot.conf')], {
    stdio: ['ignore', 'ignore', 'pipe'],
    cwd: dir,
  });
  let log = '';
  server.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const resolver = new Resolver({ timeout: 1000, tries: 1 });
  resolver.setServers([`127.0.0.1:${port}`]);
  // The server starts answering before the zone is loaded: an SOA answer says both.
  if (!(await untilServing(server, resolver, port, zone))) {
    server.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw new Error(`knotd did not start:\n${log.slice(-4000)}`);
  }
  return {
    host: '127.0.0.1',
    port,
    zone,
    keyName,
    secret,
    readOnlyKeyName,
    readOnlySecret,
    unloadedZone,
    resolver,
    log: () => log,
    async stop() {
      if (server.exitCode === null) {
        const exited = new Promise((r) => server.once('exit', r));
        server.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
