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

const ActionInput = z.strictObject({
  environment: TargetName,
  action: FlowAction,
  item: z.strictObject({
    template: z.string().max(40),
    state: z.string().max(40),
    ttlExpiresAt: z.iso.datetime().nullable(),
  }),
});

const Text = z.string().max(2000);
const ChangeInput = z.strictObject({
  change: z.strictObject({
    environment: TargetName,
    step: z.string().max(100),
    transition: z.string().max(40),
    from: z.string().max(40),
    to: z.string().max(40),
    outcome: z.enum(['done', 'blocked']),
    at: z.iso.datetime(),
    by: z.string().max(100).optional(),
    note: Text.optional(),
  }),
  item: z.strictObject({
    name: TargetName,
    state: z.string().max(40),
    template: z.string().max(40),
    ttlExpiresAt: z.iso.datetime().nullable(),
    decommissionedAt: z.iso.datetime().nullable(),
    updatedAt: z.iso.datetime(),
  }),
});

/** Settings of `checks.run`: HTTP checks against the environment's entry point, as releases run them. */
const SmokeSettings = z.strictObject({
  url: z
    .url({ protocol: /^https?$/ })
    .max(2000)
    .optional(),
  paths: z
    .array(z.string().regex(/^\/[^\s]{0,500}$/, 'a path such as /healthz'))
    .max(20)
    .default(['/']),
});

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
    ApplicationFailure.create({ type: FailureTypes.actionFailed, message, nonRetryable: true });
  const yielded = (run: keyof typeof EXECUTORS, detail: string): EnvironmentActionResult => ({
    facts: Object.fromEntries(EXECUTORS[run].yields.map((fact) => [fact, true])),
    detail,
  });

  return {
    async runEnvironmentAction(input: unknown): Promise<EnvironmentActionResult> {
      const { environment, action, item } = parseInput(ActionInput, input);
      const now = new Date().toISOString();
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
            const how = result.isTimedOut ? 'timed out' : `exited ${result.exitCode ?? result.signal}`;
            throw fail(`${result.command} ${how}: ${result.stderrTail.slice(-500)}`);
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
        case 'dns.purge': {
          // Every record of the environment's names (`*.<environment>.<zone>`), aliases and hosts.
          const dns = deps.dns(environment);
          const suffix = `.${environment}.${targetZone(deps.config, environment)}`;
          const dependency = breakerName('dns', environment);
          const records = await guarded(dependency, 'list records', () => dns.list());
          const names = [...new Set(records.map((r) => r.name).filter((n) => n.endsWith(suffix)))];
          for (const name of names) await guarded(dependency, 'remove record', () => dns.remove(name));
          return yielded(action.run, `${names.length} record(s) deleted`);
        }
        case 'deployments.teardown': {
          // Every deployment the CMDB says still runs in the environment: instance, then record.
          const running = await guarded('cmdb', 'read deployments', () =>
            deps.cmdb.runningDeployments(environment),
          );
          for (const d of running) {
            await guarded(breakerName('infra', environment), 'destroy deployment', () =>
              deps.infra(environment).destroy({ hostname: d.hostname }),
            );
            await guarded(breakerName('dns', environment), 'remove record', () =>
              deps.dns(environment).remove(d.hostname),
            );
            await guarded('cmdb', 'record deployment', () =>
              deps.cmdb.upsertDeployment({ ...d, status: 'torn_down', updatedAt: now }),
            );
          }
          return yielded(action.run, `${running.length} deployment(s) torn down`);
        }
        case 'cmdb.register':
        case 'cmdb.retire': {
          const isRetired = action.run === 'cmdb.retire';
          await guarded('cmdb', 'record environment', () =>
            deps.cmdb.upsertEnvironment({
              name: environment,
              state: isRetired ? 'decommissioned' : item.state,
              template: item.template,
              ttlExpiresAt: item.ttlExpiresAt,
              decommissionedAt: isRetired ? now : null,
              updatedAt: now,
            }),
          );
          return yielded(action.run, `${environment} ${isRetired ? 'retired' : 'registered'} in the CMDB`);
        }
        case 'checks.run': {
          const { url, paths } = parseInput(SmokeSettings, action.with ?? {});
          if (!url) return yielded(action.run, 'no smoke checks configured for this environment');
          const failed: string[] = [];
          for (const path of paths) {
            const check = {
              kind: 'http' as const,
              name: `smoke ${path}`,
              path,
              expectStatus: 200,
              latencyBudgetMs: 10_000,
              repeat: 1,
              slow: false,
            };
            const result = await guarded('checks', `run check smoke`, () =>
              deps.checks.run(check, { endpoint: url, service: environment, version: 'environment' }),
            );
            if (!result.passed) failed.push(`${path}: ${result.detail}`);
          }
          if (failed.length) throw fail(`smoke checks failed: ${failed.join('; ')}`);
          return yielded(action.run, `${paths.length} smoke check(s) passed`);
        }
        default:
          // terraform.* needs the environment's module, which environments do not name yet.
          throw fail(`the ${action.run} executor is not available on this worker yet`);
      }
    },

    /**
     * Records a transition, taken or blocked, in the CMDB's change log and on the environment's item.
     * The CMDB is a record, not a gate: when it cannot be reached (its breaker open, or down), the
     * write is given up at once and said so, and the environment goes on; its next transition
     * writes its item again.
     */
    async recordEnvironmentChange(input: unknown): Promise<{ notRecorded: string | null }> {
      const { change, item } = parseInput(ChangeInput, input);
      try {
        await guarded(
          'cmdb',
          'record environment change',
          () => deps.cmdb.recordEnvironmentChange(change, item),
          {
            notify: false,
          },
        );
        return { notRecorded: null };
      } catch (e) {
        if (e instanceof ApplicationFailure && e.nonRetryable) throw e;
        return { notRecorded: (e instanceof Error ? e.message : String(e)).slice(0, 500) };
      }
    },

    /** Whether an environment takes a release now (only while active); null refusal when there is none. */
    async environmentGate(input: unknown): Promise<{ refusal: string | null }> {
      const { target } = parseInput(z.strictObject({ target: TargetName }), input);
      return { refusal: (await deps.environmentGate?.(target)) ?? null };
    },

    /** The releases running in an environment (a release holds its lane until it ends). */
    async activeReleases(input: unknown): Promise<{ activeReleases: string[] }> {
      const { target } = parseInput(z.strictObject({ target: TargetName }), input);
      return { activeReleases: (await deps.activeReleases?.(target)) ?? [] };
    },
  };
}
