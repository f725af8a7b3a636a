import { resolve } from 'node:path';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import type { NativeConnection, WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createActivities } from './activities';
import type { ActivityDeps } from './activities';
import type { Config } from './config/schema';
import { HttpCheckRunner } from './providers/checks/http';
import { LocalCmdbStore } from './providers/cmdb/local-store';
import { LocalDnsStore } from './providers/dns/local-store';
import { LocalProcessInfra } from './providers/infra/local-process';
import { TASK_QUEUE } from './shared/messages';

export const WORKFLOWS_PATH = require.resolve('./workflows');
export const EXAMPLE_SERVICE = resolve(__dirname, '..', '..', 'examples', 'service', 'server.js');

/** The embedded default providers: local processes, a local DNS record store, a local CMDB. */
export function createLocalProviders(config: Config, stateDir: string): ActivityDeps {
  return {
    config,
    infra: new LocalProcessInfra({ stateDir, entryPoint: EXAMPLE_SERVICE }),
    dns: new LocalDnsStore(stateDir),
    cmdb: new LocalCmdbStore(stateDir),
    checks: new HttpCheckRunner(),
  };
}

export interface WorkerOptions {
  connection: NativeConnection;
  namespace: string;
  deps: ActivityDeps;
  taskQueue?: string;
  /** A pre-built workflow bundle (tests build it once); default: bundle from source at start. */
  workflowBundle?: WorkflowBundleWithSourceMap;
}

/** The composition root of a worker: activities with their providers, and the workflows. */
export async function createWorker(options: WorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue ?? TASK_QUEUE,
    activities: createActivities(options.deps),
    ...(options.workflowBundle
      ? { workflowBundle: options.workflowBundle }
      : { workflowsPath: WORKFLOWS_PATH }),
  });
}

export function bundleWorkflows(): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quietLogger });
}

const noop = () => undefined;
/** A logger for the workflow bundler, whose webpack report is noise in tests and benchmarks. */
export const quietLogger = { trace: noop, debug: noop, info: noop, warn: noop, error: noop, log: noop };
