import { readFile } from 'node:fs/promises';
import { endpointFile, startEmbeddedPostgres } from './embedded';
import { PostgresCmdb, redactUrl } from './postgres';

export interface OpenCmdb {
  cmdb: PostgresCmdb;
  /** Where it is, password hidden: for logs. */
  location: string;
  close(): Promise<void>;
}

/**
 * The worker's CMDB, migrated: PostgreSQL at `url` when given, otherwise the embedded PGlite under
 * the state dir (which this process then owns and serves to the CLI).
 */
export async function openCmdb(
  stateDir: string,
  url?: string,
  onError?: (e: Error) => void,
): Promise<OpenCmdb> {
  if (url) {
    const cmdb = new PostgresCmdb({ connectionString: url }, onError);
    await cmdb.migrate();
    return { cmdb, location: redactUrl(url), close: () => cmdb.close() };
  }
  const embedded = await startEmbeddedPostgres(stateDir);
  // PGlite is one session: a single connection keeps a transaction from interleaving with other queries.
  const cmdb = new PostgresCmdb({ connectionString: embedded.url, max: 1 }, onError);
  try {
    await cmdb.migrate();
  } catch (e) {
    await cmdb.close();
    await embedded.stop();
    throw e;
  }
  return {
    cmdb,
    location: `embedded PGlite (${embedded.url})`,
    async close() {
      await cmdb.close();
      await embedded.stop();
    },
  };
}

/**
 * The CMDB for reading from the CLI: PostgreSQL at `url`, or the running worker's embedded one, or —
 * when no worker runs — the embedded data directory opened for the duration of the command.
 */
export async function openCmdbForReading(stateDir: string, url?: string): Promise<OpenCmdb> {
  if (url) return openCmdb(stateDir, url);
  try {
    const { url: served } = JSON.parse(await readFile(endpointFile(stateDir), 'utf8')) as { url: string };
    const cmdb = new PostgresCmdb({ connectionString: served, max: 1 });
    await cmdb.deployments('probe');
    return { cmdb, location: served, close: () => cmdb.close() };
  } catch {
    return openCmdb(stateDir);
  }
}
