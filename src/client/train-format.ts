import type { TrainStatus } from '../shared/train';
import type { TrainSummary } from './trains';

/** A train's status for people: its stage, order, each service's release, checks, policy, approvals, history. */
export function formatTrain(s: TrainStatus): string {
  const lines = [
    `train     ${s.trainId} → ${s.target}`,
    `stage     ${s.stage}${s.reason ? `: ${s.reason}` : ''}`,
  ];
  if (s.waitingFor) lines.push(`waiting   for ${s.waitingFor}`);
  lines.push(`order     ${s.order.map((step) => step.join(' + ')).join(' → ')}`);
  if (s.from) lines.push(`replays   ${s.from}`);
  lines.push('services');
  for (const m of s.services) {
    const green = m.green ? ` ${m.green.hostname}` : '';
    const digest = m.artifact ? ` ${m.artifact.digest.slice(0, 19)}…` : '';
    lines.push(
      `  ${m.service.padEnd(12)} ${m.version.padEnd(12)} ${m.stage.padEnd(20)} ${m.releaseId}${green}${digest}`,
    );
    if (m.reason && m.stage !== 'completed') lines.push(`  ${''.padEnd(12)} ${m.reason}`);
  }
  if (s.crossChecks) {
    lines.push(`checks    ${s.crossChecks.passed ? 'passed' : 'FAILED'}`);
    for (const c of s.crossChecks.checks)
      lines.push(`          ${c.skipped ? '-' : c.passed ? '✓' : '✗'} ${c.name}: ${c.detail}`);
  }
  for (const d of s.policyDecisions)
    lines.push(`policy    ${d.allowed ? 'allowed' : 'blocked'}: ${d.explanation}`);
  const { required, approvedBy, rejectedBy } = s.approvals;
  if (required)
    lines.push(
      `approvals ${approvedBy.length} of ${required}${approvedBy.length ? `: ${approvedBy.map((a) => a.approver).join(', ')}` : ''}`,
    );
  if (rejectedBy)
    lines.push(`rejected  by ${rejectedBy.approver}${rejectedBy.comment ? `: ${rejectedBy.comment}` : ''}`);
  if (s.finalAction)
    lines.push(
      `final     ${s.finalAction.name}: ${s.finalAction.passed ? 'done' : 'FAILED'} (${s.finalAction.detail})`,
    );
  lines.push('history');
  for (const h of s.history) lines.push(`  ${h.at}  ${h.stage}${h.note ? `: ${h.note}` : ''}`);
  return lines.join('\n');
}

export function formatTrains(rows: TrainSummary[]): string {
  if (rows.length === 0) return '(no trains)';
  return rows
    .map(
      (r) =>
        `${r.trainId.padEnd(36)} ${(r.target ?? '?').padEnd(10)} ${(r.stage ?? '?').padEnd(20)} ${r.status.padEnd(10)} ${r.startedAt}`,
    )
    .join('\n');
}
