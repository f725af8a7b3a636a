import type { ApprovalRule } from './target';
import { sameName } from './text';

/** Who may decide, by a target's approval rule: what a decision is judged against. */
export interface ApprovalContext {
  rule: ApprovalRule;
  /** Who started what is being decided; may approve only when the rule allows it. */
  initiator: string | null;
  /** The approvals already given. */
  approvedBy: readonly { approver: string }[];
  /** What the decision is about, in refusals: `releases to prod`, `train-prod-1`. */
  subject: string;
  /** What refuses the initiator's approval, after their name: `started this release and may not approve it`. */
  initiatorRefusal: string;
}

/**
 * Why `approver` may not give this decision by the rule (allowed approvers, the initiator, distinct
 * people), or null when they may. The same rule for releases, trains and environments.
 */
export function approverProblem(
  kind: 'approve' | 'reject',
  approver: string,
  { rule, initiator, approvedBy, subject, initiatorRefusal }: ApprovalContext,
): string | null {
  if (rule.approvers && !rule.approvers.some((a) => sameName(a, approver))) {
    return `${approver} may not ${kind} ${subject}; allowed: ${rule.approvers.join(', ')}`;
  }
  if (kind === 'reject') return null;
  if (!rule.initiatorMayApprove && initiator && sameName(approver, initiator)) {
    return `${approver} ${initiatorRefusal}`;
  }
  if (approvedBy.some((a) => sameName(a.approver, approver))) {
    return `${approver} has already approved; approvals must come from distinct people`;
  }
  return null;
}
