import { resolve } from 'node:path';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import type { NativeConnection, WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createActivities } from './activities';
import type { ActivityDeps } from './activities';
import type { Config } from './config/schema';
import { Checks } from './providers/checks';
import { openCmdb } from './providers/cmdb/open';
import { LocalDnsStore } from './providers/dns/local-store';
import { LocalProcessInfra } from './providers/infra/local-process';
import { TASK_QUEUE } from './shared/messages';

export const WORKFLOWS_PATH = require.resolve('./workflows');
export const EXAMPLE_SERVICE = resolve(__dirname, '..', '..', 'examples', 'service', 'server.js');

export interface Providers {
  deps: ActivityDeps;
  /** Where the CMDB is, password hidden. */
  cmdbLocation: string;
  close(): Promise<void>;
}

/**
 * The embedded default providers: local processes, a local DNS record store, real HTTP checks, and
 * the CMDB on PostgreSQL at `cmdbUrl` or on the embedded PGlite under the state dir.
 */
export async function createLocalProviders(
  config: Config,
  stateDir: string,
  options: { cmdbUrl?: string; searchPath?: string; onError?: (e: Error) => void } = {},
): Promise<Providers> {
  const cmdb = await openCmdb(stateDir, options.cmdbUrl, options.onError);
  return {
    deps: {
      config,
      infra: new LocalProcessInfra({ stateDir, entryPoint: EXAMPLE_SERVICE }),
      dns: new LocalDnsStore(stateDir),
      cmdb: cmdb.cmdb,
      checks: new Checks({ searchPath: options.searchPath ?? '' }),
    },
    cmdbLocation: cmdb.location,
    close: () => cmdb.close(),
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
