import { InvalidArgumentError } from 'commander';
import type { ServiceName } from '../../shared/release';
import { GreenlightError } from '../api';

/** Refuses a malformed name at once (bad usage, exit 2), quoting it. */
export function validateName(schema: typeof ServiceName, value: string, what: string): void {
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new GreenlightError(
      `invalid ${what} ${JSON.stringify(value)}: ${result.error.issues[0].message}`,
      'invalid_input',
    );
  }
}

/** A commander parser for counts such as `--limit`: a whole number from 1 to 1000. */
export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 1000)
    throw new InvalidArgumentError(`expected 1..1000, got ${JSON.stringify(value)}`);
  return n;
}
