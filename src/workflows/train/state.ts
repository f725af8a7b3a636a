import { approverProblem } from '../../shared/approval';
import type { PolicyDecision } from '../../shared/policy';
import type {
  ApprovalInput,
  ApprovalRecord,
  InterventionInput,
  RequestKind,
  Stage,
} from '../../shared/release';
import { PRE_CUTOVER_STAGES, TERMINAL_STAGES } from '../../shared/release';
import type { ApprovalRule } from '../../shared/target';
import { isTrainEnded } from '../../shared/train';
import type { TrainMember, TrainRequest, TrainStage, TrainStatus } from '../../shared/train';
import { claimedName, interventionNote, keepRefusal, parseRequest, refused } from '../release/requests';
import type { Verdict, Via } from '../release/requests';

export type TrainRequestKind = Exclude<RequestKind, 'go' | 'override'>;

/** Whether a release has moved its alias (or is about to): the train rolls it back rather than aborting it. */
export const isMemberCutOver = (m: TrainMember): boolean =>
  m.stage !== 'not_started' &&
  !(PRE_CUTOVER_STAGES as readonly Stage[]).includes(m.stage) &&
  !(TERMINAL_STAGES as readonly Stage[]).includes(m.stage);

export const isMemberEnded = (m: TrainMember): boolean =>
  m.stage !== 'not_started' && (TERMINAL_STAGES as readonly Stage[]).includes(m.stage);

/** A release that failed, or is on its way back: the train unwinds. */
export const isMemberFailing = (m: TrainMember): boolean =>
  m.stage === 'rolling_back' || m.stage === 'cleaning_up' || (isMemberEnded(m) && m.stage !== 'completed');

/**
 * The state of one train and the rules for the requests people send it (approve, reject, abort,
 * rollback). Pure and synchronous, as a release's state is: the workflow owns the clock and the
 * side effects.
 */
export class TrainState {
  readonly status: TrainStatus;
  private rule: ApprovalRule | null = null;
  isAbortRequested = false;
  isRollbackRequested = false;
  interventionNote: string | null = null;
  /** Set when the first go has been sent: from then on the train rolls back rather than aborts. */
  hasCutoverBegun = false;

  constructor(
    trainId: string,
    request: TrainRequest,
    private readonly releaseIdOf: (service: string) => string,
    now: string,
  ) {
    this.status = {
      trainId,
      target: request.target,
      initiator: request.initiator,
      stage: 'starting',
      startedAt: now,
      updatedAt: now,
      order: [],
      services: [],
      crossChecks: null,
      approvals: { required: 0, approvedBy: [], rejectedBy: null, refused: [] },
      policyDecisions: [],
      finalAction: null,
      waitingFor: null,
      history: [{ stage: 'starting', at: now }],
      reason: null,
      from: request.from ?? null,
      released: [],
      committed: false,
    };
  }

  /** The services it releases, and the cutover order as steps. */
  plan(services: readonly { service: string; version: string }[], order: string[][]): void {
    this.status.order = order;
    this.status.services = services.map(({ service, version }) => ({
      service,
      version,
      releaseId: this.releaseIdOf(service),
      stage: 'not_started',
      green: null,
      artifact: null,
      testsPassed: null,
      replaces: null,
      promotion: null,
      reason: null,
    }));
  }

  get stage(): TrainStage {
    return this.status.stage;
  }

  get isIntervened(): boolean {
    return this.isAbortRequested || this.isRollbackRequested;
  }

  setStage(stage: TrainStage, now: string, note?: string, waitingFor: string | null = null): void {
    this.status.stage = stage;
    this.status.updatedAt = now;
    this.status.history.push(note ? { stage, at: now, note } : { stage, at: now });
    this.status.waitingFor = waitingFor;
  }

  end(stage: TrainStage, now: string, reason: string | null): void {
    this.status.reason = reason;
    this.setStage(stage, now, reason ?? undefined);
  }

  member(releaseId: string): TrainMember | undefined {
    return this.status.services.find((m) => m.releaseId === releaseId);
  }

  /** What the train last read of one of its releases. */
  updateMember(releaseId: string, seen: Omit<TrainMember, 'service' | 'version'>, now: string): void {
    const m = this.member(releaseId);
    if (!m) return;
    Object.assign(m, seen);
    this.status.updatedAt = now;
  }

  recordDecision(
    policy: unknown,
    decision: PolicyDecision,
    facts: Record<string, boolean>,
    now: string,
  ): void {
    this.status.policyDecisions.push({
      policy,
      allowed: decision.allowed,
      explanation: decision.explanation,
      facts,
      at: now,
    });
  }

