import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import type { NativeConnection, WorkflowBundleOption, WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { WorkflowNotFoundError } from '@temporalio/client';
import { createActivities } from './activities';
import { EnvironmentClient } from './client/environments';
import type { ActivityDeps, ReleaseRun } from './activities';
import { heartbeatInterceptors } from './activities/heartbeat';
import { logBindingInterceptors } from './activities/log-bindings';
import { coarseClock } from './breaker/clock';
import { isCircuitOpenError } from './breaker/errors';
import { BreakerMetrics } from './breaker/metrics';
import { ReleaseMetrics } from './metrics/release';
import { Registry } from 'prom-client';
import { CmdbOutbox } from './breaker/outbox';
import { Breakers } from './breaker/registry';
import type { BreakerSnapshot } from './breaker/state';
import { openDnsProviders } from './compose/dns';
import type { DnsProviders } from './compose/dns';
import { openArtifactStore } from './compose/artifacts';
import { openPrometheus } from './compose/prometheus';
import { EnvironmentTargets } from './compose/environment-targets';
import { openEnvironmentModules, openTerraformTargets } from './compose/infra';
import type { WorkerDeployment } from './config/load';
import type { Config } from './config/schema';
import { Checks } from './providers/checks';
import { openCmdb } from './providers/cmdb/open';
import type { PostgresCmdb } from './providers/cmdb/postgres';
import { isProviderError } from './providers/errors';
import { EXAMPLE_SERVICE, LocalProcessInfra } from './providers/infra/local-process';
import { JsonFile } from './providers/json-file';
import {
  breakerNoticeSignal,
  laneHolderQuery,
  laneWorkflowId,
  RELEASE_WORKFLOW,
  SearchAttributes,
  statusQuery,
  TASK_QUEUE,
} from './shared/messages';
import type { LaneHolder } from './shared/messages';
import type { ReleaseStatus } from './shared/release';
import { trainStatusQuery } from './shared/train';
import type { TrainStatus } from './shared/train';

export const WORKFLOWS_PATH = require.resolve('./workflows');

export interface WorkerOptions {
  connection: NativeConnection;
  namespace: string;
  deps: ActivityDeps;
  taskQueue?: string;
  /** A pre-built workflow bundle, or the path of its code (tests build it once); default: bundle from source at start. */
  workflowBundle?: WorkflowBundleOption;
  /** How payloads are converted: with payload encryption, `dataConverterFor(openEncryption(…))`. */
  dataConverter?: DataConverter;
  /** Where release workflows' metrics go (the admin endpoint's registry); default: nowhere. */
  releaseMetrics?: ReleaseMetrics;
  /** When told to stop, how long running activities may take to finish before they are cancelled (ms). */
  shutdownGraceMs?: number;
  /** Worker versioning: the deployment version this worker is; none, an unversioned worker. */
  deployment?: WorkerDeployment;
  /** How many workflows stay in memory between their tasks; default: the SDK's, from the heap size. */
  maxCachedWorkflows?: number;
}

/** A worker: the activities over the composed dependencies (`composeDependencies`), and the workflows. */
export async function createWorker(options: WorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue ?? TASK_QUEUE,
    activities: createActivities(options.deps),
    ...(options.dataConverter ? { dataConverter: options.dataConverter } : {}),
    sinks: (options.releaseMetrics ?? new ReleaseMetrics(new Registry())).sinks(),
    interceptors: { activity: [heartbeatInterceptors, logBindingInterceptors] },
    // A stop (SIGTERM) lets running activities finish within the grace time; past it, they are
    // cancelled, and past a further 30 s the worker gives up on them and exits.
    shutdownGraceTime: options.shutdownGraceMs ?? 0,
    ...(options.maxCachedWorkflows === undefined ? {} : { maxCachedWorkflows: options.maxCachedWorkflows }),
    shutdownForceTime: (options.shutdownGraceMs ?? 0) + 30_000,
    ...(options.deployment
      ? {
          workerDeploymentOptions: {
            version: { deploymentName: options.deployment.name, buildId: options.deployment.buildId },
            useWorkerVersioning: true,
            defaultVersioningBehavior: options.deployment.behavior === 'pinned' ? 'PINNED' : 'AUTO_UPGRADE',
          },
        }
      : {}),
    // Heartbeats carry cancellation to an activity: sent at least every 2 s, an abort reaches a long
    // deploy or test run within seconds (the default throttle is 80% of the heartbeat timeout).
    maxHeartbeatThrottleInterval: '2s',
    defaultHeartbeatThrottleInterval: '2s',
    // Bundled quietly: webpack's report is one long JSON log line that tells an operator nothing.
    workflowBundle:
      options.workflowBundle ?? (await bundleWorkflows(options.dataConverter?.failureConverterPath)),
  });
}

