import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, readdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';

export interface PostgresServer {
  url: string;
  password: string;
  stop(): Promise<void>;
}

/** The newest PostgreSQL server binaries on this machine (Debian's postgresql package). */
export function postgresBinDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  const dir = versions.map((v) => join(root, v, 'bin')).find((d) => existsSync(join(d, 'initdb')));
  if (!dir)
    throw new Error('no PostgreSQL server found under /usr/lib/postgresql (apt-get install postgresql)');
  return dir;
}

/**
 * A real PostgreSQL server for one test file: a fresh cluster on a loopback port with password
 * authentication. PostgreSQL refuses to run as root, so as root it runs as the `postgres` user.
 * A test that starts it after something already points at it gives the port and password.
 */
export async function startPostgres(
  options: { port?: number; password?: string } = {},
): Promise<PostgresServer> {
  const bin = postgresBinDir();
  const dir = await mkdtemp(join(tmpdir(), 'greenlight-pg-'));
  const password = options.password ?? `pw-${Math.random().toString(36).slice(2)}`;
  // As root, the server's processes run as the `postgres` user (spawned with its uid, so signals reach them).
  const user = userInfo().uid === 0 ? postgresUser() : undefined;
  writeFileSync(join(dir, 'pwfile'), password);
  if (user) {
    chownSync(dir, user.uid, user.gid);
    chownSync(join(dir, 'pwfile'), user.uid, user.gid);
  }
  chmodSync(dir, 0o700);
  const data = join(dir, 'data');
  const init = spawnSync(
    join(bin, 'initdb'),
    ['-D', data, '-U', 'greenlight', '-A', 'scram-sha-256', `--pwfile=${join(dir, 'pwfile')}`],
    { encoding: 'utf8', cwd: dir, ...user },
  );
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`);
  const port = options.port ?? (await freePort());
  const server: ChildProcess = spawn(
    join(bin, 'postgres'),
    ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off'],
    { stdio: ['ignore', 'ignore', 'pipe'], cwd: dir, ...user },
  );
  let log = '';
  server.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  const url = `postgres://greenlight:${password}@127.0.0.1:${port}/postgres`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const client = new Client({ connectionString: url });
    try {
      await client.connect();
      await client.end();
      break;
    } catch {
      await client.end().catch(() => undefined);
      if (server.exitCode !== null || Date.now() > deadline) {
        server.kill('SIGKILL');
        await rm(dir, { recursive: true, force: true });
        throw new Error(`PostgreSQL did not start:\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    url,
    password,
    async stop() {
      const exited = new Promise((r) => server.once('exit', r));
      server.kill('SIGINT'); // fast shutdown
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function postgresUser(): { uid: number; gid: number } {
  const id = (flag: string) =>
    Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout.trim());
  return { uid: id('-u'), gid: id('-g') };
}

/** A port that was free a moment ago on loopback. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}
