import { coarseClock, startCoarseClock } from './clock';
import { CountWindow, TimeWindow } from './window';
import type { OutcomeWindow, Totals } from './window';

export const BreakerStates = [
  'closed',
  'open',
  'half_open',
  'forced_open',
  'disabled',
  'metrics_only',
] as const;
export type BreakerState = (typeof BreakerStates)[number];

/** The settings of one breaker; durations in milliseconds. See `BreakerConfig` in the config schema. */
export interface BreakerSettings {
  window: { type: 'count' | 'time'; size: number };
  /** Calls the window must hold before its rates are judged. */
  minimumCalls: number;
  /** Percent of failed calls that opens the breaker (≥). */
  failureRateThreshold: number;
  /** Failed calls in the window that open the breaker (≥), whatever the rate; null: rate only. */
  failureCountThreshold: number | null;
  /** Percent of slow calls that opens the breaker (≥). */
  slowCallRateThreshold: number;
  /** A call this long or longer is slow. */
  slowCallDurationMs: number;
  /** How long the breaker stays open before a trial. */
  waitDurationMs: number;
  /** Each consecutive opening waits this many times longer (1: always the same). */
  waitBackoffMultiplier: number;
  maxWaitDurationMs: number;
  /** Trial calls in half-open; more are rejected. */
  permittedCallsInHalfOpen: number;
  /** Half-open longer than this (a trial that hangs) opens again; 0: no limit. */
  maxWaitInHalfOpenMs: number;
}

/** The circuit-breaker source document's defaults: 3 failures within 300 s open it for 60 s. */
export const DEFAULT_BREAKER_SETTINGS: BreakerSettings = {
  window: { type: 'time', size: 300 },
  minimumCalls: 3,
  failureRateThreshold: 100,
  failureCountThreshold: 3,
  slowCallRateThreshold: 100,
  slowCallDurationMs: 60_000,
  waitDurationMs: 60_000,
  waitBackoffMultiplier: 1,
  maxWaitDurationMs: 600_000,
  permittedCallsInHalfOpen: 1,
  maxWaitInHalfOpenMs: 120_000,
};

export type Clock = () => number;

/**
 * How soon a call held back while others run may retry: a trial in half-open, or calls in flight at
 * the closed state's limit. Not sooner: every retry is an activity attempt.
 */
export const THROTTLE_RETRY_MS = 5_000;
/** How often callers held back by a forced-open breaker look again: an operator may close it any time. */
export const FORCED_OPEN_RETRY_MS = 10_000;

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

/** What a breaker's state is at a moment, to save and restore (a restart, a shared store). */
export interface BreakerSnapshot {
  state: BreakerState;
  /** When the current state began. */
  since: number;
  /** Open: when a trial becomes possible. */
  openUntil: number;
  /** How many times in a row it opened without closing (for the backoff). */
  consecutiveOpens: number;
}

/**
 * A rejection. An open breaker may reject many calls a second, so a rejection is cheap to make:
 * `CircuitOpenError.of` captures no stack trace (the rejection happens at a known place, the
 * breaker) and builds its message only when it is read. It is a real Error all the same.
 */
export class CircuitOpenError extends Error {
  declare readonly breaker: string;
  declare readonly state: BreakerState;
  /** How long until the caller should try again: the rest of the open period, or a short wait while others run. */
  declare readonly retryAfterMs: number;

  static of(breaker: string, state: BreakerState, retryAfterMs: number): CircuitOpenError {
    const e = Object.create(CircuitOpenError.prototype) as {
      -readonly [K in keyof CircuitOpenError]: CircuitOpenError[K];
    };
    e.breaker = breaker;
    e.state = state;
    e.retryAfterMs = retryAfterMs;
    return e as CircuitOpenError;
  }

  override get name(): string {
    return 'CircuitOpenError';
  }

  override get message(): string {
    const why =
      this.state === 'forced_open'
        ? 'forced open by an operator'
        : this.state === 'half_open'
          ? 'half-open, its trial calls are in progress'
          : this.state === 'closed'
            ? 'closed but seeing failures, and as many calls as could still fail are in flight'
            : 'open';
    return `the circuit breaker ${this.breaker} is ${why}; next trial in ${Math.ceil(this.retryAfterMs / 1000)}s`;
  }

  /** No frames: where a rejection comes from is the breaker, and its name is in the message. */
  override get stack(): string {
    return `${this.name}: ${this.message}`;
  }
}

