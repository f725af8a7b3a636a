import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CircuitOpenError } from '../src/breaker/errors';
import { DEFAULT_BREAKER_SETTINGS } from '../src/breaker/settings';
import type { Transition } from '../src/breaker/breaker';
import type { BreakerSettings } from '../src/breaker/settings';
import type { BreakerView } from '../src/breaker/registry';
import { SharedBreaker } from '../src/breaker/shared';
import { PostgresCmdb } from '../src/providers/cmdb/postgres';
import { startPostgres } from './helpers/postgres';
import type { PostgresServer } from './helpers/postgres';

/** A worker process sharing the breaker through PostgreSQL (test/fixtures/shared-breaker-worker). */
interface Worker {
  call(fail: boolean, durationMs?: number): Promise<'ok' | 'failed' | 'rejected'>;
  view(): Promise<BreakerView>;
  stop(): void;
}

const BREAKER = 'dns:prod';
const CONFIG = {
  backend: 'postgres',
  // The documented defaults (3 failures within 300 s), a 1 s open period that doubles.
  dependencies: { dns: { waitDuration: '1s', waitBackoffMultiplier: 2 } },
};

let server: PostgresServer;
let workers: Worker[] = [];

async function startWorker(url: string): Promise<Worker> {
  const child: ChildProcess = fork(
    join(__dirname, 'fixtures', 'shared-breaker-worker.js'),
    [url, BREAKER, JSON.stringify(CONFIG)],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  );
  const pending = new Map<number, (m: Record<string, unknown>) => void>();
  let next = 1;
  const ready = new Promise<void>((resolve) => {
    child.on('message', (m: { id: number; ready?: boolean; error?: string }) => {
      if (m.ready) return resolve();
      if (m.error) throw new Error(`worker store error: ${m.error}`);
      pending.get(m.id)?.(m);
      pending.delete(m.id);
    });
  });
  const ask = (request: object) =>
    new Promise<Record<string, unknown>>((resolve) => {
      const id = next++;
      pending.set(id, resolve);
      child.send({ id, ...request });
    });
  await ready;
  return {
    call: async (fail, durationMs = 0) => (await ask({ op: 'call', fail, durationMs })).outcome as 'ok',
    view: async () => (await ask({ op: 'view' })).view as BreakerView,
    stop: () => child.disconnect(),
  };
}

before(async () => {
  server = await startPostgres();
  const db = new PostgresCmdb({ connectionString: server.url });
  await db.migrate();
  await db.close();
  workers = await Promise.all([1, 2, 3].map(() => startWorker(server.url)));
});

after(async () => {
  for (const w of workers) w.stop();
  await server?.stop();
});

describe('a circuit breaker shared by worker processes through PostgreSQL', () => {
  it('counts the failures of all workers together and opens for all of them', async () => {
    const [a, b, c] = workers as [Worker, Worker, Worker];
    assert.equal(await a.call(true), 'failed');
    assert.equal(await b.call(true), 'failed');
    assert.equal((await c.view()).state, 'closed', 'two failures, threshold three');
    assert.equal(await c.call(true), 'failed');
    for (const w of workers) assert.equal(await w.call(true), 'rejected', 'open for every worker');
    const view = await a.view();
    assert.equal(view.state, 'open');
    assert.ok(view.retryAfterMs > 0 && view.retryAfterMs <= 1_000);
  });

  it('lets exactly one worker make the half-open trial, by a lease', async () => {
    await new Promise((r) => setTimeout(r, 1_100));
    // All three try at once; the trial takes 300 ms, so the others see it running.
    const outcomes = await Promise.all(workers.map((w) => w.call(false, 300)));
    assert.deepEqual(outcomes.filter((o) => o === 'ok').length, 1, `one trial: ${outcomes.join(', ')}`);
    assert.deepEqual(outcomes.filter((o) => o === 'rejected').length, 2);
    assert.equal((await workers[2]!.view()).state, 'closed', 'the trial succeeded: closed for all');
    for (const w of workers) assert.equal(await w.call(false), 'ok');
  });

  it('opens again, for longer, when the one trial fails', async () => {
    for (const w of workers) assert.equal(await w.call(true), 'failed');
    await new Promise((r) => setTimeout(r, 1_100));
    const outcomes = await Promise.all(workers.map((w) => w.call(true, 200)));
    assert.equal(outcomes.filter((o) => o === 'failed').length, 1, `one trial: ${outcomes.join(', ')}`);
    const view = await workers[0]!.view();
    assert.equal(view.state, 'open');
    assert.ok(
      view.retryAfterMs > 1_000,
      `the second opening in a row lasts 2 s (${view.retryAfterMs} ms left)`,
    );
  });
});

