import type { BreakerState } from './state';

/** One breaker as `greenlight breakers` shows it. */
export interface BreakerView {
  name: string;
  state: BreakerState;
  since: string;
  /** Milliseconds until a trial call may go (open), 0 otherwise. */
  retryAfterMs: number;
  calls: number;
  failures: number;
  slow: number;
  inFlight: number;
}
