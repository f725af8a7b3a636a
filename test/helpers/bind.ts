import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { Resolver } from 'node:dns/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './postgres';

/** An authoritative DNS server that a test started on a loopback port (BIND, Knot). */
export interface DnsTestServer {
  host: string;
  port: number;
  zone: string;
  /** A TSIG key that may update and transfer the zone. */
  keyName: string;
  /** The TSIG secret, base64. */
  secret: string;
  /** A TSIG key the server knows but does not let update or transfer the zone. */
  readOnlyKeyName: string;
  readOnlySecret: string;
  /** A stub resolver (the system's c-ares, not greenlight's code) that asks this server. */
  resolver: Resolver;
  /** Everything the server logged, for tests that prove a secret never reached it. */
  log(): string;
  stop(): Promise<void>;
}

export type BindServer = DnsTestServer;

/**
 * Waits (up to 30 s) until a DNS server that a test started answers the zone's SOA over UDP and
 * accepts a TCP connection, which updates and transfers use; false when it exited or never did.
 */
export async function untilServing(
  server: ChildProcess,
  resolver: Resolver,
  port: number,
  zone: string,
): Promise<boolean> {
  const deadline = Date.now() + 30_000;
  while (server.exitCode === null && Date.now() < deadline) {
    if ((await answersSoa(resolver, zone)) && (await acceptsTcp(port))) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

async function answersSoa(resolver: Resolver, zone: string): Promise<boolean> {
  try {
    await resolver.resolveSoa(zone);
    return true;
  } catch {
    return false;
  }
}

function acceptsTcp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/** BIND's `named` (Debian's bind9 package). */
export function namedBinary(): string {
  const found = ['/usr/sbin/named', '/usr/bin/named'].find((p) => existsSync(p));
  if (!found) throw new Error('no BIND named found (apt-get install bind9)');
  return found;
}

/**
 * A real BIND 9 authoritative server for one test file, on a loopback port: one zone that a TSIG
 * key may update and transfer, and nobody else may.
 */
export async function startBind(zone = 'greenlight.test'): Promise<BindServer> {
  const dir = await mkdtemp(join(tmpdir(), 'greenlight-bind-'));
  const port = await freePort();
  const keyName = 'greenlight-key';
  const secret = randomBytes(32).toString('base64');
  const readOnlyKeyName = 'greenlight-read-only';
  const readOnlySecret = randomBytes(32).toString('base64');
  writeFileSync(
    join(dir, 'named.conf'),
    `key "${keyName}" { algorithm hmac-sha256; secret "${secret}"; };
key "${readOnlyKeyName}" { algorithm hmac-sha256; secret "${readOnlySecret}"; };
options {
  directory "${dir}";
  pid-file none;
  session-keyfile none;
  managed-keys-directory "${dir}";
  listen-on port ${port} { 127.0.0.1; };
  listen-on-v6 { none; };
  recursion no;
  dnssec-validation no;
  notify no;
};
controls { };
zone "${zone}" {
  type primary;
  file "${dir}/zone.db";
  allow-update { key "${keyName}"; };
  allow-transfer { key "${keyName}"; };
};
`,
  );
  writeFileSync(
    join(dir, 'zone.db'),
    `$TTL 60
@ IN SOA ns.${zone}. hostmaster.${zone}. 1 60 60 3600 60
@ IN NS ns.${zone}.
ns IN A 127.0.0.1
`,
  );
  const server: ChildProcess = spawn(namedBinary(), ['-g', '-4', '-n', '1', '-c', join(dir, 'named.conf')], {
    stdio: ['ignore', 'ignore', 'pipe'],
    cwd: dir,
  });
  let log = '';
  server.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const resolver = new Resolver({ timeout: 1000, tries: 1 });
  resolver.setServers([`127.0.0.1:${port}`]);
  // named logs "running on Linux …" as it starts: only an answer over UDP and TCP says it serves.
  if (!(await untilServing(server, resolver, port, zone))) {
    server.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw new Error(`named did not start:\n${log.slice(-4000)}`);
  }
  return {
    host: '127.0.0.1',
    port,
    zone,
    keyName,
    secret,
    readOnlyKeyName,
    readOnlySecret,
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
