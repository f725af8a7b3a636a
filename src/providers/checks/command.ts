import { spawn } from 'node:child_process';
import type { CheckResult } from '../../shared/release';
import type { CheckContext, CheckRunner, CommandCheck } from './types';

/** How much of a command's output a result keeps. */
const OUTPUT_TAIL = 2000;
/** How long a command has to exit after SIGTERM (timeout) or SIGINT (cancellation) before SIGKILL. */
const KILL_GRACE_MS = 5000;

export interface CommandCheckOptions {
  /** PATH for finding the command. The command gets no other variable of the worker's environment. */
  searchPath: string;
  /** Working directory of the command. Default: the worker's. */
  cwd?: string;
}

/**
 * Runs a test command against green without a shell: the argument array goes to the program as it
 * is, and its environment holds only PATH, BASE_URL, GREENLIGHT_SERVICE and GREENLIGHT_VERSION, so
 * no secret of the worker reaches it.
 */
export class CommandCheckRunner implements CheckRunner<CommandCheck> {
  constructor(private readonly options: CommandCheckOptions) {}

  run(check: CommandCheck, context: CheckContext): Promise<CheckResult> {
    const started = performance.now();
    const [program, ...args] = check.command;
    return new Promise((resolve, reject) => {
      let output = '';
      let isTimedOut = false;
      let killer: NodeJS.Timeout | undefined;
      const child = spawn(program, args, {
        cwd: this.options.cwd,
        shell: false,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          PATH: this.options.searchPath,
          BASE_URL: context.endpoint,
          GREENLIGHT_SERVICE: context.service,
          GREENLIGHT_VERSION: context.version,
        },
      });
      const collect = (chunk: Buffer) => {
        output = (output + chunk.toString()).slice(-OUTPUT_TAIL);
      };
      child.stdout.on('data', collect);
      child.stderr.on('data', collect);
      const stop = (signal: NodeJS.Signals) => {
        child.kill(signal);
        killer ??= setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
      };
      const timer = setTimeout(() => {
        isTimedOut = true;
        stop('SIGTERM');
      }, check.timeoutMs);
      const onAbort = () => stop('SIGINT');
      context.signal?.addEventListener('abort', onAbort, { once: true });
      const finish = () => {
        clearTimeout(timer);
        clearTimeout(killer);
        context.signal?.removeEventListener('abort', onAbort);
      };
      const result = (passed: boolean, detail: string): CheckResult => ({
        name: check.name,
        passed,
        slow: check.slow,
        skipped: false,
        durationMs: Math.round(performance.now() - started),
        detail,
        output: output.trim(),
      });
      child.once('error', (e) => {
        finish();
        resolve(result(false, `could not run ${program}: ${(e as NodeJS.ErrnoException).code ?? e.message}`));
      });
      child.once('close', (code, signal) => {
        finish();
        if (context.signal?.aborted) return reject(context.signal.reason);
        const ms = Math.round(performance.now() - started);
        if (isTimedOut) return resolve(result(false, `timed out after ${check.timeoutMs} ms`));
        if (code === 0) return resolve(result(true, `exit 0 in ${ms} ms`));
        resolve(result(false, signal ? `killed by ${signal} after ${ms} ms` : `exit ${code} after ${ms} ms`));
      });
    });
  }
}
