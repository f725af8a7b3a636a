// Starts the real Temporal parts that tests and benchmarks run against: a dev server (the
// `temporal` CLI, found or built from source) and the workflow bundle.
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import type { InjectedSinks, WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { Registry } from 'prom-client';
import { ReleaseMetrics } from '../src/metrics/release';
import type { ReleaseMetricsSinks } from '../src/shared/metrics';
import { ALL_SEARCH_ATTRIBUTES } from '../src/shared/messages';
import { findTemporalCli } from '../src/temporal/cli-binary';
import { startTemporalDevServer } from '../src/temporal/dev-server';
import { bundleWorkflows } from '../src/worker';

const bundles = new Map<string, Promise<WorkflowBundleWithSourceMap>>();
/** The workflow bundle (with the failure converter at that path, if any), built once per test process. */
export function workflowBundle(failureConverterPath?: string): Promise<WorkflowBundleWithSourceMap> {
  const key = failureConverterPath ?? '';
  let bundle = bundles.get(key);
  if (!bundle) bundles.set(key, (bundle = bundleWorkflows(failureConverterPath)));
  return bundle;
}

/**
 * The release workflows' metrics sink, its counts thrown away: every worker registers it, a replay
 * worker too (which never calls it, but refuses a workflow that names a sink it lacks).
 */
export function uncountedReleaseMetrics(): InjectedSinks<ReleaseMetricsSinks> {
  return new ReleaseMetrics(new Registry()).sinks();
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
export async function startDevServer(
  options: { uiPort?: number; uiCodecEndpoint?: string } = {},
): Promise<TestWorkflowEnvironment> {
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
  const cliPath = await findCli();
  // Without a binary, the SDK downloads one (needs internet access).
  if (!cliPath)
    return TestWorkflowEnvironment.createLocal({
      server: {
        executable: { type: 'cached-download' },
        ip: '127.0.0.1',
        searchAttributes: ALL_SEARCH_ATTRIBUTES,
      },
    });
  const server = await startTemporalDevServer({
    cliPath,
    logLevel: 'error',
    ...(options.uiPort ? { uiPort: options.uiPort } : {}),
    ...(options.uiCodecEndpoint ? { uiCodecEndpoint: options.uiCodecEndpoint } : {}),
    // Its errors, not its banner.
    onLog: (line, stream) => {
      if (stream === 'stderr') process.stderr.write(`temporal: ${line}\n`);
    },
  });
  try {
    const env = await TestWorkflowEnvironment.createFromExistingServer({
      address: server.address,
      namespace: server.namespace,
    });
    // The environment closes its connections; the server is ours to stop.
    const closeConnections = env.teardown.bind(env);
    env.teardown = async () => {
      try {
        await closeConnections();
      } finally {
        await server.stop();
      }
    };
    return env;
  } catch (e) {
    await server.stop();
    throw e;
  }
}
