import { brandErrors, hasBrand } from '../shared/brand';
import type { BreakerState } from './state';

/**
 * A rejection. An open breaker may reject many calls a second, so a rejection is cheap to make:
 * `CircuitOpenError.of` captures no stack trace (the rejection happens at a known place, the
 * breaker) and builds its message only when it is read. It is a real Error all the same; test for
 * it with `isCircuitOpenError`, which also knows the errors of another copy of this module.
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
const BRAND = brandErrors(CircuitOpenError, 'CircuitOpenError');

export function isCircuitOpenError(e: unknown): e is CircuitOpenError {
  return hasBrand(e, BRAND);
}
