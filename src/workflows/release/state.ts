import type { PolicyDecision } from '../../shared/policy';
import type {
  ApprovalRecord,
  BreakerNotice,
  Deployment,
  PolicyDecisionRecord,
  ReleaseRequest,
  ReleaseStatus,
  Stage,
  TestReport,
} from '../../shared/release';
import { endedReason, isTerminalStage, PRE_CUTOVER_STAGES } from '../../shared/release';
import type {
  ApprovalInput,
  ArtifactRef,
  InterventionInput,
  OverrideInput,
  PromotionFacts,
  RequestKind,
  WindowWait,
} from '../../shared/release';
import { approverProblem } from '../../shared/approval';
import { TrainCommit, TrainGo } from '../../shared/train';
import { describeIssues } from '../../shared/text';
import type { ApprovalContext } from '../../shared/approval';
import type { ApprovalRule } from '../../shared/target';
import { claimedName, interventionNote, keepRefusal, parseRequest, refused } from './requests';
import type { Verdict, Via } from './requests';

export type { RequestKind, Verdict, Via };

/** What a release's status shows of its request. */
type StatusFields = Pick<ReleaseRequest, 'service' | 'version' | 'target' | 'initiator' | 'skipSlowScans'> & {
  train?: string;
};

export { MAX_REFUSED } from './requests';
/** The newest notes kept in the status. */
export const MAX_NOTES = 20;

/**
 * The state of one release and the rules for the requests people send it. Pure and synchronous:
 * the workflow owns the clock (`now`) and the side effects (it cancels the running step when an
 * abort is accepted, and publishes the status); this class owns every field of the status and
 * every decision about approvals, rejections, aborts and rollbacks, so those rules are tested
 * without a server.
 */
export class ReleaseState {
  readonly status: ReleaseStatus;
  private approvalRule: ApprovalRule | null = null;
  /** The target's approval rule, which an override of its closed window is judged by. */
  private overrideRule: ApprovalRule | null = null;
  private approvalDeadline: string | null = null;
  isAbortRequested = false;
  isRollbackRequested = false;
  interventionNote: string | null = null;
  /** A release held before cutover has been told to go. */
  isGoGiven = false;
  /** A train's release has been told by its train that every service baked: it may retire blue. */
  isCommitted = false;
  /**
   * A train's go or commit that arrived and waits to be confirmed with the train itself (anyone
   * may send a signal): the go's payload is kept for releases of the version that took it as it was.
   */
  pendingGo: TrainGo | null = null;
  isCommitPending = false;

  constructor(releaseId: string, request: StatusFields, now: string) {
    this.status = {
      releaseId,
      train: request.train ?? null,
      service: request.service,
      target: request.target,
      version: request.version,
      initiator: request.initiator,
      skipSlowScans: request.skipSlowScans,
      stage: 'queued',
      startedAt: now,
      updatedAt: now,
      waitingFor: null,
      live: null,
      previous: null,
      green: null,
      artifact: null,
      promotion: null,
      isBlueTerminated: false,
      tests: null,
      approvals: { required: 0, approvedBy: [], rejectedBy: null, refused: [] },
      policyDecisions: [],
      history: [{ stage: 'queued', at: now }],
      reason: null,
      blockedBy: null,
      window: null,
      windowOverride: null,
      notes: [],
    };
  }

  get stage(): Stage {
    return this.status.stage;
  }

  get isCutOver(): boolean {
    return !(PRE_CUTOVER_STAGES as readonly Stage[]).includes(this.stage);
  }

  setStage(stage: Stage, now: string, note?: string): void {
    this.status.stage = stage;
    this.status.updatedAt = now;
    this.status.history.push(note ? { stage, at: now, note } : { stage, at: now });
    if (stage !== 'awaiting_approval') this.status.waitingFor = null;
    if (stage !== 'waiting_for_window') this.status.window = null;
    this.status.blockedBy = null;
  }

  /** A circuit breaker holds the release back (until the stage changes or another notice). */
  setBlocked(notice: BreakerNotice, now: string): void {
    this.status.blockedBy = notice;
    this.status.updatedAt = now;
  }

  addNote(note: string, now: string): void {
    this.status.notes = [...this.status.notes, note].slice(-MAX_NOTES);
    this.status.updatedAt = now;
  }

  setWaitingFor(text: string | null, now: string): void {
    this.status.waitingFor = text;
    this.status.updatedAt = now;
  }

  setBlue(blue: Deployment | null): void {
    this.status.previous = blue;
    this.status.live = blue;
  }

  /** Whether blue's instance and record were removed once green had stayed healthy. */
  setBlueTerminated(isTerminated: boolean): void {
    this.status.isBlueTerminated = isTerminated;
  }

  setArtifact(artifact: ArtifactRef): void {
    this.status.artifact = artifact;
  }

