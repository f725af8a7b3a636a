// `npm start`: the worker, plus a local Temporal dev server with its Web UI when TEMPORAL_ADDRESS is unset.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { ensureJanitorSchedule, JANITOR_SCHEDULE_ID } from './temporal/janitor-schedule';
import { EnvironmentClient } from './client/environments';
import { targetEnvironment } from './config/resolve';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { loadSettings } from './config/load';
import type { Settings } from './config/load';
import { ConfigError } from './config/errors';
import { createLogger, installTemporalLogger } from './logger';
import type { LocalProcessInfra } from './providers/infra/local-process';
import type { Logger } from './logger';
import { ALL_SEARCH_ATTRIBUTES } from './shared/messages';
import { findTemporalCli } from './temporal/cli-binary';
import { freeLocalPort, isListening, startTemporalDevServer } from './temporal/dev-server';
import {
  connectionOptions,
  ensureSearchAttributes,
  localAddress,
  workerConnection,
} from './temporal/connection';
import { composeDependencies, createWorker } from './worker';
import { dataConverterFor, openEncryption } from './compose/codec';
import { startAdminServer } from './admin';
import { isDependency } from './breaker/registry';
import { isProviderError } from './providers/errors';

async function main(): Promise<void> {
  const settings = loadSettings(process.env);
  const logger = createLogger(settings.logLevel, { isTerminal: process.stdout.isTTY === true });
  // The SDK's worker metrics, on a loopback port of their own, are served with the admin endpoint's.
  const sdkMetricsAddress = settings.admin.port === 0 ? undefined : localAddress(await freeLocalPort());
  installTemporalLogger(logger, { metricsAddress: sdkMetricsAddress });
  logger.info({ config: settings.configSource, stateDir: settings.stateDir }, 'greenlight starting');
  // Keys are read before anything starts: a missing or malformed one stops the worker at once.
  const encryption = openEncryption(settings.config, process.env);
  const dataConverter = dataConverterFor(encryption);
  if (encryption) logger.info({ keyId: encryption.keyId }, 'payloads are encrypted (AES-256-GCM)');
  mkdirSync(settings.stateDir, { recursive: true });

  // Signals are handled from the start: during start-up they stop what has started so far.
  const started: { worker?: Worker; server?: LocalServer | null; close?: () => Promise<void> } = {};
  let isStopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (isStopping) {
        logger.warn({ signal }, 'second signal: exiting without cleaning up');
        process.exit(130);
      }
      isStopping = true;
      logger.info(
        { signal, graceSeconds: settings.shutdownGraceMs / 1000 },
        started.worker
          ? 'shutting down: no new tasks; running activities may finish within the grace time'
          : 'shutting down',
      );
      if (started.worker) started.worker.shutdown();
      else
        void Promise.allSettled([started.close?.(), started.server?.stop()]).finally(() => process.exit(130));
    });
  }

  const server = settings.temporal.address ? null : await startLocalServer(settings, logger);
  started.server = server;
  const address = settings.temporal.address ?? localAddress(settings.temporal.devServerPort);
  if (!server) await registerSearchAttributes(settings, address, logger);
  if (isStopping) return;

  // Activities signal a release that an open circuit breaker holds it back.
  const client = new Client({
    connection: await Connection.connect(connectionOptions(settings.temporal, address)),
    namespace: settings.temporal.namespace,
    ...(dataConverter ? { dataConverter } : {}),
  });
  const providers = await composeDependencies(settings.config, settings.stateDir, {
    client,
    cmdbUrl: settings.cmdbUrl,
    cmdbTimeoutMs: settings.cmdbTimeoutMs,
    searchPath: settings.searchPath,
    env: process.env,
    onInfraOutput: (target, line) => logger.info({ target, tool: 'terraform' }, line),
    onError: (e) => logger.warn({ error: e.message }, 'CMDB connection error'),
    onCmdbUnreachable: (e, cmdb) =>
      logger.warn(
        { cmdb, error: e.message },
        'CMDB unreachable: starting without it; release records wait in the outbox while it is retried in the background',
      ),
    onCmdbReady: (cmdb) => logger.info({ cmdb }, 'CMDB reachable: migrated and in use'),
  });
  providers.breakers.listen({
    onTransition: (t) =>
      logger[t.to === 'closed' ? 'info' : 'warn'](
        { breaker: t.breaker, from: t.from, to: t.to, reason: t.reason },
        `circuit breaker ${t.breaker}: ${t.from} → ${t.to}`,
      ),
  });
  const admin =
    settings.admin.port === 0
      ? null
      : await startAdminServer({
          breakers: providers.breakers,
          metrics: providers.metrics,
          isDependency: (name) => isDependency(name, Object.keys(settings.config.targets)),
          ...settings.admin,
          ...(sdkMetricsAddress ? { sdkMetricsUrl: `http://${sdkMetricsAddress}/metrics` } : {}),
          onAction: (action, breaker, by) =>
            logger.warn({ breaker, action, by }, 'breaker changed by an operator'),
        }).catch((e: Error) => {
          logger.warn({ error: e.message, port: settings.admin.port }, 'admin endpoint not started');
          return null;
        });
  if (admin)
    logger.info({ url: `http://${settings.admin.host}:${admin.port}/metrics` }, 'admin endpoint ready');
  started.close = async () => {
    await admin?.close();
    await providers.close();
  };
  if (providers.isCmdbReady()) logger.info({ cmdb: providers.cmdbLocation }, 'CMDB ready');
  try {
    const connection = await workerConnection(settings.temporal, address);
    try {
      const worker = await createWorker({
        connection,
        namespace: settings.temporal.namespace,
        taskQueue: settings.temporal.taskQueue,
        deps: providers.deps,
        dataConverter,
        releaseMetrics: providers.releaseMetrics,
        shutdownGraceMs: settings.shutdownGraceMs,
        deployment: settings.deployment,
        maxCachedWorkflows: settings.workflowCacheSize,
      });
      logger.info(
        {
          address,
          namespace: settings.temporal.namespace,
          taskQueue: settings.temporal.taskQueue,
          ...(settings.deployment
            ? {
                deployment: `${settings.deployment.name}:${settings.deployment.buildId}`,
                versioning: settings.deployment.behavior,
              }
            : {}),
        },
        'worker started',
      );
      started.worker = worker;
      // In the background: the worker polls meanwhile, and a failure here stops nothing.
      void ensureJanitorSchedule(client, settings.temporal.taskQueue, settings.config.janitor).then(
        (outcome) => logger.info({ schedule: JANITOR_SCHEDULE_ID, outcome }, 'janitor schedule'),
        (e: Error) =>
          logger.warn({ error: e.message }, 'janitor schedule not set up; will try at the next start'),
      );
      // Each configured target's environment is created the first time a worker starts.
      const environments = new EnvironmentClient(client, settings.temporal.taskQueue);
      for (const target of Object.keys(settings.config.targets)) {
        void environments.ensure(targetEnvironment(settings.config, target)).then(
          (outcome) => {
            if (outcome === 'created') logger.info({ environment: target }, 'environment created');
          },
          (e: Error) =>
            logger.warn(
              { environment: target, error: e.message },
              'environment not created; will try at the next start',
            ),
        );
      }
      if (server) {
        const ui = `http://localhost:${settings.temporal.uiPort}/namespaces/${settings.temporal.namespace}/workflows`;
        process.stdout.write(
          `\n  Temporal Web UI: ${ui}\n  Try: npx greenlight release start --service web --version 1f2e3d4 --target stage\n\n`,
        );
      }
      await worker.run();
      logger.info('worker stopped: every task it had was finished or handed back');
    } finally {
      await connection.close();
    }
  } finally {
    await admin?.close();
    await providers.close();
    await client.connection.close();
    await server?.stop();
    await sayWhatKeepsRunning(providers.localInfra, logger);
  }
}

