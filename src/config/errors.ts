import type { z } from 'zod';

/** Bad configuration or input: one line per problem, each naming the key and the bad value. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Parses `data` with `schema`, or throws a ConfigError whose lines name each bad key and value. */
export function parseOrThrow<S extends z.ZodType>(schema: S, data: unknown, what: string): z.output<S> {
  const result = schema.safeParse(data, { reportInput: true });
  if (result.success) return result.data;
  throw new ConfigError(`${what}:\n${formatIssues(result.error.issues)}`);
}

export function formatIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .map((issue) => {
      const key = issue.path.length ? issue.path.map(String).join('.') : '(root)';
      // A value under a secret-looking key is never echoed: it may be the secret itself.
      const isSecret = issue.path.some((p) => /secret|password|token/i.test(String(p)));
      const got =
        'input' in issue && issue.input !== undefined && !isSecret ? ` (got ${preview(issue.input)})` : '';
      return `  ${key}: ${issue.message}${got}`;
    })
    .join('\n');
}

function preview(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
