import type { z } from 'zod';
import { describeIssues, preview } from '../shared/text';

/** Bad configuration or input: one line per problem, each naming the key and the bad value. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** The text of the number at a path as the file wrote it (`1e309`, `.inf`), when there is a file. */
export type WrittenAt = (path: readonly PropertyKey[]) => string | undefined;

/**
 * Parses `data` with `schema`, or throws a ConfigError that names each bad key and value: on one
 * line when there is one problem, one line per problem otherwise.
 */
export function parseOrThrow<S extends z.ZodType>(
  schema: S,
  data: unknown,
  what: string,
  writtenAt?: WrittenAt,
): z.output<S> {
  const result = schema.safeParse(data, { reportInput: true, error: finiteNumberMessage });
  if (result.success) return result.data;
  const lines = formatIssues(result.error.issues, { data, writtenAt });
  throw new ConfigError(result.error.issues.length === 1 ? `${what}: ${lines.trim()}` : `${what}:\n${lines}`);
}

/** Infinity and NaN are numbers to JavaScript, not to a person: zod's wording says "received Infinity". */
function finiteNumberMessage(issue: z.core.$ZodRawIssue): string | undefined {
  const isNotFinite = typeof issue.input === 'number' && !Number.isFinite(issue.input);
  return issue.code === 'invalid_type' && isNotFinite ? 'expected a finite number' : undefined;
}

/**
 * One line per issue: the key, what is wrong, and the value given. With the parsed `data` (and the
 * file's text through `writtenAt`), a number is quoted as it was written: a duration checked in
 * milliseconds is shown as `"400d"`, and `1e309`, which JSON would print as null, as `1e309`.
 */
export function formatIssues(
  issues: readonly z.core.$ZodIssue[],
  source: { data?: unknown; writtenAt?: WrittenAt } = {},
): string {
  return `  ${describeIssues(issues, { given: (issue) => given(issue, source) }, '\n  ')}`;
}

function given(
  issue: z.core.$ZodIssue,
  source: { data?: unknown; writtenAt?: WrittenAt },
): string | undefined {
  const input: unknown = 'input' in issue ? issue.input : undefined;
  if (input === undefined) return undefined;
  if (typeof input !== 'number' || issue.code === 'invalid_key') return preview(input);
  const raw = valueAt(source.data, issue.path);
  if (typeof raw === 'string') return preview(raw);
  if (typeof raw === 'number') return source.writtenAt?.(issue.path) ?? String(raw);
  return Number.isFinite(input) ? preview(input) : String(input);
}

/** The value at `path` in parsed data, own properties only. */
function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let value = data;
  for (const key of path) {
    if (typeof value !== 'object' || value === null || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}
