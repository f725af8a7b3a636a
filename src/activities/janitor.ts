import { breakerName } from '../shared/breaker-name';
import { Context } from '@temporalio/activity';
import { z } from 'zod';
import { targetZone } from '../config/resolve';
import { laneWorkflowId } from '../shared/messages';
import type { Deployment } from '../shared/release';
import { parseInput } from './failures';
import type { ActivityContext } from './guard';

/** How a release's workflow ends when its own code could not clean up. */
const ABANDONED: readonly string[] = ['terminated', 'timed_out'];

/** A deployment the janitor removed. */
export interface Reclaimed {
  hostname: string;
  target: string;
  releaseId: string;
  /** How the release's workflow ended (`terminated`, `failed`…). */
  releaseEnded: string;
}

/** The janitor: reclaiming what releases that were terminated left running. */
export function createJanitorActivities({ deps, guarded }: ActivityContext) {
  const { config, infra, dns, cmdb } = deps;
  /**
   * Removes one deployment the janitor found abandoned, as a release's tear-down would: only while
   * the same release still owns it, and the CMDB says what happened (best effort: it is a record).
   */
  async function reclaim(target: string, found: Deployment, run: { status: string }): Promise<boolean> {
    const { hostname, releaseId } = found;
    const now = await guarded(
      breakerName('infra', target),
      'describe deployment',
      () => infra(target).describe({ hostname }),
      {
        notify: false,
      },
    );
    if (now?.releaseId !== releaseId) return false;
    // Checked again just before: a release of the service started meanwhile may be redeploying it.
    if ((await deps.releaseRun!(laneWorkflowId(found.service, target))).state === 'running') return false;
    // The instance first: DNS leads the janitor to it, so a failed destroy is found again next round.
    await guarded(
      breakerName('infra', target),
      'destroy deployment',
      () => infra(target).destroy({ hostname }),
      {
        notify: false,
      },
    );
    await guarded(breakerName('dns', target), 'remove record', () => dns(target).remove(hostname), {
      notify: false,
    });
    const at = new Date().toISOString();
    const note = `reclaimed by the janitor: release ${releaseId} ended (${run.status}) without cleaning up`;
    try {
      const row = (await cmdb.deployments(found.service, target)).find((d) => d.hostname === hostname);
      await cmdb.upsertDeployment({
        service: found.service,
        target,
        version: found.version,
        hostname,
        colour: row?.colour ?? 'green',
        status: 'torn_down',
        releaseId: releaseId!,
        updatedAt: at,
      });
      await cmdb.recordChange({
        releaseId: releaseId!,
        step: `janitor:${hostname}`,
        service: found.service,
        target,
        version: found.version,
        stage: 'reclaimed',
        at,
        note,
      });
    } catch (e) {
      Context.current().log.warn('the CMDB did not take the janitor’s record', {
        hostname,
        error: (e as Error).message,
      });
    }
    Context.current().log.warn(note, { hostname, target });
    return true;
  }

  return {
    /**
     * Reclaims what releases that ended without cleaning up (terminated by an operator, or by
     * Temporal) left behind: each deployment with a record in a target's DNS that no alias points
     * at, that a release created, and whose release ended at least `graceMs` ago. Deployments that
     * no release created, live ones, and those of running releases are never touched.
     */
    async reclaimAbandonedDeployments(input: {
      graceMs: number;
    }): Promise<{ reclaimed: Reclaimed[]; checked: number; failed: number }> {
      const { graceMs } = parseInput(z.object({ graceMs: z.number().int().min(0) }), input);
      const releaseRun = deps.releaseRun;
      if (!releaseRun) throw new Error('the janitor needs a Temporal client (releaseRun)');
      const reclaimed: Reclaimed[] = [];
      let checked = 0;
      let failed = 0;
      for (const target of Object.keys(config.targets)) {
        const suffix = `.${target}.${targetZone(config, target)}`;
        const records = (
          await guarded(breakerName('dns', target), 'list records', () => dns(target).list(), {
            notify: false,
          })
        ).filter((r) => r.name.endsWith(suffix));
        const aliased = new Set(records.filter((r) => r.type === 'CNAME').map((r) => r.value));
        for (const record of records) {
          if (record.type === 'CNAME' || aliased.has(record.name)) continue;
          checked++;
          try {
            const found = await guarded(
              breakerName('infra', target),
              'describe deployment',
              () => infra(target).describe({ hostname: record.name }),
              { notify: false },
            );
            if (!found?.releaseId) continue; // not a release's: not greenlight's to remove
            const run = await releaseRun(found.releaseId);
            // Only a release whose own code stopped running (terminated, timed out) left it without
            // cleaning up; one that ended any other way decided about it (and said so if it leaked).
            const isAbandoned = run.state === 'ended' && ABANDONED.includes(run.status);
            if (!isAbandoned || Date.now() - Date.parse(run.endedAt) < graceMs) continue;
            // A running release of the service may still need it (blue, kept for a quick rollback).
            if ((await releaseRun(laneWorkflowId(found.service, target))).state === 'running') continue;
            if (!(await reclaim(target, found, run))) continue;
            reclaimed.push({
              hostname: record.name,
              target,
              releaseId: found.releaseId,
              releaseEnded: run.status,
            });
          } catch (e) {
            // One deployment that cannot be examined or removed does not stop the round.
            failed++;
            Context.current().log.warn('the janitor could not reclaim a deployment', {
              hostname: record.name,
              error: (e as Error).message,
            });
          }
        }
      }
      return { reclaimed, checked, failed };
    },
  };
}
