import { z } from 'zod';
import { checkPathProblem } from '../providers/checks/http';
import { checkedText } from '../shared/text';
import { AnalysisConfig } from './analysis';
import { chosenBy, TimerDuration } from './fields';

// The checks a release runs against green (HTTP or a command), as the configuration writes them.

export const CheckPath = checkedText(2000, checkPathProblem);

export const HttpCheckConfig = z.strictObject({
  name: z.string().min(1).max(60),
  /** Requested on green's endpoint; never a path that could name another host. */
  path: CheckPath,
  expectStatus: z.number().int().min(100).max(599).default(200),
  bodyIncludes: z.string().max(1000).optional(),
  latencyBudget: TimerDuration.prefault('2s'),
  repeat: z.number().int().min(1).max(1000).default(1),
  slow: z.boolean().default(false),
});

export const CommandCheckConfig = z.strictObject({
  name: z.string().min(1).max(60),
  /** Program and arguments, run without a shell; BASE_URL is green's endpoint. */
  command: z
    .array(z.string().min(1).max(4000), 'an argument array, e.g. [npm, run, smoke]; never shell text')
    .min(1)
    .max(100),
  timeout: TimerDuration.prefault('5m'),
  slow: z.boolean().default(false),
});

/** A Prometheus query judged once against green before cutover (see `AnalysisConfig`). */
export const MetricCheckConfig = AnalysisConfig.safeExtend({
  name: z.string().min(1).max(60),
  slow: z.boolean().default(false),
});

export const NEITHER_CHECK =
  'a check has `path` (HTTP), `command` (an argument array) or `query` (Prometheus)';

/** An HTTP check (`path`), a command check (`command`) or a Prometheus check (`query`). */
export const CheckConfig = chosenBy((check) => {
  if (typeof check !== 'object' || check === null) return NEITHER_CHECK;
  if (Object.hasOwn(check, 'command')) return CommandCheckConfig;
  if (Object.hasOwn(check, 'query')) return MetricCheckConfig;
  return Object.hasOwn(check, 'path') ? HttpCheckConfig : NEITHER_CHECK;
});

export type HttpCheckConfig = z.output<typeof HttpCheckConfig>;
export type CheckConfig = z.output<typeof CheckConfig>;