  setPromotion(promotion: PromotionFacts): void {
    this.status.promotion = promotion;
  }

  setGreen(green: Deployment): void {
    this.status.green = green;
  }

  /** Green no longer runs: the release tore it down. */
  setGreenTornDown(): void {
    this.status.isGreenTornDown = true;
  }

  setLive(live: Deployment | null): void {
    this.status.live = live;
  }

  setTests(report: TestReport): void {
    this.status.tests = report;
  }

  recordDecision(
    policy: unknown,
    decision: PolicyDecision,
    facts: Record<string, boolean>,
    now: string,
  ): PolicyDecisionRecord {
    const record = { policy, allowed: decision.allowed, explanation: decision.explanation, facts, at: now };
    this.status.policyDecisions.push(record);
    return record;
  }

  end(stage: Stage, now: string, reason: string | null): void {
    this.status.reason = reason;
    this.setStage(stage, now, reason ?? undefined);
  }

  /** How many approvals the target's rule asks for, shown from the policy decision on. */
  setRequiredApprovals(required: number): void {
    this.status.approvals.required = required;
  }

  /** Opens the approval gate with the target's rule; approvals are accepted only while it is open. */
  openApprovalGate(rule: ApprovalRule, deadline: string): void {
    this.approvalRule = rule;
    this.approvalDeadline = deadline;
    this.status.approvals.required = rule.required;
  }

  get isApproved(): boolean {
    return this.status.approvals.approvedBy.length >= this.status.approvals.required;
  }

  get isRejected(): boolean {
    return this.status.approvals.rejectedBy !== null;
  }

  /** Words for the UI and `status`: who may still approve, and until when. */
  approvalWaitText(): string {
    const rule = this.approvalRule;
    const { required, approvedBy } = this.status.approvals;
    const missing = required - approvedBy.length;
    const who = rule?.approvers ? `from ${rule.approvers.join(', ')}` : 'from anyone';
    const notInitiator = rule && !rule.initiatorMayApprove ? `, not ${this.status.initiator}` : '';
    const until = this.approvalDeadline ? `; expires at ${this.approvalDeadline}` : '';
    return `${missing} more approval${missing === 1 ? '' : 's'} (${approvedBy.length} of ${required} given) ${who}${notInitiator}${until}`;
  }

  /**
   * Judges a request without changing anything: the Update validators call this, so a refused
   * Update is rejected before it is accepted and never enters the history.
   */
  judge(kind: RequestKind, raw: unknown): Verdict {
    if (kind === 'go' && this.status.train) return this.judgeTrainGo(raw);
    const parsed = parseRequest(kind, raw);
    if (!parsed.ok) return parsed;
    if (kind === 'approve' || kind === 'reject')
      return this.judgeDecision(kind, parsed.data as ApprovalInput);
    if (kind === 'go') return this.judgeGo(parsed.data as InterventionInput);
    if (kind === 'override') return this.judgeOverride(parsed.data as OverrideInput);
    return this.judgeIntervention(kind, parsed.data as InterventionInput);
  }

  /** Applies an `approve` or `reject` request; a refused one is recorded and changes nothing else. */
  decide(kind: 'approve' | 'reject', raw: unknown, via: Exclude<Via, 'cancel'>, now: string): Verdict {
    const parsed = parseRequest(kind, raw);
    if (!parsed.ok) return this.refuse(kind, claimedName(raw, 'approver'), parsed.reason, via, now);
    const { approver, comment } = parsed.data as ApprovalInput;
    const verdict = this.judgeDecision(kind, { approver, comment });
    if (!verdict.ok) return this.refuse(kind, approver, verdict.reason, via, now);
    const record: ApprovalRecord = { approver, at: now, via, ...(comment ? { comment } : {}) };
    if (kind === 'reject') {
      this.status.approvals.rejectedBy = record;
    } else {
      this.status.approvals.approvedBy.push(record);
      if (!this.isApproved) this.status.waitingFor = this.approvalWaitText();
    }
    this.status.updatedAt = now;
    return verdict;
  }

  /** The release waits for its target to open; an override is judged by the target's approval rule. */
  waitForWindow(wait: WindowWait, rule: ApprovalRule): void {
    this.status.window = wait;
    this.status.updatedAt = wait.since;
    this.overrideRule = rule;
  }

  /** The target has opened: the release no longer waits for it. */
  leaveWindow(): void {
    this.status.window = null;
    this.overrideRule = null;
  }

  /** Whether an override lets the release go while its target is closed. */
  get isWindowOverridden(): boolean {
    return this.status.windowOverride != null;
  }

