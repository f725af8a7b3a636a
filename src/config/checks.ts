import { z } from 'zod';
import { checkPathProblem } from '../providers/checks/http';
import { checkedText } from '../shared/text';
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

export const NEITHER_CHECK = 'a check has either `path` (HTTP) or `command` (an argument array)';

/** An HTTP check (`path`) or a command check (`command`). */
export const CheckConfig = chosenBy((check) => {
  if (typeof check !== 'object' || check === null) return NEITHER_CHECK;
  if (Object.hasOwn(check, 'command')) return CommandCheckConfig;
  return Object.hasOwn(check, 'path') ? HttpCheckConfig : NEITHER_CHECK;
});

export type HttpCheckConfig = z.output<typeof HttpCheckConfig>;
export type CheckConfig = z.output<typeof CheckConfig>;
