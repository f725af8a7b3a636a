// What a failed CMDB query means for a person and for a retry: a server that hung, one that cannot
// be reached, or one that refused the query (for good, or for now).
import type { DatabaseError } from 'pg';
import { isProviderError, ProviderError, ProviderErrorKinds } from '../errors';

/** A failed query as a provider error that says whether a retry may help. */
export function cmdbFailure(
  e: unknown,
  { location, what, timeoutMs }: { location: string; what: string; timeoutMs: number },
): ProviderError {
  const code = (e as DatabaseError).code ?? '';
  // A server that takes the connection and never answers: node-postgres gives up at query_timeout.
  if ((e as Error).message === 'Query read timeout') {
    return new ProviderError(
      ProviderErrorKinds.unavailable,
      `the CMDB at ${location} did not answer within ${timeoutMs / 1000} s; could not ${what}`,
      true,
      { cause: e },
    );
  }
  const unreachable = unreachableReason(e);
  if (unreachable) {
    return new ProviderError(
      ProviderErrorKinds.unavailable,
      `the CMDB at ${location} is unreachable (${unreachable}); could not ${what}`,
      true,
      { cause: e },
    );
  }
  // Data, integrity and syntax errors (classes 22, 23, 42) will not pass on a retry.
  const isRetryable = !/^(22|23|42)/.test(code);
  return new ProviderError(
    ProviderErrorKinds.unavailable,
    `CMDB ${what} failed: ${(e as Error).message}${code ? ` (SQLSTATE ${code})` : ''}`,
    isRetryable,
    { cause: e },
  );
}

/** Socket errors that mean the server cannot be reached (as opposed to refusing a query). */
const UNREACHABLE_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOENT', // a Unix socket that is not there
  'EPIPE',
]);

/** Why the server could not be reached, or null when it answered. */
function unreachableReason(e: unknown): string | null {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && UNREACHABLE_CODES.has(code)) return code;
  // Connection exceptions (class 08), and a server shutting down or starting up (57P01-57P03).
  if (typeof code === 'string' && /^(08|57P0[123])/.test(code)) return `SQLSTATE ${code}`;
  const message = (e as Error | null)?.message ?? '';
  return /timeout expired|connection timeout|Connection terminated/i.test(message) ? message : null;
}

/** Whether the server refused the login or has no such database: a setting to fix, not an outage. */
export function isLoginRefused(e: unknown): boolean {
  const code = (isProviderError(e) ? (e.cause as { code?: unknown } | undefined)?.code : undefined) ?? '';
  return typeof code === 'string' && /^(28|3D)/.test(code);
}
