/**
 * Sliding windows of call outcomes, with running totals so that recording a call and reading the
 * rates are O(1) (a time window also clears the seconds it skipped, at most its size).
 */
export interface Totals {
  calls: number;
  failures: number;
  slow: number;
}

export interface OutcomeWindow extends Totals {
  record(nowMs: number, isFailure: boolean, isSlow: boolean): void;
  /** Drops what has aged out by `nowMs` (a time window; a count window keeps its last N calls). */
  expire(nowMs: number): void;
  reset(): void;
}

const FAILURE = 1;
const SLOW = 2;

/** The last `size` calls. */
export class CountWindow implements OutcomeWindow {
  calls = 0;
  failures = 0;
  slow = 0;
  private readonly ring: Uint8Array;
  private next = 0;

  constructor(readonly size: number) {
    this.ring = new Uint8Array(size);
  }

  record(_nowMs: number, isFailure: boolean, isSlow: boolean): void {
    const outcome = (isFailure ? FAILURE : 0) | (isSlow ? SLOW : 0);
    if (this.calls === this.size) {
      const old = this.ring[this.next]!;
      if (old & FAILURE) this.failures--;
      if (old & SLOW) this.slow--;
    } else {
      this.calls++;
    }
    this.ring[this.next] = outcome;
    if (isFailure) this.failures++;
    if (isSlow) this.slow++;
    this.next = this.next + 1 === this.size ? 0 : this.next + 1;
  }

  expire(): void {}

  reset(): void {
    this.calls = this.failures = this.slow = this.next = 0;
  }
}

/** The calls of the last `seconds` seconds, in one bucket per second. */
export class TimeWindow implements OutcomeWindow {
  calls = 0;
  failures = 0;
  slow = 0;
  private readonly bucketCalls: Uint32Array;
  private readonly bucketFailures: Uint32Array;
  private readonly bucketSlow: Uint32Array;
  /** The second the newest bucket belongs to. */
  private head = -1;

  constructor(readonly seconds: number) {
    this.bucketCalls = new Uint32Array(seconds);
    this.bucketFailures = new Uint32Array(seconds);
    this.bucketSlow = new Uint32Array(seconds);
  }

  record(nowMs: number, isFailure: boolean, isSlow: boolean): void {
    const second = Math.floor(nowMs / 1000);
    if (second !== this.head) this.advance(second);
    const i = second % this.seconds;
    this.bucketCalls[i]!++;
    this.calls++;
    if (isFailure) {
      this.bucketFailures[i]!++;
      this.failures++;
    }
    if (isSlow) {
      this.bucketSlow[i]!++;
      this.slow++;
    }
  }

  expire(nowMs: number): void {
    const second = Math.floor(nowMs / 1000);
    if (second > this.head) this.advance(second);
  }

  reset(): void {
    this.bucketCalls.fill(0);
    this.bucketFailures.fill(0);
    this.bucketSlow.fill(0);
    this.calls = this.failures = this.slow = 0;
    this.head = -1;
  }

  private advance(second: number): void {
    if (this.head < 0 || second - this.head >= this.seconds || second < this.head) {
      // An idle gap longer than the window (or a clock that went back): nothing in it is current.
      this.reset();
      this.head = second;
      return;
    }
    for (let s = this.head + 1; s <= second; s++) {
      const i = s % this.seconds;
      this.calls -= this.bucketCalls[i]!;
      this.failures -= this.bucketFailures[i]!;
      this.slow -= this.bucketSlow[i]!;
      this.bucketCalls[i] = this.bucketFailures[i] = this.bucketSlow[i] = 0;
    }
    this.head = second;
  }
}