export function isCircuitOpenError(e: unknown): e is CircuitOpenError {
  return e instanceof CircuitOpenError;
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
  private s: BreakerState = 'closed';
  private since: number;
  private openUntil = 0;
  private consecutiveOpens = 0;
  private window: OutcomeWindow;
  private readonly trialWindow: CountWindow;
  private inFlight = 0;
  private trialPermits = 0;
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
    this.since = clock();
  }

  get state(): BreakerState {
    this.settle();
    return this.s;
  }

  listen(listener: BreakerListener): void {
    this.listeners.push(listener);
  }

  /** The current window's totals (the trial window's in half-open). */
  metrics(): { calls: number; failures: number; slow: number; inFlight: number } {
    this.settle();
    if (this.s === 'closed' || this.s === 'metrics_only') this.window.expire(this.clock());
    const w = this.s === 'half_open' ? this.trialWindow : this.window;
    return { calls: w.calls, failures: w.failures, slow: w.slow, inFlight: this.inFlight };
  }

  /** How long until a call may be allowed (0 when it would be now). */
  retryAfterMs(): number {
    this.settle();
    if (this.s === 'open') return Math.max(0, this.openUntil - this.clock());
    if (this.s === 'forced_open') return Math.min(this.settings.waitDurationMs, FORCED_OPEN_RETRY_MS);
    return 0;
  }

  /**
   * Asks to make a call: returns a permit when it may go ahead — then report the call with
   * `onResult`, or give the permit back with `release`, once — or the rejection to throw.
   */
  tryAcquire(): Permit | CircuitOpenError {
    switch (this.s) {
      case 'closed': {
        const threshold = this.settings.failureCountThreshold;
        if (threshold !== null && this.inFlight > 0) {
          this.window.expire(this.clock());
          if (this.window.failures > 0 && this.window.failures + this.inFlight >= threshold) {
            return this.reject(THROTTLE_RETRY_MS);
          }
        }
        this.inFlight++;
        return new Permit(this.epoch);
      }
      case 'disabled':
      case 'metrics_only':
        this.inFlight++;
        return new Permit(this.epoch);
      case 'open': {
        const now = this.clock();
        if (now < this.openUntil) return this.reject(this.openUntil - now);
        this.transition(
          'half_open',
          now,
          `the open period of ${openPeriodMs(this.settings, this.consecutiveOpens)} ms is over`,
        );
        return this.acquireTrial();
      }
      case 'half_open':
        // At the half-open limit it is open: ask again as it is now.
        if (this.settle() !== 'half_open') return this.tryAcquire();
        return this.acquireTrial();
      case 'forced_open':
        return this.reject(Math.min(this.settings.waitDurationMs, FORCED_OPEN_RETRY_MS));
    }
  }

  /** Reports a permitted call's result: success, or an error with its verdict. */
  onResult(permit: Permit, durationMs: number, verdict: ErrorVerdict | 'success'): void {
    if (permit.isSpent) return;
    permit.isSpent = true;
    this.settle();
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
    switch (this.s) {
      case 'closed': {
        this.inFlight--;
        const now = this.clock();
        this.window.record(now, isFailure, isSlow);
        // Judged after every call: even a success may complete the minimum number of calls, and
        // old successes leave a time window before old failures do.
        const reason = tripReason(this.settings, this.window, this.settings.minimumCalls, true);
        if (reason) this.open(now, reason);
        return;
      }
      case 'half_open': {
        this.trialPermits--;
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
        this.inFlight--;
        this.window.record(this.clock(), isFailure, isSlow);
        return;
      default:
        // disabled: nothing to judge.
        this.inFlight--;
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
    if (permit instanceof CircuitOpenError) return Promise.reject(permit);
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
    if (
      this.s === 'closed' &&
      permit.epoch === this.epoch &&
      now - start < this.settings.slowCallDurationMs &&
      this.listeners.length === 0
    ) {
      // The permit never left `execute`: it cannot have been used already.
      this.inFlight--;
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
    this.settle();
    return {
      state: this.s,
      since: this.since,
      openUntil: this.openUntil,
      consecutiveOpens: this.consecutiveOpens,
    };
  }

  /**
   * Takes a saved or shared state (a restart, another worker's transition). The window starts
   * empty: a state change resets it anyway, and a closed breaker's old calls are history.
   */
  restore(snapshot: BreakerSnapshot, reason = 'restored'): void {
    const from = this.s;
    this.consecutiveOpens = snapshot.consecutiveOpens;
    this.openUntil = snapshot.openUntil;
    if (from === snapshot.state && this.since === snapshot.since) return;
    this.s = snapshot.state;
    this.since = snapshot.since;
    this.epoch++;
    this.inFlight = 0;
    this.window.reset();
    this.trialWindow.reset();
    this.trialPermits = 0;
    if (from !== snapshot.state) {
      for (const l of this.listeners)
        l.onTransition?.({ breaker: this.name, from, to: this.s, at: this.clock(), reason });
    }
  }

  // --- internals ----------------------------------------------------------------------------

  /**
   * Half-open has a time limit, and reaching it opens the breaker whether or not a call comes: any
   * read of the breaker first makes that move, dated at the limit. The trials still running then
   * belong to the old state, so their late results are not judged (as in resilience4j).
   */
  private settle(): BreakerState {
    if (this.s !== 'half_open') return this.s;
    const limit = this.settings.maxWaitInHalfOpenMs;
    if (limit > 0 && this.clock() - this.since >= limit) {
      this.open(this.since + limit, `no trial result within ${limit} ms`);
    }
    return this.s;
  }

  private acquireTrial(): Permit | CircuitOpenError {
    if (this.trialPermits + this.trialWindow.calls >= this.settings.permittedCallsInHalfOpen) {
      return this.reject(THROTTLE_RETRY_MS);
    }
    this.trialPermits++;
    return new Permit(this.epoch);
  }

  private giveBack(permit: Permit): void {
    if (permit.epoch !== this.epoch) return;
    if (this.s === 'half_open') this.trialPermits--;
    else this.inFlight--;
  }

  private reject(retryAfterMs: number): CircuitOpenError {
    if (this.listeners.length) this.emitOutcome('rejected', 0);
    return CircuitOpenError.of(this.name, this.s, retryAfterMs);
  }

  private open(now: number, reason: string): void {
    this.consecutiveOpens++;
    this.openUntil = now + openPeriodMs(this.settings, this.consecutiveOpens);
    this.transition('open', now, reason);
  }

  private transition(to: BreakerState, now: number, reason: string): void {
    const from = this.s;
    if (to === 'closed') this.consecutiveOpens = 0;
    this.s = to;
    this.since = now;
    // Metrics reset on every state change; calls still in flight belong to the old state.
    this.epoch++;
    this.window.reset();
    this.trialWindow.reset();
    this.trialPermits = 0;
    this.inFlight = 0;
    for (const l of this.listeners) l.onTransition?.({ breaker: this.name, from, to, at: now, reason });
  }

  private emitOutcome(outcome: CallOutcome, durationMs: number): void {
    for (const l of this.listeners) l.onOutcome?.(this.name, outcome, durationMs);
  }
}

/**
 * Why a window's totals trip a breaker, or null: the failure count (in a closed state's window), or
 * the failure or slow-call rate once the window holds `minimumCalls`.
 */
export function tripReason(
  settings: BreakerSettings,
  w: Totals,
  minimumCalls: number,
  countsFailures: boolean,
): string | null {
  const { failureCountThreshold, failureRateThreshold, slowCallRateThreshold } = settings;
  if (countsFailures && failureCountThreshold !== null && w.failures >= failureCountThreshold) {
    return `${w.failures} failures in the window (threshold ${failureCountThreshold})`;
  }
  if (w.calls < minimumCalls || w.calls === 0) return null;
  if (w.failures * 100 >= failureRateThreshold * w.calls) {
    return `failure rate ${round((w.failures * 100) / w.calls)}% of ${w.calls} calls (threshold ${failureRateThreshold}%)`;
  }
  if (w.slow * 100 >= slowCallRateThreshold * w.calls) {
    return `slow-call rate ${round((w.slow * 100) / w.calls)}% of ${w.calls} calls (threshold ${slowCallRateThreshold}%)`;
  }
  return null;
}

/** How long the `consecutiveOpens`-th opening in a row lasts: the wait, grown by the backoff, capped. */
export function openPeriodMs(settings: BreakerSettings, consecutiveOpens: number): number {
  const { waitDurationMs, waitBackoffMultiplier, maxWaitDurationMs } = settings;
  const grown = waitDurationMs * waitBackoffMultiplier ** Math.max(0, consecutiveOpens - 1);
  return Math.min(Math.max(waitDurationMs, grown), Math.max(waitDurationMs, maxWaitDurationMs));
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
