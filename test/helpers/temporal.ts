import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import type { Worker, WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { GreenlightClient } from '../../src/client/api';
import { parseOrThrow } from '../../src/config/errors';
import { Config } from '../../src/config/schema';
import type { ConfigInput } from '../../src/config/schema';
import { ALL_SEARCH_ATTRIBUTES } from '../../src/shared/messages';
import type { ReleaseStatus, Stage } from '../../src/shared/release';
import { findTemporalCli } from '../../src/temporal/cli-binary';
import { composeDependencies } from '../../src/compose/root';
import { bundleWorkflows, createWorker } from '../../src/worker';
import type { LocalProcessInfra } from '../../src/providers/infra/local-process';
import type { LocalDnsStore } from '../../src/providers/dns/local-store';
import type { DnsProvider } from '../../src/providers/dns/types';
import type { CmdbOutbox } from '../../src/breaker/outbox';
import type { Breakers } from '../../src/breaker/registry';
import type { BreakerMetrics } from '../../src/breaker/metrics';
import type { PostgresCmdb } from '../../src/providers/cmdb/postgres';
import { postgresStateBackend } from '../../src/providers/infra/terraform-backend';
import { rememberStateBackend } from './iac';

/** Short durations so the suite is fast; the rules are the embedded default's. */
export const TEST_CONFIG: ConfigInput = {
  zone: 'test.internal',
  targets: {
    dev: {
      recordTtl: 1,
      approval: { required: 0 },
      policy: { all: ['tests_passed'] },
      bake: '1s',
      healthCheckInterval: '200ms',
      terminationWait: '500ms',
    },
    stage: {
      recordTtl: 1,
      approval: { required: 1, timeout: '1h' },
      policy: { all: ['tests_passed', 'approval_obtained'] },
      bake: '1s',
      healthCheckInterval: '200ms',
      terminationWait: '500ms',
    },
    prod: {
      recordTtl: 1,
      approval: {
        required: 2,
        approvers: ['alice', 'bob', 'carol'],
        initiatorMayApprove: false,
        timeout: '1h',
      },
      policy: { all: ['tests_passed', 'approval_obtained', { not: 'slow_scans_skipped' }] },
      bake: '1s',
      healthCheckInterval: '200ms',
      terminationWait: '500ms',
    },
    // Targets for tests that act during a wait.
    qa: {
      recordTtl: 1,
      approval: { required: 1, timeout: '2s' },
      policy: { all: ['tests_passed', 'approval_obtained'] },
    },
    uat: {
      recordTtl: 1,
      policy: 'tests_passed',
      bake: '500ms',
      healthCheckInterval: '100ms',
      terminationWait: '60s',
    },
    soak: {
      recordTtl: 1,
      policy: 'tests_passed',
      bake: '60s',
      healthCheckInterval: '200ms',
      terminationWait: '60s',
    },
  },
  services: {
    broken: { checks: [{ name: 'missing-page', path: '/does-not-exist', expectStatus: 200 }] },
    // A test command that asks green for its version, the way a smoke-test suite would.
    smoke: {
      checks: [
        {
          name: 'smoke',
          command: [
            process.execPath,
            '-e',
            "fetch(process.env.BASE_URL + '/version').then((r) => r.json()).then((j) => { console.log('green says', j.version); process.exit(j.version === process.env.GREENLIGHT_VERSION ? 0 : 1); })",
          ],
          timeout: '30s',
        },
      ],
    },
    // Integration tests that take a few seconds, to act while they run.
    slowtests: {
      checks: [
        { name: 'soak-1', path: '/healthz', repeat: 1000 },
        { name: 'soak-2', path: '/healthz', repeat: 1000 },
        { name: 'soak-3', path: '/healthz', repeat: 1000 },
      ],
    },
  },
  checks: [
    { name: 'health', path: '/healthz' },
    { name: 'version', path: '/version', bodyIncludes: '"version":"{{version}}"' },
    { name: 'latency', path: '/healthz', repeat: 5, latencyBudget: '1s', slow: true },
  ],
  healthCheck: { name: 'health', path: '/healthz', latencyBudget: '1s' },
};

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
/** The workflow bundle, built once per test process. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  return (bundle ??= bundleWorkflows());
}

/** The `temporal` binary, or null when there is none and no Go to build one. */
export async function findCli(): Promise<string | null> {
  const found = await findTemporalCli({
    cliPath: process.env.TEMPORAL_CLI_PATH || undefined,
    searchPath: process.env.PATH ?? '',
    env: process.env,
    progress: (line) => process.stderr.write(`${line}\n`),
  });
  return found?.path ?? null;
}

export async function temporalCliPath(): Promise<string> {
  const path = await findCli();
  if (!path) throw new Error('no temporal binary and no Go toolchain to build one (set TEMPORAL_CLI_PATH)');
  return path;
}

let isRuntimeInstalled = false;
/** What the worker logged (level INFO and up) in this test process, for tests that check its text. */
export const workerLog: string[] = [];

/** A real Temporal dev server on a free port; with `uiPort`, its Web UI on that port too. */
export async function startDevServer(options: { uiPort?: number } = {}): Promise<TestWorkflowEnvironment> {
  if (!isRuntimeInstalled) {
    const errors = new DefaultLogger('ERROR');
    Runtime.install({
      logger: new DefaultLogger('INFO', (entry) => {
        workerLog.push(`${entry.level} ${entry.message} ${JSON.stringify(entry.meta ?? {})}`);
        if (entry.level === 'ERROR') errors.log(entry.level, entry.message, entry.meta);
      }),
    });
    isRuntimeInstalled = true;
  }
  return TestWorkflowEnvironment.createLocal({
    server: {
      // Without a binary, the SDK downloads one (needs internet access).
      executable: await findCli().then((path) =>
        path ? { type: 'existing-path' as const, path } : { type: 'cached-download' as const },
      ),
      ip: '127.0.0.1',
      searchAttributes: ALL_SEARCH_ATTRIBUTES,
      log: { format: 'pretty', level: 'error' },
      ...(options.uiPort ? { ui: true, uiPort: options.uiPort } : {}),
    },
  });
}

export interface Harness {
  env: TestWorkflowEnvironment;
  client: Client;
  api: GreenlightClient;
  worker: Worker;
  infra: LocalProcessInfra;
  /** The embedded DNS store of targets with `dns.kind: local`. */
  dns: LocalDnsStore;
  dnsFor(target: string): DnsProvider;
  breakers: Breakers;
  outbox: CmdbOutbox;
  metrics: BreakerMetrics;
  cmdb: PostgresCmdb;
  stateDir: string;
  taskQueue: string;
  address: string;
  config: Config;
  stop(): Promise<void>;
}

/** A dev server, a worker with the local providers on a fresh state dir, and a client. */
export async function startHarness(
  configInput: ConfigInput | { parsed: Config } = TEST_CONFIG,
  options: {
    env?: NodeJS.ProcessEnv;
    cmdbUrl?: string;
    onInfraOutput?: (target: string, line: string) => void;
    /** Serve the dev server's Web UI on this port. */
    uiPort?: number;
  } = {},
): Promise<Harness> {
  const config =
    'parsed' in configInput ? configInput.parsed : parseOrThrow(Config, configInput, 'test config');
  const env = await startDevServer({ uiPort: options.uiPort });
  const stateDir = await mkdtemp(join(tmpdir(), 'greenlight-test-'));
  if (options.cmdbUrl) rememberStateBackend(stateDir, postgresStateBackend(options.cmdbUrl));
  const taskQueue = `greenlight-test-${process.pid}`;
  const providers = await composeDependencies(config, stateDir, {
    searchPath: process.env.PATH ?? '',
    env: options.env,
    cmdbUrl: options.cmdbUrl,
    onInfraOutput: options.onInfraOutput,
    client: env.client,
    outboxIntervalMs: 200,
  });
  const { deps } = providers;
  const worker = await createWorker({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    deps,
    workflowBundle: await workflowBundle(),
  });
  const running = worker.run();
  const client = env.client;
  const api = new GreenlightClient(client, { taskQueue, knownTargets: Object.keys(config.targets) });
  const address = env.connection.options.address;
  return {
    env,
    client,
    api,
    worker,
    infra: providers.localInfra,
    dns: providers.dns.forTarget('') as LocalDnsStore,
    dnsFor: providers.dns.forTarget,
    breakers: providers.breakers,
    outbox: providers.outbox,
    metrics: providers.metrics,
    cmdb: deps.cmdb as PostgresCmdb,
    stateDir,
    taskQueue,
    address,
    config,
    async stop() {
      worker.shutdown();
      await running;
      await providers.close();
      await destroyAll(providers.localInfra, stateDir);
      await env.teardown();
      await rm(stateDir, { recursive: true, force: true });
    },
  };
}

/** Stops every instance the local infra started, so no process outlives a test file. */
export async function destroyAll(infra: LocalProcessInfra, stateDir: string): Promise<void> {
  const files = await readdir(join(stateDir, 'infra')).catch(() => [] as string[]);
  for (const f of files.filter((n) => n.endsWith('.json'))) {
    await infra.destroy({ hostname: f.replace(/\.json$/, '') });
  }
}

/** Polls the status query until `predicate` holds. */
export async function waitFor(
  api: GreenlightClient,
  releaseId: string,
  predicate: (s: ReleaseStatus) => boolean,
  what: string,
  timeoutMs = 30_000,
): Promise<ReleaseStatus> {
  const deadline = Date.now() + timeoutMs;
  let last: ReleaseStatus | undefined;
  while (Date.now() < deadline) {
    last = await api.status(releaseId);
    if (predicate(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(
    `timed out waiting for ${what}; last stage ${last?.stage}: ${JSON.stringify(last?.history)}`,
  );
}

export const waitForStage = (api: GreenlightClient, releaseId: string, stage: Stage, timeoutMs?: number) =>
  waitFor(api, releaseId, (s) => s.stage === stage, `stage ${stage}`, timeoutMs);

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

const BIN = join(__dirname, '..', '..', '..', 'bin', 'greenlight.js');

/** Runs the real `greenlight` bin in a child process with exactly `env`. */
export function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<CliRun> {
  return new Promise((resolve) =>
    execFile(process.execPath, [BIN, ...args], { env }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    ),
  );
}

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function getJson(url: string): Promise<unknown> {
  const response = await fetch(url);
  return response.json();
}

/** Every string in a workflow history, with each payload's bytes decoded as text (payloads are JSON). */
export function readableText(value: unknown): string {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(readableText).join('\n');
  if (value && typeof value === 'object') return Object.values(value).map(readableText).join('\n');
  return String(value);
}

/**
 * The environment of a `greenlight` CLI that talks to a harness: its server, task queue and state
 * dir, and `config` written to a file in the state dir.
 */
export async function cliEnvironment(
  h: Harness,
  config: ConfigInput = TEST_CONFIG,
  extra: NodeJS.ProcessEnv = {},
): Promise<NodeJS.ProcessEnv> {
  const configPath = join(h.stateDir, 'greenlight.config.json');
  await writeFile(configPath, JSON.stringify(config));
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    TEMPORAL_ADDRESS: h.address,
    GREENLIGHT_TASK_QUEUE: h.taskQueue,
    GREENLIGHT_STATE_DIR: h.stateDir,
    GREENLIGHT_CONFIG: configPath,
    ...extra,
  };
}
