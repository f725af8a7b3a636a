import { z } from 'zod';
import { Duration } from '../shared/durations';

// The kinds of field the configuration is made of: bounded durations, records whose keys people
// name, and objects whose schema is chosen by their shape.

export const DAY_MS = 86_400_000;
/** The longest wait a release may hold (a gate, a bake, a kept blue): longer is a typo. */
export const MAX_WAIT_MS = 366 * DAY_MS;
/** Node's timers fire at once beyond 2^31 - 1 ms (24.8 days): waits inside the worker stay below. */
export const MAX_TIMER_MS = 24 * DAY_MS;

/**
 * A duration field: `Duration`'s syntax (`30s`, `5m`, `2h`, or a number of seconds), finite and
 * within `[minMs, maxMs]`, so neither `1e309` nor `1e300` reaches a timer.
 */
export function boundedDuration(maxMs: number, minMs = 0) {
  const label = (ms: number) => (ms % DAY_MS === 0 ? `${ms / DAY_MS}d` : `${ms / 1000}s`);
  return z
    .union([z.number(), z.string().max(40)], {
      error: 'a duration such as 30s, 5m or 2h, or a number of seconds',
    })
    .pipe(Duration)
    .pipe(
      z
        .number()
        .min(minMs, `at least ${label(minMs)}`)
        .max(maxMs, minMs > 0 ? `between ${label(minMs)} and ${label(maxMs)}` : `at most ${label(maxMs)}`),
    );
}
export const WaitDuration = boundedDuration(MAX_WAIT_MS);
export const TimerDuration = boundedDuration(MAX_TIMER_MS);

/** JavaScript's object machinery: never the name of a target, a service or a dependency. */
export const RESERVED_NAMES: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * A record whose keys a person chooses. zod drops a `__proto__` key without a word (a configuration
 * whose only target is `__proto__` would have none), and `constructor` or `prototype` shadow what
 * every object has: all three are refused, by name.
 */
export function namedRecord<K extends z.core.$ZodRecordKey, V extends z.ZodType>(
  key: K,
  value: V,
  what: string,
  params?: z.core.$ZodRecordParams,
) {
  const record = z.record(key, value, params);
  return z.preprocess((input: z.input<typeof record>, ctx) => {
    if (typeof input !== 'object' || input === null) return input;
    for (const name of Object.keys(input)) {
      if (RESERVED_NAMES.has(name)) {
        ctx.addIssue({
          code: 'custom',
          path: [name],
          input: name,
          message: `a name reserved by JavaScript; give the ${what} another name`,
        });
      }
    }
    return input;
  }, record);
}

/**
 * One of the schemas `choose` returns, chosen by looking at the input rather than tried in turn: a union whose every
 * member fails says only "invalid input", while the chosen schema's errors name its own field and
 * the value given. `choose` returns a message when no schema fits.
 */
export function chosenBy<S extends z.ZodType>(choose: (input: unknown) => S | string) {
  return z.custom<z.input<S>>().transform((input, ctx): z.output<S> => {
    const schema = choose(input);
    if (typeof schema === 'string') {
      ctx.addIssue({ code: 'custom', message: schema, input });
      return z.NEVER;
    }
    const result = schema.safeParse(input, { reportInput: true });
    if (result.success) return result.data;
    for (const { path, message, input: given } of result.error.issues) {
      ctx.addIssue({ code: 'custom', path, message, input: given });
    }
    return z.NEVER;
  });
}

/**
 * Where a secret is: an environment variable or a file (relative to the configuration file).
 * Never the secret itself, so a configuration file can be committed and shown.
 */
export const SecretRef = z.union(
  [
    z.strictObject({
      env: z
        .string()
        .max(200, 'an environment variable name has at most 200 characters')
        .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name'),
    }),
    z.strictObject({ file: z.string().min(1).max(1000, 'a path has at most 1000 characters') }),
  ],
  { error: 'a secret is referenced, never written here: use { env: VARIABLE } or { file: path }' },
);
export type SecretRef = z.output<typeof SecretRef>;
