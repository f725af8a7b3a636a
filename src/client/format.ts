import type { BreakerView } from '../breaker/registry';
import type { ChangeRecord, DeploymentItem } from '../providers/cmdb/types';
import type { Relationship } from '../providers/cmdb/postgres';
import type { ReleaseStatus } from '../shared/release';
import type { ReleaseSummary } from './api';

/** One line for `watch`: the newest stage change and what the release waits for. */
export function formatStageChange(s: ReleaseStatus): string {
  const last = s.history.at(-1);
  const time = last ? last.at.slice(11, 19) : '';
  const note = last?.note ? `: ${last.note}` : '';
  const waiting = s.waitingFor ? `\n           waiting for ${s.waitingFor}` : '';
  return `${time}  ${s.stage}${note}${waiting}`;
}

/** The human-readable `release status`. */
export function formatStatus(s: ReleaseStatus): string {
  const lines = [
    `release   ${s.releaseId}`,
    `service   ${s.service} ${s.version} → ${s.target}   (started by ${s.initiator}${s.skipSlowScans ? ', slow scans skipped' : ''})`,
    `stage     ${s.stage}${s.reason ? ` — ${s.reason}` : ''}`,
  ];
  if (s.waitingFor) lines.push(`waiting   ${s.waitingFor}`);
  if (s.blockedBy) {
    const b = s.blockedBy;
    lines.push(
      `blocked   by circuit breaker ${b.breaker} (${b.state.replace('_', ' ')}) while trying to ${b.step}; next attempt at ${b.retryAt}`,
    );
  }
  for (const note of s.notes ?? []) lines.push(`note      ${note}`);
  lines.push(`live      ${s.live ? `${s.live.version} at ${s.live.endpoint} (${s.live.hostname})` : 'none'}`);
  lines.push(
    `previous  ${s.previous ? `${s.previous.version} (${s.previous.hostname})${s.isBlueTerminated ? ', terminated' : ''}` : 'none'}`,
  );
  if (s.green) lines.push(`green     ${s.green.version} at ${s.green.endpoint} (${s.green.hostname})`);
  if (s.green?.plan) {
    lines.push(
      `plan      ${s.green.plan.add} to add, ${s.green.plan.change} to change, ${s.green.plan.destroy} to destroy`,
    );
  }
  if (s.tests) {
    lines.push(`tests     ${s.tests.passed ? 'passed' : 'FAILED'}`);
    for (const c of s.tests.checks) {
      lines.push(`          ${c.skipped ? '-' : c.passed ? '✓' : '✗'} ${c.name}: ${c.detail}`);
    }
  }
  const { required, approvedBy, rejectedBy, refused } = s.approvals;
  if (required || approvedBy.length || rejectedBy || refused.length) {
    lines.push(
      `approvals ${approvedBy.length}/${required}${approvedBy.length ? `: ${approvedBy.map((a) => a.approver).join(', ')}` : ''}`,
    );
    if (rejectedBy)
      lines.push(
        `          rejected by ${rejectedBy.approver}${rejectedBy.comment ? `: ${rejectedBy.comment}` : ''}`,
      );
    for (const r of refused) lines.push(`          refused ${r.kind} by ${r.by ?? 'unknown'}: ${r.reason}`);
  }
  for (const d of s.policyDecisions) {
    lines.push(`policy    ${d.allowed ? 'allowed' : 'blocked'} ${d.explanation}   (${d.at})`);
  }
  lines.push('history');
  for (const h of s.history) lines.push(`  ${h.at}  ${h.stage}${h.note ? `: ${h.note}` : ''}`);
  return lines.join('\n');
}

export function formatCmdb(
  service: string,
  view: { deployments: DeploymentItem[]; relationships: Relationship[]; changes: ChangeRecord[] },
): string {
  const lines = [`deployments of ${service}`];
  if (view.deployments.length === 0) lines.push('  (none)');
  for (const d of view.deployments) {
    lines.push(
      `  ${d.target.padEnd(8)} ${d.version.padEnd(12)} ${d.status.padEnd(10)} ${d.colour.padEnd(5)} ${d.hostname}  (${d.releaseId}, ${d.updatedAt})`,
    );
  }
  if (view.relationships.length) {
    lines.push('relationships');
    for (const r of view.relationships) lines.push(`  ${r.fromId} ${r.relation} ${r.toId}`);
  }
  lines.push('recent changes');
  if (view.changes.length === 0) lines.push('  (none)');
  for (const c of view.changes) {
    lines.push(
      `  ${c.at}  ${c.target.padEnd(8)} ${c.version.padEnd(12)} ${c.stage.padEnd(20)} ${c.releaseId}${c.note ? `  ${c.note}` : ''}`,
    );
  }
  return lines.join('\n');
}

export function formatList(rows: ReleaseSummary[]): string {
  if (rows.length === 0) return '(no releases)';
  const header = ['RELEASE', 'SERVICE', 'TARGET', 'VERSION', 'STAGE', 'STARTED'];
  const table = rows.map((r) => [
    r.releaseId,
    r.service ?? '',
    r.target ?? '',
    r.version ?? '',
    r.stage ?? r.status,
    r.startedAt,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
  return [header, ...table]
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function formatBreakers(list: BreakerView[]): string {
  if (list.length === 0) return '(no breaker has been used yet)';
  return list
    .map((b) => {
      const wait = b.retryAfterMs > 0 ? `, next trial in ${Math.ceil(b.retryAfterMs / 1000)}s` : '';
      return `${b.name.padEnd(24)} ${b.state.padEnd(12)} since ${b.since}${wait}  (${b.calls} calls, ${b.failures} failed, ${b.slow} slow, ${b.inFlight} in flight)`;
    })
    .join('\n');
}
