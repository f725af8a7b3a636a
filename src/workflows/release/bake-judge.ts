import { DEFAULT_ROLLBACK_POLICY, evaluatePolicy } from '../../shared/policy';
import type { Policy, PolicyDecision } from '../../shared/policy';
import type { AnalysisResult } from '../../shared/release';

/** What one look while baking decided: the facts, the rollback policy's decision, and why. */
export interface BakeVerdict {
  facts: { health_check_failed: boolean; error_threshold_exceeded: boolean };
  /** `allowed` means: roll back. */
  decision: PolicyDecision;
  reason: string;
}

/**
 * Judges each look while green bakes: its health check and its metric queries give the facts
 * `health_check_failed` and `error_threshold_exceeded` (a query out of its bounds for its `for`;
 * no data counts only with `onNoData: fail`), and the target's rollback policy decides. Pure: the
 * workflow passes the time.
 */
export class BakeJudge {
  readonly policy: Policy;
  private readonly breachedSince = new Map<string, number>();
  private readonly withData = new Set<string>();
  private readonly waiting = new Set<string>();
  private isUnavailableNoted = false;
  private lastRecorded: string | null = null;

  constructor(policy?: Policy) {
    this.policy = policy ?? DEFAULT_ROLLBACK_POLICY;
  }

  /** True the first time Prometheus could not be asked in this bake (to note it once). */
  noteUnavailable(): boolean {
    if (this.isUnavailableNoted) return false;
    this.isUnavailableNoted = true;
    return true;
  }

  judge(healthFailure: string | null, analysis: readonly AnalysisResult[], now: number): BakeVerdict {
    const breaches: string[] = [];
    for (const a of analysis) {
      if (a.onNoData === 'wait') this.waiting.add(a.name);
      if (a.value !== null) this.withData.add(a.name);
      const isBad = a.value === null ? a.onNoData === 'fail' : a.isBreached;
      if (!isBad) {
        this.breachedSince.delete(a.name);
        continue;
      }
      const since = this.breachedSince.get(a.name) ?? now;
      this.breachedSince.set(a.name, since);
      if (now - since >= a.forMs) {
        breaches.push(`${a.name} = ${a.value ?? 'no data'} (${a.bounds}) for ${a.query}`);
      }
    }
    const facts = {
      health_check_failed: healthFailure !== null,
      error_threshold_exceeded: breaches.length > 0,
    };
    const decision = evaluatePolicy(this.policy, facts);
    const reason =
      breaches.length === 0 && healthFailure
        ? healthFailure
        : `rollback policy ${decision.explanation}: ${[healthFailure, ...breaches].filter(Boolean).join('; ')}`;
    return { facts, decision, reason };
  }

  /**
   * Whether a verdict is worth recording in the status: a rollback, or a breach the policy rode
   * out, when its facts differ from the last one recorded (so a long bake keeps its status small).
   */
  isWorthRecording(verdict: BakeVerdict): boolean {
    const { facts, decision } = verdict;
    if (!facts.error_threshold_exceeded && !(facts.health_check_failed && !decision.allowed)) return false;
    const key = `${facts.health_check_failed} ${facts.error_threshold_exceeded} ${decision.allowed}`;
    if (key === this.lastRecorded) return false;
    this.lastRecorded = key;
    return true;
  }

  /** The queries with `onNoData: wait` that have given no data yet. */
  get waitingFor(): string[] {
    return [...this.waiting].filter((name) => !this.withData.has(name));
  }

  get isWaitingForData(): boolean {
    return this.waitingFor.length > 0;
  }
}