/** A shared breaker in this process, on the same database, with short periods measured on its clock. */
async function sharedBreaker(name: string, overrides: Partial<BreakerSettings>) {
  const db = new PostgresCmdb({ connectionString: server.url });
  const settings = { ...DEFAULT_BREAKER_SETTINGS, waitDurationMs: 300, maxWaitDurationMs: 300, ...overrides };
  const breaker = new SharedBreaker(name, settings, (text, values) => db.query(text, values), 'test-worker');
  const transitions: Transition[] = [];
  breaker.listen({ onTransition: (t) => transitions.push(t) });
  const trip = async () => {
    for (let i = 0; i < 3; i++) {
      const permit = await breaker.acquire();
      assert.ok(!(permit instanceof CircuitOpenError));
      await breaker.report(permit, 10, 'failure');
    }
    assert.equal((await breaker.view()).state, 'open');
  };
  const trial = async () => {
    const permit = await breaker.acquire();
    assert.ok(!(permit instanceof CircuitOpenError) && permit.isTrial, 'a trial permit');
    return permit;
  };
  return { breaker, transitions, trip, trial, close: () => db.close() };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the half-open limit of a shared breaker: its trial lease', () => {
  it('opens when the lease ends though no call comes, and ignores the late trial result', async () => {
    const { breaker, transitions, trip, trial, close } = await sharedBreaker('dns:lease', {
      waitDurationMs: 1_000,
      maxWaitDurationMs: 1_000,
      maxWaitInHalfOpenMs: 600,
    });
    try {
      await trip();
      await sleep(1_100);
      const hung = await trial();
      assert.equal((await breaker.view()).state, 'half_open', 'within the lease');
      await sleep(900);
      const view = await breaker.view();
      assert.equal(view.state, 'open', 'the lease is over, though no call came');
      assert.ok(
        view.retryAfterMs > 0 && view.retryAfterMs <= 850,
        `open for 1 s from the lease's end, 300 ms ago: retry in ${view.retryAfterMs} ms`,
      );
      assert.match(transitions.at(-1)!.reason, /no trial result before the trial lease ended/);
      await breaker.report(hung, 800, 'success');
      assert.equal((await breaker.view()).state, 'open', 'the late trial result is not judged');
    } finally {
      await close();
    }
  });

  it('ignores a trial result that comes after the lease ended, even when nothing read the breaker', async () => {
    const { breaker, trip, trial, close } = await sharedBreaker('dns:late', { maxWaitInHalfOpenMs: 600 });
    try {
      await trip();
      await sleep(400);
      const hung = await trial();
      await sleep(800);
      await breaker.report(hung, 800, 'success');
      assert.equal((await breaker.view()).state, 'open');
    } finally {
      await close();
    }
  });
});

describe('a shared breaker’s permit is reported once', () => {
  it('records a closed-state call once, however often it is reported', async () => {
    const { breaker, close } = await sharedBreaker('dns:twice', {});
    try {
      const permit = await breaker.acquire();
      assert.ok(!(permit instanceof CircuitOpenError));
      await breaker.report(permit, 10, 'failure');
      await breaker.report(permit, 10, 'failure');
      assert.equal((await breaker.view()).failures, 1);
    } finally {
      await close();
    }
  });

  it('gives a trial permit back once: no trial too many', async () => {
    const { breaker, trip, trial, close } = await sharedBreaker('dns:trials', {
      permittedCallsInHalfOpen: 2,
    });
    try {
      await trip();
      await sleep(400);
      const ignored = await trial();
      await trial();
      await breaker.report(ignored, 10, 'ignore');
      await breaker.report(ignored, 10, 'ignore');
      await trial(); // the ignored trial's place
      assert.ok(
        (await breaker.acquire()) instanceof CircuitOpenError,
        'two trials run, as permitted: no third',
      );
    } finally {
      await close();
    }
  });
});
