// Idle environments: N environments active on one worker process, doing nothing but their drift
// checks. What the worker holds in memory for them, and what each adds to Temporal's history per day.
// The baseline: as many workflows that wake on the same interval to run one no-op activity.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { EnvironmentClient } from '../src/client/environments';
import { parseOrThrow } from '../src/config/errors';
import { templateEnvironment } from '../src/config/resolve';
import { Config } from '../src/config/schema';
import { startDevServer } from '../harness/temporal';
import { CONFIG } from './orchestration';
import type { Report } from './orchestration';
import { each, startWorker, until, writeBundles } from './parked';

const MB = 1024 * 1024;
/** The shortest drift-check interval the configuration allows, so that a short window sees checks. */
const INTERVAL_MS = 60_000;
/** How long the idle worker is watched once every environment is active: two and a half checks. */
const WINDOW_MS = 150_000;
/** The default drift-check interval (6 h): four checks a day. */
const CHECKS_PER_DAY = 4;

const IDLE_CONFIG = {
  ...CONFIG,
  environments: { templates: { idle: { like: 'bench', driftCheckInterval: '1m' } }, defaultTemplate: 'idle' },
};

/**
 * The history events one wake of an idle workflow adds (its drift check, or the baseline's
 * activity): the events between two consecutive activities of that type, averaged over `ids`.
 */
async function eventsPerWake(client: Client, ids: string[], activityType: string): Promise<number> {
  const cycles: number[] = [];
  for (const id of ids) {
    const events = (await client.workflow.getHandle(id).fetchHistory()).events ?? [];
    const wakes = events
      .map((e, i) => (e.activityTaskScheduledEventAttributes?.activityType?.name === activityType ? i : -1))
      .filter((i) => i >= 0);
    for (let k = 1; k < wakes.length; k++) cycles.push(wakes[k]! - wakes[k - 1]!);
  }
  if (cycles.length === 0)
    throw new Error(`no two ${activityType} activities in a row in ${ids.length} histories`);
  return cycles.reduce((a, b) => a + b, 0) / cycles.length;
}

/**
 * Once `n` workflows of `type` are active: the worker's peak resident set over the window, and the
 * events one wake adds to the histories of `sample`; then the worker stops.
 */
async function watchIdle(
  client: Client,
  worker: { peak(): number; resetPeak(): void; stop(): Promise<void> },
  type: string,
  n: number,
  sample: string[],
  activityType: string,
): Promise<{ peak: number; perWake: number }> {
  await until(client, `WorkflowType='${type}' AND GreenlightStage='active'`, n, `${type} active`);
  worker.resetPeak();
  await new Promise((r) => setTimeout(r, WINDOW_MS));
  const peak = worker.peak();
  const perWake = await eventsPerWake(client, sample, activityType);
  await worker.stop();
  return { peak, perWake };
}

export async function benchIdle(report: Report, n: number): Promise<void> {
  const env = await startDevServer();
  const address = env.connection.options.address;
  const dir = await mkdtemp(join(tmpdir(), 'greenlight-bench-'));
  const workers: { stop(): Promise<void> }[] = [];
  try {
    const { greenlightCode, baselineCode } = await writeBundles(dir);
    const config = parseOrThrow(Config, IDLE_CONFIG, 'benchmark config');

    // greenlight: n environments made from a template, provisioned, tested, then idle.
    const taskQueue = 'bench-idle';
    const worker = await startWorker('greenlight', address, taskQueue, greenlightCode, IDLE_CONFIG);
    workers.push(worker);
    const environments = new EnvironmentClient(env.client, taskQueue);
    const names = Array.from({ length: n }, (_, i) => `idle${i}`);
    await each(n, async (i) => {
      const start = templateEnvironment(config, names[i]!, 'idle', 'bench');
      if ('error' in start) throw new Error(start.error);
      await environments.create(start);
    });
    const sample = names.slice(0, 20).map((name) => `env-${name}`);
    const greenlight = await watchIdle(
      env.client,
      worker,
      'environmentLifecycle',
      n,
      sample,
      'checkEnvironmentDrift',
    );

    // The baseline: n workflows waking on the same interval for one no-op activity each.
    const baselineQueue = 'bench-idle-baseline';
    const baseline = await startWorker('baseline', address, baselineQueue, baselineCode);
    workers.push(baseline);
    await each(n, async (i) => {
      await env.client.workflow.start('baselineIdle', {
        args: [INTERVAL_MS],
        workflowId: `idle-baseline-${i}`,
        taskQueue: baselineQueue,
      });
    });
    const baselineSample = Array.from({ length: Math.min(20, n) }, (_, i) => `idle-baseline-${i}`);
    const floor = await watchIdle(env.client, baseline, 'baselineIdle', n, baselineSample, 'noop');

    report(`idle.${n} environments, worker RSS`, greenlight.peak / MB, 'MB', floor.peak / MB);
    report(`idle.history events per drift check`, greenlight.perWake, 'events', floor.perWake);
    report(
      `idle.history events per environment per day (6h drift checks)`,
      greenlight.perWake * CHECKS_PER_DAY,
      'events',
      floor.perWake * CHECKS_PER_DAY,
    );
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    await env.teardown();
    await rm(dir, { recursive: true, force: true });
  }
}