  openApprovalGate(rule: ApprovalRule): void {
    this.rule = rule;
    this.status.approvals.required = rule.required;
  }

  get isApproved(): boolean {
    return this.status.approvals.approvedBy.length >= this.status.approvals.required;
  }

  get isRejected(): boolean {
    return this.status.approvals.rejectedBy !== null;
  }

  /** Judges a request without changing anything: the Update validators call this. */
  judge(kind: TrainRequestKind, raw: unknown): Verdict {
    const parsed = parseRequest(kind, raw);
    if (!parsed.ok) return parsed;
    if (kind === 'approve' || kind === 'reject')
      return this.judgeDecision(kind, parsed.data as ApprovalInput);
    return this.judgeIntervention(kind);
  }

  decide(kind: 'approve' | 'reject', raw: unknown, via: Exclude<Via, 'cancel'>, now: string): Verdict {
    const parsed = parseRequest(kind, raw);
    if (!parsed.ok) return this.refuse(kind, claimedName(raw, 'approver'), parsed.reason, via, now);
    const { approver, comment } = parsed.data as ApprovalInput;
    const verdict = this.judgeDecision(kind, { approver, comment });
    if (!verdict.ok) return this.refuse(kind, approver, verdict.reason, via, now);
    const record: ApprovalRecord = { approver, at: now, via, ...(comment ? { comment } : {}) };
    if (kind === 'reject') this.status.approvals.rejectedBy = record;
    else this.status.approvals.approvedBy.push(record);
    this.status.updatedAt = now;
    return verdict;
  }

  intervene(kind: 'abort' | 'rollback', raw: unknown, via: Via, now: string): Verdict {
    const parsed = parseRequest(kind, raw ?? {});
    if (!parsed.ok) return this.refuse(kind, claimedName(raw, 'by'), parsed.reason, via, now);
    const input = parsed.data as InterventionInput;
    const verdict = this.judgeIntervention(kind);
    if (!verdict.ok) return this.refuse(kind, input.by ?? null, verdict.reason, via, now);
    this.interventionNote = interventionNote(kind, input);
    if (this.hasCutoverBegun) this.isRollbackRequested = true;
    else this.isAbortRequested = true;
    this.status.updatedAt = now;
    return { ok: true, message: `${this.interventionNote}; ${verdict.message}` };
  }

  private judgeDecision(kind: 'approve' | 'reject', { approver }: ApprovalInput): Verdict {
    const rule = this.rule;
    if (this.stage !== 'awaiting_approval' || !rule)
      return refused(`train is not awaiting approval (stage ${this.stage})`);
    if (this.isApproved || this.isRejected)
      return refused(`train has already been ${this.isRejected ? 'rejected' : 'approved'}`);
    if (this.isIntervened) return refused('train is being stopped');
    const problem = approverProblem(kind, approver, {
      rule,
      initiator: this.status.initiator,
      approvedBy: this.status.approvals.approvedBy,
      subject: `trains to ${this.status.target}`,
      initiatorRefusal: `started this train and may not approve it on ${this.status.target}`,
    });
    if (problem) return refused(problem);
    if (kind === 'reject') return { ok: true, message: `rejected by ${approver}` };
    const { required, approvedBy } = this.status.approvals;
    return { ok: true, message: `approved by ${approver} (${approvedBy.length + 1} of ${required})` };
  }

  private judgeIntervention(kind: 'abort' | 'rollback'): Verdict {
    if (isTrainEnded(this.stage))
      return refused(`train has already ended (${this.stage.replaceAll('_', ' ')})`);
    if (this.isIntervened || this.stage === 'rolling_back' || this.stage === 'aborting') {
      return refused(
        `train is already being ${this.isRollbackRequested || this.stage === 'rolling_back' ? 'rolled back' : 'aborted'}`,
      );
    }
    if (this.stage === 'completing') {
      return refused(
        'every service has baked and the releases are retiring blue; roll back a release itself while it keeps blue',
      );
    }
    if (!this.hasCutoverBegun)
      return { ok: true, message: 'every release tears its green down; no alias moves' };
    if (kind === 'abort')
      return refused(`cannot abort once cutover has begun (stage ${this.stage}); use rollback`);
    return {
      ok: true,
      message: 'every service cut over rolls back, in reverse order; the others tear green down',
    };
  }

  private refuse(kind: TrainRequestKind, by: string | null, reason: string, via: Via, now: string): Verdict {
    keepRefusal(this.status.approvals.refused, { kind, by, reason, at: now, via });
    this.status.updatedAt = now;
    return { ok: false, reason };
  }
}
