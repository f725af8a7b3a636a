import { Pool } from 'pg';
import type { PoolConfig, QueryResult, QueryResultRow } from 'pg';
import { cmdbFailure } from './failures';
import { MIGRATIONS } from './migrations';
export { isLoginRefused } from './failures';
import type {
  ArtifactRun,
  ChangeRecord,
  CmdbProvider,
  DeploymentItem,
  EnvironmentChange,
  EnvironmentItem,
  ReleaseTimeline,
  TrainRecord,
} from './types';
import { TERMINAL_STAGES } from '../../shared/release';

/** A typed edge between configuration items. */
export interface Relationship {
  fromKind: string;
  fromId: string;
  relation: string;
  toKind: string;
  toId: string;
  createdAt: string;
}

/** Serialises migrations of one database across processes (any constant; this one spells "glcm"). */
const MIGRATION_LOCK = 0x676c636d;

export interface PostgresCmdbOptions {
  /** Errors of idle connections (the pool's `error` event). */
  onError?: (e: Error) => void;
  /**
   * Migrate before the first query, and until a migration succeeds: a worker whose CMDB was down
   * when it started migrates it when it comes back. Default false (the caller migrates, or reads).
   */
  migrateBeforeUse?: boolean;
  /** Called once a migration made by `migrateBeforeUse` succeeded, with the versions applied. */
  onMigrated?: (applied: number[]) => void;
  /** How long a query may wait for the server's answer before it fails (ms). Default 30 s. */
  queryTimeoutMs?: number;
}

/** How long a CMDB query waits for its answer by default. */
export const DEFAULT_CMDB_TIMEOUT_MS = 30_000;

/**
 * The CMDB on PostgreSQL (or the embedded PGlite, served over the same protocol). Every write is one
 * statement, idempotent: a change is keyed by `(release_id, step)`, and a deployment write never
 * replaces a newer one, so a retried activity changes nothing.
 */
export class PostgresCmdb implements CmdbProvider {
  private readonly pool: Pool;
  /** Where the database is, without credentials: for messages. */
  readonly location: string;
  private isMigrated: boolean;
  private migration: Promise<void> | undefined;

  constructor(
    config: PoolConfig,
    private readonly options: PostgresCmdbOptions = {},
  ) {
    this.pool = new Pool({
      max: 4,
      idleTimeoutMillis: 10_000,
      // A server that takes connections and never answers: neither a new connection nor a query
      // waits longer than the CMDB timeout.
      connectionTimeoutMillis: Math.min(5_000, options.queryTimeoutMs ?? DEFAULT_CMDB_TIMEOUT_MS),
      query_timeout: options.queryTimeoutMs ?? DEFAULT_CMDB_TIMEOUT_MS,
      ...config,
    });
    this.pool.on('error', options.onError ?? (() => undefined));
    this.location = config.connectionString
      ? describeUrl(config.connectionString)
      : `${config.host ?? 'localhost'}:${config.port ?? 5432}`;
    this.isMigrated = !options.migrateBeforeUse;
  }

  /** Whether the schema is known to be up to date (always, without `migrateBeforeUse`). */
  get isReady(): boolean {
    return this.isMigrated;
  }

  /** Migrates unless that is done: concurrent callers share one attempt; a failed one is tried again. */
  async ensureMigrated(): Promise<void> {
    if (this.isMigrated) return;
    this.migration ??= this.migrate()
      .then((applied) => {
        this.isMigrated = true;
        this.options.onMigrated?.(applied);
      })
      .finally(() => {
        this.migration = undefined;
      });
    await this.migration;
  }

