import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { targetZone } from '../config/resolve';
import { runProcess } from '../providers/subprocess';
import { breakerName } from '../shared/breaker-name';
import type { EnvironmentActionResult } from '../shared/environment';
import { EXECUTORS, FlowAction } from '../shared/flow';
import { FailureTypes } from '../shared/messages';
import { TargetName } from '../shared/release';
import { parseInput } from './failures';
import type { ActivityContext } from './guard';

const ActionInput = z.strictObject({ environment: TargetName, action: FlowAction });

/** Settings of `command.run`: an argument array, never a shell. */
const CommandSettings = z.strictObject({
  command: z.array(z.string().min(1).max(2000)).min(1).max(50),
  timeoutMs: z.number().int().positive().max(3_600_000).default(600_000),
});

/** Settings of `secrets.verify`: the names that must resolve (variables and files), never values. */
const SecretSettings = z.strictObject({
  env: z
    .array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/))
    .max(50)
    .default([]),
  files: z.array(z.string().min(1).max(1000)).max(50).default([]),
});

/**
 * The actions of environment flows, by executor. Each yields the facts `EXECUTORS` declares when
 * it succeeds and fails (the environment is then blocked, with the reason) when it does not.
 */
export function createEnvironmentActivities({ deps, guarded }: ActivityContext) {
  const fail = (message: string) =>
    ApplicationFailure.create({ type: FailureTypes.invalidInput, message, nonRetryable: true });
  const yielded = (run: keyof typeof EXECUTORS, detail: string): EnvironmentActionResult => ({
    facts: Object.fromEntries(EXECUTORS[run].yields.map((fact) => [fact, true])),
    detail,
  });

  return {
    async runEnvironmentAction(input: unknown): Promise<EnvironmentActionResult> {
      const { environment, action } = parseInput(ActionInput, input);
      switch (action.run) {
        case 'command.run': {
          const { command, timeoutMs } = parseInput(CommandSettings, action.with ?? {});
          const [file, ...args] = command as [string, ...string[]];
          const result = await runProcess({
            file,
            args,
            env: { PATH: process.env.PATH ?? '', GREENLIGHT_ENVIRONMENT: environment },
            timeoutMs,
          });
          if (result.exitCode !== 0) {
            throw ApplicationFailure.create({
              type: FailureTypes.deployFailed,
              message: `${result.command} ${result.isTimedOut ? 'timed out' : `exited ${result.exitCode ?? result.signal}`}: ${result.stderrTail.slice(-500)}`,
              nonRetryable: true,
            });
          }
          return yielded(action.run, `${result.command} succeeded`);
        }
        case 'secrets.verify': {
          const { env, files } = parseInput(SecretSettings, action.with ?? {});
          const { access } = await import('node:fs/promises');
          const missing = [
            ...env.filter((name) => !deps.secretsEnv?.[name]).map((name) => `environment variable ${name}`),
            ...(
              await Promise.all(
                files.map((f) =>
                  access(f).then(
                    () => null,
                    () => `file ${f}`,
                  ),
                ),
              )
            ).filter((x): x is string => x !== null),
          ];
          if (missing.length) throw fail(`secrets not available: ${missing.join(', ')}`);
          return yielded(action.run, `${env.length + files.length} secret reference(s) resolve`);
        }
        case 'dns.probe': {
          // A marker record written, read back and deleted through the environment's DNS provider.
          const dns = deps.dns(environment);
          const name = `greenlight-probe.${environment}.${targetZone(deps.config, environment)}`;
          const dependency = breakerName('dns', environment);
          await guarded(dependency, 'write probe record', () =>
            dns.upsert({ name, type: 'A', value: '192.0.2.1', ttl: 1 }),
          );
          const read = await guarded(dependency, 'read probe record', () => dns.get(name));
          await guarded(dependency, 'remove probe record', () => dns.remove(name));
          if (read?.value !== '192.0.2.1') throw fail(`the probe record ${name} did not read back`);
          return yielded(action.run, `${name} written, read back and deleted`);
        }
        default:
          throw fail(`the ${action.run} executor is not available on this worker yet`);
      }
    },

    /** The releases running in an environment (a release holds its lane until it ends). */
    async activeReleases(input: unknown): Promise<{ activeReleases: string[] }> {
      const { target } = parseInput(z.strictObject({ target: TargetName }), input);
      return { activeReleases: (await deps.activeReleases?.(target)) ?? [] };
    },
  };
}