/** The libraries the workflows' sandbox loads once and shares between workflows (see the module). */
const SHARED_LIBRARIES_PATH = require.resolve('./workflows/common/shared-libraries');

/**
 * The workflow bundle; with a failure converter's path (payload encryption), the bundle includes it,
 * and a worker with that data converter needs a bundle built with it.
 */
export function bundleWorkflows(failureConverterPath?: string): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    logger: quietLogger,
    preloadModules: [SHARED_LIBRARIES_PATH],
    ...(failureConverterPath ? { failureConverterPath } : {}),
  });
}

const noop = () => undefined;
/** A logger for the workflow bundler, whose webpack report is noise in tests and benchmarks. */
export const quietLogger = { trace: noop, debug: noop, info: noop, warn: noop, error: noop, log: noop };

/** What the composition root builds: the activities' dependencies and what the worker runs beside them. */
export interface Dependencies {
  deps: ActivityDeps;
  /** The local-process infrastructure of targets that use no other. */
  localInfra: LocalProcessInfra;
  /** Every target's DNS provider. */
  dns: DnsProviders;
  breakers: Breakers;
  outbox: CmdbOutbox;
  metrics: BreakerMetrics;
  /** The release flow's metrics, on the same registry as the breakers'. */
  releaseMetrics: ReleaseMetrics;
  /** Where the CMDB is, password hidden. */
  cmdbLocation: string;
  /** Whether the CMDB has been reached and migrated (false while a server down at start is retried). */
  isCmdbReady(): boolean;
  close(): Promise<void>;
}

/**
 * The composition root: builds every provider the configuration selects — per target, local
 * processes or Terraform/OpenTofu (its state in the target's backend, else in the CMDB's database
 * when that is a server), and the local DNS record store, RFC 2136 or Route 53; real HTTP and
 * command checks; the CMDB on PostgreSQL at `cmdbUrl` or on the embedded PGlite under the state
 * dir — and the circuit breakers, their metrics and the CMDB outbox, wired into the activities'
 * dependencies.
 */
export async function composeDependencies(
  config: Config,
  stateDir: string,
  options: {
    cmdbUrl?: string;
    /** How long a CMDB query may wait for its answer (ms); default 30 s. */
    cmdbTimeoutMs?: number;
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
    /** The CMDB's server could not be reached at start: the worker starts, and retries in the background. */
    onCmdbUnreachable?: (e: Error, location: string) => void;
    /** The CMDB, down at start, has been reached and migrated. */
    onCmdbReady?: (location: string) => void;
  } = {},
): Promise<Dependencies> {
  const localInfra = new LocalProcessInfra({ stateDir, entryPoint: EXAMPLE_SERVICE });
  const terraformOptions = {
    cmdbUrl: options.cmdbUrl,
    searchPath: options.searchPath ?? '',
    env: options.env ?? {},
    onOutput: options.onInfraOutput,
  };
  const terraform = openTerraformTargets(config, stateDir, terraformOptions);
  const environmentModule = openEnvironmentModules(config, stateDir, terraformOptions);
  const dns = openDnsProviders(config, stateDir, options.env ?? {});
  /** Where the CMDB is, once it was found down at start. */
  let downAtStart: string | undefined;
  const cmdb = await openCmdb(stateDir, options.cmdbUrl, {
    onError: options.onError,
    queryTimeoutMs: options.cmdbTimeoutMs,
    onMigrated: () => {
      if (downAtStart) options.onCmdbReady?.(downAtStart);
    },
  });
  if (cmdb.unreachable) {
    downAtStart = cmdb.location;
    options.onCmdbUnreachable?.(cmdb.unreachable, cmdb.location);
  }
  const environments = new EnvironmentTargets(config, cmdb.cmdb);
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
  const reconnecting = cmdb.unreachable ? keepMigrating(cmdb.cmdb, breakers) : undefined;
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
    releaseMetrics: new ReleaseMetrics(metrics.registry),
    deps: {
      config,
      infra: (target) => terraform.get(environments.targetOf(target)) ?? localInfra,
      dns: (target) => dns.forTarget(environments.targetOf(target)),
      targetOf: (environment) => environments.targetOf(environment),
      learnEnvironment: (environment, template) => environments.learn(environment, template),
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
      releaseRun: client ? (releaseId) => releaseRun(client, releaseId) : undefined,
      releaseStatus: client ? (releaseId) => releaseStatus(client, releaseId) : undefined,
      laneHolder: client ? (service, target) => laneHolder(client, service, target) : undefined,
      trainStatus: client ? (trainId) => trainStatus(client, trainId) : undefined,
      activeReleases: client ? (target) => activeReleases(client, target) : undefined,
      // A release is admitted (and listed) by its environment; a plain question only asks.
      environmentGate: client
        ? async (target, release) => {
            const environments = new EnvironmentClient(client);
            return (release ? await environments.admit(target, release) : await environments.gate(target))
              .refusal;
          }
        : undefined,
      environmentModule,
      artifacts: openArtifactStore(config, stateDir),
      prometheus: openPrometheus(config, options.env ?? process.env),
      secretsEnv: options.env,
    },
    cmdbLocation: cmdb.location,
    isCmdbReady: () => cmdb.cmdb.isReady,
    close: async () => {
      reconnecting?.stop();
      clearInterval(drainer);
      await cmdb.close();
    },
  };
}

