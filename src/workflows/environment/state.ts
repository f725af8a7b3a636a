import type {
  DriftReport,
  EnvironmentDefinition,
  EnvironmentStart,
  EnvironmentStatus,
  LeakCheck,
  TransitionRequest,
} from '../../shared/environment';
import {
  AdmitRequest,
  ExtendRequest,
  TransitionRequest as TransitionRequestSchema,
} from '../../shared/environment';
import { transitionFrom } from '../../shared/flow';
import type { FlowTransition } from '../../shared/flow';
import type { PolicyDecision } from '../../shared/policy';
import { ApprovalInput } from '../../shared/release';
import { judgeRequest, refused, WATCHED_STATE } from './requests';
import type { EnvironmentRequestKind, Verdict } from './requests';

export type { EnvironmentRequestKind, Verdict } from './requests';

/** The newest transitions kept in the status (the CMDB keeps them all). */
export const MAX_HISTORY = 50;
/** The newest refused requests kept in the status. */
export const MAX_REFUSED = 50;
/** The newest releases kept in the status (the CMDB keeps them all). */
export const MAX_RELEASES = 20;
/** The status warns this long before the TTL runs out. */
export const TTL_WARNING_MS = 24 * 3_600_000;

/** What an environment carries into its next run when it continues as new. */
export interface EnvironmentCarry {
  status: EnvironmentStatus;
  expiresAt: number | null;
  /** When the next drift check is due (epoch ms). */
  driftDueAt?: number | null;
}

/**
 * The state of one environment and the rules for the requests people send it. Pure: the workflow
 * owns the clock and the side effects (running actions, timers); this class owns every field of
 * the status and every decision about transitions, approvals, retries and extensions.
 */
export class EnvironmentState {
  readonly status: EnvironmentStatus;
  /** A transition people asked for, waiting to run. */
  requested: (TransitionRequest & { transition: FlowTransition; isExpiry?: true }) | null = null;
  isRetryRequested = false;
  /** Counts what an idle wait must wake for besides requests: an upgrade, a drift check asked for. */
  wakes = 0;
  /** A drift check has been asked for and not run yet: one at a time. */
  isDriftAsked = false;
  /** When the TTL runs out (epoch ms); null: never. */
  expiresAt: number | null;
  /** When the next drift check is due (epoch ms); null: none (not active, or turned off). */
  driftDueAt: number | null;
  private definition: EnvironmentStart;

  constructor(start: EnvironmentStart, now: number, carried?: EnvironmentCarry) {
    this.definition = start;
    this.expiresAt = carried ? carried.expiresAt : start.ttlMs === null ? null : now + start.ttlMs;
    this.driftDueAt = carried?.driftDueAt ?? null;
    const at = new Date(now).toISOString();
    // A status carried from a run before drift checks and release lists gets them empty.
    const old: Partial<EnvironmentStatus> | undefined = carried?.status;
    this.status = carried
      ? { ...carried.status, nextDriftCheck: old?.nextDriftCheck ?? null, releases: old?.releases ?? [] }
      : {
          name: start.name,
          state: start.flow.states[0]!,
          since: at,
          template: start.template,
          flowName: start.flowName,
          running: null,
          ttl: null,
          blocked: null,
          approvals: { pending: null, required: 0, approvedBy: [], rejectedBy: null, refused: [] },
          lastDecision: null,
          history: [],
          lastDrift: null,
          nextDriftCheck: null,
          releases: [],
          leakCheck: null,
          createdAt: at,
          createdBy: start.createdBy,
        };
    this.updateTtl(now);
  }

  /** What the environment was started with, its flow as pinned (or adopted by `upgrade`). */
  get start(): EnvironmentStart {
    return this.definition;
  }

  get state(): string {
    return this.status.state;
  }

  /** The last state of the flow: the environment has ended. */
  get isFinal(): boolean {
    return this.state === this.start.flow.states.at(-1);
  }

  get isApproved(): boolean {
    const { required, approvedBy } = this.status.approvals;
    return approvedBy.length >= required;
  }

  get isRejected(): boolean {
    return this.status.approvals.rejectedBy !== null;
  }

  /** Whether a transition needs an approval before it runs here. */
  needsApproval(t: FlowTransition, request?: TransitionRequest): boolean {
    // A force always needs the approval rule; a transition marked `approval` on protected ones.
    const isGated = (t.approval && this.start.isProtected) || request?.force === true;
    return isGated && this.start.approval.required > 0;
  }

