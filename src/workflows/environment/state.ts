import type { EnvironmentStart, EnvironmentStatus, TransitionRequest } from '../../shared/environment';
import {
  ExtendRequest,
  RetryRequest,
  TransitionRequest as TransitionRequestSchema,
} from '../../shared/environment';
import { DECOMMISSION, fromStates, transitionFrom } from '../../shared/flow';
import type { FlowTransition } from '../../shared/flow';
import type { PolicyDecision } from '../../shared/policy';
import { ApprovalInput, APPROVAL_FIELDS, INTERVENTION_FIELDS } from '../../shared/release';
import { describeIssues, sameName } from '../../shared/text';

export type Verdict = { ok: true; message: string } | { ok: false; reason: string };
export type EnvironmentRequestKind = 'transition' | 'approve' | 'reject' | 'retry' | 'extend';

/** The newest transitions kept in the status (the CMDB keeps them all). */
export const MAX_HISTORY = 50;
/** The newest refused requests kept in the status. */
export const MAX_REFUSED = 50;
/** The status warns this long before the TTL runs out. */
export const TTL_WARNING_MS = 24 * 3_600_000;

/** What an environment carries into its next run when it continues as new. */
export interface EnvironmentCarry {
  status: EnvironmentStatus;
  expiresAt: number | null;
}

const refused = (reason: string): Verdict => ({ ok: false, reason });

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
  /** When the TTL runs out (epoch ms); null: never. */
  expiresAt: number | null;

  constructor(
    readonly start: EnvironmentStart,
    now: number,
    carried?: EnvironmentCarry,
  ) {
    this.expiresAt = carried ? carried.expiresAt : start.ttlMs === null ? null : now + start.ttlMs;
    const at = new Date(now).toISOString();
    this.status = carried?.status ?? {
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
      leakCheck: null,
      createdAt: at,
      createdBy: start.createdBy,
    };
    this.updateTtl(now);
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

  /** A request people made has been dealt with (run, refused by approval, or failed). */
  clearRequest(): void {
    this.requested = null;
  }

  private setState(state: string, now: string): void {
    this.status.state = state;
    this.status.since = now;
  }

  // --- requests -----------------------------------------------------------------------------

  /** Judges a request without changing anything (the Update validators call this). */
  judge(kind: EnvironmentRequestKind, raw: unknown): Verdict {
    switch (kind) {
      case 'transition': {
        const parsed = TransitionRequestSchema.safeParse(raw);
        if (!parsed.success)
          return refused(
            `invalid transition: ${describeIssues(parsed.error.issues, { fields: ['on', 'by', 'reason', 'force'] })}`,
          );
        return this.judgeTransition(parsed.data);
      }
      case 'approve':
      case 'reject': {
        const parsed = ApprovalInput.safeParse(raw);
        if (!parsed.success)
          return refused(
            `invalid ${kind}: ${describeIssues(parsed.error.issues, { fields: APPROVAL_FIELDS })}`,
          );
        return this.judgeDecision(kind, parsed.data.approver);
      }
      case 'retry': {
        const parsed = RetryRequest.safeParse(raw ?? {});
        if (!parsed.success)
          return refused(`invalid retry: ${describeIssues(parsed.error.issues, { fields: ['by'] })}`);
        if (!this.status.blocked) return refused(`${this.status.name} is not blocked; nothing to retry`);
        if (this.isRetryRequested) return refused('a retry has already been asked for');
        return { ok: true, message: `retrying ${this.status.blocked.transition}` };
      }
      case 'extend': {
        const parsed = ExtendRequest.safeParse(raw);
        if (!parsed.success)
          return refused(
            `invalid extend: ${describeIssues(parsed.error.issues, { fields: INTERVENTION_FIELDS })}`,
          );
        if (this.isFinal) return refused(`${this.status.name} has been ${this.state}`);
        if (this.expiresAt === null) return refused(`${this.status.name} has no TTL to extend`);
        return {
          ok: true,
          message: `${this.status.name} now expires ${Math.round(parsed.data.ttlMs / 3_600_000)} h from now`,
        };
      }
    }
  }

  /** Applies a judged request; the caller has checked `judge` (validators) or checks the verdict. */
  apply(kind: EnvironmentRequestKind, raw: unknown, via: 'signal' | 'update', now: number): Verdict {
    const verdict = this.judge(kind, raw);
    const at = new Date(now).toISOString();
    if (!verdict.ok) {
      const by = typeof raw === 'object' && raw !== null ? (raw as { by?: unknown; approver?: unknown }) : {};
      const name = typeof by.by === 'string' ? by.by : typeof by.approver === 'string' ? by.approver : null;
      this.status.approvals.refused = [
        ...this.status.approvals.refused,
        {
          kind: `${kind} (${via})`,
          by: name && name.length <= 100 ? name : null,
          reason: verdict.reason,
          at,
        },
      ].slice(-MAX_REFUSED);
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
    } else {
      this.expiresAt = now + ExtendRequest.parse(raw).ttlMs;
      this.updateTtl(now);
    }
    return verdict;
  }

  private judgeTransition(request: TransitionRequest): Verdict {
    const { name } = this.status;
    if (this.isFinal) return refused(`${name} has been ${this.state}`);
    if (this.requested) return refused(`${name} is already asked to ${this.requested.on}`);
    const t = transitionFrom(this.start.flow, this.state, request.on);
    if (!t) {
      const offered = this.start.flow.transitions
        .filter((x) => fromStates(this.start.flow, x).includes(this.state) && !x.auto)
        .map((x) => x.on);
      return refused(
        `${name} is ${this.state}: no ${request.on} from here${offered.length ? `; from here: ${offered.join(', ')}` : ''}`,
      );
    }
    if (this.status.running && request.on !== DECOMMISSION)
      return refused(`${name} is running ${this.status.running}; ask again once it is done`);
    return { ok: true, message: `${request.on}${request.force ? ' (forced)' : ''} asked of ${name}` };
  }

  private judgeDecision(kind: 'approve' | 'reject', approver: string): Verdict {
    const { pending } = this.status.approvals;
    if (!pending) return refused(`${this.status.name} is not waiting for approval`);
    if (this.isApproved || this.isRejected)
      return refused(`${pending} has already been ${this.isRejected ? 'rejected' : 'approved'}`);
    const rule = this.start.approval;
    if (rule.approvers && !rule.approvers.some((a) => sameName(a, approver))) {
      return refused(
        `${approver} may not ${kind} on ${this.status.name}; allowed: ${rule.approvers.join(', ')}`,
      );
    }
    if (kind === 'reject') return { ok: true, message: `${pending} rejected by ${approver}` };
    if (!rule.initiatorMayApprove && this.requested?.by && sameName(this.requested.by, approver)) {
      return refused(`${approver} asked for ${pending} and may not approve it`);
    }
    if (this.status.approvals.approvedBy.some((a) => sameName(a.approver, approver))) {
      return refused(`${approver} has already approved; approvals must come from distinct people`);
    }
    return { ok: true, message: `${pending} approved by ${approver}` };
  }
}
