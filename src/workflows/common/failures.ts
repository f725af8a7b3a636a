import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';

/**
 * A failure that is a business outcome (a refusal, a failed release), not a bug: its stack trace
 * says nothing useful, so it is left out of the history.
 */
export function outcome(type: string, message: string, details?: unknown): ApplicationFailure {
  const failure = ApplicationFailure.create({
    type,
    message,
    nonRetryable: true,
    details: details === undefined || details === null ? [] : [details],
  });
  failure.stack = `${type}: ${message}`;
  return failure;
}

/** Whether an activity's failure (or a failure) has this type. */
export function isFailureOfType(e: unknown, type: string): boolean {
  const cause = e instanceof ActivityFailure ? e.cause : e;
  return cause instanceof ApplicationFailure && cause.type === type;
}

/** A failure in words: `<step> failed: <the cause's message>`. */
export function describeFailure(step: string, e: unknown): string {
  const cause = e instanceof ActivityFailure && e.cause ? e.cause : e;
  return `${step} failed: ${cause instanceof Error ? cause.message : String(cause)}`;
}