/** How long the background migration waits after its first failures: 1 s, 2 s, 4 s… at most this. */
const RECONNECT_MAX_DELAY_MS = 30_000;

/**
 * Reaches and migrates, in the background, a CMDB that was down when the worker started. Each try
 * goes through the CMDB's breaker, so failures open it and releases keep their CMDB writes in the
 * outbox at once rather than failing on them; while it is open, the next try is its trial.
 */
function keepMigrating(cmdb: PostgresCmdb, breakers: Breakers): { stop(): void } {
  let timer: NodeJS.Timeout | undefined;
  let isStopped = false;
  const isPermanent = (e: unknown) => isProviderError(e) && !e.isRetryable;
  const attempt = async (failures: number): Promise<void> => {
    let delayMs = Math.min(1_000 * 2 ** failures, RECONNECT_MAX_DELAY_MS);
    try {
      await breakers.run(
        'cmdb',
        () => cmdb.ensureMigrated(),
        (e) => (isPermanent(e) ? 'ignore' : 'failure'),
      );
      return;
    } catch (e) {
      if (isCircuitOpenError(e)) delayMs = Math.max(e.retryAfterMs, 1_000);
    }
    if (isStopped) return;
    timer = setTimeout(() => void attempt(failures + 1), delayMs);
    timer.unref();
  };
  void attempt(0);
  return {
    stop() {
      isStopped = true;
      clearTimeout(timer);
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

/** The releases running on a target: a release holds its lane until it ends. */
async function activeReleases(client: Client, target: string): Promise<string[]> {
  // The target is a validated name (lowercase letters, digits, `-`): safe inside the quotes.
  const query = `WorkflowType = '${RELEASE_WORKFLOW}' AND ExecutionStatus = 'Running' AND ${SearchAttributes.target.name} = '${target}'`;
  const ids: string[] = [];
  for await (const w of client.workflow.list({ query, pageSize: 100 })) {
    ids.push(w.workflowId);
    if (ids.length >= 100) break;
  }
  return ids;
}

/** What Temporal knows of a release's workflow, for the janitor. */
/** A release's status, by its query; null when Temporal does not know the release. */
async function releaseStatus(client: Client, releaseId: string): Promise<ReleaseStatus | null> {
  try {
    return await client.workflow.getHandle(releaseId).query(statusQuery);
  } catch (e) {
    if (e instanceof WorkflowNotFoundError) return null;
    throw e;
  }
}

/** A train's status, by its query; null when Temporal does not know the train. */
async function trainStatus(client: Client, trainId: string): Promise<TrainStatus | null> {
  try {
    return await client.workflow.getHandle(trainId).query(trainStatusQuery);
  } catch (e) {
    if (e instanceof WorkflowNotFoundError) return null;
    throw e;
  }
}

/** Who holds a lane, or null when no lane runs (or it ended). */
async function laneHolder(client: Client, service: string, target: string): Promise<LaneHolder | null> {
  try {
    return await client.workflow.getHandle(laneWorkflowId(service, target)).query(laneHolderQuery);
  } catch (e) {
    if (e instanceof WorkflowNotFoundError) return null;
    throw e;
  }
}

async function releaseRun(client: Client, releaseId: string): Promise<ReleaseRun> {
  try {
    const d = await client.workflow.getHandle(releaseId).describe();
    if (d.status.name === 'RUNNING') return { state: 'running' };
    return {
      state: 'ended',
      status: d.status.name.toLowerCase(),
      endedAt: (d.closeTime ?? new Date()).toISOString(),
    };
  } catch (e) {
    if (e instanceof WorkflowNotFoundError) return { state: 'unknown' };
    throw e;
  }
}
