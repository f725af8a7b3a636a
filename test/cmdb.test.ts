import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isProviderError } from '../src/providers/errors';
import { openCmdb, openCmdbForReading } from '../src/providers/cmdb/open';
import type { OpenCmdb } from '../src/providers/cmdb/open';
import { PostgresCmdb, redactUrl } from '../src/providers/cmdb/postgres';
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

  it('keeps its data across a restart, and serves it to a reader while the owner runs', async () => {
    const owner = await openCmdb(stateDir);
    try {
      const reader = await openCmdbForReading(stateDir);
      assert.match(reader.location, /^postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/);
      assert.ok(
        (await reader.cmdb.changes('web', 'dev')).length >= 2,
        'the changes of the first open are there',
      );
      await reader.close();
    } finally {
      await owner.close();
    }
    // No owner now: the reader opens the data directory itself.
    const alone = await openCmdbForReading(stateDir);
    assert.match(alone.location, /^embedded PGlite/);
    assert.ok((await alone.cmdb.deployments('web')).length >= 3);
    await alone.close();
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

  it('migrates safely when several workers start at once', async () => {
    const workers = Array.from({ length: 4 }, () => new PostgresCmdb({ connectionString: server.url }));
    try {
      const applied = await Promise.all(workers.map((w) => w.migrate()));
      assert.deepEqual(applied.flat(), [], 'already migrated by the shared tests: nothing more to apply');
    } finally {
      await Promise.all(workers.map((w) => w.close()));
    }
  });

  it('fails with a retryable error that never shows the password when the server is unreachable', async () => {
    const url = server.url.replace(/:(\d+)\//, ':1/');
    const cmdb = new PostgresCmdb({ connectionString: url, connectionTimeoutMillis: 2000 });
    try {
      await assert.rejects(cmdb.deployments('web'), (e: unknown) => {
        assert.ok(isProviderError(e));
        assert.equal(e.isRetryable, true);
        assert.ok(!e.message.includes(server.password), e.message);
        return true;
      });
    } finally {
      await cmdb.close();
    }
    assert.ok(!redactUrl(server.url).includes(server.password));
    assert.match(redactUrl(server.url), /^postgres:\/\/greenlight:\*\*\*@127\.0\.0\.1:\d+\/postgres$/);
  });
});
