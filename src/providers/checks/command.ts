import { spawn } from 'node:child_process';
import { delimiter, isAbsolute } from 'node:path';
import type { CheckResult } from '../../shared/release';
import { checkResult } from './types';
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
  private readonly searchPath: string;

  constructor(private readonly options: CommandCheckOptions) {
    // Only absolute entries: an empty or relative one would find programs in the working directory.
    this.searchPath = options.searchPath
      .split(delimiter)
      .filter((dir) => isAbsolute(dir))
      .join(delimiter);
  }

  run(check: CommandCheck, context: CheckContext): Promise<CheckResult> {
    const started = performance.now();
    const [program, ...args] = check.command;
    if (context.signal?.aborted) return Promise.reject(context.signal.reason);
    return new Promise((resolve, reject) => {
      let output = '';
      let isTimedOut = false;
      let killer: NodeJS.Timeout | undefined;
      const child = spawn(program, args, {
        cwd: this.options.cwd,
        shell: false,
        // Its own process group, so a timeout or cancellation stops what it started too.
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          PATH: this.searchPath,
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
      const signalGroup = (signal: NodeJS.Signals) => {
        try {
          if (child.pid) process.kill(-child.pid, signal);
        } catch {
          // The group is gone already.
        }
      };
      const stop = (signal: NodeJS.Signals) => {
        signalGroup(signal);
        killer ??= setTimeout(() => signalGroup('SIGKILL'), KILL_GRACE_MS);
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
      const result = (passed: boolean, detail: string) =>
        checkResult(check, started, passed, detail, output.trim());
      child.once('error', (e) => {
        finish();
        resolve(result(false, `could not run ${program}: ${(e as NodeJS.ErrnoException).code ?? e.message}`));
      });
      // A background process it left could hold the output pipes open: once the command exits, its
      // group is killed and the pipes get a moment to drain before they are closed.
      let drain: NodeJS.Timeout | undefined;
      child.once('exit', (code, signal) => {
        signalGroup('SIGKILL');
        drain = setTimeout(() => {
          child.stdout.destroy();
          child.stderr.destroy();
        }, 200);
        child.once('close', () => {
          clearTimeout(drain);
          finish();
          if (context.signal?.aborted) return reject(context.signal.reason);
          const ms = Math.round(performance.now() - started);
          if (isTimedOut) return resolve(result(false, `timed out after ${check.timeoutMs} ms`));
          if (code === 0) return resolve(result(true, `exit 0 in ${ms} ms`));
          resolve(
            result(false, signal ? `killed by ${signal} after ${ms} ms` : `exit ${code} after ${ms} ms`),
          );
        });
      });
    });
  }
}
