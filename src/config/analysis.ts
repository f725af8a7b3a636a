import { z } from 'zod';
import { Policy, policyFacts, ROLLBACK_FACTS } from '../shared/policy';
export { DEFAULT_ROLLBACK_POLICY } from '../shared/policy';
import { SecretRef, TimerDuration } from './fields';

// Metric analysis: a Prometheus server, and the queries judged while a release bakes.

export const RollbackPolicy = Policy.superRefine((policy, ctx) => {
  for (const fact of policyFacts(policy)) {
    if (!Object.hasOwn(ROLLBACK_FACTS, fact))
      ctx.addIssue({
        code: 'custom',
        input: fact,
        message: `unknown fact ${JSON.stringify(fact)}; a rollback policy knows ${Object.keys(ROLLBACK_FACTS).join(', ')}`,
      });
  }
});

export const PrometheusConfig = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: 'an http:// or https:// URL' }).max(2000),
  /** Headers sent with each query (Authorization, a tenant id), each by reference. */
  headers: z
    .record(z.string().regex(/^[A-Za-z0-9-]{1,100}$/, 'a header name'), SecretRef)
    .refine((h) => Object.keys(h).length <= 10, 'at most 10 headers')
    .default({}),
  /** One query; at most 30s, so a look while baking never outlasts its activity. */
  timeout: TimerDuration.refine((ms) => ms <= 30_000, 'at most 30s').prefault('5s'),
});
export type PrometheusConfig = z.output<typeof PrometheusConfig>;

/**
 * A query judged while green bakes: `{{service}}`, `{{version}}`, `{{target}}` and `{{hostname}}`
 * are green's. It is breached when its value is above `max` or below `min` (for `for`, when given).
 */
export const AnalysisConfig = z
  .strictObject({
    name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,59}$/, 'a name of lowercase letters, digits, "_" and "-"'),
    query: z.string().min(1).max(4000),
    max: z.number().finite().optional(),
    min: z.number().finite().optional(),
    for: TimerDuration.prefault('0s'),
    /** No series: `pass`, `fail`, or `wait` (the default) for data until the bake ends, then pass. */
    onNoData: z.enum(['pass', 'fail', 'wait']).default('wait'),
  })
  .refine((a) => a.max !== undefined || a.min !== undefined, 'give max, min or both')
  .refine((a) => a.max === undefined || a.min === undefined || a.min <= a.max, {
    path: ['min'],
    message: 'min is above max: every value would be out of bounds',
  });
export type AnalysisConfig = z.output<typeof AnalysisConfig>;
