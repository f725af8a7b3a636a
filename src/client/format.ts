import type { EnvironmentSummary } from './environments';
import type { EnvironmentStatus } from '../shared/environment';
import type { BreakerView } from '../breaker/registry';
import type { ChangeRecord, DeploymentItem } from '../providers/cmdb/types';
import type { Relationship } from '../providers/cmdb/postgres';
import type { ReleaseStatus } from '../shared/release';
import type { ReleaseSummary } from './api';

/**
 * The lines `watch` prints: every stage change once and in order, from the release's first (also
 * those before it was attached), and what the release waits for whenever that changes.
 */
export function stageChangeFollower(): (s: ReleaseStatus) => string[] {
  let printed = 0;
  let waiting: string | null = null;
  return (s) => {
    const lines = s.history
      .slice(printed)
      .map((h) => `${h.at.slice(11, 19)}  ${h.stage}${h.note ? `: ${h.note}` : ''}`);
    printed = s.history.length;
    if (s.waitingFor !== waiting) {
      waiting = s.waitingFor;
      if (waiting) lines.push(`           waiting for ${waiting}`);
    }
    return lines;
  };
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
  if (s.window) {
    lines.push(
      `window    closed (${s.window.reason}) since ${s.window.since}; goes by itself at ${s.window.goesAt}, ${s.window.moment}, unless overridden (release override)`,
    );
  }
  if (s.windowOverride) {
    const o = s.windowOverride;
    lines.push(`override  let go while closed (${o.closedReason}) by ${o.approver} at ${o.at}: ${o.reason}`);
  }
  for (const note of s.notes ?? []) lines.push(`note      ${note}`);
  lines.push(`live      ${describeLive(s)}`);
  lines.push(
    `previous  ${s.previous ? `${s.previous.version} (${s.previous.hostname})${s.isBlueTerminated ? ', terminated' : ''}` : 'none'}`,
  );
  if (s.green) lines.push(`green     ${describeGreen(s)}`);
  if (s.artifact) lines.push(`artifact  ${s.artifact.uri} (${s.artifact.digest})`);
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
  for (const a of approvedBy) {
    if (a.comment) lines.push(`          ${a.approver}: ${a.comment}`);
  }
  lines.push('history');
  for (const h of s.history) lines.push(`  ${h.at}  ${h.stage}${h.note ? `: ${h.note}` : ''}`);
  return lines.join('\n');
}

/** The live deployment, or why there is none to show. */
function describeLive(s: ReleaseStatus): string {
  if (s.live) return `${s.live.version} at ${s.live.endpoint} (${s.live.hostname})`;
  // Until the alias has been read, what is live is not known (a release can be held there).
  const isResolved =
    s.previous !== null || s.history.some((h) => h.stage !== 'queued' && h.stage !== 'scheduled');
  return isResolved ? 'none' : 'not known yet (the alias has not been read)';
}

/** Green, and whether it still runs: after a rollback or a clean-up it has been torn down. */
function describeGreen(s: ReleaseStatus): string {
  const green = s.green!;
  return s.isGreenTornDown
    ? `${green.version} (${green.hostname}), torn down`
    : `${green.version} at ${green.endpoint} (${green.hostname})`;
}

export function formatCmdb(
  service: string,
  view: { deployments: DeploymentItem[]; relationships: Relationship[]; changes: ChangeRecord[] },
): string {
  const lines = [`deployments of ${service}`];
  if (view.deployments.length === 0) lines.push('  (none)');
  for (const d of view.deployments) {
    lines.push(
      `  ${d.target.padEnd(8)} ${d.version.padEnd(12)} ${d.status.padEnd(10)} ${d.colour.padEnd(5)} ${d.hostname}  (${d.releaseId}, ${d.updatedAt})${d.artifactDigest ? `  ${d.artifactDigest}` : ''}`,
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
      return `${b.name.padEnd(24)} ${b.state.padEnd(12)} since ${b.since}${wait}  (${count(b.calls, 'call')}, ${b.failures} failed, ${b.slow} slow, ${b.inFlight} in flight)`;
    })
    .join('\n');
}

/** `1 call`, `2 calls`. */
function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

export function formatEnvironments(rows: EnvironmentSummary[]): string {
  if (rows.length === 0) return '(no environments)';
  const header = ['ENVIRONMENT', 'STATE', 'WORKFLOW', 'STARTED'];
  const table = rows.map((r) => [r.name, r.state ?? '', r.status, r.startedAt]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
  return [header, ...table]
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** An environment's status for people: state and since when, what blocks it, what it waits for. */
export function formatEnvironment(s: EnvironmentStatus): string {
  const lines = [
    `environment ${s.name}  (${s.template}, flow ${s.flowName}, created by ${s.createdBy} at ${s.createdAt})`,
    `state       ${s.state} since ${s.since}${s.running ? `, running ${s.running}` : ''}`,
  ];
  if (s.blocked) {
    lines.push(
      `blocked     ${s.blocked.transition}: ${s.blocked.reason}${s.blocked.explanation ? ` — ${s.blocked.explanation}` : ''} (env retry)`,
    );
  }
  const { pending, required, approvedBy } = s.approvals;
  if (pending) lines.push(`waiting     approval of ${pending}: ${approvedBy.length} of ${required} given`);
  if (s.ttl)
    lines.push(`ttl         decommissioned at ${s.ttl.expiresAt}${s.ttl.isExpiringSoon ? ' (soon)' : ''}`);
  if (s.ttlPostponed) lines.push(`            postponed: ${s.ttlPostponed}`);
  if (s.lastDrift) {
    lines.push(`drift       ${s.lastDrift.at}: ${s.lastDrift.clean ? 'none' : 'found'}`);
    for (const finding of s.lastDrift.findings) lines.push(`  ${finding}`);
  }
  if (s.nextDriftCheck) lines.push(`next drift  check at ${s.nextDriftCheck}`);
  if (s.leakCheck) {
    lines.push(`leak check  ${s.leakCheck.clean ? 'clean' : 'left behind:'}`);
    for (const leftover of s.leakCheck.leftovers) lines.push(`  ${leftover}`);
  }
  if (s.releases.length) lines.push(`releases    the newest ${s.releases.length} (the CMDB keeps them all)`);
  for (const r of s.releases) lines.push(`  ${r.at}  ${r.releaseId}: ${r.service} ${r.version}`);
  if (s.history.length) lines.push('history');
  for (const h of s.history) {
    lines.push(
      `  ${h.at}  ${h.transition}: ${h.from} → ${h.to}${h.by ? ` by ${h.by}` : ''}${h.note ? ` (${h.note})` : ''}`,
    );
  }
  return lines.join('\n');
}
