import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { openTerraformTargets } from './providers/infra/open';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import type { NativeConnection, WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createActivities } from './activities';
import type { ActivityDeps } from './activities';
import type { Config } from './config/schema';
import { Checks } from './providers/checks';
import { openCmdb } from './providers/cmdb/open';
import { openDnsProviders } from './providers/dns/open';
import type { DnsProviders } from './providers/dns/open';
import { LocalProcessInfra } from './providers/infra/local-process';
import { breakerNoticeSignal, TASK_QUEUE } from './shared/messages';
import type { Client } from '@temporalio/client';
import { CmdbOutbox } from './breaker/outbox';
import { Breakers } from './breaker/registry';
import { BreakerMetrics } from './breaker/metrics';
import type { BreakerSnapshot } from './breaker/breaker';
import { coarseClock } from './breaker/clock';
import { JsonFile } from './providers/json-file';
import { isProviderError } from './providers/errors';

export const WORKFLOWS_PATH = require.resolve('./workflows');
export const EXAMPLE_SERVICE = resolve(__dirname, '..', '..', 'examples', 'service', 'server.js');

export interface Providers {
  deps: ActivityDeps;
  /** The local-process infrastructure of targets that use no other. */
  localInfra: LocalProcessInfra;
  /** Every target's DNS provider. */
  dns: DnsProviders;
  breakers: Breakers;
  outbox: CmdbOutbox;
  metrics: BreakerMetrics;
  /** Where the CMDB is, password hidden. */
  cmdbLocation: string;
  close(): Promise<void>;
}

/**
 * The providers the configuration selects: per target, local processes or Terraform/OpenTofu (its
 * state in the target's backend, else in the CMDB's database when that is a server), and
 * the local DNS record store, RFC 2136 or Route 53; real HTTP and command checks; the CMDB on
 * PostgreSQL at `cmdbUrl` or on the embedded PGlite under the state dir.
 */
export async function createLocalProviders(
  config: Config,
  stateDir: string,
  options: {
    cmdbUrl?: string;
    searchPath?: string;
    /** Where secrets that the configuration names (`{ env: NAME }`) are read from. */
    env?: NodeJS.ProcessEnv;
    onError?: (e: Error) => void;
    /** Each line Terraform/OpenTofu prints. */
    onInfraOutput?: (target: string, line: string) => void;
    /** A Temporal client, for activities to tell a release that a breaker holds it back. */
    client?: Client;
    /** How often deferred CMDB writes are retried (default 5 s). */
    outboxIntervalMs?: number;
    onOutboxReplayed?: (count: number) => void;
  } = {},
): Promise<Providers> {
  const localInfra = new LocalProcessInfra({ stateDir, entryPoint: EXAMPLE_SERVICE });
  const terraform = openTerraformTargets(config, stateDir, {
    cmdbUrl: options.cmdbUrl,
    searchPath: options.searchPath ?? '',
    env: options.env ?? {},
    onOutput: options.onInfraOutput,
  });
  const dns = openDnsProviders(config, stateDir, options.env ?? {});
  const cmdb = await openCmdb(stateDir, options.cmdbUrl, options.onError);
  // With the postgres backend, every worker shares the breakers through the CMDB's database.
  const breakers = new Breakers(
    config.breakers,
    coarseClock,
    config.breakers.backend === 'postgres'
      ? {
          query: (text, values) => cmdb.cmdb.query(text, values),
          worker: `${hostname()}:${process.pid}`,
          onStoreError: (e) => options.onError?.(new Error(`shared circuit breakers: ${e.message}`)),
        }
      : undefined,
    config.breakers.backend === 'local'
      ? savedBreakers(join(stateDir, 'breakers.json'), options.onError)
      : undefined,
  );
  const metrics = new BreakerMetrics(breakers);
  breakers.listen(metrics.listener);
  const outbox = new CmdbOutbox(stateDir);
  // Replays deferred CMDB writes once the CMDB's breaker lets calls through again.
  const drainer = setInterval(() => {
    void (async () => {
      if ((await outbox.isEmpty()) || (await breakers.retryAfterMs('cmdb')) > 0) return;
      // A write the CMDB refuses for good is not the CMDB being down: the breaker ignores it.
      const isPermanent = (e: unknown) => isProviderError(e) && !e.isRetryable;
      const n = await outbox.drain(
        cmdb.cmdb,
        (write) => breakers.run('cmdb', write, (e) => (isPermanent(e) ? 'ignore' : 'failure')),
        isPermanent,
      );
      if (n > 0) options.onOutboxReplayed?.(n);
    })().catch((e: Error) => options.onError?.(e));
  }, options.outboxIntervalMs ?? 5_000);
  drainer.unref();
  const client = options.client;
  return {
    localInfra,
    dns,
    breakers,
    outbox,
    metrics,
    deps: {
      config,
      infra: (target) => terraform.get(target) ?? localInfra,
      dns: dns.forTarget,
      cmdb: cmdb.cmdb,
      checks: new Checks({ searchPath: options.searchPath ?? '' }),
      breakers,
      outbox,
      onFallback: (dependency) => metrics.fallback(dependency),
      onHealthCheck: (service, target, passed) => metrics.healthCheck(service, target, passed),
      notify: client
        ? (execution, notice) =>
            client.workflow
              .getHandle(execution.workflowId, execution.runId)
              .signal(breakerNoticeSignal, notice)
        : undefined,
    },
    cmdbLocation: cmdb.location,
    close: async () => {
      clearInterval(drainer);
      await cmdb.close();
    },
  };
}

/** Local breakers' states in a file under the state dir, so an open breaker stays open across a restart. */
function savedBreakers(path: string, onError?: (e: Error) => void) {
  const file = new JsonFile<Record<string, BreakerSnapshot>>(path, () => ({}));
  let saved: Record<string, BreakerSnapshot> = {};
  try {
    saved = JSON.parse(readFileSync(path, 'utf8')) as Record<string, BreakerSnapshot>;
  } catch {
    // None saved yet, or unreadable: start closed.
  }
  return {
    saved,
    save: (snapshots: Record<string, BreakerSnapshot>) =>
      void file
        .update((doc) => {
          Object.assign(doc, snapshots);
        })
        .catch((e: Error) => onError?.(e)),
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
