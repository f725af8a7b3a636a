import { chmod, mkdir, open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import type { PoolConfig } from 'pg';
import { ProviderError, ProviderErrorKinds } from '../errors';
import { isAlive } from '../process';

export interface EmbeddedPostgres {
  /** How to connect: the Unix socket in the state dir. */
  connection: PoolConfig;
  location: string;
  stop(): Promise<void>;
}

const SOCKET_PORT = 5432;
const cmdbDir = (stateDir: string) => join(stateDir, 'cmdb');
const lockPath = (stateDir: string) => join(cmdbDir(stateDir), 'owner.lock');

/** Connection settings for the embedded CMDB served by the process that owns it. */
export function embeddedConnection(stateDir: string): PoolConfig {
  return { host: cmdbDir(stateDir), port: SOCKET_PORT, user: 'postgres', database: 'postgres' };
}

/** The pid of the live process that owns the embedded CMDB, or null. */
export async function embeddedOwner(stateDir: string): Promise<number | null> {
  const pid = Number((await readFile(lockPath(stateDir), 'utf8').catch(() => '')).trim());
  return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : null;
}

/**
 * The embedded CMDB: PGlite (PostgreSQL compiled to WebAssembly) persisted in `<stateDir>/cmdb/pgdata`
 * and served with the PostgreSQL protocol on a Unix socket in that private folder, so the worker and
 * the CLI use the same client and SQL as with a server, and nothing else on the machine can connect.
 * One process owns the data directory at a time (`owner.lock`); a second one is refused.
 */
export async function startEmbeddedPostgres(stateDir: string): Promise<EmbeddedPostgres> {
  const dir = cmdbDir(stateDir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  await acquireLock(stateDir);
  const socket = join(dir, `.s.PGSQL.${SOCKET_PORT}`);
  let db: PGlite | undefined;
  try {
    db = await PGlite.create(join(dir, 'pgdata'));
    await rm(socket, { force: true }); // left by a process that died
    const server = new PGLiteSocketServer({ db, path: socket, maxConnections: 16 });
    await server.start();
    const opened = db;
    return {
      connection: embeddedConnection(stateDir),
      location: `embedded PGlite (${join(dir, 'pgdata')})`,
      async stop() {
        await withTimeout(server.stop(), 5000);
        await withTimeout(opened.close(), 5000);
        await rm(socket, { force: true });
        await releaseLock(stateDir);
      },
    };
  } catch (e) {
    await db?.close().catch(() => undefined);
    await releaseLock(stateDir);
    throw e;
  }
}

async function acquireLock(stateDir: string): Promise<void> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(lockPath(stateDir), 'wx', 0o600);
      await handle.writeFile(String(process.pid));
      await handle.close();
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const owner = await embeddedOwner(stateDir);
      if (owner !== null) {
        throw new ProviderError(
          ProviderErrorKinds.unavailable,
          `the embedded CMDB in ${cmdbDir(stateDir)} is in use by process ${owner}`,
          false,
        );
      }
      await rm(lockPath(stateDir), { force: true }); // its owner died
    }
  }
  throw new ProviderError(
    ProviderErrorKinds.unavailable,
    `cannot lock the embedded CMDB in ${cmdbDir(stateDir)}`,
    true,
  );
}

async function releaseLock(stateDir: string): Promise<void> {
  const pid = (await readFile(lockPath(stateDir), 'utf8').catch(() => '')).trim();
  if (pid === String(process.pid)) await rm(lockPath(stateDir), { force: true });
}

function withTimeout(work: Promise<unknown>, ms: number): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([work, new Promise((r) => (timer = setTimeout(r, ms)))]).finally(() =>
    clearTimeout(timer),
  );
}
