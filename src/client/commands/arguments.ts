import { InvalidArgumentError } from 'commander';
import { Duration } from '../../shared/durations';
import { MAX_SCHEDULE_AHEAD_MS } from '../../shared/release';
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

/**
 * When a scheduled release goes: `--at` (an ISO 8601 instant with its offset, e.g.
 * 2026-12-24T22:00:00+01:00) or `--in` (a duration from now, e.g. 2h); undefined for neither.
 * Refuses both at once, a time without an offset, one in the past, and one more than a year ahead.
 */
export function scheduledAt(
  at: string | undefined,
  inDuration: string | undefined,
  now = Date.now(),
): string | undefined {
  if (at !== undefined && inDuration !== undefined)
    throw new GreenlightError('give --at or --in, not both', 'invalid_input');
  let instant: number;
  if (at !== undefined) {
    if (
      at.length > 40 ||
      !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/.test(at) ||
      Number.isNaN(Date.parse(at))
    )
      throw new GreenlightError(
        `invalid --at ${JSON.stringify(at.slice(0, 60))}: an ISO 8601 time with its offset, e.g. 2026-12-24T22:00:00+01:00 or 2026-12-24T21:00:00Z`,
        'invalid_input',
      );
    instant = Date.parse(at);
  } else if (inDuration !== undefined) {
    const parsed = Duration.safeParse(inDuration.slice(0, 40));
    if (!parsed.success || parsed.data <= 0)
      throw new GreenlightError(
        `invalid --in ${JSON.stringify(inDuration.slice(0, 60))}: a duration such as 30m, 2h or 1d`,
        'invalid_input',
      );
    instant = now + parsed.data;
  } else {
    return undefined;
  }
  if (instant <= now)
    throw new GreenlightError(
      `--at ${new Date(instant).toISOString()} has passed; start it now, or give a time to come`,
      'invalid_input',
    );
  if (instant - now > MAX_SCHEDULE_AHEAD_MS)
    throw new GreenlightError(
      `${new Date(instant).toISOString()} is more than a year ahead`,
      'invalid_input',
    );
  return new Date(instant).toISOString();
}
