import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { targetSettings } from '../config/resolve';
import { FailureTypes } from '../shared/messages';
import { TargetName } from '../shared/release';
import { FreezeAction } from '../shared/target';
import type { TargetSettings } from '../shared/target';
import { closedReason as closedReasonAt, nextAllowed } from '../shared/calendar';
import type { CalendarGate } from '../shared/calendar';
import { parseInput } from './failures';
import type { ActivityContext } from './guard';
import { BreakerNameSchema } from '../shared/breaker-name';

/** A release's target settings and the state of its breakers, from the worker. */
export function createSettingsActivities({ deps }: ActivityContext) {
  const { config, breakers } = deps;
  async function resolveSettings(target: string): Promise<TargetSettings> {
    // An environment made from a template releases as the target its template is like.
    // A CMDB that cannot answer is a reason to try again, not an unknown target.
    const item = targetSettings(config, target)
      ? null
      : await deps.cmdb.environment(target).catch((e: unknown) => {
          throw ApplicationFailure.retryable(
            `could not ask the CMDB about ${target}: ${(e as Error).message}`.slice(0, 500),
            'CmdbUnavailable',
          );
        });
    const template =
      item && Object.hasOwn(config.environments.templates, item.template)
        ? config.environments.templates[item.template]
        : undefined;
    const like = template ? (template.like ?? Object.keys(config.targets)[0]!) : target;
    const base = targetSettings(config, like);
    const settings = base && { ...base, name: target };
    const problem = item?.decommissionedAt
      ? `environment ${target} has been decommissioned`
      : !settings
        ? `unknown target ${JSON.stringify(target)}; configured targets: ${Object.keys(config.targets).join(', ')}`
        : null;
    if (problem || !settings) {
      throw ApplicationFailure.create({
        type: FailureTypes.unknownTarget,
        message: problem ?? '',
        nonRetryable: true,
      });
    }
    return settings;
  }

  return {
    /**
     * The target's rules and durations, read from the worker's configuration; an environment made
     * from a template (found in the CMDB) has those of the target its template is like.
     */
    async loadTargetSettings(input: { target: string }): Promise<TargetSettings> {
      const { target } = parseInput(z.object({ target: TargetName }), input);
      return resolveSettings(target);
    },
    /**
     * Whether the target (or environment, as the target it is like) is open for `action` at `at`
     * by the worker's configuration as it is now (its windows, its freezes and the global ones),
     * and if not, why and when it opens.
     */
    async calendarGate(input: {
      target: string;
      action: FreezeAction;
      at: string;
      /** Whether maintenance windows count (releases), or only freezes (an environment's transitions). */
      windows?: boolean;
    }): Promise<CalendarGate> {
      const { target, action, at, windows } = parseInput(
        z.object({
          target: TargetName,
          action: FreezeAction,
          at: z.iso.datetime(),
          windows: z.boolean().default(true),
        }),
        input,
      );
      const settings = await resolveSettings(target);
      const freezes = settings.freezes ?? [];
      const spans = windows ? settings.maintenanceWindows : [];
      const instant = new Date(at);
      const closedReason = closedReasonAt(spans, freezes, action, instant);
      const next = closedReason ? nextAllowed(spans, freezes, action, instant) : instant;
      return {
        closedReason,
        nextAllowed: next?.toISOString() ?? null,
        onClosedWindow: settings.onClosedWindow ?? 'wait',
      };
    },
    /**
     * The state of one of a release's breakers, so the release believes a breaker notice only when
     * the breaker is really open (a signal can be sent by anyone allowed to signal).
     */
    async breakerStatus(input: { breaker: string }): Promise<{ state: string; retryAfterMs: number }> {
      const { breaker } = parseInput(z.object({ breaker: BreakerNameSchema }), input);
      const view = await breakers.view(breaker);
      return { state: view.state, retryAfterMs: view.retryAfterMs };
    },
  };
}
