import { embeddedConnection, embeddedOwner, startEmbeddedPostgres } from './embedded';
import { describeUrl, PostgresCmdb } from './postgres';

export interface OpenCmdb {
  cmdb: PostgresCmdb;
  /** Where it is, without credentials: for logs. */
  location: string;
  close(): Promise<void>;
}

/**
 * The worker's CMDB, migrated: PostgreSQL at `url` when given, otherwise the embedded PGlite under
 * the state dir, which this process then owns and serves to the CLI.
 */
export async function openCmdb(
  stateDir: string,
  url?: string,
  onError?: (e: Error) => void,
): Promise<OpenCmdb> {
  if (url) {
    const cmdb = new PostgresCmdb({ connectionString: url }, onError);
    try {
      await cmdb.migrate();
    } catch (e) {
      await cmdb.close();
      throw e;
    }
    return { cmdb, location: describeUrl(url), close: () => cmdb.close() };
  }
  const embedded = await startEmbeddedPostgres(stateDir);
  // PGlite is one session: a single connection keeps a transaction from interleaving with other queries.
  const cmdb = new PostgresCmdb({ ...embedded.connection, max: 1 }, onError);
  try {
    await cmdb.migrate();
  } catch (e) {
    await cmdb.close();
    await embedded.stop();
    throw e;
  }
  return {
    cmdb,
    location: embedded.location,
    async close() {
      await cmdb.close();
      await embedded.stop();
    },
  };
}

/**
 * The CMDB for reading (the CLI); never migrates. PostgreSQL at `url`; or the embedded one through
 * the process that owns it; or, when no process does, the embedded data directory itself.
 */
export async function openCmdbForReading(stateDir: string, url?: string): Promise<OpenCmdb> {
  if (url) {
    const cmdb = new PostgresCmdb({ connectionString: url });
    return { cmdb, location: describeUrl(url), close: () => cmdb.close() };
  }
  const owner = await embeddedOwner(stateDir);
  if (owner === null) return openCmdb(stateDir);
  const cmdb = new PostgresCmdb({ ...embeddedConnection(stateDir), max: 1 });
  return { cmdb, location: `embedded PGlite served by process ${owner}`, close: () => cmdb.close() };
}
