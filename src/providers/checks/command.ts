import { delimiter, isAbsolute } from 'node:path';
import type { CheckResult } from '../../shared/release';
import { isSubprocessError, runProcess } from '../subprocess';
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

  async run(check: CommandCheck, context: CheckContext): Promise<CheckResult> {
    const started = performance.now();
    const [program, ...args] = check.command;
    if (context.signal?.aborted) throw context.signal.reason;
    const ended = await runProcess({
      file: program,
      args,
      cwd: this.options.cwd,
      env: {
        PATH: this.searchPath,
        BASE_URL: context.endpoint,
        GREENLIGHT_SERVICE: context.service,
        GREENLIGHT_VERSION: context.version,
        ...context.env,
      },
      timeoutMs: check.timeoutMs,
      signal: context.signal,
      killGraceMs: KILL_GRACE_MS,
      tailChars: OUTPUT_TAIL,
    }).catch((e: unknown) => {
      if (!isSubprocessError(e)) throw e;
      return `could not run ${program}: ${e.code}`;
    });
    if (typeof ended === 'string') return checkResult(check, started, false, ended, '');
    if (context.signal?.aborted) throw context.signal.reason;
    const result = (passed: boolean, detail: string) =>
      checkResult(check, started, passed, detail, ended.outputTail.trim());
    const ms = ended.durationMs;
    if (ended.isTimedOut) return result(false, `timed out after ${check.timeoutMs} ms`);
    if (ended.exitCode === 0) return result(true, `exit 0 in ${ms} ms`);
    return result(
      false,
      ended.signal ? `killed by ${ended.signal} after ${ms} ms` : `exit ${ended.exitCode} after ${ms} ms`,
    );
  }
}
