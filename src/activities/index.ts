import { createCheckActivities } from './checks';
import { createCmdbActivities } from './cmdb';
import type { ActivityDeps } from './deps';
import { createDnsActivities } from './dns';
import { createEnvironmentActivities } from './environment';
import { createExecutorActivities } from './executors';
import { createGuard } from './guard';
import { createInfraActivities } from './infra';
import { createJanitorActivities } from './janitor';
import { createSettingsActivities } from './settings';
import { createSurveyActivities } from './surveys';
import { createTrainActivities } from './trains';
import { createPromotionActivities } from './promotion';
import { createNotifyActivities } from './notify';

export type { ActivityDeps, ReleaseRun } from './deps';
export type { Reclaimed } from './janitor';

/**
 * The activities of greenlight's workflows, one group per dependency, every provider call through
 * one breaker guard. The worker composes them with real providers; tests may pass typed fakes.
 */
export function createActivities(deps: ActivityDeps) {
  const context = { deps, guarded: createGuard(deps) };
  return learningEnvironments(deps, {
    ...createSettingsActivities(context),
    ...createInfraActivities(context),
    ...createDnsActivities(context),
    ...createCheckActivities(context),
    ...createCmdbActivities(context),
    ...createJanitorActivities(context),
    ...createEnvironmentActivities(context),
    ...createExecutorActivities(context),
    ...createSurveyActivities(context),
    ...createTrainActivities(context),
    ...createPromotionActivities(context),
    ...createNotifyActivities(context),
  });
}

/** Activities that use no provider of a target: they need not know which target an environment is like. */
const PROVIDERLESS = new Set([
  'loadTargetSettings',
  'breakerStatus',
  'recordChange',
  'recordEnvironmentChange',
  'environmentGate',
  'activeReleases',
  'environmentDefinition',
  'reclaimAbandonedDeployments',
  'trainParts',
  'trainMembers',
  'runTrainChecks',
  'runTrainAction',
  'laneHolder',
  'promotionFacts',
  'trainManifest',
  'recordTrain',
  'trainDecision',
  'calendarGate',
  'planNotifications',
  'deliverWebhook',
  'isNotified',
]);

/**
 * Before an activity uses the providers of the target or environment its input names, the worker
 * learns which configured target that environment is like (from its template, or the CMDB), so an
 * environment made from a template is served by that target's DNS and infrastructure on any worker.
 */
function learningEnvironments<A extends Record<string, (input: never) => Promise<unknown>>>(
  deps: ActivityDeps,
  activities: A,
): A {
  const learn = deps.learnEnvironment;
  if (!learn) return activities;
  const wrapped: Record<string, (input: never) => Promise<unknown>> = {};
  for (const [name, activity] of Object.entries(activities)) {
    wrapped[name] = PROVIDERLESS.has(name)
      ? activity
      : async (input: never) => {
          const { environment, template } = namedEnvironment(input);
          if (environment) await learn(environment, template);
          return activity(input);
        };
  }
  return wrapped as A;
}

/** The target or environment an activity's input names, and its template when it says. */
function namedEnvironment(input: unknown): { environment?: string; template?: string } {
  if (typeof input !== 'object' || input === null) return {};
  const i = input as {
    target?: unknown;
    environment?: unknown;
    template?: unknown;
    item?: { template?: unknown };
  };
  const environment =
    typeof i.environment === 'string' ? i.environment : typeof i.target === 'string' ? i.target : undefined;
  const template =
    typeof i.template === 'string'
      ? i.template
      : typeof i.item?.template === 'string'
        ? i.item.template
        : undefined;
  // Names are validated by each activity's own schema; an invalid one is left to it.
  return environment && environment.length <= 32 ? { environment, template } : {};
}

export type Activities = ReturnType<typeof createActivities>;
