import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { targetSettings } from '../config/resolve';
import { FailureTypes } from '../shared/messages';
import { TargetName } from '../shared/release';
import type { TargetSettings } from '../shared/target';
import { parseInput } from './failures';
import type { ActivityContext } from './guard';
import { BreakerNameSchema } from '../shared/breaker-name';

/** A release's target settings and the state of its breakers, from the worker. */
export function createSettingsActivities({ deps }: ActivityContext) {
  const { config, breakers } = deps;
  return {
    /**
     * The target's rules and durations, read from the worker's configuration; an environment made
     * from a template (found in the CMDB) has those of the target its template is like.
     */
    async loadTargetSettings(input: { target: string }): Promise<TargetSettings> {
      const { target } = parseInput(z.object({ target: TargetName }), input);
      // An environment made from a template releases as the target its template is like.
      const item = targetSettings(config, target)
        ? null
        : await deps.cmdb.environment(target).catch(() => null);
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
