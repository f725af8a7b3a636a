import type { ReleaseStatus } from '../shared/release';

/** The Web UI's "current details": what the release is doing, waiting for, and why. Markdown. */
export function currentDetails(s: ReleaseStatus): string {
  const lines = [`**Stage:** ${s.stage.replaceAll('_', ' ')}`];
  if (s.waitingFor) lines.push(`**Waiting for:** ${s.waitingFor}`);
  if (s.blockedBy) {
    const b = s.blockedBy;
    lines.push(
      `**Blocked by circuit breaker \`${b.breaker}\`** (${b.state.replace('_', '-')}) while trying to ${b.step}; next attempt at ${b.retryAt}`,
    );
  }
  const decision = s.policyDecisions.at(-1);
  if (decision)
    lines.push(`**Policy:** ${decision.allowed ? 'allowed' : 'blocked'}: \`${decision.explanation}\``);
  if (s.tests) {
    const ran = s.tests.checks.filter((c) => !c.skipped);
    const passed = ran.filter((c) => c.passed).length;
    const skipped = s.tests.checks.length - ran.length;
    const failed = ran.filter((c) => !c.passed).map((c) => `${c.name}: ${c.detail}`);
    lines.push(
      `**Tests:** ${passed} of ${ran.length} passed${skipped ? `, ${skipped} skipped` : ''}${failed.length ? ` — ${failed.join('; ')}` : ''}`,
    );
  }
  if (s.approvals.approvedBy.length) {
    lines.push(`**Approved by:** ${s.approvals.approvedBy.map((a) => a.approver).join(', ')}`);
  }
  if (s.approvals.rejectedBy) lines.push(`**Rejected by:** ${s.approvals.rejectedBy.approver}`);
  const refused = s.approvals.refused.at(-1);
  if (refused)
    lines.push(`**Last refused request:** ${refused.kind} by ${refused.by ?? 'unknown'}: ${refused.reason}`);
  if (s.green) lines.push(`**Green:** ${s.green.version} at ${s.green.hostname}`);
  if (s.green?.plan) {
    const p = s.green.plan;
    lines.push(`**Infrastructure plan:** ${p.add} to add, ${p.change} to change, ${p.destroy} to destroy`);
  }
  lines.push(`**Live:** ${s.live ? `${s.live.version} at ${s.live.hostname}` : 'none'}`);
  if (s.reason) lines.push(`**Outcome:** ${s.reason}`);
  for (const note of s.notes.slice(-3)) lines.push(`**Note:** ${note}`);
  return lines.join('\n\n');
}
