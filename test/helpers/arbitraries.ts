// What the property tests generate: awkward and oversized values, mutations of a valid document
// (a configuration, a flow) one field at a time, and how many runs a property gets.
import type { TestContext } from 'node:test';
import fc from 'fast-check';

/** Text this long is oversized for every field greenlight reads (its longest allow a few thousand). */
export const OVERSIZED_LENGTH = 100_000;

/** A whole number from the environment variable `name`, or undefined when it is unset or empty. */
function numberFromEnvironment(name: string): number | undefined {
  const text = process.env[name];
  if (text === undefined || text === '') return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value))
    throw new Error(`${name} must be a whole number, got ${JSON.stringify(text)}`);
  return value;
}

/**
 * fast-check's parameters for one property: `defaultRuns` runs, or more with `GREENLIGHT_PROPERTY_RUNS`
 * for a long sweep (at most `maxRuns`, for a property whose subject does not last); a fresh seed, or
 * `GREENLIGHT_PROPERTY_SEED` to replay one. The seed is logged as a diagnostic of the test, so a
 * failure seen in CI can be run again.
 */
export function propertyParameters<T>(
  t: TestContext,
  defaultRuns: number,
  extra: fc.Parameters<T> = {},
  maxRuns = Infinity,
): fc.Parameters<T> {
  const numRuns = Math.min(
    Math.max(numberFromEnvironment('GREENLIGHT_PROPERTY_RUNS') ?? 0, defaultRuns),
    maxRuns,
  );
  const seed =
    numberFromEnvironment('GREENLIGHT_PROPERTY_SEED') ?? (Date.now() ^ (Math.random() * 2 ** 32)) | 0;
  t.diagnostic(`fast-check seed ${seed}, ${numRuns} runs (replay with GREENLIGHT_PROPERTY_SEED=${seed})`);
  return { ...extra, numRuns, seed };
}

/**
 * A value as short JSON for a message or a counterexample: long strings cut to their first 40
 * characters and their length, the whole cut to `max` characters.
 */
export function preview(value: unknown, max = 300): string {
  const shorten = (_key: string, v: unknown) =>
    typeof v === 'string' && v.length > 60 ? `${v.slice(0, 40)}… (${v.length} characters)` : v;
  const text = value === undefined ? 'undefined' : (JSON.stringify(value, shorten) ?? String(value));
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** `value`, which fast-check shows (in a counterexample) as `text` rather than in full. */
export function describedAs<T extends object>(value: T, text: string): T {
  Object.defineProperty(value, fc.toStringMethod, { value: () => text, enumerable: false });
  return value;
}

/** `length` copies of `c`: text of one character class, so a pattern check alone cannot refuse it. */
export const repeated = (c: string, length = OVERSIZED_LENGTH + 1): string => c.repeat(length);

/** Text people should never get through: empty, blank, invisible, control, lone surrogates, tricks. */
export const awkwardText: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '',
    ' ',
    '\t',
    '\n',
    '\u0000',
    '\u0085',
    '\u200b',
    '\u202e',
    '\u2028',
    '\ufeff',
    '\ud800',
    '\ufdfa',
    'ａｌｉｃｅ',
    '-',
    '--',
    '=',
    '../../etc/passwd',
    '%s%n',
    '${HOME}',
    '{{version}}',
    'null',
    'undefined',
    'NaN',
    '-1',
    '0',
    '1e309',
    '0x10',
    'true',
    '__proto__',
    'constructor',
  ),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  // Just over the limits of names (100) and texts (1000, 2000).
  fc.integer({ min: 101, max: 2_100 }).map((n) => repeated('n', n)),
);

/** Numbers that are wrong for most fields: negative, fractional, huge, not finite. */
export const awkwardNumber: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(-1, -0, 0.5, 1.5, -86_400_000, 1e12, 1e308, Number.MAX_SAFE_INTEGER + 2, NaN, Infinity),
  fc.integer(),
  fc.double(),
);

/** Oversized text: of one character (a pattern check alone cannot refuse it), or random. */
export const oversizedText: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('x', 'a', '1', 'A', '_', 'é').map((c) => repeated(c)),
  fc
    .string({ minLength: 1, maxLength: 5 })
    .map((s) => repeated(s, Math.ceil((OVERSIZED_LENGTH + 1) / s.length))),
);

