export const BreakerStates = [
  'closed',
  'open',
  'half_open',
  'forced_open',
  'disabled',
  'metrics_only',
] as const;
export type BreakerState = (typeof BreakerStates)[number];

/** What a breaker's state is at a moment, to save and restore (a restart, a shared store). */
export interface BreakerSnapshot {
  state: BreakerState;
  /** When the current state began. */
  since: number;
  /** Open: when a trial becomes possible (ignored in the other states). */
  openUntil: number;
  /** How many times in a row it opened without closing (for the backoff). */
  consecutiveOpens: number;
}