  /** A freeze blocks the TTL's decommission: it runs out again when the freeze ends. */
  postponeExpiry(at: number, note: string, now: string): void {
    this.expiresAt = at;
    this.status.ttlPostponed = `${note} (at ${now})`;
    this.updateTtl(Date.parse(now));
  }

  updateTtl(now: number): void {
    this.status.ttl =
      this.expiresAt === null
        ? null
        : {
            expiresAt: new Date(this.expiresAt).toISOString(),
            isExpiringSoon: this.expiresAt - now <= TTL_WARNING_MS,
          };
  }

  // --- what the workflow does ---------------------------------------------------------------

  /** The transition starts: the environment shows its `via` state while the actions run. */
  begin(t: FlowTransition, now: string): void {
    this.status.running = t.on;
    this.status.blocked = null;
    this.isRetryRequested = false;
    if (t.via) this.setState(t.via, now);
  }

  /** The transition is done: the environment is in its new state. */
  finish(t: FlowTransition, from: string, now: string, by?: string, note?: string): void {
    this.status.running = null;
    this.setState(t.to, now);
    this.status.history = [
      ...this.status.history,
      { transition: t.on, from, to: t.to, at: now, ...(by ? { by } : {}), ...(note ? { note } : {}) },
    ].slice(-MAX_HISTORY);
    this.closeApprovalGate();
    // The status shows the next drift check as soon as the environment is idle and active again,
    // not only once the transition's record is written.
    this.scheduleDrift(Date.parse(now));
  }

  /** The transition could not be taken: the environment goes back to where it was, blocked. */
  block(
    t: FlowTransition,
    from: string,
    reason: string,
    ranActions: number,
    now: string,
    explanation?: string,
  ): void {
    this.status.running = null;
    if (this.state !== from) this.setState(from, now);
    this.status.blocked = {
      transition: t.on,
      reason,
      at: now,
      ranActions,
      ...(explanation ? { explanation } : {}),
    };
    this.isRetryRequested = false;
    this.scheduleDrift(Date.parse(now));
  }

  recordDecision(
    t: FlowTransition,
    decision: PolicyDecision,
    facts: Record<string, boolean>,
    now: string,
  ): void {
    this.status.lastDecision = { ...decision, transition: t.on, facts, at: now };
  }

  openApprovalGate(t: FlowTransition): void {
    this.status.approvals = {
      ...this.status.approvals,
      pending: t.on,
      required: this.start.approval.required,
    };
  }

  closeApprovalGate(): void {
    const { refused: kept } = this.status.approvals;
    this.status.approvals = { pending: null, required: 0, approvedBy: [], rejectedBy: null, refused: kept };
  }

  /**
   * Keeps the next drift check due while the environment is active (and checks are on), and none
   * otherwise. A check is due one interval after the environment became active, or after the last.
   */
  scheduleDrift(now: number): void {
    const interval = this.start.driftCheckMs;
    // Blocked too (maintenance refused by its policy, say): it is still active, and may drift.
    const isWatched = this.state === WATCHED_STATE && !this.status.running;
    if (!isWatched || (interval === 0 && this.driftDueAt === null)) this.driftDueAt = null;
    else if (this.driftDueAt === null) this.driftDueAt = now + interval;
    this.status.nextDriftCheck = this.driftDueAt === null ? null : new Date(this.driftDueAt).toISOString();
  }

  /** A drift check is done: its report, and the next one an interval from now (0: none). */
  recordDrift(report: DriftReport, now: number): void {
    this.isDriftAsked = false;
    this.status.lastDrift = { ...report, findings: report.findings.slice(0, 50) };
    this.driftDueAt = this.start.driftCheckMs === 0 ? null : now + this.start.driftCheckMs;
    this.scheduleDrift(now);
  }

  /** Asks for a drift check as soon as the environment is idle (after a reconcile, or asked). */
  checkDriftSoon(now: number): void {
    this.isDriftAsked = true;
    this.driftDueAt = now;
    this.wakes++;
    this.scheduleDrift(now);
  }

  recordLeakCheck(check: LeakCheck): void {
    this.status.leakCheck = check;
  }

