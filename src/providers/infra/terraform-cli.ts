import { spawn } from 'node:child_process';
import { ProviderError, ProviderErrorKinds } from '../errors';

/** How the `tofu`/`terraform` binary is run. */
export interface TerraformCli {
  binary: string;
  /** The only variables of the worker's environment the binary gets. */
  searchPath: string;
  home?: string;
  /** More variables: the backend's credentials and the workspace. Never logged. */
  env?: Record<string, string>;
  /** Each line the binary prints, for the log (already redacted). */
  onOutput?: (line: string) => void;
  /** Removes secrets from what is logged or thrown. */
  redact: (text: string) => string;
  /** After SIGINT on cancellation, how long the binary has to release its state lock. */
  killGraceMs: number;
}

/**
 * Runs the binary in `dir` with `args` (an argument array: no shell), non-interactively; streams its
 * output; resolves with its stdout. On cancellation it sends SIGINT, then SIGKILL after the grace.
 */
export function runTerraform(
  cli: TerraformCli,
  dir: string,
  args: string[],
  signal?: AbortSignal,
): Promise<string> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const child = spawn(cli.binary, args, {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...cli.env,
        PATH: cli.searchPath,
        ...(cli.home ? { HOME: cli.home } : {}),
        TF_IN_AUTOMATION: '1',
        TF_INPUT: '0',
      },
    });
    let stdout = '';
    let stderrTail = '';
    let killer: NodeJS.Timeout | undefined;
    const lines = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) if (line.trim()) cli.onOutput?.(cli.redact(line));
    };
    const isQuiet = args[0] === 'output' || args[0] === 'show';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (!isQuiet) lines(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderrTail = (stderrTail + chunk.toString()).slice(-4000);
      lines(chunk);
    });
    const onAbort = () => {
      // SIGINT lets the binary stop cleanly and release its state lock.
      child.kill('SIGINT');
      killer = setTimeout(() => child.kill('SIGKILL'), cli.killGraceMs);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    child.once('error', (e) => {
      signal?.removeEventListener('abort', onAbort);
      reject(
        new ProviderError(
          ProviderErrorKinds.infraConfigInvalid,
          `cannot run ${cli.binary}: ${(e as NodeJS.ErrnoException).code ?? e.message}`,
          false,
        ),
      );
    });
    child.once('close', (code) => {
      clearTimeout(killer);
      signal?.removeEventListener('abort', onAbort);
      if (signal?.aborted) return reject(signal.reason);
      if (code === 0) return resolve(stdout);
      const output = cli.redact(`${stderrTail}\n${stdout.slice(-2000)}`);
      reject(classify(`${cli.binary} ${args[0]}`, code, output));
    });
  });
}

/** Maps the binary's known failures to typed errors: a held lock is retryable, bad configuration is not. */
export function classify(command: string, code: number | null, output: string): ProviderError {
  const error =
    output
      .split('\n')
      .find((l) => /^\s*(Error|│ Error):/.test(l))
      ?.replace(/^[\s│]*/, '') ?? `exit ${code}`;
  const message = `${command} failed: ${error}`;
  if (/Error acquiring the state lock|state lock/i.test(output)) {
    return new ProviderError(ProviderErrorKinds.infraStateLocked, message, true);
  }
  if (
    /Error: (Invalid|Unsupported|Missing required|Reference to undeclared|Unreadable module|Module not found|Argument or block definition required|Unclosed|Incorrect|Duplicate|Variables not allowed|Extraneous|Unexpected|Unknown variable|Failed to read module)/.test(
      output,
    ) ||
    /workspaces not supported/i.test(output)
  ) {
    return new ProviderError(ProviderErrorKinds.infraConfigInvalid, message, false);
  }
  return new ProviderError(ProviderErrorKinds.deployFailed, message, true);
}

/** What the saved plan would do; shown to approvers. */
export interface PlanSummary {
  add: number;
  change: number;
  destroy: number;
}

/** Reads "Plan: 1 to add, 0 to change, 0 to destroy." (or "No changes."). */
export function parsePlan(output: string): PlanSummary {
  const m = /Plan: (\d+) to add, (\d+) to change, (\d+) to destroy/.exec(output);
  if (m) return { add: Number(m[1]), change: Number(m[2]), destroy: Number(m[3]) };
  return { add: 0, change: 0, destroy: 0 };
}
