import { randomUUID } from 'node:crypto';
import { WorkflowUpdateRPCTimeoutOrCancelledError } from '@temporalio/client';
import type { WorkflowHandle } from '@temporalio/client';
import type { UpdateDefinition } from '@temporalio/common';

/** A request greenlight refused: bad input, a conflict, or a refused approval. One clear line. */
export class GreenlightError extends Error {
  override readonly name = 'GreenlightError';
  constructor(
    message: string,
    /** `ended`: the release ended without a final status (terminated, timed out, invalid input). */
    readonly code:
      | 'invalid_input'
      | 'conflict'
      | 'refused'
      | 'not_found'
      | 'unknown_target'
      | 'ended'
      /** A server greenlight needs (Temporal, the admin endpoint, DNS) does not answer. */
      | 'unavailable',
  ) {
    super(message);
  }
}

/** How long a request waits for a worker to take it before it gives up (a busy or absent worker). */
export const UPDATE_PATIENCE_MS = 120_000;

/**
 * Sends an Update, and sends it again while the server says no worker took it in time (an RPC
 * deadline, under load or with no worker). Every try carries the same update id, so the workflow
 * takes the request once however many tries reach it, and a try after one that was taken gets the
 * same answer. Past `patienceMs`, a refusal for a person.
 */
export async function patientUpdate<Ret, Arg>(
  handle: WorkflowHandle,
  update: UpdateDefinition<Ret, [Arg]>,
  args: [Arg],
  patienceMs = UPDATE_PATIENCE_MS,
): Promise<Ret> {
  const updateId = randomUUID();
  const deadline = Date.now() + patienceMs;
  for (;;) {
    try {
      return await handle.executeUpdate(update, { args, updateId });
    } catch (e) {
      if (!(e instanceof WorkflowUpdateRPCTimeoutOrCancelledError)) throw e;
      if (Date.now() >= deadline) {
        throw new GreenlightError(
          `${handle.workflowId}: no worker took the request within ${Math.round(patienceMs / 1000)} s (is a worker running on its task queue, and keeping up?); it may still be taken: look at its status before asking again`,
          'unavailable',
        );
      }
    }
  }
}