  /** Applies the migrations this database lacks; safe to run from several workers at once. */
  async migrate(): Promise<number[]> {
    return this.run('migrate', async () => {
      const client = await this.pool.connect();
      try {
        await client.query('BEGIN');
        await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
        await client.query(`CREATE TABLE IF NOT EXISTS greenlight_migrations (
          version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
        const { rows } = await client.query<{ version: number }>('SELECT version FROM greenlight_migrations');
        const applied = new Set(rows.map((r) => r.version));
        const added: number[] = [];
        for (const m of MIGRATIONS) {
          if (applied.has(m.version)) continue;
          await client.query(m.sql);
          await client.query('INSERT INTO greenlight_migrations (version, name) VALUES ($1, $2)', [
            m.version,
            m.name,
          ]);
          added.push(m.version);
        }
        await client.query('COMMIT');
        return added;
      } catch (e) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw e;
      } finally {
        client.release();
      }
    });
  }

  /** A query on the CMDB's database, for what shares it (the circuit breakers of a fleet). */
  async query<R extends QueryResultRow>(text: string, values: unknown[]): Promise<QueryResult<R>> {
    await this.ensureMigrated();
    return this.pool.query<R>(text, values);
  }

  async recordChange(c: ChangeRecord): Promise<void> {
    await this.run('record change', () =>
      this.pool.query(
        `WITH s AS (INSERT INTO services (name) VALUES ($3) ON CONFLICT DO NOTHING),
              e AS (INSERT INTO environments (name) VALUES ($4) ON CONFLICT DO NOTHING)
         INSERT INTO changes (release_id, step, service, environment, version, stage, at, note)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (release_id, step) DO NOTHING`,
        [c.releaseId, c.step, c.service, c.target, c.version, c.stage, c.at, c.note ?? null],
      ),
    );
  }

  async upsertDeployment(d: DeploymentItem): Promise<void> {
    await this.run('record deployment', () =>
      this.pool.query(
        `WITH s AS (INSERT INTO services (name) VALUES ($2) ON CONFLICT DO NOTHING),
              e AS (INSERT INTO environments (name) VALUES ($3) ON CONFLICT DO NOTHING),
              d AS (
                INSERT INTO deployments (hostname, service, environment, version, colour, status, release_id, updated_at, artifact_digest)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                ON CONFLICT (hostname) DO UPDATE SET
                  version = EXCLUDED.version, colour = EXCLUDED.colour, status = EXCLUDED.status,
                  release_id = EXCLUDED.release_id, updated_at = EXCLUDED.updated_at,
                  artifact_digest = COALESCE(EXCLUDED.artifact_digest, deployments.artifact_digest)
                WHERE deployments.updated_at <= EXCLUDED.updated_at
                RETURNING 1)
         -- A deployment going live replaces the one that was live (the snapshot predates this statement).
         INSERT INTO relationships (from_kind, from_id, relation, to_kind, to_id)
         SELECT 'deployment', $1, 'replaces', 'deployment', old.hostname
           FROM deployments old, (SELECT 1 FROM d) AS written -- none when the write was stale
          WHERE $6 = 'live' AND old.service = $2 AND old.environment = $3
            AND old.status = 'live' AND old.hostname <> $1
         ON CONFLICT DO NOTHING`,
        [
          d.hostname,
          d.service,
          d.target,
          d.version,
          d.colour,
          d.status,
          d.releaseId,
          d.updatedAt,
          d.artifactDigest ?? null,
        ],
      ),
    );
  }

  async deployments(service: string, target?: string): Promise<DeploymentItem[]> {
    const { rows } = await this.run('read deployments', () =>
      this.pool.query(
        `SELECT hostname, service, environment, version, colour, status, release_id, updated_at, artifact_digest
           FROM deployments WHERE service = $1 AND ($2::text IS NULL OR environment = $2)
          ORDER BY updated_at DESC`,
        [service, target ?? null],
      ),
    );
    return rows.map(deploymentOf);
  }

  async upsertEnvironment(e: EnvironmentItem): Promise<void> {
    await this.run('record environment', () =>
      this.pool.query(
        `INSERT INTO environments (name, state, template, ttl_expires_at, decommissioned_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (name) DO UPDATE SET
           state = EXCLUDED.state, template = EXCLUDED.template, ttl_expires_at = EXCLUDED.ttl_expires_at,
           decommissioned_at = EXCLUDED.decommissioned_at, updated_at = EXCLUDED.updated_at
         WHERE environments.updated_at IS NULL OR environments.updated_at <= EXCLUDED.updated_at`,
        [e.name, e.state, e.template, e.ttlExpiresAt, e.decommissionedAt, e.updatedAt],
      ),
    );
  }

  async recordEnvironmentChange(c: EnvironmentChange, e: EnvironmentItem): Promise<void> {
    await this.upsertEnvironment(e);
    await this.run('record environment change', () =>
      this.pool.query(
        `INSERT INTO environment_changes (environment, step, transition, from_state, to_state, outcome, at, by_whom, note)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (environment, step) DO NOTHING`,
        [c.environment, c.step, c.transition, c.from, c.to, c.outcome, c.at, c.by ?? null, c.note ?? null],
      ),
    );
  }

  async environmentChanges(environment: string, limit = 50): Promise<EnvironmentChange[]> {
    const { rows } = await this.run('read environment changes', () =>
      this.pool.query(
        `SELECT environment, step, transition, from_state, to_state, outcome, at, by_whom, note
           FROM environment_changes WHERE environment = $1 ORDER BY at DESC, seq DESC LIMIT $2`,
        [environment, limit],
      ),
    );
    return rows.map((r) => ({
      environment: r.environment,
      step: r.step,
      transition: r.transition,
      from: r.from_state,
      to: r.to_state,
      outcome: r.outcome,
      at: iso(r.at),
      ...(r.by_whom === null ? {} : { by: r.by_whom }),
      ...(r.note === null ? {} : { note: r.note }),
    }));
  }

  async environment(name: string): Promise<EnvironmentItem | null> {
    const { rows } = await this.run('read environment', () =>
      this.pool.query(
        `SELECT name, state, template, ttl_expires_at, decommissioned_at, updated_at, created_at
           FROM environments WHERE name = $1`,
        [name],
      ),
    );
    const r = rows[0];
    if (!r) return null;
    return {
      name: r.name,
      state: r.state ?? 'unknown',
      template: r.template ?? 'unknown',
      ttlExpiresAt: r.ttl_expires_at === null ? null : iso(r.ttl_expires_at),
      decommissionedAt: r.decommissioned_at === null ? null : iso(r.decommissioned_at),
      updatedAt: iso(r.updated_at ?? r.created_at),
    };
  }

  async deploymentsIn(target: string, which: 'running' | 'all'): Promise<DeploymentItem[]> {
    const running = which === 'running' ? `AND status IN ('live', 'candidate')` : '';
    const { rows } = await this.run('read deployments', () =>
      this.pool.query(
        `SELECT hostname, service, environment, version, colour, status, release_id, updated_at, artifact_digest
           FROM deployments WHERE environment = $1 ${running}
          ORDER BY hostname`,
        [target],
      ),
    );
    return rows.map(deploymentOf);
  }

  /** The newest changes first. */
  async artifactRuns(service: string, target: string, digest: string): Promise<ArtifactRun[]> {
    const { rows } = await this.run('read the deployments of an artifact', () =>
      this.pool.query(
        `SELECT d.release_id, d.version, d.status, d.updated_at,
                (SELECT min(c.at) FROM changes c WHERE c.release_id = d.release_id AND c.stage = 'baking') AS live_since,
                EXISTS (SELECT 1 FROM changes c WHERE c.release_id = d.release_id AND c.stage = 'completed') AS completed,
                EXISTS (SELECT 1 FROM changes c WHERE c.release_id = d.release_id
                         AND c.stage IN ('rolling_back', 'rolled_back')) AS rolled_back
           FROM deployments d
          WHERE d.service = $1 AND d.environment = $2 AND d.artifact_digest = $3
          ORDER BY d.updated_at DESC LIMIT 50`,
        [service, target, digest],
      ),
    );
    return rows.map((r) => ({
      releaseId: r.release_id,
      version: r.version,
      status: r.status,
      liveSince: r.live_since ? iso(r.live_since) : null,
      liveUntil: r.status === 'live' ? null : iso(r.updated_at),
      isCompleted: r.completed === true,
      isRolledBack: r.rolled_back === true,
    }));
  }

  async recordTrain(t: TrainRecord): Promise<void> {
    await this.run('record train', () =>
      this.pool.query(
        `INSERT INTO trains (train_id, target, from_train, manifest, config_hash, outcome, recorded_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (train_id) DO UPDATE SET outcome = EXCLUDED.outcome, recorded_at = EXCLUDED.recorded_at`,
        [
          t.trainId,
          t.target,
          t.fromTrain,
          JSON.stringify({ services: t.manifest, after: t.after }),
          t.configHash,
          t.outcome,
          t.recordedAt,
        ],
      ),
    );
  }

  async train(trainId: string): Promise<TrainRecord | null> {
    const { rows } = await this.run('read train', () =>
      this.pool.query(
        `SELECT train_id, target, from_train, manifest, config_hash, outcome, recorded_at
           FROM trains WHERE train_id = $1`,
        [trainId],
      ),
    );
    const r = rows[0];
    if (!r) return null;
    return {
      trainId: r.train_id,
      target: r.target,
      fromTrain: r.from_train,
      manifest: r.manifest.services,
      after: r.manifest.after,
      configHash: r.config_hash,
      outcome: r.outcome,
      recordedAt: iso(r.recorded_at),
    };
  }

  async changes(service: string, target?: string, limit = 50): Promise<ChangeRecord[]> {
    const { rows } = await this.run('read changes', () =>
      this.pool.query(
        `SELECT release_id, step, service, environment, version, stage, at, note
           FROM changes WHERE service = $1 AND ($2::text IS NULL OR environment = $2)
          ORDER BY at DESC, seq DESC LIMIT $3`,
        [service, target ?? null, limit],
      ),
    );
    return rows.map((r) => ({
      releaseId: r.release_id,
      step: r.step,
      service: r.service,
      target: r.environment,
      version: r.version,
      stage: r.stage,
      at: iso(r.at),
      ...(r.note === null ? {} : { note: r.note }),
    }));
  }

  /**
   * Each release that started at or after `since` (on `target`, or every target), as its changes
   * tell it: when it started (its first step with its lane taken: a scheduled release's wait for
   * its time and for its lane is not its work), went live (its alias moved: baking or later), ended,
   * and how. A release that never took its lane is not listed.
   */
  async releaseTimelines(since: string, target?: string): Promise<ReleaseTimeline[]> {
    const { rows } = await this.run('read release timelines', () =>
      this.pool.query(
        `SELECT release_id, environment, service,
                min(at) FILTER (WHERE stage NOT IN ('scheduled', 'queued')) AS started_at,
                min(at) FILTER (WHERE stage IN ('baking', 'awaiting_termination', 'terminating_blue')) AS live_at,
                max(at) FILTER (WHERE stage = ANY($3::text[])) AS ended_at,
                (array_agg(stage ORDER BY seq DESC) FILTER (WHERE stage = ANY($3::text[])))[1] AS outcome
           FROM changes
          WHERE ($2::text IS NULL OR environment = $2)
          GROUP BY release_id, environment, service
         HAVING min(at) FILTER (WHERE stage NOT IN ('scheduled', 'queued')) >= $1
          ORDER BY 4`,
        [since, target ?? null, TERMINAL_STAGES],
      ),
    );
    return rows.map((r) => ({
      releaseId: r.release_id,
      target: r.environment,
      service: r.service,
      startedAt: iso(r.started_at),
      liveAt: r.live_at === null ? null : iso(r.live_at),
      endedAt: r.ended_at === null ? null : iso(r.ended_at),
      outcome: r.outcome,
    }));
  }

  /** Relationships from any of the service's deployments. */
  async relationships(service: string, target?: string): Promise<Relationship[]> {
    const { rows } = await this.run('read relationships', () =>
      this.pool.query(
        `SELECT r.from_kind, r.from_id, r.relation, r.to_kind, r.to_id, r.created_at
           FROM relationships r JOIN deployments d ON r.from_kind = 'deployment' AND d.hostname = r.from_id
          WHERE d.service = $1 AND ($2::text IS NULL OR d.environment = $2)
          ORDER BY r.created_at DESC`,
        [service, target ?? null],
      ),
    );
    return rows.map((r) => ({
      fromKind: r.from_kind,
      fromId: r.from_id,
      relation: r.relation,
      toKind: r.to_kind,
      toId: r.to_id,
      createdAt: iso(r.created_at),
    }));
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  /** Runs a query; failures become provider errors that say whether a retry may help. */
  private async run<T>(what: string, query: () => Promise<T>): Promise<T> {
    if (what !== 'migrate') await this.ensureMigrated();
    try {
      return await query();
    } catch (e) {
      throw cmdbFailure(e, {
        location: this.location,
        what,
        timeoutMs: this.options.queryTimeoutMs ?? DEFAULT_CMDB_TIMEOUT_MS,
      });
    }
  }
}

/** A row of `deployments` as the CMDB's item. */
function deploymentOf(r: QueryResultRow): DeploymentItem {
  return {
    hostname: r.hostname,
    service: r.service,
    target: r.environment,
    version: r.version,
    colour: r.colour,
    status: r.status,
    releaseId: r.release_id,
    updatedAt: iso(r.updated_at),
    ...(r.artifact_digest ? { artifactDigest: r.artifact_digest } : {}),
  };
}

function iso(value: Date | string): string {
  return (value instanceof Date ? value : new Date(value)).toISOString();
}

/**
 * Where a connection URL points, for logs and messages: scheme, user, host, port and database only.
 * Passwords (in the user part or in query parameters such as `?password=`) never appear.
 */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.username ? `${u.username}@` : ''}${u.host}${u.pathname}`;
  } catch {
    return '(unparseable URL)';
  }
}
