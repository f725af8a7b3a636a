import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import type { NativeConnection, WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createActivities } from './activities';
import type { ActivityDeps } from './activities';
import { heartbeatInterceptors } from './activities/heartbeat';
import { TASK_QUEUE } from './shared/messages';

export const WORKFLOWS_PATH = require.resolve('./workflows');

export interface WorkerOptions {
  connection: NativeConnection;
  namespace: string;
  deps: ActivityDeps;
  taskQueue?: string;
  /** A pre-built workflow bundle (tests build it once); default: bundle from source at start. */
  workflowBundle?: WorkflowBundleWithSourceMap;
}

/** A worker: the activities over the composed dependencies (see `composeDependencies`), and the workflows. */
export async function createWorker(options: WorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue ?? TASK_QUEUE,
    activities: createActivities(options.deps),
    interceptors: { activity: [heartbeatInterceptors] },
    // Heartbeats carry cancellation to an activity: sent at least every 2 s, an abort reaches a long
    // deploy or test run within seconds (the default throttle is 80% of the heartbeat timeout).
    maxHeartbeatThrottleInterval: '2s',
    defaultHeartbeatThrottleInterval: '2s',
    // Bundled quietly: webpack's report is one long JSON log line that tells an operator nothing.
    workflowBundle: options.workflowBundle ?? (await bundleWorkflows()),
  });
}

export function bundleWorkflows(): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quietLogger });
}

const noop = () => undefined;
/** A logger for the workflow bundler, whose webpack report is noise in tests and benchmarks. */
export const quietLogger = { trace: noop, debug: noop, info: noop, warn: noop, error: noop, log: noop };
