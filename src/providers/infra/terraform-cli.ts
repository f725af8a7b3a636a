import { ProviderError, ProviderErrorKinds } from '../errors';
import { isSubprocessError, runProcess } from '../subprocess';
import { secretRedactor } from './terraform-backend';
import type { TerraformBackend } from './terraform-backend';

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
  /** How long one run may take before it is stopped; no limit when absent. */
  timeoutMs?: number;
}

/**
 * Runs the binary in `dir` with `args` (an argument array: no shell), non-interactively; streams its
 * output; resolves with its stdout. On cancellation it gets SIGINT (to release its state lock),
 * then SIGKILL after the grace.
 */
export async function runTerraform(
  cli: TerraformCli,
  dir: string,
  args: string[],
  signal?: AbortSignal,
): Promise<string> {
  return (await runTerraformFor(cli, dir, args, [0], signal)).stdout;
}

/** As `runTerraform`, and any of `exitCodes` is a success (`plan -detailed-exitcode` exits 2 on changes). */
export async function runTerraformFor(
  cli: TerraformCli,
  dir: string,
  args: string[],
  exitCodes: number[],
  signal?: AbortSignal,
): Promise<{ stdout: string; exitCode: number }> {
  if (signal?.aborted) throw signal.reason;
  // `output` and `show` print values on stdout, which are not for the log.
  const isQuiet = args[0] === 'output' || args[0] === 'show';
  const result = await runProcess({
    file: cli.binary,
    args,
    cwd: dir,
    env: {
      ...cli.env,
      PATH: cli.searchPath,
      ...(cli.home ? { HOME: cli.home } : {}),
      TF_IN_AUTOMATION: '1',
      TF_INPUT: '0',
    },
    signal,
    killGraceMs: cli.killGraceMs,
    ...(cli.timeoutMs ? { timeoutMs: cli.timeoutMs } : {}),
    // A provisioner may start what outlives the run.
    isGroupKilledOnExit: false,
    onLine: (line, stream) => {
      if (stream === 'stderr' || !isQuiet) cli.onOutput?.(cli.redact(line));
    },
  }).catch((e: unknown) => {
    if (!isSubprocessError(e)) throw e;
    throw new ProviderError(
      ProviderErrorKinds.infraConfigInvalid,
      `cannot run ${cli.binary}: ${e.code}`,
      false,
    );
  });
  if (signal?.aborted) throw signal.reason;
  if (result.isTimedOut) {
    // A hang is the dependency's fault, and may pass: retryable, and counted by the breaker.
    throw new ProviderError(
      ProviderErrorKinds.unavailable,
      `${cli.binary} ${args[0]} did not finish within ${formatSeconds(cli.timeoutMs ?? 0)} and was stopped (infra.timeout)`,
      true,
    );
  }
  if (result.exitCode !== null && exitCodes.includes(result.exitCode)) {
    return { stdout: result.stdout, exitCode: result.exitCode };
  }
  const output = cli.redact(`${result.stderrTail}\n${result.stdout.slice(-2000)}`);
  throw classify(`${cli.binary} ${args[0]}`, result.exitCode, output);
}

