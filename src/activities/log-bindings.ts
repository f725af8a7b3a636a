import type { Info } from '@temporalio/activity';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { RELEASE_WORKFLOW } from '../shared/messages';

/** What each workflow's id names in a log line. */
export const OWNER_BY_WORKFLOW: Record<string, string> = {
  [RELEASE_WORKFLOW]: 'release',
  environmentLifecycle: 'environment',
  releaseTrain: 'train',
};

const MAX_BOUND = 200;

/** A string field of an object, cut short; undefined when absent. */
function field(value: unknown, key: string): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = (value as Record<string, unknown>)[key];
  return typeof v === 'string' ? v.slice(0, MAX_BOUND) : undefined;
}

/**
 * The bindings of an activity's log lines: the activity, the release (environment, train) it works
 * for, and the service and target its input names (at its top, or in its deployment or change).
 */
export function logBindings(
  info: Pick<Info, 'activityType' | 'workflowType' | 'workflowExecution'>,
  input: unknown,
) {
  const bindings: Record<string, string> = { activity: info.activityType };
  const owner = info.workflowType ? OWNER_BY_WORKFLOW[info.workflowType] : undefined;
  if (owner && info.workflowExecution) bindings[owner] = info.workflowExecution.workflowId;
  const nested = ['deployment', 'change', 'request'].map((k) =>
    typeof input === 'object' && input !== null ? (input as Record<string, unknown>)[k] : undefined,
  );
  for (const key of ['service', 'target'] as const) {
    const value = [input, ...nested].map((v) => field(v, key)).find((v) => v !== undefined);
    if (value !== undefined) bindings[key] = value;
  }
  return bindings;
}

/** Binds every log line of an activity (the SDK's own included) to what it works on. */
export const logBindingInterceptors: ActivityInterceptorsFactory = (ctx) => {
  let bindings: Record<string, string> = { activity: ctx.info.activityType };
  return {
    inbound: {
      execute(input, next) {
        bindings = logBindings(ctx.info, input.args[0]);
        return next(input);
      },
    },
    outbound: {
      getLogAttributes(attributes, next) {
        return next({ ...attributes, ...bindings });
      },
    },
  };
};
