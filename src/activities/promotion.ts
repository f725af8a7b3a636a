import { z } from 'zod';
import { targetSettings } from '../config/resolve';
import type { ArtifactRun } from '../providers/cmdb/types';
import { humanDuration } from '../shared/durations';
import { ServiceName, TargetName } from '../shared/release';
import type { PromotionFacts } from '../shared/release';
import { ArtifactDigest } from './schemas';
import { parseInput } from './failures';
import type { ActivityContext } from './guard';

/** A target's promotion rule, judged against the CMDB's record of the artifact on the target it promotes from. */
export function createPromotionActivities({ deps, guarded }: ActivityContext) {
  return {
    /**
     * The facts `promoted` and `soaked` of an artifact on a target with a promotion rule (null for
     * a target without one). The rule is the worker's configuration, never the caller's.
     */
    async promotionFacts(input: unknown): Promise<PromotionFacts | null> {
      const { service, target, digest } = parseInput(
        z.strictObject({ service: ServiceName, target: TargetName, digest: ArtifactDigest }),
        input,
      );
      const rule = targetSettings(deps.config, target)?.promotion;
      if (!rule) return null;
      const runs = await guarded('cmdb', `read ${service}'s runs on ${rule.from}`, () =>
        deps.cmdb.artifactRuns(service, rule.from, digest),
      );
      return judgePromotion(service, digest, rule, runs, Date.now());
    },
  };
}

/** The rule on the record: completed on `from` and not rolled back; live there at least the soak. */
export function judgePromotion(
  service: string,
  digest: string,
  rule: { from: string; soakMs: number },
  runs: readonly ArtifactRun[],
  now: number,
): PromotionFacts {
  const what = `${service} ${digest.slice(0, 19)}…`;
  const soak = humanDuration(rule.soakMs);
  const completed = runs.filter((r) => r.isCompleted && !r.isRolledBack && r.liveSince);
  if (completed.length === 0) {
    const rolledBack = runs.find((r) => r.isRolledBack);
    const explanation = rolledBack
      ? `${what} was rolled back on ${rule.from} (release ${rolledBack.releaseId}) and never completed there`
      : `${what} has not completed a release on ${rule.from}`;
    return { ...rule, promoted: false, soaked: false, explanation };
  }
  const liveFor = (r: ArtifactRun) =>
    (r.liveUntil ? Date.parse(r.liveUntil) : now) - Date.parse(r.liveSince!);
  const best = completed.reduce((a, b) => (liveFor(b) > liveFor(a) ? b : a));
  const lived = liveFor(best);
  const soaked = lived >= rule.soakMs;
  const still = best.liveUntil ? '' : ', still live';
  const explanation = soaked
    ? `${what} completed on ${rule.from} (release ${best.releaseId}) and was live there ${humanDuration(lived)}${still} (soak ${soak})`
    : `${what} completed on ${rule.from} (release ${best.releaseId}) but was live there only ${humanDuration(lived)}${still} of the ${soak} soak`;
  return { ...rule, promoted: true, soaked, explanation };
}
