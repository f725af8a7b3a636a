import { coarseClock, startCoarseClock } from './clock';
import { CircuitOpenError } from './errors';
import {
  DEFAULT_BREAKER_SETTINGS,
  FORCED_OPEN_RETRY_MS,
  openPeriodMs,
  THROTTLE_RETRY_MS,
  tripReason,
} from './settings';
import type { BreakerSettings } from './settings';
import type { BreakerSnapshot, BreakerState } from './state';
import { CountWindow, TimeWindow } from './window';
import type { OutcomeWindow } from './window';

export type Clock = () => number;

/** What to make of an error: the dependency's fault, not its fault, or the caller gave up. */
export type ErrorVerdict = 'failure' | 'ignore' | 'cancelled';

export type CallOutcome =
  'success' | 'failure' | 'slow_success' | 'slow_failure' | 'ignored' | 'cancelled' | 'rejected';

export interface Transition {
  breaker: string;
  from: BreakerState;
  to: BreakerState;
  at: number;
  /** Why, in words: the rate that tripped it, the trial's result, an operator. */
  reason: string;
}

export interface BreakerListener {
  onTransition?(t: Transition): void;
  onOutcome?(breaker: string, outcome: CallOutcome, durationMs: number): void;
}

/**
 * Leave to make one call, from `tryAcquire`. It is used once: by `onResult` or by `release`; a
 * second use is a no-op, so a permit can never be counted back twice.
 */
export class Permit {
  isSpent = false;
  /** The state change it was given in: a permit from an earlier state is not judged in this one. */
  constructor(readonly epoch: number) {}
}

/**
 * The state a breaker is in, with the data that state alone has: calls in flight while calls are
 * let through, when an open period ends, the trials given out in half-open.
 */
type Phase =
  | { readonly state: 'closed' | 'disabled' | 'metrics_only'; readonly since: number; inFlight: number }
  | { readonly state: 'open'; readonly since: number; readonly until: number }
  | { readonly state: 'half_open'; readonly since: number; trialPermits: number }
  | { readonly state: 'forced_open'; readonly since: number };

function phaseOf(state: BreakerState, since: number, openUntil: number): Phase {
  switch (state) {
    case 'open':
      return { state, since, until: openUntil };
    case 'half_open':
      return { state, since, trialPermits: 0 };
    case 'forced_open':
      return { state, since };
    default:
      return { state, since, inFlight: 0 };
  }
}

/**
 * A circuit breaker with the rules of resilience4j: a count or time sliding window, failure-rate,
 * failure-count and slow-call-rate thresholds judged after every call once the window holds enough
 * calls, an open period that may grow with each consecutive opening, a lazy move to half-open on the
 * first call after it, and a fixed number of trial calls judged as a window of their own.
 *
 * While closed, once the window holds a failure, calls in flight count against the failure
 * threshold: a dependency that has started failing never receives more calls at once than could
 * still fail without tripping the breaker.
 *
 * `tryAcquire` and `onResult` are the hot path; `execute` wraps both around a promise.
 */
export class CircuitBreaker {
  private phase: Phase;
  /** How many times in a row it opened without closing: the backoff of the next opening. */
  private consecutiveOpens = 0;
  /** When the last open period ended or ends: kept in snapshots, whatever the state now. */
  private lastOpenUntil = 0;
  /** The closed (or metrics-only) state's calls; reset on every state change. */
  private readonly window: OutcomeWindow;
  /** The half-open state's trial calls. */
  private readonly trialWindow: CountWindow;
  /** Counts state changes: a permit from an earlier state is not judged in this one. */
  private epoch = 0;
  private readonly listeners: BreakerListener[] = [];

  constructor(
    readonly name: string,
    readonly settings: BreakerSettings = DEFAULT_BREAKER_SETTINGS,
    private readonly clock: Clock = coarseClock,
  ) {
    if (clock === coarseClock) startCoarseClock();
    this.window =
      settings.window.type === 'count'
        ? new CountWindow(settings.window.size)
        : new TimeWindow(settings.window.size);
    this.trialWindow = new CountWindow(settings.permittedCallsInHalfOpen);
    this.phase = { state: 'closed', since: clock(), inFlight: 0 };
  }

  get state(): BreakerState {
    return this.settle().state;
  }

  listen(listener: BreakerListener): void {
    this.listeners.push(listener);
  }

  /** The current window's totals (the trial window's in half-open). */
  metrics(): { calls: number; failures: number; slow: number; inFlight: number } {
    const p = this.settle();
    if (p.state === 'closed' || p.state === 'metrics_only') this.window.expire(this.clock());
    const w = p.state === 'half_open' ? this.trialWindow : this.window;
    return { calls: w.calls, failures: w.failures, slow: w.slow, inFlight: 'inFlight' in p ? p.inFlight : 0 };
  }

  /** How long until a call may be allowed (0 when it would be now). */
  retryAfterMs(): number {
    const p = this.settle();
    if (p.state === 'open') return Math.max(0, p.until - this.clock());
    if (p.state === 'forced_open') return Math.min(this.settings.waitDurationMs, FORCED_OPEN_RETRY_MS);
    return 0;
  }

