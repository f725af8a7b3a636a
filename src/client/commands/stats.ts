import { InvalidArgumentError } from 'commander';
import { openCmdbForReading } from '../../providers/cmdb/open';
import { Duration, humanDuration } from '../../shared/durations';
import { TargetName } from '../../shared/release';
import { statsReport } from '../stats';
import type { DeliveryStats, Spread, StatsReport } from '../stats';
import { validateName } from './arguments';
import type { CommandGroup } from './context';

/** How far back `--since` may reach: ten years. */
const MAX_SINCE_MS = 3_650 * 86_400_000;

/** `--since`: a duration back from now (30d, 12h) or an ISO 8601 date or time. */
export function sinceArgument(value: string, now = new Date()): Date {
  const duration = Duration.safeParse(value);
  let since: Date | undefined;
  if (duration.success) since = new Date(now.getTime() - duration.data);
  else if (/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(value)) since = new Date(value);
  if (!since || Number.isNaN(since.getTime())) {
    throw new InvalidArgumentError(
      `${JSON.stringify(value.slice(0, 40))} is neither a duration (30d, 12h) nor a date (2026-11-01)`,
    );
  }
  if (since.getTime() > now.getTime())
    throw new InvalidArgumentError(`${since.toISOString()} is in the future`);
  if (now.getTime() - since.getTime() > MAX_SINCE_MS)
    throw new InvalidArgumentError('at most ten years back');
  return since;
}

/** `greenlight stats`: delivery metrics (DORA) and the pipeline's success rate and median duration, from the CMDB. */
export const statsCommands: CommandGroup = (program, cli) => {
  program
    .command('stats')
    .description(
      'deployment frequency, lead time, change failure rate, time to restore, success rate and median duration per target, from the CMDB',
    )
    .option('--target <env>', 'one target')
    .option('--since <when>', 'a duration back from now (30d, 12h) or a date (2026-11-01)', sinceArgument)
    .option('--json', 'print JSON', false)
    .action(async (o: { target?: string; since?: Date; json: boolean }) => {
      if (o.target !== undefined) validateName(TargetName, o.target, 'target');
      const now = new Date();
      const since = o.since ?? new Date(now.getTime() - 30 * 86_400_000);
      const s = cli.settings();
      const db = await openCmdbForReading(s.stateDir, s.cmdbUrl);
      try {
        const report = statsReport(await db.cmdb.releaseTimelines(since.toISOString(), o.target), since, now);
        cli.print(o.json, report, formatStats(report, o.target));
      } finally {
        await db.close();
      }
    });
};

const percent = (rate: number | null, of: string) =>
  rate === null ? '-' : `${Math.round(rate * 100)}% (${of})`;
const time = (s: Spread, withP90 = false) =>
  s.median === null
    ? '-'
    : withP90
      ? `${humanDuration(s.median * 1000)} / ${humanDuration(s.p90! * 1000)}`
      : humanDuration(s.median * 1000);

/** The report as a table: a row per target. */
export function formatStats(report: StatsReport, target?: string): string {
  const days = (Date.parse(report.until) - Date.parse(report.since)) / 86_400_000;
  const head = `since ${report.since.slice(0, 16).replace('T', ' ')} UTC (${days >= 1 ? `${Math.round(days)} days` : humanDuration(days * 86_400_000)})`;
  if (report.targets.length === 0) {
    return `${head}: no releases${target ? ` on ${target}` : ''} in the CMDB`;
  }
  const rows = [
    [
      'target',
      'releases',
      'deploys',
      'per day',
      'lead time (median / p90)',
      'change failure',
      'time to restore',
      'success',
      'median duration',
    ],
    ...report.targets.map((t: DeliveryStats) => [
      t.target,
      `${t.releases}${t.running ? ` (${t.running} running)` : ''}`,
      String(t.deployments),
      t.deploymentsPerDay.toFixed(2),
      time(t.leadTimeSeconds, true),
      percent(t.changeFailureRate, `${t.failedDeployments} of ${t.deployments}`),
      time(t.timeToRestoreSeconds),
      percent(t.successRate, `${t.completed} of ${t.ended}`),
      time(t.durationSeconds),
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const table = rows.map((r) =>
    r
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd(),
  );
  return [head, '', ...table].join('\n');
}
