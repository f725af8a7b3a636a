import type { ReleaseStatus } from '../../shared/release';
import { escapeMarkdown as md } from '../../shared/text';

/**
 * The Web UI's "current details": what the release is doing, waiting for, and why. A compact
 * Markdown list, most important first (`release status` has everything). Every value is escaped, so names, comments and
 * reasons people send show as typed and never as links or formatting.
 */
export function currentDetails(s: ReleaseStatus): string {
  const lines = [`**Stage:** ${md(s.stage.replaceAll('_', ' '))}`];
  if (s.reason) lines.push(`**Outcome:** ${md(s.reason)}`);
  if (s.waitingFor) lines.push(`**Waiting for:** ${md(s.waitingFor)}`);
  if (s.blockedBy) {
    const b = s.blockedBy;
    lines.push(
      `**Blocked by circuit breaker ${md(b.breaker)}** (${md(b.state.replace('_', '-'))}) while trying to ${md(b.step)}; Temporal retries when the breaker allows a trial (first at ${md(b.retryAt)})`,
    );
  }
  if (s.windowOverride) {
    const o = s.windowOverride;
    lines.push(`**Let go while closed** (${md(o.closedReason)}) by ${md(o.approver)}: ${md(o.reason)}`);
  }
  lines.push(`**Live:** ${s.live ? md(`${s.live.version} at ${s.live.hostname}`) : 'none'}`);
  if (s.green) {
    lines.push(
      `**Green:** ${md(`${s.green.version} at ${s.green.hostname}`)}${s.isGreenTornDown ? ', torn down' : ''}`,
    );
  }
  if (s.artifact) lines.push(`**Artifact:** ${md(`${s.artifact.uri} (${s.artifact.digest})`)}`);
  const decision = s.policyDecisions.at(-1);
  if (decision)
    lines.push(`**Policy:** ${decision.allowed ? 'allowed' : 'blocked'}: ${md(decision.explanation)}`);
  if (s.tests) {
    const ran = s.tests.checks.filter((c) => !c.skipped);
    const passed = ran.filter((c) => c.passed).length;
    const skipped = s.tests.checks.length - ran.length;
    const failed = ran.filter((c) => !c.passed).map((c) => `${c.name}: ${c.detail}`);
    lines.push(
      `**Tests:** ${passed} of ${ran.length} passed${skipped ? `, ${skipped} skipped` : ''}${failed.length ? ` — ${md(failed.join('; '))}` : ''}`,
    );
  }
  if (s.approvals.approvedBy.length) {
    lines.push(`**Approved by:** ${md(s.approvals.approvedBy.map((a) => a.approver).join(', '))}`);
  }
  if (s.approvals.rejectedBy) lines.push(`**Rejected by:** ${md(s.approvals.rejectedBy.approver)}`);
  const refused = s.approvals.refused.at(-1);
  if (refused) {
    lines.push(
      `**Last refused signal:** ${refused.kind} by ${md(refused.by ?? 'unknown')}: ${md(refused.reason)}`,
    );
  }
  if (s.green?.plan) {
    const p = s.green.plan;
    lines.push(`**Infrastructure plan:** ${p.add} to add, ${p.change} to change, ${p.destroy} to destroy`);
  }
  for (const note of s.notes.slice(-3)) lines.push(`**Note:** ${md(note)}`);
  // The UI sizes the frame a little short of its content and cuts the end: a blank last line.
  return `${lines.map((line) => `- ${line}`).join('\n')}\n\n&nbsp;`;
}
