// `npm run bench`: greenlight's costs as ratios against baselines measured in the same run.
// Results go to bench/results/latest.json as { name, value, unit, baseline, ratio } entries.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { evaluatePolicy } from '../src/shared/policy';
import type { Policy } from '../src/shared/policy';
import type { ConfigInput } from '../src/config/schema';
import { releaseRequest, startHarness, TEST_CONFIG } from '../harness/release';
import type { Harness } from '../harness/release';
import { isTrainEnded } from '../src/shared/train';
import { quietLogger } from '../src/worker';
import { benchBreakers } from './breakers';
import { benchOrchestration } from './orchestration';
import { benchIdle } from './idle';
import { benchOutage } from './outage';
import { benchParked } from './parked';

interface Result {
  name: string;
  value: number;
  unit: string;
  baseline: number;
  ratio: number;
}

const results: Result[] = [];
/**
 * Records a figure against its baseline measured in the same run. The ratio is always the cost
 * against the baseline (above 1: worse): for a figure where higher is better (a rate), baseline / value.
 */
function report(name: string, value: number, unit: string, baseline: number, isHigherBetter = false): void {
  const ratio = isHigherBetter ? baseline / value : value / baseline;
  results.push({ name, value: round(value), unit, baseline: round(baseline), ratio: round(ratio) });
  console.log(
    `${name.padEnd(36)} ${round(value).toString().padStart(12)} ${unit.padEnd(6)} baseline ${round(baseline).toString().padStart(12)}  ratio ${round(ratio)}`,
  );
}
const round = (x: number) => Math.round(x * 1000) / 1000;

/** Median time per call in nanoseconds over several rounds. */
function timePerCall(fn: () => unknown, calls: number, rounds = 7): number {
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) fn();
    samples.push(Number(process.hrtime.bigint() - t0) / calls);
  }
  return samples.sort((a, b) => a - b)[Math.floor(rounds / 2)];
}

function benchPolicy(): void {
  const policy: Policy = { all: ['tests_passed', 'approval_obtained', { not: 'slow_scans_skipped' }] };
  const facts = { tests_passed: true, approval_obtained: true, slow_scans_skipped: false };
  let sink = 0;
  const ours = timePerCall(() => (sink += evaluatePolicy(policy, facts).allowed ? 1 : 0), 100_000);
  const baseline = timePerCall(
    () => (sink += facts.tests_passed && facts.approval_obtained && !facts.slow_scans_skipped ? 1 : 0),
    100_000,
  );
  report('policy.evaluate (with explanation)', ours, 'ns', baseline);
  if (sink < 0) console.log(sink);
}

async function benchRelease(): Promise<void> {
  const config: ConfigInput = {
    ...TEST_CONFIG,
    targets: {
      // A 1 s record TTL: blue is kept that long after cutover, and this benchmark is about orchestration.
      bench: {
        policy: 'tests_passed',
        bake: '200ms',
        healthCheckInterval: '100ms',
        terminationWait: 0,
        recordTtl: 1,
      },
    },
  };
  const h = await startHarness(config);
  const bundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('./baseline-workflow'),
    logger: quietLogger,
  });
  const baselineQueue = `${h.taskQueue}-baseline`;
  const baselineWorker = await Worker.create({
    connection: h.env.nativeConnection,
    taskQueue: baselineQueue,
    workflowBundle: bundle,
    activities: { async noop() {} },
  });
  const baselineRun = baselineWorker.run();
  try {
    // Sequential: one release at a time, each replacing the previous one (blue → green).
    const rounds = 5;
    let releaseMs = 0;
    let activityCount = 0;
    for (let i = 0; i <= rounds; i++) {
      const t0 = performance.now();
      const { releaseId } = await h.api.startRelease(
        releaseRequest('web', `v${i}`, 'bench', { initiator: 'bench' }),
      );
      const status = await h.api.wait(releaseId);
      if (status.stage !== 'completed')
        throw new Error(`release ${releaseId} ended ${status.stage}: ${status.reason}`);
      if (i === 0) continue; // warm-up, and the first release has no blue to terminate
      releaseMs += performance.now() - t0;
      const history = await h.client.workflow.getHandle(releaseId).fetchHistory();
      activityCount = history.events!.filter((e) => e.activityTaskScheduledEventAttributes).length;
    }
    let baselineMs = 0;
    for (let i = 0; i <= rounds; i++) {
      const t0 = performance.now();
      await h.client.workflow.execute('baselineSequence', {
        taskQueue: baselineQueue,
        workflowId: `baseline-${i}`,
        args: [activityCount],
      });
      if (i > 0) baselineMs += performance.now() - t0;
    }
    console.log(
      `(a release ran ${activityCount} activities, a 200 ms bake and a 1 s wait for the old record's TTL)`,
    );
    report('release.sequential (dev, with blue)', releaseMs / rounds, 'ms', baselineMs / rounds);

    // Concurrent: ten services released at once.
    const services = Array.from({ length: 10 }, (_, i) => `svc${i}`);
    const t0 = performance.now();
    await Promise.all(
      services.map(async (service) => {
        const { releaseId } = await h.api.startRelease(
          releaseRequest(service, 'v1', 'bench', { initiator: 'bench' }),
        );
        const status = await h.api.wait(releaseId);
        if (status.stage !== 'completed') throw new Error(`${releaseId}: ${status.stage}`);
      }),
    );
    const concurrentMs = performance.now() - t0;
    const b0 = performance.now();
    await Promise.all(
      services.map((s) =>
        h.client.workflow.execute('baselineSequence', {
          taskQueue: baselineQueue,
          workflowId: `baseline-${s}`,
          args: [activityCount],
        }),
      ),
    );
    report('release.concurrent (10 services)', concurrentMs, 'ms', performance.now() - b0);
    await benchTrain(h);
  } finally {
    baselineWorker.shutdown();
    await baselineRun;
    await h.stop();
  }
}

