import type { ReleaseTimeline } from '../providers/cmdb/types';

const DAY_MS = 86_400_000;

/** A distribution of durations, in seconds; null without samples. */
export interface Spread {
  count: number;
  median: number | null;
  p90: number | null;
}

/**
 * The four delivery metrics teams track (DORA) and a pipeline's service level indicators, for one
 * target or all, over a period. Definitions:
 * - a deployment is a release whose alias moved to its version (it went live);
 * - deployment frequency: deployments per day over the period;
 * - lead time: from a release's first step (its lane taken) to live;
 * - change failure rate: deployments later rolled back (or failed after going live), of deployments;
 * - time to restore: from such a deployment going live to its rollback's end;
 * - success rate: releases completed, of releases ended (aborted, rejected and expired included);
 * - duration: from a release's start to its end, for releases ended.
 */
export interface DeliveryStats {
  target: string;
  /** Releases started in the period, still running included. */
  releases: number;
  running: number;
  deployments: number;
  deploymentsPerDay: number;
  leadTimeSeconds: Spread;
  changeFailureRate: number | null;
  failedDeployments: number;
  timeToRestoreSeconds: Spread;
  ended: number;
  completed: number;
  successRate: number | null;
  durationSeconds: Spread;
  /** Ended releases by outcome. */
  outcomes: Record<string, number>;
}

/** The period's stats: one entry per target, then `all` across them when there are several. */
export interface StatsReport {
  since: string;
  until: string;
  targets: DeliveryStats[];
}

function quantile(sorted: number[], q: number): number | null {
  if (sorted.length === 0) return null;
  // Nearest rank: the median of 1, 2, 3, 4 is 2 (a value that happened), never 2.5.
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
}

function spread(values: number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  return { count: sorted.length, median: quantile(sorted, 0.5), p90: quantile(sorted, 0.9) };
}

const seconds = (from: string, to: string) => Math.max(0, (Date.parse(to) - Date.parse(from)) / 1000);

/** The stats of some releases (all of one target, or of every target) over `since`..`until`. */
export function deliveryStats(
  target: string,
  releases: ReleaseTimeline[],
  since: Date,
  until: Date,
): DeliveryStats {
  const deployed = releases.filter((r) => r.liveAt !== null);
  const failed = deployed.filter((r) => r.outcome === 'rolled_back' || r.outcome === 'failed');
  const ended = releases.filter((r) => r.endedAt !== null && r.outcome !== null);
  const completed = ended.filter((r) => r.outcome === 'completed');
  const days = Math.max((until.getTime() - since.getTime()) / DAY_MS, 1 / 24);
  const outcomes: Record<string, number> = {};
  for (const r of ended) outcomes[r.outcome!] = (outcomes[r.outcome!] ?? 0) + 1;
  return {
    target,
    releases: releases.length,
    running: releases.length - ended.length,
    deployments: deployed.length,
    deploymentsPerDay: deployed.length / days,
    leadTimeSeconds: spread(deployed.map((r) => seconds(r.startedAt, r.liveAt!))),
    changeFailureRate: deployed.length ? failed.length / deployed.length : null,
    failedDeployments: failed.length,
    timeToRestoreSeconds: spread(failed.filter((r) => r.endedAt).map((r) => seconds(r.liveAt!, r.endedAt!))),
    ended: ended.length,
    completed: completed.length,
    successRate: ended.length ? completed.length / ended.length : null,
    durationSeconds: spread(ended.map((r) => seconds(r.startedAt, r.endedAt!))),
    outcomes,
  };
}

/** Per target, in name order, and `all` when there is more than one. */
export function statsReport(releases: ReleaseTimeline[], since: Date, until: Date): StatsReport {
  const targets = [...new Set(releases.map((r) => r.target))].sort();
  const perTarget = targets.map((t) =>
    deliveryStats(
      t,
      releases.filter((r) => r.target === t),
      since,
      until,
    ),
  );
  return {
    since: since.toISOString(),
    until: until.toISOString(),
    targets: targets.length > 1 ? [...perTarget, deliveryStats('all', releases, since, until)] : perTarget,
  };
}
