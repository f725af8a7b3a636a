import type { EnvironmentStatus } from '../../shared/environment';
import { escapeMarkdown as md } from '../../shared/text';

/**
 * The Web UI's "current details" of an environment: its state and since when, what runs, what
 * blocks it and why, what it waits for, its TTL. Every value is escaped.
 */
export function environmentDetails(s: EnvironmentStatus): string {
  const lines = [`**State:** ${md(s.state)} since ${md(s.since)}`];
  if (s.running) lines.push(`**Running:** ${md(s.running)}`);
  if (s.blocked) {
    const why = s.blocked.explanation ? ` — ${md(s.blocked.explanation)}` : '';
    lines.push(
      `**Blocked:** ${md(s.blocked.transition)}: ${md(s.blocked.reason)}${why} (retry to run it again)`,
    );
  }
  const { pending, required, approvedBy } = s.approvals;
  if (pending)
    lines.push(`**Waiting for:** approval of ${md(pending)} (${approvedBy.length} of ${required} given)`);
  if (s.ttl)
    lines.push(`**Decommissioned at:** ${md(s.ttl.expiresAt)}${s.ttl.isExpiringSoon ? ' (soon)' : ''}`);
  if (s.ttlPostponed) lines.push(`**Postponed:** ${md(s.ttlPostponed)}`);
  if (s.lastDecision) {
    lines.push(`**Policy of ${md(s.lastDecision.transition)}:** ${md(s.lastDecision.explanation)}`);
  }
  if (s.lastDrift) {
    const found = s.lastDrift.clean ? 'no drift' : md(s.lastDrift.findings.join('; '));
    lines.push(`**Last drift check:** ${md(s.lastDrift.at)}: ${found}`);
  }
  if (s.nextDriftCheck) lines.push(`**Next drift check:** ${md(s.nextDriftCheck)}`);
  const last = s.releases.at(-1);
  if (last) {
    lines.push(
      `**Releases:** ${s.releases.length} listed; newest ${md(last.releaseId)} (${md(last.service)} ${md(last.version)})`,
    );
  }
  if (s.leakCheck) {
    lines.push(
      `**Leak check:** ${s.leakCheck.clean ? 'clean' : md(`left behind: ${s.leakCheck.leftovers.join(', ')}`)}`,
    );
  }
  lines.push(`**Flow:** ${md(s.flowName)} (template ${md(s.template)})`);
  // The UI sizes the frame a little short of its content and cuts the end: a blank last line.
  return `${lines.map((line) => `- ${line}`).join('\n')}\n\n&nbsp;`;
}
