import { ApplicationFailure } from '@temporalio/common';
import type { z } from 'zod';
import { formatIssues } from '../config/errors';
import { isProviderError } from '../providers/errors';
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

/** Runs a provider call and turns its typed errors into Temporal failures. Only activities do this. */
export async function callProvider<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    if (isProviderError(e)) {
      throw ApplicationFailure.create({
        type: e.kind,
        message: `${what}: ${e.message}`,
        nonRetryable: !e.isRetryable,
      });
    }
    throw e;
  }
}
