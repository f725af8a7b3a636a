import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isProviderError } from '../src/providers/errors';
import { openCmdb, openCmdbForReading } from '../src/providers/cmdb/open';
import type { OpenCmdb } from '../src/providers/cmdb/open';
import { MIGRATIONS } from '../src/providers/cmdb/migrations';
import { describeUrl, PostgresCmdb } from '../src/providers/cmdb/postgres';
import type { DeploymentItem } from '../src/providers/cmdb/types';
import type { PostgresServer } from './helpers/postgres';
import { startPostgres } from './helpers/postgres';

const change = (step: string, at: string, stage = step) => ({
  releaseId: 'web-dev-v2-aaaaaa',
  step,
  service: 'web',
  target: 'dev',
  version: 'v2',
  stage,
  at,
});

const deployment = (over: Partial<DeploymentItem>): DeploymentItem => ({
  service: 'web',
  target: 'dev',
  version: 'v1',
  hostname: 'web-v1.dev.test',
  colour: 'green',
  status: 'live',
  releaseId: 'web-dev-v1-bbbbbb',
  updatedAt: '2026-11-21T10:00:00.000Z',
  ...over,
});

/** The same behaviour on every backend: the SQL is shared, so are the tests. */
function cmdbBehaviour(open: () => Promise<OpenCmdb>): void {
  let db: OpenCmdb;
  before(async () => {
    db = await open();
  });
  after(async () => {
    await db?.close();
  });

  it('migrates once: a second run applies nothing', async () => {
    assert.deepEqual(await db.cmdb.migrate(), []);
  });

  it('keeps one change per release and step, however often a retry records it', async () => {
    await db.cmdb.recordChange(change('2:deploying', '2026-11-21T10:00:01.000Z'));
    await db.cmdb.recordChange({ ...change('2:deploying', '2026-11-21T10:00:09.000Z'), note: 'retried' });
    await db.cmdb.recordChange(change('3:testing', '2026-11-21T10:00:02.000Z'));
    const changes = await db.cmdb.changes('web', 'dev');
    assert.deepEqual(
      changes.map((c) => [c.step, c.at, c.note]),
      [
        ['3:testing', '2026-11-21T10:00:02.000Z', undefined],
        ['2:deploying', '2026-11-21T10:00:01.000Z', undefined],
      ],
    );
    assert.equal((await db.cmdb.changes('web', 'dev', 1)).length, 1);
    assert.deepEqual(await db.cmdb.changes('web', 'prod'), []);
  });

  it('never lets an older deployment write replace a newer one', async () => {
    await db.cmdb.upsertDeployment(deployment({ status: 'live', updatedAt: '2026-11-21T10:00:00.000Z' }));
    await db.cmdb.upsertDeployment(
      deployment({ status: 'terminated', updatedAt: '2026-11-21T11:00:00.000Z' }),
    );
    await db.cmdb.upsertDeployment(deployment({ status: 'live', updatedAt: '2026-11-21T10:30:00.000Z' }));
    const [item] = await db.cmdb.deployments('web', 'dev');
    assert.equal(item.status, 'terminated');
    assert.equal(item.updatedAt, '2026-11-21T11:00:00.000Z');
  });

  it('records that a deployment going live replaces the live one', async () => {
    await db.cmdb.upsertDeployment(
      deployment({ hostname: 'web-v3.dev.test', version: 'v3', updatedAt: '2026-11-21T12:00:00.000Z' }),
    );
    await db.cmdb.upsertDeployment(
      deployment({ hostname: 'web-v4.dev.test', version: 'v4', updatedAt: '2026-11-21T13:00:00.000Z' }),
    );
    await db.cmdb.upsertDeployment(
      deployment({ hostname: 'web-v4.dev.test', version: 'v4', updatedAt: '2026-11-21T13:00:01.000Z' }),
    );
    const relations = await db.cmdb.relationships('web', 'dev');
    assert.deepEqual(
      relations.map((r) => `${r.fromId} ${r.relation} ${r.toId}`),
      ['web-v4.dev.test replaces web-v3.dev.test'],
    );
    const hostnames = (await db.cmdb.deployments('web')).map((d) => d.hostname);
    assert.deepEqual(hostnames, ['web-v4.dev.test', 'web-v3.dev.test', 'web-v1.dev.test']);
  });
}

