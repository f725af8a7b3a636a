/**
 * The CMDB schema, as ordered migrations. The same SQL runs on the embedded PGlite and on PostgreSQL.
 * Append new migrations; never edit one that has shipped.
 */
export const MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'configuration items and change log',
    sql: `
      CREATE TABLE environments (
        name        text PRIMARY KEY,
        created_at  timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE services (
        name        text PRIMARY KEY,
        created_at  timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE deployments (
        hostname     text PRIMARY KEY,
        service      text NOT NULL REFERENCES services (name),
        environment  text NOT NULL REFERENCES environments (name),
        version      text NOT NULL,
        colour       text NOT NULL CHECK (colour IN ('blue', 'green')),
        status       text NOT NULL CHECK (status IN ('candidate', 'live', 'terminated', 'torn_down')),
        release_id   text NOT NULL,
        updated_at   timestamptz NOT NULL
      );
      CREATE INDEX deployments_service_environment ON deployments (service, environment);
      -- Typed edges between configuration items, e.g. deployment/web-v2… replaces deployment/web-v1….
      CREATE TABLE relationships (
        from_kind   text NOT NULL,
        from_id     text NOT NULL,
        relation    text NOT NULL,
        to_kind     text NOT NULL,
        to_id       text NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (from_kind, from_id, relation, to_kind, to_id)
      );
      -- One row per stage of a release; (release_id, step) makes a retried write a no-op.
      CREATE TABLE changes (
        seq          bigserial NOT NULL UNIQUE,
        release_id   text NOT NULL,
        step         text NOT NULL,
        service      text NOT NULL REFERENCES services (name),
        environment  text NOT NULL REFERENCES environments (name),
        version      text NOT NULL,
        stage        text NOT NULL,
        at           timestamptz NOT NULL,
        note         text,
        PRIMARY KEY (release_id, step)
      );
      CREATE INDEX changes_service_environment_at ON changes (service, environment, at DESC);
    `,
  },
  {
    version: 2,
    name: 'circuit breakers shared by workers',
    sql: `
      -- One row per dependency; epoch counts state changes, so every change is a conditional update.
      CREATE TABLE circuit_breakers (
        name              text PRIMARY KEY,
        state             text NOT NULL DEFAULT 'closed',
        epoch             bigint NOT NULL DEFAULT 0,
        since             timestamptz NOT NULL DEFAULT now(),
        open_until        timestamptz,
        consecutive_opens int NOT NULL DEFAULT 0,
        -- The trial lease: the one worker that makes the half-open trial calls, until when.
        trial_owner       text,
        trial_until       timestamptz,
        trials_issued     int NOT NULL DEFAULT 0,
        reason            text
      );
      -- The calls of each breaker's current state (its window), from every worker.
      CREATE TABLE circuit_breaker_calls (
        name    text NOT NULL,
        epoch   bigint NOT NULL,
        at      timestamptz NOT NULL DEFAULT clock_timestamp(),
        failed  boolean NOT NULL,
        slow    boolean NOT NULL,
        worker  text NOT NULL
      );
      CREATE INDEX circuit_breaker_calls_window ON circuit_breaker_calls (name, epoch, at DESC);
    `,
  },
  {
    version: 3,
    name: 'environments as configuration items',
    sql: `
      ALTER TABLE environments
        ADD COLUMN state             text,
        ADD COLUMN template          text,
        ADD COLUMN ttl_expires_at    timestamptz,
        ADD COLUMN decommissioned_at timestamptz,
        ADD COLUMN updated_at        timestamptz;
    `,
  },
  {
    version: 4,
    name: 'the change log of environments',
    sql: `
      -- One row per transition of an environment; (environment, step) makes a retried write a no-op.
      CREATE TABLE environment_changes (
        seq          bigserial NOT NULL UNIQUE,
        environment  text NOT NULL REFERENCES environments (name),
        step         text NOT NULL,
        transition   text NOT NULL,
        from_state   text NOT NULL,
        to_state     text NOT NULL,
        outcome      text NOT NULL CHECK (outcome IN ('done', 'blocked')),
        at           timestamptz NOT NULL,
        by_whom      text,
        note         text,
        PRIMARY KEY (environment, step)
      );
      CREATE INDEX environment_changes_at ON environment_changes (environment, at DESC);
    `,
  },
  {
    version: 5,
    name: 'the artifact each deployment runs',
    sql: `
      -- The sha256 digest of the artifact a deployment was made from; null before artifacts.
      ALTER TABLE deployments ADD COLUMN artifact_digest text;
    `,
  },
  {
    version: 6,
    name: 'promotion by artifact, and the manifests of release trains',
    sql: `
      -- A promotion rule looks up the deployments of one artifact on a target.
      CREATE INDEX deployments_artifact ON deployments (service, environment, artifact_digest);
      -- One row per release train: what it released (service, version, artifact digest), the hash of
      -- its target's effective configuration, and how it ended; train start --from replays it.
      CREATE TABLE trains (
        train_id     text PRIMARY KEY,
        target       text NOT NULL,
        from_train   text,
        manifest     jsonb NOT NULL,
        config_hash  text NOT NULL,
        outcome      text NOT NULL,
        recorded_at  timestamptz NOT NULL
      );
      CREATE INDEX trains_recorded ON trains (recorded_at DESC);
    `,
  },
];