/** The local example services outlive the worker, like real infrastructure: say so, and how to stop them. */
async function sayWhatKeepsRunning(infra: LocalProcessInfra, logger: Logger): Promise<void> {
  const running = await infra.list().catch(() => []);
  if (running.length === 0) return;
  logger.info(
    { deployments: running.map((d) => `${d.service} ${d.version} → ${d.target}`) },
    `${running.length} local deployment${running.length === 1 ? '' : 's'} keep${running.length === 1 ? 's' : ''} running, like real infrastructure; \`npx greenlight local teardown\` stops them`,
  );
}

/** Starts a dev server persisted under the state dir, or reuses one already listening on the port. */
/** A dev server this process started and stops. */
interface LocalServer {
  stop(): Promise<void>;
}

async function startLocalServer(settings: Settings, logger: Logger): Promise<LocalServer | null> {
  const { devServerPort: port, uiPort, namespace } = settings.temporal;
  if (await isListening(port)) {
    logger.info({ port }, 'a Temporal server already listens on the dev port; using it');
    await registerSearchAttributes(settings, localAddress(port), logger);
    await warnAboutOtherWorkers(settings, localAddress(port), logger);
    return null;
  }
  const cli = await findTemporalCli({
    cliPath: settings.temporal.cliPath,
    searchPath: settings.searchPath,
    env: process.env,
    progress: (line) => logger.info(line),
  });
  logger.info({ cli: cli?.path ?? 'SDK download', source: cli?.source }, 'starting the Temporal dev server');
  const dbFilename = join(settings.stateDir, 'temporal.db');
  const server = cli
    ? await startTemporalDevServer({
        cliPath: cli.path,
        port,
        uiPort,
        namespace,
        dbFilename,
        onLog: (line, stream) =>
          stream === 'stderr' ? logger.warn({ line }, 'Temporal dev server') : logger.info(line.trim()),
      })
    : await downloadedDevServer(settings, dbFilename);
  logger.info({ address: localAddress(port), dbFilename }, 'Temporal dev server ready');
  return server;
}