  /** Applies an `override` request: a release waiting for its target to open goes now. */
  overrideWindow(raw: unknown, now: string): Verdict {
    const parsed = parseRequest('override', raw);
    if (!parsed.ok)
      return this.refuse('override', claimedName(raw, 'approver'), parsed.reason, 'update', now);
    const input = parsed.data as OverrideInput;
    const verdict = this.judgeOverride(input);
    if (!verdict.ok) return this.refuse('override', input.approver, verdict.reason, 'update', now);
    const { approver, reason } = input;
    this.status.windowOverride = { approver, reason, closedReason: this.status.window!.reason, at: now };
    this.status.updatedAt = now;
    return verdict;
  }

  private judgeOverride({ approver }: OverrideInput): Verdict {
    if (isTerminalStage(this.stage)) return refused(endedReason('override', this.stage));
    if (this.stage !== 'waiting_for_window' || !this.overrideRule || !this.status.window)
      return refused(`release is not waiting for its target to open (stage ${this.stage})`);
    if (this.isWindowOverridden) return refused('release has already been let go');
    if (this.isAbortRequested) return refused('release is being aborted');
    const problem = approverProblem('approve', approver, {
      ...this.approvalContext(this.overrideRule),
      approvedBy: [],
      subject: `releases to ${this.status.target} while it is closed`,
      initiatorRefusal: `started this release and may not let it go while ${this.status.target} is closed`,
    });
    if (problem) return refused(problem);
    return { ok: true, message: `overridden by ${approver}: ${this.status.window.reason}; going now` };
  }

  /** Applies an `abort` (before cutover) or `rollback` (until blue is terminated) request. */
  intervene(kind: 'abort' | 'rollback', raw: unknown, via: Via, now: string): Verdict {
    const parsed = parseRequest(kind, raw ?? {});
    if (!parsed.ok) return this.refuse(kind, claimedName(raw, 'by'), parsed.reason, via, now);
    const input = parsed.data as InterventionInput;
    const verdict = this.judgeIntervention(kind, input);
    if (!verdict.ok) return this.refuse(kind, input.by ?? null, verdict.reason, via, now);
    this.interventionNote = interventionNote(kind, input);
    if (this.isCutOver) {
      this.isRollbackRequested = true;
    } else {
      this.isAbortRequested = true;
    }
    this.status.updatedAt = now;
    return verdict;
  }

  /**
   * A train's release holds before cutover with the target's approval rule: the train's go brings
   * the approvals, which the release judges by that rule.
   */
  holdForTrain(rule: ApprovalRule): void {
    this.approvalRule = rule;
    this.status.approvals.required = rule.required;
  }

  /** Applies a `go` request: a release held before cutover cuts over. */
  go(raw: unknown, via: Exclude<Via, 'cancel'>, now: string): Verdict {
    if (this.status.train) return this.trainGo(raw, via, now);
    const parsed = parseRequest('go', raw ?? {});
    if (!parsed.ok) return this.refuse('go', claimedName(raw, 'by'), parsed.reason, via, now);
    const input = parsed.data as InterventionInput;
    const verdict = this.judgeGo(input);
    if (!verdict.ok) return this.refuse('go', input.by ?? null, verdict.reason, via, now);
    this.isGoGiven = true;
    // Who let the release cut over, and why, stays in its status.
    this.addNote(
      `go${input.by ? ` from ${input.by}` : ''} by ${via}${input.reason ? `: ${input.reason}` : ''}`,
      now,
    );
    return verdict;
  }

  /**
   * A train's go, naming the train: kept until the release confirms it with its train (the signal
   * alone proves nothing), see `acceptTrainGo` and `declineTrainGo`.
   */
  private trainGo(raw: unknown, via: Exclude<Via, 'cancel'>, now: string): Verdict {
    const verdict = this.judgeTrainGo(raw);
    if (!verdict.ok) return this.refuse('go', claimedName(raw, 'by'), verdict.reason, via, now);
    this.pendingGo = TrainGo.parse(raw);
    this.status.updatedAt = now;
    return verdict;
  }

  /** The train confirmed its go: its approvals are the release's, and it cuts over. */
  acceptTrainGo(approvals: readonly { approver: string; comment?: string }[], now: string): void {
    const train = this.status.train!;
    for (const { approver, comment } of approvals) {
      this.status.approvals.approvedBy.push({
        approver,
        at: now,
        via: 'signal',
        comment: comment ? `${comment} (approved train ${train})` : `approved train ${train}`,
      });
    }
    this.pendingGo = null;
    this.isGoGiven = true;
    this.addNote(`go from train ${train}`, now);
  }

  /** A go its train did not confirm: refused, recorded, and the release holds on. */
  declineTrainGo(reason: string, now: string): void {
    const by = this.pendingGo?.by ?? null;
    this.pendingGo = null;
    this.refuse('go', by, reason, 'signal', now);
  }

