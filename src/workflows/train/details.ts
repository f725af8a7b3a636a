import type { TrainStatus } from '../../shared/train';
import { escapeMarkdown as md } from '../../shared/text';

/**
 * The Web UI's "current details" of a train: its stage, what it waits for, each service's release
 * and stage, the cross-service checks, the policy and the approvals. Every value is escaped.
 */
export function trainDetails(s: TrainStatus): string {
  const lines = [`**Stage:** ${md(s.stage.replaceAll('_', ' '))}`];
  if (s.reason) lines.push(`**Outcome:** ${md(s.reason)}`);
  if (s.waitingFor) lines.push(`**Waiting for:** ${md(s.waitingFor)}`);
  lines.push(`**Order:** ${md(s.order.map((step) => step.join(' + ')).join(' → '))}`);
  for (const m of s.services) {
    const green = m.green ? ` at ${m.green.hostname}` : '';
    lines.push(
      `**${md(m.service)} ${md(m.version)}:** ${md(m.stage.replaceAll('_', ' '))}${md(green)} (${md(m.releaseId)})`,
    );
  }
  if (s.crossChecks) {
    const failed = s.crossChecks.checks.filter((c) => !c.passed).map((c) => `${c.name}: ${c.detail}`);
    lines.push(
      `**Cross-service checks:** ${s.crossChecks.passed ? 'passed' : `failed — ${md(failed.join('; '))}`}`,
    );
  }
  const decision = s.policyDecisions.at(-1);
  if (decision)
    lines.push(`**Policy:** ${decision.allowed ? 'allowed' : 'blocked'}: ${md(decision.explanation)}`);
  if (s.approvals.approvedBy.length)
    lines.push(`**Approved by:** ${md(s.approvals.approvedBy.map((a) => a.approver).join(', '))}`);
  if (s.approvals.rejectedBy) lines.push(`**Rejected by:** ${md(s.approvals.rejectedBy.approver)}`);
  if (s.finalAction) {
    lines.push(
      `**Final action ${md(s.finalAction.name)}:** ${s.finalAction.passed ? 'done' : 'FAILED'}: ${md(s.finalAction.detail)}`,
    );
  }
  return `${lines.map((line) => `- ${line}`).join('\n')}\n\n&nbsp;`;
}