/** Without a `temporal` binary, the SDK downloads one (needs internet access) and starts it. */
async function downloadedDevServer(settings: Settings, dbFilename: string): Promise<LocalServer> {
  const { devServerPort: port, uiPort, namespace } = settings.temporal;
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'cached-download' },
      ip: '127.0.0.1',
      port,
      ui: true,
      uiPort,
      namespace,
      dbFilename,
      searchAttributes: ALL_SEARCH_ATTRIBUTES,
    },
  });
  return { stop: () => env.teardown() };
}

async function registerSearchAttributes(settings: Settings, address: string, logger: Logger): Promise<void> {
  const connection = await Connection.connect(connectionOptions(settings.temporal, address));
  try {
    const added = await ensureSearchAttributes(connection, settings.temporal.namespace);
    if (added.length) logger.info({ added }, 'registered search attributes');
  } catch (e) {
    logger.warn(
      { error: (e as Error).message },
      'could not register search attributes; create GreenlightService, GreenlightTarget, GreenlightVersion, GreenlightStage and GreenlightTrain (Keyword) on the namespace',
    );
  } finally {
    await connection.close();
  }
}

/**
 * The embedded providers keep their state in this worker's state dir: a second local worker on the
 * same task queue would split releases between two states. Pollers are remembered for about a
 * minute, so this warns rather than refuses (a restart would look the same).
 */
async function warnAboutOtherWorkers(settings: Settings, address: string, logger: Logger): Promise<void> {
  const connection = await Connection.connect(connectionOptions(settings.temporal, address));
  try {
    const { pollers } = await connection.workflowService.describeTaskQueue({
      namespace: settings.temporal.namespace,
      taskQueue: { name: settings.temporal.taskQueue },
      taskQueueType: 1, // TASK_QUEUE_TYPE_WORKFLOW
    });
    const recent = (pollers ?? []).filter(
      (p) => Date.now() - Number(p.lastAccessTime?.seconds ?? 0) * 1000 < 70_000,
    );
    if (recent.length) {
      logger.warn(
        { taskQueue: settings.temporal.taskQueue, workers: recent.map((p) => p.identity) },
        'another worker polls this task queue on the dev server; with local providers, releases would be split between two state dirs: stop it, or give this one its own GREENLIGHT_TASK_QUEUE',
      );
    }
  } finally {
    await connection.close();
  }
}

main().catch((e: unknown) => {
  // Configuration and provider errors are written for a person; anything else is a bug: its stack helps.
  const isExpected = e instanceof ConfigError || isProviderError(e);
  process.stderr.write(`greenlight: ${isExpected ? e.message : ((e as Error).stack ?? String(e))}\n`);
  process.exit(1);
});