  /**
   * Asks to make a call: returns a permit when it may go ahead — then report the call with
   * `onResult`, or give the permit back with `release`, once — or the rejection to throw.
   */
  tryAcquire(): Permit | CircuitOpenError {
    const p = this.phase;
    switch (p.state) {
      case 'closed': {
        const threshold = this.settings.failureCountThreshold;
        if (threshold !== null && p.inFlight > 0) {
          this.window.expire(this.clock());
          if (this.window.failures > 0 && this.window.failures + p.inFlight >= threshold) {
            return this.reject(THROTTLE_RETRY_MS);
          }
        }
        p.inFlight++;
        return new Permit(this.epoch);
      }
      case 'disabled':
      case 'metrics_only':
        p.inFlight++;
        return new Permit(this.epoch);
      case 'open': {
        const now = this.clock();
        if (now < p.until) return this.reject(p.until - now);
        this.transition(
          'half_open',
          now,
          `the open period of ${openPeriodMs(this.settings, this.consecutiveOpens)} ms is over`,
        );
        return this.acquireTrial();
      }
      case 'half_open':
        // At the half-open limit it is open: ask again as it is now.
        if (this.settle().state !== 'half_open') return this.tryAcquire();
        return this.acquireTrial();
      case 'forced_open':
        return this.reject(Math.min(this.settings.waitDurationMs, FORCED_OPEN_RETRY_MS));
    }
  }

  /** Reports a permitted call's result: success, or an error with its verdict. */
  onResult(permit: Permit, durationMs: number, verdict: ErrorVerdict | 'success'): void {
    if (permit.isSpent) return;
    permit.isSpent = true;
    const p = this.settle();
    if (verdict === 'cancelled' || verdict === 'ignore') {
      this.giveBack(permit);
      if (this.listeners.length)
        this.emitOutcome(verdict === 'cancelled' ? 'cancelled' : 'ignored', durationMs);
      return;
    }
    const isFailure = verdict === 'failure';
    const isSlow = durationMs >= this.settings.slowCallDurationMs;
    if (this.listeners.length) {
      this.emitOutcome(
        isFailure ? (isSlow ? 'slow_failure' : 'failure') : isSlow ? 'slow_success' : 'success',
        durationMs,
      );
    }
    // A call that began before the last state change says nothing about this state.
    if (permit.epoch !== this.epoch) return;
    switch (p.state) {
      case 'closed': {
        p.inFlight--;
        const now = this.clock();
        this.window.record(now, isFailure, isSlow);
        // Judged after every call: even a success may complete the minimum number of calls, and
        // old successes leave a time window before old failures do.
        const reason = tripReason(this.settings, this.window, this.settings.minimumCalls, true);
        if (reason) this.open(now, reason);
        return;
      }
      case 'half_open': {
        p.trialPermits--;
        this.trialWindow.record(0, isFailure, isSlow);
        if (this.trialWindow.calls < this.settings.permittedCallsInHalfOpen) return;
        const now = this.clock();
        const reason = tripReason(
          this.settings,
          this.trialWindow,
          this.settings.permittedCallsInHalfOpen,
          false,
        );
        if (reason) this.open(now, `trial calls: ${reason}`);
        else
          this.transition(
            'closed',
            now,
            `trial calls: ${this.trialWindow.calls - this.trialWindow.failures} of ${this.trialWindow.calls} succeeded`,
          );
        return;
      }
      case 'metrics_only':
        p.inFlight--;
        this.window.record(this.clock(), isFailure, isSlow);
        return;
      case 'disabled':
        // Nothing to judge.
        p.inFlight--;
        return;
      default:
        // Open or forced open: no permit of this epoch exists.
        return;
    }
  }

  /** A permitted call that was not made, or not judged: gives its permit back, records nothing. */
  release(permit: Permit): void {
    if (permit.isSpent) return;
    permit.isSpent = true;
    this.settle();
    this.giveBack(permit);
  }

  /** Runs `call` through the breaker; `classify` says what a thrown error means (default: failure). */
  execute<T>(call: () => Promise<T>, classify?: (e: unknown) => ErrorVerdict): Promise<T> {
    const permit = this.tryAcquire();
    if (!(permit instanceof Permit)) return Promise.reject(permit);
    const start = this.clock();
    let pending: Promise<T>;
    try {
      pending = call();
    } catch (e) {
      this.onResult(permit, this.clock() - start, classify ? classify(e) : 'failure');
      return Promise.reject(e as Error);
    }
    // One `then`, not an async function: the closed-state path is every call's cost.
    return pending.then(
      (result) => {
        this.succeeded(permit, start);
        return result;
      },
      (e: unknown) => {
        this.onResult(permit, this.clock() - start, classify ? classify(e) : 'failure');
        throw e;
      },
    );
  }

