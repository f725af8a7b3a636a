// Parked releases: many releases waiting for their approval on one worker (in a process of its own,
// so its memory is its own): the worker's peak resident set, then the time from approving them all
// to all completed. The baseline: as many lanes and children on Temporal alone, doing the same
// number of activities before and after waiting for one approval (an Update) each.
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { WithStartWorkflowOperation } from '@temporalio/client';
import type { Client } from '@temporalio/client';
import { GreenlightClient } from '../src/client/api';
import { patientUpdate } from '../src/client/errors';
import { releaseRequest } from '../harness/release';
import { startDevServer, workflowBundle } from '../harness/temporal';
import { quietLogger } from '../src/worker';
import { CONFIG, shapeOf } from './orchestration';
import type { Report } from './orchestration';
import { approve } from './baseline-workflow';
import type { Shape } from './baseline-workflow';

const MB = 1024 * 1024;
/** Requests in flight at once from the benchmark's client. */
const CONCURRENCY = 100;

const GATED_CONFIG = {
  ...CONFIG,
  targets: {
    gated: {
      ...CONFIG.targets.bench,
      approval: { required: 1, timeout: '24h' },
      policy: { all: ['tests_passed', 'approval_obtained'] },
    },
  },
};

/** A worker process, and the largest resident set it has reported (since `resetPeak`). */
export async function startWorker(
  kind: 'greenlight' | 'baseline',
  address: string,
  taskQueue: string,
  codePath: string,
  config: object = GATED_CONFIG,
) {
  const child: ChildProcess = fork(
    join(__dirname, 'worker-process.js'),
    [kind, address, taskQueue, JSON.stringify(config), codePath],
    {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    },
  );
  let peak = 0;
  let deferred = 0;
  await new Promise<void>((resolve, reject) => {
    child.on('message', (m: unknown) => {
      if (m === 'ready') resolve();
      else if (typeof m === 'object' && m && 'deferred' in m) deferred = (m as { deferred: number }).deferred;
      else peak = Math.max(peak, (m as { rss: number }).rss);
    });
    child.once('exit', (code) => reject(new Error(`the ${kind} worker exited (${code})`)));
  });
  child.removeAllListeners('exit');
  child.once('exit', (code, signal) => {
    if (code !== 0) process.stderr.write(`the ${kind} worker process exited (${code ?? signal})\n`);
  });
  return {
    peak: () => peak,
    resetPeak: () => void (peak = 0),
    /** After `stop`: the CMDB writes the worker deferred to its outbox. */
    deferred: () => deferred,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.removeAllListeners('exit');
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/**
 * Both workflow bundles, greenlight's and the baselines', built here and written to `dir` for the
 * worker processes, so that neither worker's memory holds a bundler.
 */
export async function writeBundles(dir: string): Promise<{ greenlightCode: string; baselineCode: string }> {
  const greenlightCode = join(dir, 'greenlight.js');
  const baselineCode = join(dir, 'baseline.js');
  await writeFile(greenlightCode, (await workflowBundle()).code);
  const baselineBundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('./baseline-workflow'),
    logger: quietLogger,
  });
  await writeFile(baselineCode, baselineBundle.code);
  return { greenlightCode, baselineCode };
}

/**
 * Runs `work` for each index, at most CONCURRENCY at once. After a failure nothing new starts; the
 * work in flight ends first, then the first failure is thrown (so no call outlives the benchmark).
 */
export async function each(n: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | null = null;
  await Promise.all(
    Array.from({ length: Math.min(CONCURRENCY, n) }, async () => {
      while (next < n && !failure) {
        try {
          await work(next++);
        } catch (error) {
          failure ??= { error };
        }
      }
    }),
  );
  if (failure) throw (failure as { error: unknown }).error;
}

