import { breakerName } from '../shared/breaker-name';
import { ApplicationFailure } from '@temporalio/common';
import type { z } from 'zod';
import { dnsConflict } from '../providers/errors';
import { FailureTypes } from '../shared/messages';
import { aliasHostname } from '../shared/release';
import { parseInput } from './failures';
import type { ActivityContext } from './guard';
import { CutOverInput } from './schemas';

/** The alias: the compare-and-swap cutover and its verification by a lookup. */
export function createDnsActivities({ deps, guarded }: ActivityContext) {
  const { dns } = deps;
  return {
    /**
     * Points the unsuffixed alias from one host name to another, compare-and-swap, and verifies the
     * change with a lookup. A retry after a successful swap finds the alias already changed and only verifies.
     */
    async cutOverAlias(
      input: z.input<typeof CutOverInput>,
    ): Promise<{ alias: string; chain: string[]; previousTtl: number | null }> {
      const { service, target, zone, from, to, ttl, requireAddress } = parseInput(CutOverInput, input);
      const alias = aliasHostname(service, target, zone);
      const record = await guarded(breakerName('dns', target), 'read alias', () => dns(target).get(alias));
      const current = record?.value ?? null;
      if (current !== to) {
        if (current !== from) {
          throw ApplicationFailure.create({
            type: FailureTypes.dnsConflict,
            message: dnsConflict(alias, from, current).message,
            nonRetryable: true,
          });
        }
        await guarded(breakerName('dns', target), 'swap alias', () =>
          dns(target).compareAndSwap({ name: alias, type: 'CNAME', expected: from, next: to, ttl }),
        );
      }
      const resolution = await guarded(breakerName('dns', target), 'verify alias', () =>
        dns(target).resolve(alias),
      );
      const isVerified =
        to === null
          ? resolution.chain.length === 0 && resolution.address === null
          : resolution.chain[0] === to && (resolution.address !== null || !requireAddress);
      if (!isVerified) {
        throw new ApplicationFailure(
          `lookup of ${alias} returned ${JSON.stringify(resolution)}, expected it to lead to ${to ?? 'nothing'}`,
          FailureTypes.dnsVerification,
        );
      }
      // Resolvers may keep the old answer for its TTL: the caller keeps the old target that long.
      // On a retry after the swap the old TTL is no longer known (null).
      return { alias, chain: resolution.chain, previousTtl: current === to ? null : (record?.ttl ?? null) };
    },
  };
}