  /**
   * Adopts the definition the configuration has now (`env upgrade`): its flow must still have the
   * state the environment is in. Recorded in the history; a pending retry keeps its transition name.
   */
  adopt(next: EnvironmentDefinition, by: string | undefined, now: string): Verdict {
    const { name } = this.status;
    if (!next.flow.states.includes(this.state))
      return refused(
        `the flow ${next.flowName} has no state ${this.state}; ${name} keeps its flow (${this.status.flowName})`,
      );
    if (this.status.running)
      return refused(`${name} is running ${this.status.running}; ask again once it is done`);
    const was = this.status.flowName;
    this.definition = { ...this.definition, ...next };
    this.status.flowName = next.flowName;
    this.status.history = [
      ...this.status.history,
      {
        transition: 'upgrade',
        from: this.state,
        to: this.state,
        at: now,
        ...(by ? { by } : {}),
        note: `adopted the current definition of ${next.flowName} (was ${was})`,
      },
    ].slice(-MAX_HISTORY);
    if (next.driftCheckMs === 0) this.driftDueAt = null;
    this.wakes++;
    return { ok: true, message: `${name} follows the current definition of ${next.flowName}` };
  }

  /** A request people made has been dealt with (run, refused by approval, or failed). */
  clearRequest(): void {
    this.requested = null;
  }

  private setState(state: string, now: string): void {
    this.status.state = state;
    this.status.since = now;
    // Out of the watched state no drift check is due, from this moment (not only once idle).
    if (state !== WATCHED_STATE) {
      this.driftDueAt = null;
      this.status.nextDriftCheck = null;
    }
  }

  // --- requests -----------------------------------------------------------------------------

  /** Judges a request without changing anything (the Update validators call this). */
  judge(kind: EnvironmentRequestKind, raw: unknown): Verdict {
    return judgeRequest(this, kind, raw);
  }

  /** A request refused, in the status (who asked, when, why): a signal's refusal is seen only there. */
  recordRefusal(
    kind: EnvironmentRequestKind,
    raw: unknown,
    via: 'signal' | 'update',
    reason: string,
    now: number,
  ): void {
    const by = typeof raw === 'object' && raw !== null ? (raw as { by?: unknown; approver?: unknown }) : {};
    const name = typeof by.by === 'string' ? by.by : typeof by.approver === 'string' ? by.approver : null;
    this.status.approvals.refused = [
      ...this.status.approvals.refused,
      {
        kind: `${kind} (${via})`,
        by: name && name.length <= 100 ? name : null,
        reason,
        at: new Date(now).toISOString(),
      },
    ].slice(-MAX_REFUSED);
  }

  /** Applies a judged request; the caller has checked `judge` (validators) or checks the verdict. */
  apply(kind: EnvironmentRequestKind, raw: unknown, via: 'signal' | 'update', now: number): Verdict {
    const verdict = this.judge(kind, raw);
    const at = new Date(now).toISOString();
    if (!verdict.ok) {
      this.recordRefusal(kind, raw, via, verdict.reason, now);
      return verdict;
    }
    if (kind === 'transition') {
      const request = TransitionRequestSchema.parse(raw);
      this.requested = { ...request, transition: transitionFrom(this.start.flow, this.state, request.on)! };
    } else if (kind === 'approve' || kind === 'reject') {
      const { approver, comment } = ApprovalInput.parse(raw);
      const record = { approver, at, via, ...(comment ? { comment } : {}) };
      if (kind === 'reject') this.status.approvals.rejectedBy = record;
      else this.status.approvals.approvedBy = [...this.status.approvals.approvedBy, record];
    } else if (kind === 'retry') {
      this.isRetryRequested = true;
    } else if (kind === 'admit') {
      const { releaseId, service, version } = AdmitRequest.parse(raw);
      // Asked again (the release's activity retried): listed once.
      if (!this.status.releases.some((r) => r.releaseId === releaseId)) {
        this.status.releases = [...this.status.releases, { releaseId, service, version, at }].slice(
          -MAX_RELEASES,
        );
      }
    } else if (kind === 'checkDrift') {
      this.checkDriftSoon(now);
    } else if (kind === 'upgrade') {
      // Adopted by the workflow once it has read the configuration's definition.
    } else {
      this.expiresAt = now + ExtendRequest.parse(raw).ttlMs;
      this.updateTtl(now);
    }
    return verdict;
  }
}
