import { isProviderError } from '../errors';
import { embeddedConnection, embeddedOwner, startEmbeddedPostgres } from './embedded';
import { describeUrl, isLoginRefused, PostgresCmdb } from './postgres';
import type { PostgresCmdbOptions } from './postgres';

export interface OpenCmdb {
  cmdb: PostgresCmdb;
  /** Where it is, without credentials: for logs. */
  location: string;
  /**
   * Why the PostgreSQL server could not be reached or migrated at start, or null. The CMDB is then
   * migrated before its first use that succeeds.
   */
  unreachable: Error | null;
  close(): Promise<void>;
}

/**
 * The worker's CMDB, migrated: PostgreSQL at `url` when given, otherwise the embedded PGlite under
 * the state dir, which this process then owns and serves to the CLI. A PostgreSQL server that
 * cannot be reached is not an error: the CMDB is a record, not a gate (see `unreachable`). One that
 * refuses the login, or has no such database, is.
 */
export async function openCmdb(
  stateDir: string,
  url?: string,
  options: Omit<PostgresCmdbOptions, 'migrateBeforeUse'> = {},
): Promise<OpenCmdb> {
  if (url) {
    const cmdb = new PostgresCmdb({ connectionString: url }, { ...options, migrateBeforeUse: true });
    const opened = { cmdb, location: describeUrl(url), close: () => cmdb.close() };
    try {
      await cmdb.ensureMigrated();
      return { ...opened, unreachable: null };
    } catch (e) {
      if (isProviderError(e) && e.isRetryable && !isLoginRefused(e)) return { ...opened, unreachable: e };
      await cmdb.close();
      throw e;
    }
  }
  const embedded = await startEmbeddedPostgres(stateDir);
  // PGlite is one session: a single connection keeps a transaction from interleaving with other queries.
  const cmdb = new PostgresCmdb(
    { ...embedded.connection, max: 1 },
    { onError: options.onError, queryTimeoutMs: options.queryTimeoutMs },
  );
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
    unreachable: null,
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
    return { cmdb, location: describeUrl(url), unreachable: null, close: () => cmdb.close() };
  }
  const owner = await embeddedOwner(stateDir);
  if (owner === null) return openCmdb(stateDir);
  const cmdb = new PostgresCmdb({ ...embeddedConnection(stateDir), max: 1 });
  return {
    cmdb,
    location: `embedded PGlite served by process ${owner}`,
    unreachable: null,
    close: () => cmdb.close(),
  };
}
