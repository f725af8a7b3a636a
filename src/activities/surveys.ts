import { Context } from '@temporalio/activity';
import { breakerName } from '../shared/breaker-name';
import type { LeakCheck } from '../shared/environment';
import { aliasHostname } from '../shared/release';
import { EnvironmentRef, environmentZone } from './environment';
import { parseInput } from './failures';
import type { ActivityContext } from './guard';

const notChecked = (part: string, e: unknown) =>
  `${part} not checked: ${(e instanceof Error ? e.message : String(e)).slice(0, 300)}`;

/**
 * What a survey of an environment found (drift, leftovers), part by part: a part that cannot be
 * looked at (its server down) is found too, as `<part> not checked: <why>`, never skipped.
 */
function survey() {
  const found: string[] = [];
  const look = async (part: string, find: () => Promise<string[]>): Promise<void> => {
    try {
      found.push(...(await find()));
    } catch (e) {
      found.push(notChecked(part, e));
    }
  };
  return { found, look };
}

/** What an environment's workflow looks for: drift while it is active, leftovers once it has ended. */
export function createSurveyActivities({ deps, guarded }: ActivityContext) {
  const zoneOf = (environment: string) => environmentZone(deps, environment);
  return {
    /**
     * After decommissioning: looks for anything of the environment that is left, by name. Its
     * module's state, DNS records of its names, instances of the deployments the CMDB knows in it,
     * deployments the CMDB still calls running, and its CMDB item not retired. A part that cannot
     * be looked at is a leftover too ("not checked"): clean means checked and found empty.
     */
    async checkEnvironmentLeaks(input: unknown): Promise<LeakCheck> {
      const { environment, template } = parseInput(EnvironmentRef, input);
      const signal = Context.current().cancellationSignal;
      const { found: leftovers, look } = survey();
      const module = deps.environmentModule?.(environment, template) ?? null;
      if (module) {
        await look('terraform state', async () =>
          (
            await guarded(breakerName('infra', environment), 'list environment resources', () =>
              module.resources(environment, signal),
            )
          ).map((address) => `terraform: ${address}`),
        );
      }
      await look('dns', async () => {
        const suffix = `.${environment}.${zoneOf(environment)}`;
        const records = await guarded(breakerName('dns', environment), 'list records', () =>
          deps.dns(environment).list(),
        );
        return [...new Set(records.map((r) => r.name).filter((n) => n.endsWith(suffix)))].map(
          (name) => `dns: ${name}`,
        );
      });
      await look('deployments', async () => {
        const known = await guarded('cmdb', 'read deployments', () =>
          deps.cmdb.deploymentsIn(environment, 'all'),
        );
        const found: string[] = [];
        for (const d of known) {
          if (d.status === 'live' || d.status === 'candidate') {
            found.push(`cmdb: deployment ${d.hostname} is still ${d.status}`);
          }
          const running = await guarded(breakerName('infra', environment), 'describe deployment', () =>
            deps.infra(environment).describe({ hostname: d.hostname }),
          );
          if (running) found.push(`instance: ${d.hostname} still runs`);
        }
        return found;
      });
      await look('cmdb', async () => {
        const item = await guarded('cmdb', 'read environment', () => deps.cmdb.environment(environment));
        // Retired: decommissioned at a time (its last state may have any name the flow gives it).
        return item && item.decommissionedAt === null
          ? [`cmdb: the item of ${environment} is ${item.state}, not retired`]
          : [];
      });
      return { clean: leftovers.length === 0, leftovers: leftovers.slice(0, 100) };
    },

    /**
     * Looks for drift: the module against its infrastructure (`plan -detailed-exitcode`), each
     * service's alias against the deployment the CMDB records as live, and the instances the CMDB
     * says run against the infrastructure. A part that cannot be looked at is a finding too.
     */
    async checkEnvironmentDrift(input: unknown): Promise<{ clean: boolean; findings: string[] }> {
      const { environment, template } = parseInput(EnvironmentRef, input);
      const signal = Context.current().cancellationSignal;
      const { found: findings, look } = survey();
      const module = deps.environmentModule?.(environment, template) ?? null;
      if (module) {
        await look('terraform', async () => {
          const { isChanged, plan } = await guarded(
            breakerName('infra', environment),
            'plan environment module',
            () => module.plan(environment, signal),
          );
          return isChanged
            ? [
                `terraform: the infrastructure differs from the module (${plan.add} to add, ${plan.change} to change, ${plan.destroy} to destroy)`,
              ]
            : [];
        });
      }
      const running = await guarded('cmdb', 'read deployments', () =>
        deps.cmdb.deploymentsIn(environment, 'running'),
      ).catch((e: unknown) => {
        findings.push(notChecked('cmdb', e));
        return [];
      });
      const zone = zoneOf(environment);
      await look('dns', async () => {
        const found: string[] = [];
        for (const d of running.filter((x) => x.status === 'live')) {
          const alias = aliasHostname(d.service, environment, zone);
          const record = await guarded(breakerName('dns', environment), 'read alias', () =>
            deps.dns(environment).get(alias),
          );
          if (!record) found.push(`dns: ${alias} is missing; the CMDB says ${d.hostname} is live`);
          else if (record.value !== d.hostname)
            found.push(`dns: ${alias} points at ${record.value}; the CMDB says ${d.hostname} is live`);
        }
        return found;
      });
      await look('instances', async () => {
        const found: string[] = [];
        for (const d of running) {
          const instance = await guarded(breakerName('infra', environment), 'describe deployment', () =>
            deps.infra(environment).describe({ hostname: d.hostname }),
          );
          if (!instance) found.push(`instance: ${d.hostname} does not run; the CMDB says it is ${d.status}`);
        }
        return found;
      });
      return { clean: findings.length === 0, findings: findings.slice(0, 50) };
    },
  };
}