/**
 * A train of three services against the same three released independently (at once, each on its
 * own): the wall time of coordination, once with the services cutting over together, once one
 * after another (each baked before the next).
 */
async function benchTrain(h: Harness): Promise<void> {
  const services = ['tra', 'trb', 'trc'];
  const independent = async (version: string) => {
    const t0 = performance.now();
    await Promise.all(
      services.map(async (service) => {
        const { releaseId } = await h.api.startRelease(
          releaseRequest(service, version, 'bench', { initiator: 'bench' }),
        );
        const status = await h.api.wait(releaseId);
        if (status.stage !== 'completed') throw new Error(`${releaseId}: ${status.stage} ${status.reason}`);
      }),
    );
    return performance.now() - t0;
  };
  const train = async (version: string, after: [string, string][]) => {
    const t0 = performance.now();
    const { trainId } = await h.api.trains.start({
      target: 'bench',
      initiator: 'bench',
      services: services.map((service) => ({ service, version })),
      after,
    });
    let status = await h.api.trains.status(trainId);
    while (!isTrainEnded(status.stage)) {
      await new Promise((r) => setTimeout(r, 50));
      status = await h.api.trains.status(trainId);
    }
    if (status.stage !== 'completed') throw new Error(`${trainId}: ${status.stage} ${status.reason}`);
    return performance.now() - t0;
  };
  await independent('t0'); // blues, and warm-up
  const rounds = 3;
  let alone = 0;
  let together = 0;
  let chained = 0;
  for (let i = 1; i <= rounds; i++) {
    alone += await independent(`a${i}`);
    together += await train(`b${i}`, []);
    chained += await train(`c${i}`, [
      ['trb', 'tra'],
      ['trc', 'trb'],
    ]);
  }
  report('train.3 services, together', together / rounds, 'ms', alone / rounds);
  report('train.3 services, in a chain', chained / rounds, 'ms', alone / rounds);
}

/** `GREENLIGHT_BENCH_SIZES=50,200,500` (the default): the numbers of releases run at once. */
function sizes(): number[] {
  const text = process.env.GREENLIGHT_BENCH_SIZES || '50,200,500';
  const list = text.split(',').map(Number);
  if (list.some((n) => !Number.isInteger(n) || n < 1 || n > 5_000))
    throw new Error(
      `GREENLIGHT_BENCH_SIZES must be whole numbers from 1 to 5000, separated by commas, not ${JSON.stringify(text)}`,
    );
  return list;
}

/** A count from the environment (`GREENLIGHT_BENCH_PARKED=2000`), or its default. */
function count(name: string, fallback: number): number {
  const text = process.env[name];
  if (!text) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 100_000)
    throw new Error(`${name} must be a whole number from 1 to 100000, not ${JSON.stringify(text)}`);
  return n;
}

/** `GREENLIGHT_BENCH_ONLY=orchestration,breakers`: run only these (default: all). */
const BENCHMARKS: Record<string, () => Promise<void>> = {
  breakers: () => benchBreakers(report),
  policy: async () => benchPolicy(),
  releases: benchRelease,
  orchestration: () => benchOrchestration(report, sizes()),
  parked: () => benchParked(report, count('GREENLIGHT_BENCH_PARKED', 2_000)),
  idle: () => benchIdle(report, count('GREENLIGHT_BENCH_IDLE', 1_000)),
  outage: () =>
    benchOutage(
      report,
      count('GREENLIGHT_BENCH_OUTAGE_RELEASES', 50),
      count('GREENLIGHT_BENCH_OUTAGE_SECONDS', 60) * 1000,
    ),
};

async function main(): Promise<void> {
  const only = process.env.GREENLIGHT_BENCH_ONLY?.split(',').filter(Boolean);
  const unknown = only?.filter((name) => !Object.hasOwn(BENCHMARKS, name)) ?? [];
  if (unknown.length)
    throw new Error(
      `unknown benchmark ${unknown.join(', ')}; the benchmarks are ${Object.keys(BENCHMARKS).join(', ')}`,
    );
  for (const [name, bench] of Object.entries(BENCHMARKS)) if (!only || only.includes(name)) await bench();
  const dir = join(__dirname, '..', '..', 'bench', 'results');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
  console.log(`wrote ${join('bench', 'results', 'latest.json')}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
