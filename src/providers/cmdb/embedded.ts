import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

export interface EmbeddedPostgres {
  /** Connection URL of the server on loopback. */
  url: string;
  stop(): Promise<void>;
}

/** Where a running worker publishes its embedded CMDB's address for the CLI. */
export const endpointFile = (stateDir: string) => join(stateDir, 'cmdb', 'endpoint.json');

/**
 * The embedded CMDB: PGlite (PostgreSQL compiled to WebAssembly) persisted in `<stateDir>/cmdb/pgdata`,
 * served on a loopback port with the PostgreSQL protocol, so the worker and the CLI use the very same
 * client and SQL as with a PostgreSQL server. One process owns the data directory at a time.
 */
export async function startEmbeddedPostgres(stateDir: string): Promise<EmbeddedPostgres> {
  const dir = join(stateDir, 'cmdb');
  await mkdir(dir, { recursive: true });
  const db = await PGlite.create(join(dir, 'pgdata'));
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 16 });
  await server.start();
  const url = `postgres://postgres@${server.getServerConn()}/postgres`;
  await writeFile(endpointFile(stateDir), JSON.stringify({ url, pid: process.pid }));
  return {
    url,
    async stop() {
      await rm(endpointFile(stateDir), { force: true });
      await server.stop();
      await db.close();
    },
  };
}
