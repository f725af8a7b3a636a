// Starts the real Temporal parts that tests and benchmarks run against: a dev server (the
// `temporal` CLI, found or built from source) and the workflow bundle.
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { ALL_SEARCH_ATTRIBUTES } from '../src/shared/messages';
import { findTemporalCli } from '../src/temporal/cli-binary';
import { bundleWorkflows } from '../src/worker';

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
  const executable = await findCli().then((path) =>
    // Without a binary, the SDK downloads one (needs internet access).
    path ? { type: 'existing-path' as const, path } : { type: 'cached-download' as const },
  );
  for (let attempt = 1; ; attempt++) {
    try {
      return await TestWorkflowEnvironment.createLocal({
        server: {
          executable,
          ip: '127.0.0.1',
          searchAttributes: ALL_SEARCH_ATTRIBUTES,
          log: { format: 'pretty', level: 'error' },
          ...(options.uiPort ? { ui: true, uiPort: options.uiPort } : {}),
        },
      });
    } catch (e) {
      // The SDK gives a dev server 5 s to answer; on a busy machine (CI's two shared cores) it may
      // need longer. Another try starts a fresh one; any other failure is the test's to see.
      const isSlowStart = e instanceof Error && /did not start within/.test(e.message);
      if (!isSlowStart || attempt >= DEV_SERVER_ATTEMPTS) throw e;
    }
  }
}

/** How many times a dev server is started before its slow start fails the test. */
const DEV_SERVER_ATTEMPTS = 3;
