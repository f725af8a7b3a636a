// Which configured target serves an environment made from a template: its providers and zone.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EnvironmentTargets } from '../src/compose/environment-targets';
import { parseOrThrow } from '../src/config/errors';
import { Config } from '../src/config/schema';
import type { EnvironmentItem } from '../src/providers/cmdb/types';

const config = parseOrThrow(
  Config,
  {
    targets: { dev: {}, stage: {} },
    checks: [{ name: 'health', path: '/healthz' }],
    healthCheck: { name: 'health', path: '/healthz' },
    environments: {
      templates: { review: { like: 'stage' }, scratch: {} },
      defaultTemplate: 'review',
    },
  },
  'test config',
);

/** A CMDB that knows the items given, and counts the questions (a typed fake: the rule, not the CMDB). */
function cmdb(items: Record<string, string>) {
  const asked: string[] = [];
  return {
    asked,
    async environment(name: string): Promise<EnvironmentItem | null> {
      asked.push(name);
      const template = items[name];
      if (template === undefined) return null;
      return {
        name,
        template,
        state: 'active',
        ttlExpiresAt: null,
        decommissionedAt: null,
        updatedAt: new Date().toISOString(),
      };
    },
  };
}

describe('the target an environment is like', () => {
  it('is the target itself for a configured target, and the template’s like target (default: the first)', async () => {
    const targets = new EnvironmentTargets(config, cmdb({}));
    assert.equal(targets.targetOf('stage'), 'stage');
    assert.equal(targets.targetOf('pr-1'), 'pr-1', 'unknown: itself, until learnt');
    await targets.learn('pr-1', 'review');
    assert.equal(targets.targetOf('pr-1'), 'stage');
    await targets.learn('pr-2', 'scratch');
    assert.equal(targets.targetOf('pr-2'), 'dev');
  });

  it('asks the CMDB once per name when no template is named, and a named template always wins', async () => {
    const known = cmdb({ 'pr-3': 'review' });
    const targets = new EnvironmentTargets(config, known);
    await targets.learn('pr-3');
    await targets.learn('pr-3');
    assert.equal(targets.targetOf('pr-3'), 'stage');
    assert.deepEqual(known.asked, ['pr-3']);
    // Decommissioned and made again from another template: the activity's template is the truth.
    await targets.learn('pr-3', 'scratch');
    assert.equal(targets.targetOf('pr-3'), 'dev');
    await targets.learn('nobody');
    assert.equal(targets.targetOf('nobody'), 'nobody', 'not in the CMDB: itself');
  });
});
