import { Context } from '@temporalio/activity';
import { isCircuitOpenError } from '../breaker/errors';
import type { CircuitOpenError } from '../breaker/errors';
import type { BreakerName } from '../shared/breaker-name';
import { RELEASE_WORKFLOW } from '../shared/messages';
import type { BreakerNotice } from '../shared/release';
import type { ActivityDeps } from './deps';
import { callProvider, circuitOpenFailure, retryDelay, retryWhenAllowed, verdictOf } from './failures';

/** Calls a provider through its dependency's circuit breaker (see `createGuard`). */
export type Guarded = <T>(
  dependency: BreakerName,
  what: string,
  call: () => Promise<T>,
  options?: { notify: boolean },
) => Promise<T>;

/** What each group of activities is built from. */
export interface ActivityContext {
  deps: ActivityDeps;
  guarded: Guarded;
}

/**
 * The one guard every provider call goes through: the dependency's breaker, a rejection mapped to
 * a retryable CircuitOpen failure, and the notice to the release.
 */
export function createGuard(deps: ActivityDeps): Guarded {
  const { breakers } = deps;
  /** The last breaker notice sent to each release run: one signal per breaker and state, not per attempt. */
  const notified = new Map<string, string>();

  /**
   * Calls a provider through its dependency's breaker. A rejection becomes a retryable CircuitOpen
   * failure retried when the breaker allows a trial, and the release is told what holds it back.
   */
  async function guarded<T>(
    dependency: BreakerName,
    what: string,
    call: () => Promise<T>,
    options: { notify: boolean } = { notify: true },
  ): Promise<T> {
    const ctx = Context.current();
    const classify = (e: unknown) =>
      verdictOf(e, ctx.cancellationSignal, ctx.cancellationDetails?.timedOut === true);
    try {
      const result = await callProvider(what, () => breakers.run(dependency, call, classify));
      // The release got past its breakers: a later block is news again.
      const runId = ctx.info.workflowExecution?.runId;
      if (runId) notified.delete(runId);
      return result;
    } catch (e) {
      if (!isCircuitOpenError(e)) {
        // A failure that opened the breaker (a failed trial among them) is retried when the next
        // trial is possible, not on the activity's own backoff.
        const waitMs = await breakers.retryAfterMs(dependency);
        throw waitMs > 0 ? retryWhenAllowed(e, what, retryDelay(waitMs)) : e;
      }
      const delayMs = retryDelay(e.retryAfterMs);
      if (options.notify) await tellRelease(ctx, e, what, delayMs);
      throw circuitOpenFailure(what, e, delayMs);
    }
  }

  /** Tells the release what holds it back: once per breaker and state, not once per attempt. */
  async function tellRelease(
    ctx: Context,
    e: CircuitOpenError,
    what: string,
    delayMs: number,
  ): Promise<void> {
    const { workflowExecution, workflowType } = ctx.info;
    const key = `${e.breaker} ${e.state}`;
    if (!deps.notify || !workflowExecution || workflowType !== RELEASE_WORKFLOW) return;
    if (notified.get(workflowExecution.runId) === key) return;
    if (notified.size >= 10_000) notified.clear();
    notified.set(workflowExecution.runId, key);
    const notice: BreakerNotice = {
      breaker: e.breaker,
      state: e.state === 'disabled' || e.state === 'metrics_only' ? 'closed' : e.state,
      step: what,
      message: e.message,
      retryAt: new Date(Date.now() + delayMs).toISOString(),
    };
    await deps
      .notify(workflowExecution, notice)
      .catch((error: Error) =>
        ctx.log.warn('could not tell the release about the open breaker', { error: error.message }),
      );
  }

  return guarded;
}
