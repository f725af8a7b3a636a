import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CmdbOutbox } from '../src/breaker/outbox';
import { parseOrThrow } from '../src/config/errors';
import { Config } from '../src/config/schema';
import { composeDependencies } from '../src/worker';
import { startPostgres } from './helpers/postgres';
import type { PostgresServer } from './helpers/postgres';
import { TEST_CONFIG } from '../harness/release';

let dir: string;
let postgres: PostgresServer;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'greenlight-handover-'));
  postgres = await startPostgres();
});
after(async () => {
  await postgres?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('the CMDB outbox of a worker that never comes back', () => {
  it('is replayed by a worker started on a state dir the file was copied into', async () => {
    const lost = join(dir, 'lost-worker');
    const at = '2026-11-21T23:32:20.031Z';
    await new CmdbOutbox(lost).add({
      change: {
        releaseId: 'rel-1',
        step: 'completed',
        service: 'web',
        target: 'dev',
        version: 'v1',
        stage: 'completed',
        at,
      },
      deployments: [
        {
          service: 'web',
          target: 'dev',
          version: 'v1',
          hostname: 'web-v1.dev.test.internal',
          colour: 'green',
          status: 'live',
          releaseId: 'rel-1',
          updatedAt: at,
        },
      ],
      reason: 'the CMDB was out of reach',
      deferredAt: at,
    });

    const fresh = join(dir, 'new-worker');
    await mkdir(join(fresh, 'outbox'), { recursive: true });
    await copyFile(join(lost, 'outbox', 'cmdb.json'), join(fresh, 'outbox', 'cmdb.json'));
    let replayed!: (count: number) => void;
    const count = new Promise<number>((resolve) => (replayed = resolve));
    const providers = await composeDependencies(parseOrThrow(Config, TEST_CONFIG, 'test config'), fresh, {
      cmdbUrl: postgres.url,
      outboxIntervalMs: 100,
      onOutboxReplayed: (n) => replayed(n),
    });
    try {
      assert.equal(await count, 1);
      const cmdb = providers.deps.cmdb;
      assert.deepEqual(
        (await cmdb.changes('web', 'dev')).map((c) => [c.releaseId, c.step]),
        [['rel-1', 'completed']],
      );
      assert.deepEqual(
        (await cmdb.deployments('web', 'dev')).map((d) => [d.hostname, d.status]),
        [['web-v1.dev.test.internal', 'live']],
      );
      const file = JSON.parse(await readFile(join(fresh, 'outbox', 'cmdb.json'), 'utf8')) as unknown;
      assert.deepEqual(file, { entries: [] });
    } finally {
      await providers.close();
    }
  });
});
