import type { Totals } from './window';

/**
 * The settings of one breaker; durations in milliseconds. Each default is the circuit-breaker
 * source document's (3 failures within 300 s open it for 60 s); the configuration
 * (`breakers.defaults`, `breakers.dependencies`, see `BreakerConfig`) overrides any of them.
 */
export interface BreakerSettings {
  /**
   * The sliding window the rates are judged on: the last `size` calls (`count`) or the calls of
   * the last `size` seconds (`time`). Default `{ type: 'time', size: 300 }`.
   */
  window: { type: 'count' | 'time'; size: number };
  /** Calls the window must hold before its rates are judged. Default 3. */
  minimumCalls: number;
  /** Percent of failed calls that opens the breaker (≥). Default 100. */
  failureRateThreshold: number;
  /** Failed calls in the window that open the breaker (≥), whatever the rate; null: rate only. Default 3. */
  failureCountThreshold: number | null;
  /** Percent of slow calls that opens the breaker (≥). Default 100. */
  slowCallRateThreshold: number;
  /** A call this long or longer is slow. Default 60 s. */
  slowCallDurationMs: number;
  /** How long the breaker stays open before a trial. Default 60 s. */
  waitDurationMs: number;
  /** Each consecutive opening waits this many times longer (1: always the same). Default 1. */
  waitBackoffMultiplier: number;
  /** The longest an opening lasts, however many came before it. Default 10 min. */
  maxWaitDurationMs: number;
  /** Trial calls in half-open; more are rejected. Default 1. */
  permittedCallsInHalfOpen: number;
  /** Half-open longer than this (a trial that hangs) opens again; 0: no limit. Default 2 min. */
  maxWaitInHalfOpenMs: number;
}

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

/**
 * How soon a call held back while others run may retry: a trial in half-open, or calls in flight at
 * the closed state's limit. Not sooner: every retry is an activity attempt.
 */
export const THROTTLE_RETRY_MS = 5_000;
/** How often callers held back by a forced-open breaker look again: an operator may close it any time. */
export const FORCED_OPEN_RETRY_MS = 10_000;

/**
 * Why a window's totals trip a breaker, or null: the failure count (in a closed state's window), or
 * the failure or slow-call rate once the window holds `minimumCalls`.
 */
export function tripReason(
  settings: BreakerSettings,
  totals: Totals,
  minimumCalls: number,
  countsFailures: boolean,
): string | null {
  const { failureCountThreshold, failureRateThreshold, slowCallRateThreshold } = settings;
  if (countsFailures && failureCountThreshold !== null && totals.failures >= failureCountThreshold) {
    return `${totals.failures} failures in the window (threshold ${failureCountThreshold})`;
  }
  if (totals.calls < minimumCalls || totals.calls === 0) return null;
  if (totals.failures * 100 >= failureRateThreshold * totals.calls) {
    return `failure rate ${round((totals.failures * 100) / totals.calls)}% of ${totals.calls} calls (threshold ${failureRateThreshold}%)`;
  }
  if (totals.slow * 100 >= slowCallRateThreshold * totals.calls) {
    return `slow-call rate ${round((totals.slow * 100) / totals.calls)}% of ${totals.calls} calls (threshold ${slowCallRateThreshold}%)`;
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
