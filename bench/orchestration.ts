// Orchestration overhead: N releases at once through instant providers, against Temporal's own
// cost for the same work (the baseline workflows: as many activities, timers and signals, a lane
// and its child) on the same server in the same run. What is left is greenlight's: its workflow
// code, its activities' code around the providers, its client's checks, its search attributes.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WithStartWorkflowOperation } from '@temporalio/client';
import type { Client } from '@temporalio/client';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { GreenlightClient } from '../src/client/api';
import { parseOrThrow } from '../src/config/errors';
import { Config } from '../src/config/schema';
import { createWorker, quietLogger } from '../src/worker';
import { releaseRequest } from '../harness/release';
import { startDevServer, workflowBundle } from '../harness/temporal';
import { composeInstant } from './instant';
import type { Shape } from './baseline-workflow';

export type Report = (
  name: string,
  value: number,
  unit: string,
  baseline: number,
  isHigherBetter?: boolean,
) => void;

/** A target whose waits are as short as the configuration allows: a release is then all orchestration. */
export const CONFIG = {
  zone: 'bench.internal',
  targets: {
    bench: {
      recordTtl: 1,
      approval: { required: 0 },
      policy: 'tests_passed',
      bake: '200ms',
      healthCheckInterval: '100ms',
      terminationWait: 0,
    },
  },
  checks: [{ name: 'health', path: '/healthz' }],
  healthCheck: { name: 'health', path: '/healthz' },
};

/** What one release asked of Temporal, from its history: its activities before its first approval and after. */
export async function shapeOf(client: Client, releaseId: string): Promise<Shape> {
  const history = await client.workflow.getHandle(releaseId).fetchHistory();
  const events = history.events ?? [];
  const approval = events.findIndex(
    (e) => e.workflowExecutionUpdateAcceptedEventAttributes || e.workflowExecutionSignaledEventAttributes,
  );
  const fired = new Set(events.map((e) => e.timerFiredEventAttributes?.timerId).filter(Boolean));
  const activities = (from: number, to: number) =>
    events.slice(from, to).filter((e) => e.activityTaskScheduledEventAttributes).length;
  return {
    before: activities(0, approval < 0 ? events.length : approval),
    after: approval < 0 ? 0 : activities(approval, events.length),
    signals: events.filter(
      (e) => e.workflowExecutionUpdateAcceptedEventAttributes || e.workflowExecutionSignaledEventAttributes,
    ).length,
    // The timers that fired: a release's approval timeout, cancelled by the approval, waited for nothing.
    timersMs: events
      .filter((e) => fired.has(e.timerStartedEventAttributes?.timerId ?? ''))
      .map((e) => e.timerStartedEventAttributes!.startToFireTimeout!)
      .map((t) => Number(t.seconds ?? 0) * 1000 + Math.round((t.nanos ?? 0) / 1e6)),
  };
}

export async function benchOrchestration(report: Report, sizes: number[]): Promise<void> {
  const env = await startDevServer();
  const stateDir = await mkdtemp(join(tmpdir(), 'greenlight-bench-'));
  const config = parseOrThrow(Config, CONFIG, 'benchmark config');
  const providers = await composeInstant(config, stateDir, env.client);
  const taskQueue = 'bench-releases';
  const worker = await createWorker({
    connection: env.nativeConnection,
    namespace: 'default',
    taskQueue,
    deps: providers.deps,
    workflowBundle: await workflowBundle(),
  });
  const baselineQueue = 'bench-baseline';
  const baselineWorker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: baselineQueue,
    workflowBundle: await bundleWorkflowCode({
      workflowsPath: require.resolve('./baseline-workflow'),
      logger: quietLogger,
    }),
    activities: { async noop() {} },
  });
  const running = [worker.run(), baselineWorker.run()];
  const api = new GreenlightClient(env.client, { taskQueue });
  try {
    let round = 0;
    const releaseAll = async (n: number): Promise<{ ms: number; ids: string[] }> => {
      const version = `v${round++}`;
      const t0 = performance.now();
      const ids = await Promise.all(
        Array.from({ length: n }, async (_, i) => {
          const { releaseId } = await api.startRelease(
            releaseRequest(`svc${i}`, version, 'bench', { initiator: 'bench' }),
          );
          const status = await api.wait(releaseId);
          if (status.stage !== 'completed')
            throw new Error(`${releaseId} ended ${status.stage}: ${status.reason}`);
          return releaseId;
        }),
      );
      return { ms: performance.now() - t0, ids };
    };
    const baselineAll = async (n: number, shape: Shape): Promise<number> => {
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: n }, async (_, i) => {
          const laneId = `baseline-${round}-${i}`;
          const childId = await env.client.workflow.executeUpdateWithStart('start', {
            args: [shape],
            startWorkflowOperation: new WithStartWorkflowOperation('baselineLane', {
              workflowId: laneId,
              taskQueue: baselineQueue,
              workflowIdConflictPolicy: 'FAIL',
            }),
          });
          for (let s = 0; s < shape.signals; s++)
            await env.client.workflow.getHandle(childId as string).signal('nudge');
          await env.client.workflow.getHandle(laneId).result();
        }),
      );
      round++;
      return performance.now() - t0;
    };

    // Every service gets a first release (no blue), so each measured one replaces a blue, as most do.
    const largest = Math.max(...sizes);
    const warm = await releaseAll(largest);
    const shape = await shapeOf(env.client, warm.ids[0]!);
    for (const n of sizes) {
      const releases = await releaseAll(n);
      const deferred = await providers.deferred();
      if (deferred > 0) throw new Error(`${deferred} CMDB writes were deferred: this measured the outbox`);
      const measured = await shapeOf(env.client, releases.ids[0]!);
      const baselineMs = await baselineAll(n, measured);
      console.log(
        `(N=${n}: a release ran ${measured.before} activities and ${measured.timersMs.length} timers of ${measured.timersMs.join('/')} ms; a first release ${shape.before} activities)`,
      );
      report(`orchestration.${n} releases at once`, releases.ms / 1000, 's', baselineMs / 1000);
      report(`orchestration.${n} releases/s`, (n * 1000) / releases.ms, '1/s', (n * 1000) / baselineMs, true);
    }
  } finally {
    worker.shutdown();
    baselineWorker.shutdown();
    await Promise.all(running);
    await providers.close();
    await env.teardown();
    await rm(stateDir, { recursive: true, force: true });
  }
}