  private judgeTrainGo(raw: unknown): Verdict {
    const train = this.status.train!;
    const parsed = TrainGo.safeParse(raw);
    if (!parsed.success || parsed.data.train !== train) {
      return refused(
        parsed.success || typeof raw !== 'object' || raw === null || !('train' in raw)
          ? `release belongs to train ${train}; only its train lets it cut over (train approve ${train})`
          : `invalid go: ${describeIssues(parsed.error.issues)}`,
      );
    }
    if (this.pendingGo) return refused('a go is being confirmed with the train');
    return this.judgeGo(parsed.data);
  }

  /** The train's word that every service baked, kept until confirmed with the train. */
  commit(raw: unknown, now: string): Verdict {
    const train = this.status.train;
    const parsed = TrainCommit.safeParse(raw);
    if (!train || !parsed.success || parsed.data.train !== train)
      return refused(train ? `only train ${train} commits this release` : 'release belongs to no train');
    if (this.stage !== 'awaiting_termination' || this.isRollbackRequested)
      return refused(`release is not waiting for its train's commit (stage ${this.stage})`);
    if (this.isCommitted || this.isCommitPending) return refused('release has already been committed');
    this.isCommitPending = true;
    this.status.updatedAt = now;
    return { ok: true, message: 'commit received' };
  }

  /** The train confirmed: every service baked, the release may retire blue. */
  acceptCommit(now: string): void {
    this.isCommitPending = false;
    this.isCommitted = true;
    this.addNote(`train ${this.status.train} committed: every service baked`, now);
  }

  declineCommit(reason: string, now: string): void {
    this.isCommitPending = false;
    this.refuse('go', null, reason, 'signal', now);
  }

  private judgeDecision(kind: 'approve' | 'reject', { approver }: ApprovalInput): Verdict {
    const { train } = this.status;
    if (train)
      return refused(`release belongs to train ${train}; ${kind} the train (train ${kind} ${train})`);
    const rule = this.approvalRule;
    if (this.stage !== 'awaiting_approval' || !rule) {
      return refused(`release is not awaiting approval (stage ${this.stage})`);
    }
    if (this.isApproved || this.isRejected) {
      // The gate has closed in this same workflow task: the first decision stands.
      return refused(`release has already been ${this.isRejected ? 'rejected' : 'approved'}`);
    }
    const problem = approverProblem(kind, approver, this.approvalContext(rule));
    if (problem) return refused(problem);
    if (kind === 'reject') return { ok: true, message: `rejected by ${approver}` };
    const { required, approvedBy } = this.status.approvals;
    return { ok: true, message: `approved by ${approver} (${approvedBy.length + 1} of ${required})` };
  }

  private approvalContext(rule: ApprovalRule): ApprovalContext {
    const { initiator, target, approvals } = this.status;
    return {
      rule,
      initiator,
      approvedBy: approvals.approvedBy,
      subject: `releases to ${target}`,
      initiatorRefusal: `started this release and may not approve it on ${target}`,
    };
  }

  private judgeGo({ by }: { by?: string }): Verdict {
    if (isTerminalStage(this.stage)) return refused(endedReason('go', this.stage));
    if (this.stage !== 'awaiting_go') return refused(`release is not waiting for a go (stage ${this.stage})`);
    if (this.isGoGiven) return refused('release has already been told to go');
    if (this.isAbortRequested) return refused('release is being aborted');
    return { ok: true, message: `go${by ? ` from ${by}` : ''}; cutting over` };
  }

  private judgeIntervention(kind: 'abort' | 'rollback', input: InterventionInput): Verdict {
    if (isTerminalStage(this.stage)) return refused(endedReason(kind, this.stage));
    if (
      this.isAbortRequested ||
      this.isRollbackRequested ||
      this.stage === 'rolling_back' ||
      this.stage === 'cleaning_up'
    ) {
      const doing = this.stage === 'rolling_back' || this.isRollbackRequested ? 'rolled back' : 'aborted';
      return refused(`release is already being ${doing}`);
    }
    const note = interventionNote(kind, input);
    // Before cutover, a rollback and an abort are the same thing: tear green down, leave the alias.
    if (!this.isCutOver) return { ok: true, message: `${note}; tearing green down, the alias stays on blue` };
    if (kind === 'abort') return refused(`cannot abort after cutover (stage ${this.stage}); use rollback`);
    if (this.status.isBlueTerminated || this.stage === 'terminating_blue') {
      return refused('blue is being terminated or gone; nothing to roll back to');
    }
    return { ok: true, message: `${note}; pointing the alias back to blue` };
  }

  private refuse(kind: RequestKind, by: string | null, reason: string, via: Via, now: string): Verdict {
    keepRefusal(this.status.approvals.refused, { kind, by, reason, at: now, via });
    this.status.updatedAt = now;
    return { ok: false, reason };
  }
}
