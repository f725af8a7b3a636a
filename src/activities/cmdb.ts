import { ApplicationFailure } from '@temporalio/common';
import type { z } from 'zod';
import type { DeploymentItem } from '../providers/cmdb/types';
import { FailureTypes } from '../shared/messages';
import { parseInput } from './failures';
import type { ActivityContext } from './guard';
import { ChangeInput } from './schemas';

/** The CMDB record of every stage change, with the outbox as its fallback. */
export function createCmdbActivities({ deps, guarded }: ActivityContext) {
  const { cmdb, breakers, outbox } = deps;
  return {
    /**
     * Records a stage change, and the deployments it touched, in the CMDB. Idempotent. When the
     * CMDB's breaker rejects the write, it is kept in the outbox for later and the release goes on.
     */
    async recordChange(input: z.input<typeof ChangeInput>): Promise<{ deferred: string | null }> {
      const { change, deployments } = parseInput(ChangeInput, input);
      const items: DeploymentItem[] = deployments.map((d) => ({
        service: d.deployment.service,
        target: d.deployment.target,
        version: d.deployment.version,
        hostname: d.deployment.hostname,
        colour: d.colour,
        status: d.status,
        releaseId: d.releaseId,
        updatedAt: change.at,
        ...(d.artifactDigest ? { artifactDigest: d.artifactDigest } : {}),
      }));
      try {
        // No notice to the release: nothing waits on this write.
        await guarded(
          'cmdb',
          'record change',
          async () => {
            await cmdb.recordChange(change);
            for (const item of items) await cmdb.upsertDeployment(item);
          },
          { notify: false },
        );
        return { deferred: null };
      } catch (e) {
        // Rejected by the breaker, or failed and left it open: keep the write for later.
        const isDeferred =
          e instanceof ApplicationFailure &&
          (e.type === FailureTypes.circuitOpen ||
            (!e.nonRetryable && (await breakers.retryAfterMs('cmdb')) > 0));
        if (!isDeferred) throw e;
        const reason = e.message;
        await outbox.add({ change, deployments: items, reason, deferredAt: new Date().toISOString() });
        deps.onFallback?.('cmdb');
        return { deferred: reason };
      }
    },
  };
}
