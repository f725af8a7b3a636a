import { brandErrors, hasBrand } from '../shared/brand';
import { spawn } from 'node:child_process';

/** How a program is run: always an argument array, never a shell. */
export interface ProcessOptions {
  file: string;
  args: readonly string[];
  cwd?: string;
  /** The child's whole environment: nothing of the worker's is inherited (an allow-list). */
  env: Record<string, string>;
  /** Stopped with SIGTERM after this long; `isTimedOut` then says so. Default: no limit. */
  timeoutMs?: number;
  /** Stopped with SIGINT when this aborts, so it can release its locks; `isCanceled` says so. */
  signal?: AbortSignal;
  /** After SIGTERM or SIGINT, how long it has before SIGKILL. Default 5 s. */
  killGraceMs?: number;
  /** Each non-empty line it prints, as it prints it. */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** How many characters of the end of its output (stdout and stderr together) are kept. Default 4000. */
  tailChars?: number;
  /**
   * Whether what it leaves running in its process group is killed when it exits. Default true; a
   * tool whose job is to start long-lived things (Terraform's provisioners) says false.
   */
  isGroupKilledOnExit?: boolean;
}

/** How a program ended. A non-zero exit is a result, not an error: callers decide what it means. */
export interface ProcessResult {
  /** The program and its first argument, for messages. */
  command: string;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** All it printed on stdout. */
  stdout: string;
  /** The end of all it printed, stdout and stderr interleaved. */
  outputTail: string;
  /** The end of what it printed on stderr. */
  stderrTail: string;
  durationMs: number;
  isTimedOut: boolean;
  isCanceled: boolean;
}

/** The program could not be started at all (not found, not executable). */
export class SubprocessError extends Error {
  override readonly name = 'SubprocessError';
  constructor(
    readonly command: string,
    /** The system's code, such as ENOENT. */
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(`cannot run ${command}: ${code}`, options);
  }
}

const BRAND = brandErrors(SubprocessError, 'SubprocessError');

export function isSubprocessError(e: unknown): e is SubprocessError {
  return hasBrand(e, BRAND);
}

/**
 * Runs a program to its end in its own process group, so that a timeout or a cancellation stops
 * what it started too. Resolves with how it ended; rejects only when it cannot be started.
 */
export function runProcess(options: ProcessOptions): Promise<ProcessResult> {
  const { file, args, signal, killGraceMs = 5_000, tailChars = 4_000 } = options;
  const command = [file, args[0]].filter(Boolean).join(' ');
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: options.cwd,
      shell: false,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: options.env,
    });
    let stdout = '';
    let outputTail = '';
    let stderrTail = '';
    let isTimedOut = false;
    let isCanceled = false;
    let killer: NodeJS.Timeout | undefined;
    const take = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
      const text = chunk.toString();
      if (stream === 'stdout') stdout += text;
      else stderrTail = (stderrTail + text).slice(-tailChars);
      outputTail = (outputTail + text).slice(-tailChars);
      if (options.onLine) for (const line of text.split('\n')) if (line.trim()) options.onLine(line, stream);
    };
    child.stdout.on('data', take('stdout'));
    child.stderr.on('data', take('stderr'));
    const signalGroup = (name: NodeJS.Signals) => {
      try {
        if (child.pid) process.kill(-child.pid, name);
      } catch {
        // The group is gone already.
      }
    };
    const stop = (name: NodeJS.Signals) => {
      signalGroup(name);
      killer ??= setTimeout(() => signalGroup('SIGKILL'), killGraceMs);
    };
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            isTimedOut = true;
            stop('SIGTERM');
          }, options.timeoutMs);
    const onAbort = () => {
      isCanceled = true;
      stop('SIGINT');
    };
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    const finish = () => {
      clearTimeout(timer);
      clearTimeout(killer);
      signal?.removeEventListener('abort', onAbort);
    };
    child.once('error', (e: NodeJS.ErrnoException) => {
      finish();
      reject(new SubprocessError(command, e.code ?? e.message, { cause: e }));
    });
    let drain: NodeJS.Timeout | undefined;
    child.once('exit', (exitCode, exitSignal) => {
      // What it left running in its group goes too, and the pipes get a moment to drain: a
      // background process could otherwise hold them open.
      if (options.isGroupKilledOnExit ?? true) signalGroup('SIGKILL');
      drain = setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
      }, 200);
      child.once('close', () => {
        clearTimeout(drain);
        finish();
        resolve({
          command,
          exitCode,
          signal: exitSignal,
          stdout,
          outputTail,
          stderrTail,
          durationMs: Math.round(performance.now() - started),
          isTimedOut,
          isCanceled,
        });
      });
    });
  });
}