/** Waits until the visibility query counts `n` workflows (at most 30 min). */
export async function until(client: Client, query: string, n: number, what: string): Promise<void> {
  const deadline = Date.now() + 30 * 60_000;
  for (;;) {
    const { count } = await client.workflow.count(query);
    if (count >= n) return;
    if (Date.now() > deadline) throw new Error(`${what}: ${count} of ${n} after 30 min`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

export async function benchParked(report: Report, n: number): Promise<void> {
  const env = await startDevServer();
  const address = env.connection.options.address;
  const workers: { stop(): Promise<void> }[] = [];
  const dir = await mkdtemp(join(tmpdir(), 'greenlight-bench-'));
  try {
    const { greenlightCode, baselineCode } = await writeBundles(dir);
    // greenlight: n releases parked at their approval, then all approved.
    const worker = await startWorker('greenlight', address, 'bench-parked', greenlightCode);
    workers.push(worker);
    const api = new GreenlightClient(env.client, { taskQueue: 'bench-parked' });
    const ids: string[] = [];
    await each(n, async (i) => {
      ids[i] = (
        await api.startRelease(releaseRequest(`p${i}`, 'v1', 'gated', { initiator: 'bench' }))
      ).releaseId;
    });
    await until(
      env.client,
      `WorkflowType='blueGreenRelease' AND GreenlightStage='awaiting_approval'`,
      n,
      'releases parked',
    );
    const parkedPeak = worker.peak();
    const t0 = performance.now();
    await each(n, async (i) => void (await api.approve(ids[i]!, { approver: 'alice' })));
    await until(
      env.client,
      `WorkflowType='blueGreenRelease' AND ExecutionStatus='Completed'`,
      n,
      'releases completed',
    );
    const approveMs = performance.now() - t0;
    const lost = (await Promise.all(ids.map((id) => api.status(id)))).filter((s) => s.stage !== 'completed');
    if (lost.length)
      throw new Error(`${lost.length} releases did not complete: ${lost[0]!.releaseId} ${lost[0]!.stage}`);
    const shape: Shape = { ...(await shapeOf(env.client, ids[0]!)), signals: 1 };
    console.log(
      `(greenlight: ${n} releases parked at a peak RSS of ${Math.round(parkedPeak / MB)} MB, all approved and completed in ${Math.round(approveMs / 1000)} s)`,
    );
    await worker.stop();
    if (worker.deferred() > 0)
      throw new Error(`${worker.deferred()} CMDB writes were deferred: this measured the outbox`);

    // The baseline: as many lanes and children, each waiting for one Update between its activities.
    const baseline = await startWorker('baseline', address, 'bench-parked-baseline', baselineCode);
    workers.push(baseline);
    const children: string[] = [];
    await each(n, async (i) => {
      children[i] = await env.client.workflow.executeUpdateWithStart('start', {
        args: [shape],
        startWorkflowOperation: new WithStartWorkflowOperation('baselineLane', {
          workflowId: `parked-baseline-${i}`,
          taskQueue: 'bench-parked-baseline',
          workflowIdConflictPolicy: 'FAIL',
        }),
      });
    });
    await until(
      env.client,
      `WorkflowType='baselineRelease' AND GreenlightStage='awaiting_approval'`,
      n,
      'baselines parked',
    );
    const baselinePeak = baseline.peak();
    const b0 = performance.now();
    await each(
      n,
      // Sent again while no worker takes it in time, as greenlight's client sends an approval.
      async (i) =>
        void (await patientUpdate(env.client.workflow.getHandle(children[i]!), approve, ['alice'])),
    );
    await until(
      env.client,
      `WorkflowType='baselineRelease' AND ExecutionStatus='Completed'`,
      n,
      'baselines completed',
    );
    const baselineMs = performance.now() - b0;
    await baseline.stop();

    console.log(
      `(a parked release ran ${shape.before} activities before its approval and ${shape.after} after)`,
    );
    report(`parked.${n} releases, peak worker RSS`, parkedPeak / MB, 'MB', baselinePeak / MB);
    report(`parked.${n} releases, approve all to completed`, approveMs / 1000, 's', baselineMs / 1000);
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    await env.teardown();
    await rm(dir, { recursive: true, force: true });
  }
}
