import type { EnvironmentStart, EnvironmentStatus, TransitionRequest } from '../../shared/environment';
import {
  AdmitRequest,
  ExtendRequest,
  isOpenForReleases,
  RetryRequest,
  TransitionRequest as TransitionRequestSchema,
  UpgradeRequest,
  whyNotActive,
} from '../../shared/environment';
import { DECOMMISSION, fromStates, transitionFrom } from '../../shared/flow';
import { ApprovalInput, APPROVAL_FIELDS, INTERVENTION_FIELDS } from '../../shared/release';
import { describeIssues } from '../../shared/text';
import { approverProblem } from '../../shared/approval';
import type { FlowTransition } from '../../shared/flow';

export type Verdict = { ok: true; message: string } | { ok: false; reason: string };
export type EnvironmentRequestKind =
  'transition' | 'approve' | 'reject' | 'retry' | 'extend' | 'upgrade' | 'admit' | 'checkDrift';

/** The state in which an environment looks for drift. */
export const WATCHED_STATE = 'active';

export const refused = (reason: string): Verdict => ({ ok: false, reason });

/** What the rules read of an environment (`EnvironmentState` is one). */
export interface Judged {
  readonly status: EnvironmentStatus;
  readonly start: EnvironmentStart;
  readonly state: string;
  readonly isFinal: boolean;
  readonly isApproved: boolean;
  readonly isRejected: boolean;
  readonly requested: (TransitionRequest & { transition: FlowTransition }) | null;
  readonly isRetryRequested: boolean;
  readonly isDriftAsked: boolean;
  readonly expiresAt: number | null;
}

/**
 * The rules of the requests people send an environment (and the admissions releases ask for):
 * each judged against its state without changing anything. The Update validators, the Signal
 * handlers and `EnvironmentState.apply` all judge through this one function.
 */
export function judgeRequest(env: Judged, kind: EnvironmentRequestKind, raw: unknown): Verdict {
  switch (kind) {
    case 'transition': {
      const parsed = TransitionRequestSchema.safeParse(raw);
      if (!parsed.success)
        return refused(
          `invalid transition: ${describeIssues(parsed.error.issues, { fields: ['on', 'by', 'reason', 'force'] })}`,
        );
      return judgeTransition(env, parsed.data);
    }
    case 'approve':
    case 'reject': {
      const parsed = ApprovalInput.safeParse(raw);
      if (!parsed.success)
        return refused(
          `invalid ${kind}: ${describeIssues(parsed.error.issues, { fields: APPROVAL_FIELDS })}`,
        );
      return judgeDecision(env, kind, parsed.data.approver);
    }
    case 'retry': {
      const parsed = RetryRequest.safeParse(raw ?? {});
      if (!parsed.success)
        return refused(`invalid retry: ${describeIssues(parsed.error.issues, { fields: ['by'] })}`);
      if (!env.status.blocked) return refused(`${env.status.name} is not blocked; nothing to retry`);
      if (env.isRetryRequested) return refused('a retry has already been asked for');
      return { ok: true, message: `retrying ${env.status.blocked.transition}` };
    }
    case 'upgrade': {
      const parsed = UpgradeRequest.safeParse(raw ?? {});
      if (!parsed.success)
        return refused(`invalid upgrade: ${describeIssues(parsed.error.issues, { fields: ['by'] })}`);
      if (env.isFinal) return refused(`${env.status.name} has been ${env.state}`);
      if (env.status.running || env.requested)
        return refused(
          `${env.status.name} is busy with ${env.status.running ?? env.requested!.on}; ask again once it is done`,
        );
      return { ok: true, message: `adopting the current definition of ${env.status.name}'s flow` };
    }
    case 'checkDrift': {
      const parsed = UpgradeRequest.safeParse(raw ?? {});
      if (!parsed.success)
        return refused(`invalid drift check: ${describeIssues(parsed.error.issues, { fields: ['by'] })}`);
      if (env.state !== WATCHED_STATE || env.status.running || env.requested)
        return refused(
          `${env.status.name} is ${env.state}${env.status.running ? ` running ${env.status.running}` : ''}; drift is checked while it is ${WATCHED_STATE} and idle`,
        );
      if (env.isDriftAsked) return refused(`a drift check of ${env.status.name} is already on its way`);
      return { ok: true, message: `checking ${env.status.name} for drift` };
    }
    case 'admit': {
      const parsed = AdmitRequest.safeParse(raw);
      if (!parsed.success)
        return refused(
          `invalid release: ${describeIssues(parsed.error.issues, { fields: ['releaseId', 'service', 'version'] })}`,
        );
      if (!isOpenForReleases(env.status) || env.requested?.on === DECOMMISSION)
        return refused(whyNotActive(env.status));
      return { ok: true, message: `${parsed.data.releaseId} may start in ${env.status.name}` };
    }
    case 'extend': {
      const parsed = ExtendRequest.safeParse(raw);
      if (!parsed.success)
        return refused(
          `invalid extend: ${describeIssues(parsed.error.issues, { fields: INTERVENTION_FIELDS })}`,
        );
      if (env.isFinal) return refused(`${env.status.name} has been ${env.state}`);
      if (env.expiresAt === null) return refused(`${env.status.name} has no TTL to extend`);
      return {
        ok: true,
        message: `${env.status.name} now expires ${Math.round(parsed.data.ttlMs / 3_600_000)} h from now`,
      };
    }
  }
}

function judgeTransition(env: Judged, request: TransitionRequest): Verdict {
  const { name } = env.status;
  if (env.isFinal) return refused(`${name} has been ${env.state}`);
  if (env.requested) return refused(`${name} is already asked to ${env.requested.on}`);
  const t = transitionFrom(env.start.flow, env.state, request.on);
  if (!t) {
    const offered = env.start.flow.transitions
      .filter((x) => fromStates(env.start.flow, x).includes(env.state) && !x.auto)
      .map((x) => x.on);
    return refused(
      `${name} is ${env.state}: no ${request.on} from here${offered.length ? `; from here: ${offered.join(', ')}` : ''}`,
    );
  }
  if (env.status.running && request.on !== DECOMMISSION)
    return refused(`${name} is running ${env.status.running}; ask again once it is done`);
  return { ok: true, message: `${request.on}${request.force ? ' (forced)' : ''} asked of ${name}` };
}

function judgeDecision(env: Judged, kind: 'approve' | 'reject', approver: string): Verdict {
  const { pending } = env.status.approvals;
  if (!pending) return refused(`${env.status.name} is not waiting for approval`);
  if (env.isApproved || env.isRejected)
    return refused(`${pending} has already been ${env.isRejected ? 'rejected' : 'approved'}`);
  const problem = approverProblem(kind, approver, {
    rule: env.start.approval,
    initiator: env.requested?.by ?? null,
    approvedBy: env.status.approvals.approvedBy,
    subject: `on ${env.status.name}`,
    initiatorRefusal: `asked for ${pending} and may not approve it`,
  });
  if (problem) return refused(problem);
  if (kind === 'reject') return { ok: true, message: `${pending} rejected by ${approver}` };
  return { ok: true, message: `${pending} approved by ${approver}` };
}
