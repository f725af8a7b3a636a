import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { targetEnvironment, targetZone, templateEnvironment } from '../config/resolve';
import { AdmitRequest, EnvironmentStart } from '../shared/environment';
import type { EnvironmentDefinition } from '../shared/environment';
import { FailureTypes } from '../shared/messages';
import { TargetName } from '../shared/release';
import type { ActivityDeps } from './deps';
import { parseInput } from './failures';
import type { ActivityContext } from './guard';

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

/** An environment, and the template it was made from (`target` for a configured target's). */
export const EnvironmentRef = z.strictObject({ environment: TargetName, template: z.string().max(40) });

/** A failed environment action: the environment is blocked with this reason, not retried. */
export const actionFailed = (message: string) =>
  ApplicationFailure.create({ type: FailureTypes.actionFailed, message, nonRetryable: true });

/** An environment's DNS zone: that of its target, or of the target its template is like. */
export const environmentZone = (deps: ActivityDeps, environment: string) =>
  targetZone(deps.config, deps.targetOf?.(environment) ?? environment);

/**
 * What an environment's workflow asks of the worker besides its actions: the CMDB's change log,
 * its current definition, and the releases that run in it or ask to.
 */
export function createEnvironmentActivities({ deps, guarded }: ActivityContext) {
  return {
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

    /** The environment's definition as the worker's configuration has it now (`env upgrade`). */
    async environmentDefinition(input: unknown): Promise<EnvironmentDefinition> {
      const { environment, template } = parseInput(EnvironmentRef, input);
      const start = Object.hasOwn(deps.config.targets, environment)
        ? targetEnvironment(deps.config, environment)
        : templateEnvironment(deps.config, environment, template, 'greenlight');
      if ('error' in start) throw actionFailed(`cannot upgrade ${environment}: ${start.error}`);
      const parsed = EnvironmentStart.parse(start);
      return { flowName: parsed.flowName, flow: parsed.flow, driftCheckMs: parsed.driftCheckMs };
    },

    /** Whether an environment takes a release now (only while active); null refusal when there is none. */
    async environmentGate(input: unknown): Promise<{ refusal: string | null }> {
      const { target, release } = parseInput(
        z.strictObject({ target: TargetName, release: AdmitRequest.optional() }),
        input,
      );
      return { refusal: (await deps.environmentGate?.(target, release)) ?? null };
    },

    /** The releases running in an environment (a release holds its lane until it ends). */
    async activeReleases(input: unknown): Promise<{ activeReleases: string[] }> {
      const { target } = parseInput(z.strictObject({ target: TargetName }), input);
      return { activeReleases: (await deps.activeReleases?.(target)) ?? [] };
    },
  };
}
