import { Context } from '@temporalio/activity';
import { z } from 'zod';
import { targetSettings } from '../config/resolve';
import { runProcess } from '../providers/subprocess';
import { breakerName } from '../shared/breaker-name';
import type { EnvironmentActionResult } from '../shared/environment';
import { EXECUTORS, FlowAction } from '../shared/flow';
import { aliasHostname, TargetName } from '../shared/release';
import { actionFailed as fail, environmentZone } from './environment';
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
export function createExecutorActivities({ deps, guarded }: ActivityContext) {
  const zoneOf = (environment: string) => environmentZone(deps, environment);
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
          const name = `greenlight-probe.${environment}.${zoneOf(environment)}`;
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
          const suffix = `.${environment}.${zoneOf(environment)}`;
          const dependency = breakerName('dns', environment);
          const records = await guarded(dependency, 'list records', () => dns.list());
          const names = [...new Set(records.map((r) => r.name).filter((n) => n.endsWith(suffix)))];
          for (const name of names) await guarded(dependency, 'remove record', () => dns.remove(name));
          return yielded(action.run, `${names.length} record(s) deleted`);
        }
        case 'deployments.teardown': {
          // Every deployment the CMDB says still runs in the environment: instance, then record.
          const running = await guarded('cmdb', 'read deployments', () =>
            deps.cmdb.deploymentsIn(environment, 'running'),
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
        case 'dns.reconcile': {
          // Each service's alias points at the deployment the CMDB records as live, again.
          const live = (
            await guarded('cmdb', 'read deployments', () => deps.cmdb.deploymentsIn(environment, 'running'))
          ).filter((d) => d.status === 'live');
          const zone = zoneOf(environment);
          const ttl =
            targetSettings(deps.config, deps.targetOf?.(environment) ?? environment)?.recordTtl ?? 30;
          const dependency = breakerName('dns', environment);
          let repointed = 0;
          for (const d of live) {
            const alias = aliasHostname(d.service, environment, zone);
            const record = await guarded(dependency, 'read alias', () => deps.dns(environment).get(alias));
            if (record?.type === 'CNAME' && record.value === d.hostname) continue;
            await guarded(dependency, 'restore alias', () =>
              deps.dns(environment).upsert({ name: alias, type: 'CNAME', value: d.hostname, ttl }),
            );
            repointed++;
          }
          return yielded(
            action.run,
            `${repointed} of ${live.length} alias(es) pointed back at their live deployment`,
          );
        }
        case 'terraform.apply':
        case 'terraform.plan':
        case 'terraform.destroy': {
          const module = deps.environmentModule?.(environment, item.template) ?? null;
          if (!module) {
            throw fail(
              `${environment} has no module: ${action.run} needs environment.module on its target or template`,
            );
          }
          const signal = Context.current().cancellationSignal;
          const dependency = breakerName('infra', environment);
          if (action.run === 'terraform.apply') {
            const applied = await guarded(dependency, 'apply environment module', () =>
              module.apply(environment, signal),
            );
            if (applied.unset.length) {
              throw fail(`the module applied, but its outputs ${applied.unset.join(', ')} have no value`);
            }
            const { add, change, destroy } = applied.plan;
            return yielded(
              action.run,
              `applied (${add} to add, ${change} to change, ${destroy} to destroy); outputs: ${applied.outputs.join(', ') || 'none'}`,
            );
          }
          if (action.run === 'terraform.plan') {
            const { isChanged, plan } = await guarded(dependency, 'plan environment module', () =>
              module.plan(environment, signal),
            );
            return {
              facts: { infrastructure_unchanged: !isChanged },
              detail: isChanged
                ? `the infrastructure differs from the module: ${plan.add} to add, ${plan.change} to change, ${plan.destroy} to destroy`
                : 'the infrastructure matches the module',
            };
          }
          await guarded(dependency, 'destroy environment module', () => module.destroy(environment, signal));
          const left = await guarded(dependency, 'list environment resources', () =>
            module.resources(environment, signal),
          );
          if (left.length) throw fail(`destroyed, but the state still holds ${left.join(', ')}`);
          return yielded(action.run, "the environment's module is destroyed");
        }
      }
    },
  };
}