/** A value of any kind, likely the wrong one for the field it lands in. */
export const wrongValue: fc.Arbitrary<unknown> = fc.oneof(
  awkwardText,
  awkwardNumber,
  fc.constantFrom(null, true, false, [], {}, repeated('x')),
  fc.array(fc.anything({ maxDepth: 2 }), { maxLength: 4 }),
  fc.dictionary(fc.string({ maxLength: 12 }), fc.anything({ maxDepth: 1 }), { maxKeys: 4 }),
  fc.anything(),
);

// --- documents and their mutations ------------------------------------------------------------

export type Path = readonly (string | number)[];

/** How a path is written in greenlight's messages: `targets.stage.bake`, `checks.0.name`. */
export const pathText = (path: Path): string => path.map(String).join('.');

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Every path into a JSON-like value, the root excluded, each parent before its children. */
export function pathsIn(value: unknown, prefix: Path = []): Path[] {
  const children: [string | number, unknown][] = Array.isArray(value)
    ? value.map((v, i) => [i, v])
    : isRecord(value)
      ? Object.entries(value)
      : [];
  return children.flatMap(([key, child]) => {
    const path = [...prefix, key];
    return [path, ...pathsIn(child, path)];
  });
}

export function valueAt(root: unknown, path: Path): unknown {
  let value = root;
  for (const key of path) value = (value as Record<string | number, unknown>)[key];
  return value;
}

/** The marker of a removed value in `withValueAt`. */
export const removed: unique symbol = Symbol('removed');

/** A copy of `root` with the value at `path` replaced, or removed when `value` is `removed`. */
export function withValueAt(root: unknown, path: Path, value: unknown): unknown {
  const copy = structuredClone(root);
  if (path.length === 0) return value;
  const parent = valueAt(copy, path.slice(0, -1)) as Record<string | number, unknown> | unknown[];
  const key = path.at(-1)!;
  if (value !== removed) {
    Object.defineProperty(parent, key, { value, enumerable: true, writable: true, configurable: true });
  } else if (Array.isArray(parent)) {
    parent.splice(Number(key), 1);
  } else {
    delete parent[key as string];
  }
  return copy;
}

/**
 * One change to a valid document. `strict` changes (a value of another kind, oversized or out of
 * range, an unknown key) are refused, if at all, naming the path changed (or a key above or below
 * it); the others (a key removed, a value of the same kind or borrowed from elsewhere in the
 * document) may break a rule that another key states.
 */
export interface Mutation {
  kind: 'wrong value' | 'oversized' | 'out of range' | 'unknown key' | 'removed' | 'borrowed';
  path: Path;
  value?: unknown;
  isStrict: boolean;
  document: unknown;
}

const DURATION = /^\d+(\.\d+)?(ms|s|m|h|d)$/;

/** Durations and counts out of every range greenlight allows. */
const outOfRange: fc.Arbitrary<unknown> = fc.constantFrom(
  -1,
  -0.001,
  -86_400,
  0.5,
  1e12,
  1e308,
  '-5s',
  '-1',
  '400d',
  '9999999999d',
  '1e309s',
  '5 sec',
  '5',
  '',
  '0.0000001ms',
);

/** The kind of a JSON value: `string`, `number`, `boolean`, `null`, `array` or `object`. */
export const kindOf = (value: unknown): string =>
  value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;

