// `greenlight stats`: the delivery metrics (DORA) and the pipeline's success rate and median duration,
// computed from the CMDB: the arithmetic on known timelines, then from real releases' records.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { formatStats, sinceArgument } from '../src/client/commands/stats';
import { statsReport } from '../src/client/stats';
import type { StatsReport } from '../src/client/stats';
import type { ReleaseTimeline } from '../src/providers/cmdb/types';
import type { Harness } from '../harness/release';
import { releaseRequest, startHarness } from '../harness/release';
import { cliEnvironment, runCli } from './helpers/cli';
import { waitForStage } from './helpers/wait';

const T0 = Date.parse('2026-11-01T00:00:00Z');
const at = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString();

/** A release on `target` that started at minute `start`, went live at `live`, ended at `end` with `outcome`. */
function release(
  target: string,
  start: number,
  live: number | null,
  end: number | null,
  outcome: string | null,
): ReleaseTimeline {
  return {
    releaseId: `${target}-${start}`,
    target,
    service: 'web',
    startedAt: at(start),
    liveAt: live === null ? null : at(live),
    endedAt: end === null ? null : at(end),
    outcome,
  };
}

describe('delivery stats from release timelines', () => {
  const timelines = [
    release('prod', 0, 10, 20, 'completed'),
    release('prod', 100, 104, 130, 'rolled_back'), // live 4 min, restored 26 min later
    release('prod', 200, 230, 240, 'completed'),
    release('prod', 300, null, 305, 'failed'), // tests failed: never live
    release('prod', 400, null, 460, 'rejected'),
    release('prod', 500, 502, null, null), // running, live
    release('stage', 0, 2, 5, 'completed'),
  ];
  const report = statsReport(timelines, new Date(T0), new Date(T0 + 2 * 86_400_000));
  const prod = report.targets.find((t) => t.target === 'prod')!;

  it('counts deployments per day, lead time, change failures and time to restore', () => {
    assert.equal(prod.releases, 6);
    assert.equal(prod.running, 1);
    assert.equal(prod.deployments, 4);
    assert.equal(prod.deploymentsPerDay, 2);
    // Lead times 10, 4, 30, 2 minutes: nearest-rank median 4, p90 30.
    assert.deepEqual(prod.leadTimeSeconds, { count: 4, median: 240, p90: 1800 });
    assert.equal(prod.changeFailureRate, 0.25);
    assert.equal(prod.failedDeployments, 1);
    assert.deepEqual(prod.timeToRestoreSeconds, { count: 1, median: 1560, p90: 1560 });
  });

  it('gives the success rate and median duration of ended releases, and an `all` row', () => {
    assert.equal(prod.ended, 5);
    assert.equal(prod.completed, 2);
    assert.equal(prod.successRate, 0.4);
    // Durations 20, 30, 40, 5, 60 minutes: median 30.
    assert.equal(prod.durationSeconds.median, 1800);
    assert.deepEqual(prod.outcomes, { completed: 2, rolled_back: 1, failed: 1, rejected: 1 });
    assert.deepEqual(
      report.targets.map((t) => t.target),
      ['prod', 'stage', 'all'],
    );
    const all = report.targets.at(-1)!;
    assert.equal(all.deployments, 5);
    assert.equal(all.changeFailureRate, 0.2);
  });

  it('prints a row per target, and says when there is nothing', () => {
    const text = formatStats(report);
    const lines = text.split('\n');
    assert.equal(lines[0], 'since 2026-11-01 00:00 UTC (2 days)');
    assert.match(
      lines[2]!,
      /^target\s+releases\s+deploys\s+per day\s+lead time \(median \/ p90\)\s+change failure/,
    );
    assert.match(
      lines[3]!,
      /^prod\s+6 \(1 running\)\s+4\s+2\.00\s+4m \/ 30m\s+25% \(1 of 4\)\s+26m\s+40% \(2 of 5\)\s+30m$/,
    );
    const empty: StatsReport = { since: report.since, until: report.until, targets: [] };
    assert.equal(
      formatStats(empty, 'prod'),
      'since 2026-11-01 00:00 UTC (2 days): no releases on prod in the CMDB',
    );
  });

  it('reads --since as a duration back or a date, and refuses anything else', () => {
    const now = new Date('2026-12-01T12:00:00Z');
    assert.equal(sinceArgument('30d', now).toISOString(), '2026-11-01T12:00:00.000Z');
    assert.equal(sinceArgument('2026-11-15', now).toISOString(), '2026-11-15T00:00:00.000Z');
    assert.equal(sinceArgument('2026-11-15T08:00:00+01:00', now).toISOString(), '2026-11-15T07:00:00.000Z');
    assert.throws(
      () => sinceArgument('last week', now),
      /"last week" is neither a duration \(30d, 12h\) nor a date/,
    );
    assert.throws(() => sinceArgument('2027-01-01', now), /is in the future/);
    assert.throws(() => sinceArgument('2026-13-45', now), /neither a duration/);
    assert.throws(() => sinceArgument('4000d', now), /at most ten years back/);
  });
});

describe('greenlight stats on real releases', () => {
  let h: Harness;

  before(async () => {
    h = await startHarness();
  });

  after(async () => {
    await h?.stop();
  });

  it('computes the metrics from what the releases recorded in the CMDB', async () => {
    const completed = await h.api.startRelease(releaseRequest('web', 'v1', 'dev'));
    const failed = await h.api.startRelease(releaseRequest('broken', 'v1', 'dev'));
    await h.api.wait((await h.api.startRelease(releaseRequest('api', 'v1', 'uat'))).releaseId);
    const rolledBack = await h.api.startRelease(releaseRequest('api', 'v2', 'uat'));
    await waitForStage(h.api, rolledBack.releaseId, 'awaiting_termination');
    await h.api.rollback(rolledBack.releaseId, { by: 'bob' });
    for (const r of [completed, failed, rolledBack]) await h.api.wait(r.releaseId);
    // The CMDB's records are written as the release goes (the last one as it ends).
    const env = await cliEnvironment(h);
    let report: StatsReport | undefined;
    for (let i = 0; i < 50; i++) {
      const run = await runCli(['stats', '--json', '--since', '1h'], env);
      assert.equal(run.code, 0, run.stderr);
      report = JSON.parse(run.stdout) as StatsReport;
      if (report.targets.every((t) => t.running === 0)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const dev = report!.targets.find((t) => t.target === 'dev')!;
    const uat = report!.targets.find((t) => t.target === 'uat')!;
    assert.deepEqual(
      { releases: dev.releases, deployments: dev.deployments, successRate: dev.successRate },
      { releases: 2, deployments: 1, successRate: 0.5 },
    );
    assert.deepEqual(dev.outcomes, { completed: 1, failed: 1 });
    assert.equal(uat.deployments, 2);
    assert.equal(uat.changeFailureRate, 0.5);
    assert.equal(uat.timeToRestoreSeconds.count, 1);
    assert.ok(uat.leadTimeSeconds.median! > 0 && uat.leadTimeSeconds.median! < 60);
    const text = await runCli(['stats', '--target', 'uat'], env);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^uat\s+2\s+2\s+/m);
    const bad = await runCli(['stats', '--since', 'yesterday'], env);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /"yesterday" is neither a duration/);
  });
});
