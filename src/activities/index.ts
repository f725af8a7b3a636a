import { createCheckActivities } from './checks';
import { createCmdbActivities } from './cmdb';
import type { ActivityDeps } from './deps';
import { createDnsActivities } from './dns';
import { createEnvironmentActivities } from './environment';
import { createGuard } from './guard';
import { createInfraActivities } from './infra';
import { createJanitorActivities } from './janitor';
import { createSettingsActivities } from './settings';

export type { ActivityDeps, ReleaseRun } from './deps';
export type { Reclaimed } from './janitor';

/**
 * The activities of greenlight's workflows, one group per dependency, every provider call through
 * one breaker guard. The worker composes them with real providers; tests may pass typed fakes.
 */
export function createActivities(deps: ActivityDeps) {
  const context = { deps, guarded: createGuard(deps) };
  return {
    ...createSettingsActivities(context),
    ...createInfraActivities(context),
    ...createDnsActivities(context),
    ...createCheckActivities(context),
    ...createCmdbActivities(context),
    ...createJanitorActivities(context),
    ...createEnvironmentActivities(context),
  };
}

export type Activities = ReturnType<typeof createActivities>;