/** Maps the binary's known failures to typed errors: a held lock is retryable, bad configuration is not. */
export function classify(command: string, code: number | null, output: string): ProviderError {
  const message = `${command} failed: ${errorSummary(output) ?? `exit ${code}`}`;
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

/** How much of an error's explanation a message quotes. */
const ERROR_DETAIL_CHARS = 600;

/**
 * The binary's first error with its explanation, on one line: `Error: local-exec provisioner error:
 * Error running command '…': exit status 127. Output: node: not found`. The lines that point into
 * the configuration (`with …`, `on main.tf line 61…`, the quoted source) are left out.
 */
function errorSummary(output: string): string | null {
  const lines = output.split('\n').map((l) => l.replace(/^[\s│╷╵]*/, '').trimEnd());
  const start = lines.findIndex((l) => /^Error:/.test(l));
  if (start < 0) return null;
  const detail: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (/^Error:/.test(line) || (line === '' && detail.length > 0)) break;
    if (line === '' || /^(with |on .* line \d+|\d+:)/.test(line)) continue;
    detail.push(line);
  }
  const text = [lines[start]!, detail.join(' ')].filter(Boolean).join(': ');
  return text.length > ERROR_DETAIL_CHARS ? `${text.slice(0, ERROR_DETAIL_CHARS - 1)}…` : text;
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

/** What every Terraform/OpenTofu caller shares: the binary, where state is, and how output is logged. */
export interface TerraformRunnerOptions {
  /** The `tofu` or `terraform` binary. */
  binary: string;
  /** Where state lives (workspaces in it); absent: a file in each working directory. */
  backend?: TerraformBackend;
  /** PATH and HOME for the binary; besides the backend's `env`, it gets no other variable of the worker's environment. */
  searchPath: string;
  home?: string;
  /** Each line the binary prints, for the log; the backend's secrets are replaced by `***`. */
  onOutput?: (line: string) => void;
  /** After SIGINT on cancellation, how long the binary has to release its state lock. Default 10 s. */
  killGraceMs?: number;
  /** How long one run may take before it is stopped (SIGTERM) and fails, retryable. Default: no limit. */
  timeoutMs?: number;
}

export const INIT = ['init', '-input=false', '-no-color'];
/**
 * Every command names its workspace (TF_WORKSPACE), so a working directory's own selection never
 * matters: `default` for init and workspace commands, and for state in a local file.
 */
export const DEFAULT_WORKSPACE = 'default';

/** Runs the binary in a working directory, in a named workspace of the backend. */
export class TerraformRunner {
  private readonly redact: (text: string) => string;

  constructor(readonly options: TerraformRunnerOptions) {
    this.redact = secretRedactor(options.backend);
  }

  /** The backend block of a root module, or nothing when state is a local file. */
  backendBlock(): { terraform?: { backend: Record<string, TerraformBackend['config']> } } {
    const backend = this.options.backend;
    return backend ? { terraform: { backend: { [backend.type]: backend.config } } } : {};
  }

  run(dir: string, args: string[], workspace: string, signal?: AbortSignal): Promise<string> {
    return runTerraform(this.cli(workspace), dir, args, signal);
  }

  runFor(
    dir: string,
    args: string[],
    workspace: string,
    exitCodes: number[],
    signal?: AbortSignal,
  ): Promise<{ stdout: string; exitCode: number }> {
    return runTerraformFor(this.cli(workspace), dir, args, exitCodes, signal);
  }

  async hasWorkspace(dir: string, workspace: string, signal?: AbortSignal): Promise<boolean> {
    const listed = await this.run(dir, ['workspace', 'list'], DEFAULT_WORKSPACE, signal);
    return listed.split('\n').some((line) => line.replace(/^\*/, '').trim() === workspace);
  }

  async createWorkspace(dir: string, workspace: string, signal?: AbortSignal): Promise<void> {
    if (await this.hasWorkspace(dir, workspace, signal)) return;
    // The tool creates a workspace only when TF_WORKSPACE is unset or names it.
    await this.run(dir, ['workspace', 'new', '-no-color', workspace], workspace, signal);
  }

  private cli(workspace: string): TerraformCli {
    return {
      binary: this.options.binary,
      searchPath: this.options.searchPath,
      home: this.options.home,
      env: { ...this.options.backend?.env, TF_WORKSPACE: workspace },
      onOutput: this.options.onOutput,
      redact: this.redact,
      killGraceMs: this.options.killGraceMs ?? 10_000,
      timeoutMs: this.options.timeoutMs,
    };
  }
}

const formatSeconds = (ms: number) => `${Math.round(ms / 100) / 10} s`;
