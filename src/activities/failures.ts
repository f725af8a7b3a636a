import { ApplicationFailure } from '@temporalio/common';
import type { z } from 'zod';
import { formatIssues } from '../config/errors';
import { isProviderError, ProviderErrorKinds } from '../providers/errors';
import type { ProviderErrorKind } from '../providers/errors';
import type { ErrorVerdict } from '../breaker/breaker';
import type { CircuitOpenError } from '../breaker/errors';
import { FailureTypes } from '../shared/messages';

/** Parses an activity's input: bad input is a non-retryable failure that names each bad field. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input, { reportInput: true });
  if (result.success) return result.data;
  throw ApplicationFailure.create({
    type: FailureTypes.invalidInput,
    message: `invalid activity input:\n${formatIssues(result.error.issues)}`,
    nonRetryable: true,
  });
}

/** The failure type each kind of provider error becomes: the one place the two meet. */
const FAILURE_TYPE_OF: Record<ProviderErrorKind, string> = {
  [ProviderErrorKinds.dnsConflict]: FailureTypes.dnsConflict,
  [ProviderErrorKinds.dnsVerification]: FailureTypes.dnsVerification,
  [ProviderErrorKinds.dnsRefused]: FailureTypes.dnsRefused,
  [ProviderErrorKinds.deployFailed]: FailureTypes.deployFailed,
  [ProviderErrorKinds.infraStateLocked]: FailureTypes.infraStateLocked,
  [ProviderErrorKinds.infraConfigInvalid]: FailureTypes.infraConfigInvalid,
  [ProviderErrorKinds.unavailable]: FailureTypes.dependencyUnavailable,
  [ProviderErrorKinds.artifactInvalid]: FailureTypes.artifactInvalid,
};

/** Runs a provider call and turns its typed errors into Temporal failures. Only activities do this. */
export async function callProvider<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    if (isProviderError(e)) {
      throw ApplicationFailure.create({
        type: FAILURE_TYPE_OF[e.kind],
        message: `${what}: ${e.message}`,
        nonRetryable: !e.isRetryable,
      });
    }
    throw e;
  }
}

/**
 * What a breaker should make of a provider's error: the dependency's fault only if retrying may
 * help. A call cut short by the activity's timeout failed (a hang is the commonest outage); one
 * cancelled by the release records nothing.
 */
export function verdictOf(e: unknown, signal: AbortSignal, isTimedOut = false): ErrorVerdict {
  if (signal.aborted) return isTimedOut ? 'failure' : 'cancelled';
  if (isProviderError(e)) return e.isRetryable ? 'failure' : 'ignore';
  if (e instanceof ApplicationFailure && e.nonRetryable) return 'ignore';
  return 'failure';
}

/** The retry delay for a breaker that allows a trial in `waitMs`: then, spread by up to 20% (≤ 5 s). */
export function retryDelay(waitMs: number, random = Math.random): number {
  const base = Math.max(waitMs, 1_000);
  return base + Math.round(random() * Math.min(base * 0.2, 5_000));
}

/** A rejection as Temporal sees it: retryable, and retried exactly when a trial becomes possible. */
export function circuitOpenFailure(
  what: string,
  rejection: CircuitOpenError,
  delayMs: number,
): ApplicationFailure {
  return ApplicationFailure.create({
    type: FailureTypes.circuitOpen,
    message: `${what}: ${rejection.message}`,
    nonRetryable: false,
    nextRetryDelay: delayMs,
    details: [{ breaker: rejection.breaker, state: rejection.state, retryAfterMs: rejection.retryAfterMs }],
  });
}

/**
 * A retryable failure retried after `delayMs` (when the breaker allows a trial) instead of on the
 * activity's backoff; a non-retryable failure stays as it is.
 */
export function retryWhenAllowed(e: unknown, what: string, delayMs: number): unknown {
  if (e instanceof ApplicationFailure && e.nonRetryable) return e;
  const failure =
    e instanceof ApplicationFailure
      ? e
      : ApplicationFailure.create({
          type: FailureTypes.dependencyUnavailable,
          message: `${what}: ${(e as Error).message}`,
        });
  return ApplicationFailure.create({
    type: failure.type ?? FailureTypes.dependencyUnavailable,
    message: failure.message,
    details: failure.details ?? undefined,
    nextRetryDelay: delayMs,
  });
}
