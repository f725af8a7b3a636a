import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ConfigInput } from '../../src/config/schema';
import type { Harness } from '../../harness/release';
import { TEST_CONFIG } from '../../harness/release';

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