/** Mutations of `base`, one change each. */
export function mutationOf(base: unknown, within: Path = []): fc.Arbitrary<Mutation> {
  const isUnder = (path: Path) => within.every((key, i) => path[i] === key);
  const paths = pathsIn(base).filter((p) => isUnder(p) && p.length > within.length);
  const strings = paths.filter((p) => typeof valueAt(base, p) === 'string');
  const ranged = paths.filter((p) => {
    const value = valueAt(base, p);
    return typeof value === 'number' || (typeof value === 'string' && DURATION.test(value));
  });
  const objects = [within, ...paths].filter((p) => isRecord(valueAt(base, p)));
  const leaves = [...new Set(paths.map((p) => valueAt(base, p)).filter((v) => typeof v !== 'object'))];
  const make = (kind: Mutation['kind'], path: Path, value: unknown, isStrict: boolean): Mutation =>
    describedAs(
      { kind, path, value, isStrict, document: withValueAt(base, path, value) },
      `${kind} at ${pathText(path)}: ${value === removed ? 'removed' : preview(value, 120)}`,
    );
  return fc.oneof(
    fc
      .tuple(fc.constantFrom(...paths), wrongValue)
      // A value of another kind is refused where it is; one of the same kind may break another
      // rule, and `undefined` removes the key (JSON has no such value).
      .map(([path, value]) =>
        make(
          'wrong value',
          path,
          value,
          value !== undefined && kindOf(value) !== kindOf(valueAt(base, path)),
        ),
      ),
    fc.tuple(fc.constantFrom(...strings), fc.nat(2)).map(([path, how]) => {
      const original = valueAt(base, path) as string;
      // The same character class as the value it replaces, so only a length limit refuses it.
      const first = original[0] ?? 'x';
      const value = [repeated(first), original + repeated(original.at(-1) ?? 'x'), repeated('x')][how];
      return make('oversized', path, value, true);
    }),
    fc
      .tuple(fc.constantFrom(...(ranged.length ? ranged : paths)), outOfRange)
      .map(([path, value]) => make('out of range', path, value, ranged.length > 0)),
    fc
      .tuple(
        fc.constantFrom(...objects),
        fc.oneof(
          fc.string({ maxLength: 20 }),
          fc.constantFrom('__proto__', 'constructor', 'toString', 'extra'),
        ),
        fc.anything({ maxDepth: 2 }),
      )
      .filter(([path, key]) => !Object.hasOwn(valueAt(base, path) as object, key))
      .map(([path, key, value]) => make('unknown key', [...path, key], value, true)),
    fc.constantFrom(...paths).map((path) => make('removed', path, removed, false)),
    fc
      .tuple(fc.constantFrom(...paths), fc.constantFrom(...leaves))
      .map(([path, value]) => make('borrowed', path, value, false)),
  );
}

/**
 * Whether one line of a refusal names `path`, a key below it, or a key above it (the root, written
 * `(root)`, only for a key at the top): `targets.stage.bake: at most 366d`.
 */
export function namesPath(lines: readonly string[], path: Path): boolean {
  const self = pathText(path);
  const above = path.slice(0, -1).map((_, i) => pathText(path.slice(0, i + 1)));
  if (path.length === 1) above.push('(root)');
  return lines.some(
    (line) =>
      path.length === 0 ||
      line.startsWith(`${self}: `) ||
      line.startsWith(`${self}.`) ||
      above.some((a) => line.startsWith(`${a}: `)),
  );
}

/**
 * The JSON text of a value nested `depth` deep (`{"not":{"not":…}}`, `[[[…]]]`) around `leafJson`,
 * written without recursion (JSON.stringify recurses).
 */
export function nestedJson(depth: number, shape: 'not' | 'all' | 'array', leafJson: string): string {
  const open = { not: '{"not":', all: '{"all":[', array: '[' }[shape];
  const close = { not: '}', all: ']}', array: ']' }[shape];
  return open.repeat(depth) + leafJson + close.repeat(depth);
}

// --- messages ---------------------------------------------------------------------------------

/** The value a payload has once a JSON payload converter has carried it (undefined stays undefined). */
export function overTheWire(value: unknown): unknown {
  if (value === undefined) return undefined;
  const text = JSON.stringify(value);
  return text === undefined ? undefined : JSON.parse(text);
}

/**
 * Payloads for a message whose fields are `fields`, as a valid `example` has them: anything at
 * all, the example with one field of the wrong kind or oversized, or with a field it does not have.
 */
export function payloadFor(
  fields: readonly string[],
  example: Record<string, unknown>,
): fc.Arbitrary<unknown> {
  const field = fc.constantFrom(...fields);
  return fc.oneof(
    fc.anything(),
    fc.jsonValue(),
    fc.tuple(field, wrongValue).map(([key, value]) => ({ ...example, [key]: value })),
    fc.tuple(field, oversizedText).map(([key, value]) => ({ ...example, [key]: value })),
    fc
      .tuple(
        fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom('__proto__', 'constructor')),
        fc.anything(),
      )
      .map(([key, value]) => withValueAt(example, [key], value)),
  );
}