describe('CMDB on the embedded PGlite', () => {
  let stateDir: string;
  before(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'greenlight-cmdb-'));
  });
  after(async () => {
    await rm(stateDir, { recursive: true, force: true });
  });
  cmdbBehaviour(() => openCmdb(stateDir));

  it('keeps its data across a restart, refuses a second owner, and serves readers through the owner', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'greenlight-cmdb-owner-'));
    try {
      const owner = await openCmdb(dir);
      try {
        await owner.cmdb.recordChange(change('2:deploying', '2026-11-21T10:00:01.000Z'));
        await assert.rejects(openCmdb(dir), /the embedded CMDB in .* is in use by process \d+/);
        const reader = await openCmdbForReading(dir);
        assert.match(reader.location, /^embedded PGlite served by process \d+$/);
        assert.equal((await reader.cmdb.changes('web', 'dev')).length, 1);
        await reader.close();
      } finally {
        await owner.close();
      }
      // No owner now: the reader opens the data directory itself, and finds what was written.
      const alone = await openCmdbForReading(dir);
      assert.match(alone.location, /^embedded PGlite \(/);
      assert.equal((await alone.cmdb.changes('web', 'dev')).length, 1);
      await alone.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('CMDB on a PostgreSQL server', () => {
  let server: PostgresServer;
  before(async () => {
    server = await startPostgres();
  });
  after(async () => {
    await server?.stop();
  });
  cmdbBehaviour(() => openCmdb('/nonexistent', server.url));

  it('migrates a fresh database exactly once when several workers start at once', async () => {
    const admin = new PostgresCmdb({ connectionString: server.url });
    await admin.query('CREATE DATABASE fresh', []);
    await admin.close();
    const url = server.url.replace(/\/postgres$/, '/fresh');
    const workers = Array.from({ length: 4 }, () => new PostgresCmdb({ connectionString: url }));
    try {
      const applied = await Promise.all(workers.map((w) => w.migrate()));
      const all = MIGRATIONS.map((m) => m.version);
      assert.deepEqual(applied.flat(), all, 'one worker applied each migration, the others found it done');
      assert.equal(applied.filter((a) => a.length > 0).length, 1);
    } finally {
      await Promise.all(workers.map((w) => w.close()));
    }
  });

  it('never shows a password: not in errors, not in the location it logs', async () => {
    const wrong = server.url.replace(server.password, 'not-the-password-42');
    const cmdb = new PostgresCmdb({ connectionString: wrong });
    try {
      await assert.rejects(cmdb.deployments('web'), (e: unknown) => {
        assert.ok(isProviderError(e));
        assert.match(e.message, /password authentication failed/);
        assert.ok(!e.message.includes('not-the-password-42'), e.message);
        return true;
      });
    } finally {
      await cmdb.close();
    }
    const inQuery = `postgres://greenlight@127.0.0.1:5432/postgres?password=${server.password}&sslmode=disable`;
    for (const url of [server.url, inQuery]) {
      assert.ok(!describeUrl(url).includes(server.password), describeUrl(url));
    }
    assert.match(describeUrl(server.url), /^postgres:\/\/greenlight@127\.0\.0\.1:\d+\/postgres$/);
  });

  it('fails with a retryable error when the server is unreachable', async () => {
    const cmdb = new PostgresCmdb({
      connectionString: server.url.replace(/:(\d+)\//, ':1/'),
      connectionTimeoutMillis: 2000,
    });
    try {
      await assert.rejects(cmdb.deployments('web'), (e: unknown) => isProviderError(e) && e.isRetryable);
    } finally {
      await cmdb.close();
    }
  });
});
