// A dev server, a worker with the local providers on a fresh state dir, and a client: what the
// end-to-end tests and the benchmarks release through.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import type { BreakerMetrics } from '../src/breaker/metrics';
import type { CmdbOutbox } from '../src/breaker/outbox';
import type { Breakers } from '../src/breaker/registry';
import { GreenlightClient } from '../src/client/api';
import { parseOrThrow } from '../src/config/errors';
import { Config } from '../src/config/schema';
import type { ConfigInput } from '../src/config/schema';
import type { PostgresCmdb } from '../src/providers/cmdb/postgres';
import type { ReleaseRequestInput } from '../src/shared/release';
import type { LocalDnsStore } from '../src/providers/dns/local-store';
import type { DnsProvider } from '../src/providers/dns/types';
import type { LocalProcessInfra } from '../src/providers/infra/local-process';
import { postgresStateBackend } from '../src/providers/infra/terraform-backend';
import type { TerraformBackend } from '../src/providers/infra/terraform-backend';
import { dataConverterFor, openEncryption } from '../src/compose/codec';
import { composeDependencies, createWorker } from '../src/worker';
import { startDevServer, workflowBundle } from './temporal';

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

/** A release request as the tests send it: started by `ci` unless `extra` says otherwise. */
export function releaseRequest(
  service: string,
  version: string,
  target: string,
  extra: Partial<Omit<ReleaseRequestInput, 'service' | 'version' | 'target'>> = {},
): ReleaseRequestInput {
  return { service, version, target, initiator: 'ci', ...extra };
}

/** Where a harness keeps its Terraform deployments' state, when not in local files (by state dir). */
export const stateBackends = new Map<string, TerraformBackend>();

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
    /** How long a CMDB query may wait for its answer (ms); default 30 s. */
    cmdbTimeoutMs?: number;
    onInfraOutput?: (target: string, line: string) => void;
    /** Serve the dev server's Web UI on this port. */
    uiPort?: number;
    /** The remote codec the Web UI decodes payloads with. */
    uiCodecEndpoint?: string;
  } = {},
): Promise<Harness> {
  const config =
    'parsed' in configInput ? configInput.parsed : parseOrThrow(Config, configInput, 'test config');
  const env = await startDevServer({ uiPort: options.uiPort, uiCodecEndpoint: options.uiCodecEndpoint });
  const stateDir = await mkdtemp(join(tmpdir(), 'greenlight-test-'));
  if (options.cmdbUrl) stateBackends.set(stateDir, postgresStateBackend(options.cmdbUrl));
  const taskQueue = `greenlight-test-${process.pid}`;
  // With payload encryption, the harness's client and worker encrypt as `npm start`'s do.
  const dataConverter = dataConverterFor(openEncryption(config, options.env ?? process.env));
  const client = dataConverter
    ? new Client({ connection: env.connection, namespace: env.namespace ?? 'default', dataConverter })
    : env.client;
  const providers = await composeDependencies(config, stateDir, {
    searchPath: process.env.PATH ?? '',
    env: options.env,
    cmdbUrl: options.cmdbUrl,
    cmdbTimeoutMs: options.cmdbTimeoutMs,
    onInfraOutput: options.onInfraOutput,
    client,
    outboxIntervalMs: 200,
  });
  const { deps } = providers;
  const worker = await createWorker({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    deps,
    workflowBundle: await workflowBundle(dataConverter?.failureConverterPath),
    dataConverter,
    releaseMetrics: providers.releaseMetrics,
  });
  const running = worker.run();
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