  /** `onResult(…, 'success')`, with the common case — closed, quick, unobserved — first. */
  private succeeded(permit: Permit, start: number): void {
    const now = this.clock();
    const p = this.phase;
    if (
      p.state === 'closed' &&
      permit.epoch === this.epoch &&
      now - start < this.settings.slowCallDurationMs &&
      this.listeners.length === 0
    ) {
      // The permit never left `execute`: it cannot have been used already.
      p.inFlight--;
      this.window.record(now, false, false);
      const reason = tripReason(this.settings, this.window, this.settings.minimumCalls, true);
      if (reason) this.open(now, reason);
      return;
    }
    this.onResult(permit, now - start, 'success');
  }

  // --- operators -----------------------------------------------------------------------------

  /** Rejects every call until `close` or `reset`. */
  forceOpen(by = 'an operator'): void {
    this.transition('forced_open', this.clock(), `forced open by ${by}`);
  }

  /** Closes the breaker with an empty window; the next opening still waits as long as it would have. */
  close(by = 'an operator'): void {
    const history = this.consecutiveOpens;
    this.transition('closed', this.clock(), `closed by ${by}`);
    this.consecutiveOpens = history;
  }

  /** Closed, empty window, no backoff history: as new. */
  reset(by = 'an operator'): void {
    this.transition('closed', this.clock(), `reset by ${by}`);
  }

  disable(by = 'an operator'): void {
    this.transition('disabled', this.clock(), `disabled by ${by}`);
  }

  metricsOnly(by = 'an operator'): void {
    this.transition('metrics_only', this.clock(), `set to metrics-only by ${by}`);
  }

  snapshot(): BreakerSnapshot {
    const p = this.settle();
    return {
      state: p.state,
      since: p.since,
      openUntil: this.lastOpenUntil,
      consecutiveOpens: this.consecutiveOpens,
    };
  }

  /**
   * Takes a saved or shared state (a restart, another worker's transition). The window starts
   * empty: a state change resets it anyway, and a closed breaker's old calls are history.
   */
  restore(snapshot: BreakerSnapshot, reason = 'restored'): void {
    const from = this.phase.state;
    this.consecutiveOpens = snapshot.consecutiveOpens;
    this.lastOpenUntil = snapshot.openUntil;
    if (from === snapshot.state && this.phase.since === snapshot.since) {
      // The same state: only an open period's end may have moved.
      if (this.phase.state === 'open') this.phase = { ...this.phase, until: snapshot.openUntil };
      return;
    }
    this.phase = phaseOf(snapshot.state, snapshot.since, snapshot.openUntil);
    this.epoch++;
    this.window.reset();
    this.trialWindow.reset();
    if (from !== snapshot.state) {
      for (const l of this.listeners)
        l.onTransition?.({ breaker: this.name, from, to: snapshot.state, at: this.clock(), reason });
    }
  }

  // --- internals ----------------------------------------------------------------------------

  /**
   * Half-open has a time limit, and reaching it opens the breaker whether or not a call comes: any
   * read of the breaker first makes that move, dated at the limit. The trials still running then
   * belong to the old state, so their late results are not judged (as in resilience4j).
   */
  private settle(): Phase {
    const p = this.phase;
    if (p.state !== 'half_open') return p;
    const limit = this.settings.maxWaitInHalfOpenMs;
    if (limit > 0 && this.clock() - p.since >= limit) {
      this.open(p.since + limit, `no trial result within ${limit} ms`);
    }
    return this.phase;
  }

  private acquireTrial(): Permit | CircuitOpenError {
    const p = this.phase;
    if (p.state !== 'half_open') return this.tryAcquire();
    if (p.trialPermits + this.trialWindow.calls >= this.settings.permittedCallsInHalfOpen) {
      return this.reject(THROTTLE_RETRY_MS);
    }
    p.trialPermits++;
    return new Permit(this.epoch);
  }

  private giveBack(permit: Permit): void {
    if (permit.epoch !== this.epoch) return;
    const p = this.phase;
    if (p.state === 'half_open') p.trialPermits--;
    else if ('inFlight' in p) p.inFlight--;
  }

  private reject(retryAfterMs: number): CircuitOpenError {
    if (this.listeners.length) this.emitOutcome('rejected', 0);
    return CircuitOpenError.of(this.name, this.phase.state, retryAfterMs);
  }

  private open(now: number, reason: string): void {
    this.consecutiveOpens++;
    this.lastOpenUntil = now + openPeriodMs(this.settings, this.consecutiveOpens);
    this.transition('open', now, reason);
  }

  private transition(to: BreakerState, now: number, reason: string): void {
    const from = this.phase.state;
    if (to === 'closed') this.consecutiveOpens = 0;
    // Metrics reset on every state change; calls still in flight belong to the old state.
    this.phase = phaseOf(to, now, this.lastOpenUntil);
    this.epoch++;
    this.window.reset();
    this.trialWindow.reset();
    for (const l of this.listeners) l.onTransition?.({ breaker: this.name, from, to, at: now, reason });
  }

  private emitOutcome(outcome: CallOutcome, durationMs: number): void {
    for (const l of this.listeners) l.onOutcome?.(this.name, outcome, durationMs);
  }
}
