import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { judgePromotion } from '../src/activities/promotion';
import { parseAfter, parseServiceVersion, trainRequestOf } from '../src/client/manifest';
import { Config } from '../src/config/schema';
import type { ArtifactRun } from '../src/providers/cmdb/types';
import { humanDuration } from '../src/shared/durations';
import { effectivePolicy, evaluatePolicy } from '../src/shared/policy';
import { cutoverOrder, TrainRequest } from '../src/shared/train';
import { TEST_CONFIG } from '../harness/release';

const DIGEST = `sha256:${'ab'.repeat(32)}`;
const HOUR = 3_600_000;
const NOW = Date.parse('2026-12-01T12:00:00.000Z');
const run = (over: Partial<ArtifactRun>): ArtifactRun => ({
  releaseId: 'api-stage-v1-aaaaaa',
  version: 'v1',
  status: 'live',
  liveSince: '2026-12-01T09:00:00.000Z',
  liveUntil: null,
  isCompleted: true,
  isRolledBack: false,
  ...over,
});
const rule = { from: 'stage', soakMs: 2 * HOUR };

describe('the cutover order of a train', () => {
  it('makes steps: each service after every service it depends on, given order kept within a step', () => {
    assert.deepEqual(
      cutoverOrder(
        ['ui', 'api', 'worker', 'db'],
        [
          ['ui', 'api'],
          ['worker', 'api'],
          ['api', 'db'],
        ],
      ),
      { steps: [['db'], ['api'], ['ui', 'worker']] },
    );
    assert.deepEqual(cutoverOrder(['a', 'b'], []), { steps: [['a', 'b']] });
  });

  it('names a cycle, and the request refuses it, an unknown service and a repeated one', () => {
    assert.deepEqual(
      cutoverOrder(
        ['a', 'b', 'c'],
        [
          ['a', 'b'],
          ['b', 'c'],
          ['c', 'b'],
        ],
      ),
      { cycle: ['b', 'c', 'b'] },
    );
    const parse = (services: string[], after: [string, string][]) =>
      TrainRequest.safeParse({
        target: 'stage',
        initiator: 'ci',
        services: services.map((service) => ({ service, version: 'v1' })),
        after,
      });
    assert.match(
      parse(
        ['a', 'b'],
        [
          ['a', 'b'],
          ['b', 'a'],
        ],
      ).error!.issues[0].message,
      /the order has a cycle: a after b after a/,
    );
    assert.match(
      parse(['a'], [['a', 'z']]).error!.issues[0].message,
      /a:z names z, which is not in the train/,
    );
    assert.match(parse(['a'], [['a', 'a']]).error!.issues[0].message, /a service cannot come after itself/);
    assert.match(parse(['a', 'a'], []).error!.issues[0].message, /a is named twice/);
    assert.match(parse([], []).error!.issues[0].message, /at least one service/);
    const from = TrainRequest.safeParse({
      target: 'prod',
      initiator: 'ci',
      from: 'train-stage-1',
      services: [{ service: 'a', version: 'v1' }],
    });
    assert.match(from.error!.issues[0].message, /releases exactly its manifest; name no services or order/);
  });
});

describe('a promotion rule', () => {
  it('promotes a completed artifact and says how long it was live against the soak', () => {
    const soaked = judgePromotion('api', DIGEST, rule, [run({})], NOW);
    assert.deepEqual({ promoted: soaked.promoted, soaked: soaked.soaked }, { promoted: true, soaked: true });
    assert.equal(
      soaked.explanation,
      'api sha256:abababababab… completed on stage (release api-stage-v1-aaaaaa) and was live there 3h, still live (soak 2h)',
    );
    const young = judgePromotion('api', DIGEST, rule, [run({ liveSince: '2026-12-01T11:15:00.000Z' })], NOW);
    assert.deepEqual({ promoted: young.promoted, soaked: young.soaked }, { promoted: true, soaked: false });
    assert.match(young.explanation, /but was live there only 45m, still live of the 2h soak$/);
    // Replaced after 90 minutes: live until then, not until now.
    const replaced = judgePromotion(
      'api',
      DIGEST,
      rule,
      [run({ status: 'terminated', liveUntil: '2026-12-01T10:30:00.000Z' })],
      NOW,
    );
    assert.equal(replaced.soaked, false);
    assert.match(replaced.explanation, /live there only 1h30m of the 2h soak$/);
  });

  it('does not promote an artifact that never completed there, or was rolled back', () => {
    assert.match(
      judgePromotion('api', DIGEST, rule, [], NOW).explanation,
      /has not completed a release on stage$/,
    );
    const back = judgePromotion(
      'api',
      DIGEST,
      rule,
      [run({ isCompleted: false, isRolledBack: true, status: 'torn_down' })],
      NOW,
    );
    assert.equal(back.promoted, false);
    assert.match(
      back.explanation,
      /was rolled back on stage \(release api-stage-v1-aaaaaa\) and never completed there$/,
    );
    const neverLive = judgePromotion(
      'api',
      DIGEST,
      rule,
      [run({ isCompleted: false, liveSince: null, status: 'candidate' })],
      NOW,
    );
    assert.equal(neverLive.promoted, false);
  });

  it("is enforced over the target's policy unless the policy names its facts", () => {
    assert.deepEqual(effectivePolicy('tests_passed', true), { all: ['tests_passed', 'promoted', 'soaked'] });
    assert.equal(effectivePolicy('tests_passed', false), 'tests_passed');
    const own = { any: ['soaked', 'approval_obtained'] };
    assert.equal(effectivePolicy(own, true), own);
    const decision = evaluatePolicy(effectivePolicy('tests_passed', true), {
      tests_passed: true,
      promoted: true,
      soaked: false,
    });
    assert.equal(decision.explanation, 'all(tests_passed ✓, promoted ✓, soaked ✗) ✗');
  });

  it('is checked in the configuration: a known target, not itself, and its facts only with a rule', () => {
    const targets = (over: object) =>
      Config.safeParse({ ...TEST_CONFIG, targets: { ...TEST_CONFIG.targets, ...over } });
    assert.ok(targets({ prod: { promotion: { from: 'stage', soak: '2h' } } }).success);
    assert.match(
      JSON.stringify(targets({ prod: { promotion: { from: 'staging' } } }).error!.issues),
      /unknown target \\"staging\\"; the targets are dev, stage, prod/,
    );
    assert.match(
      JSON.stringify(targets({ prod: { promotion: { from: 'prod' } } }).error!.issues),
      /promotes from another target/,
    );
    assert.match(
      JSON.stringify(targets({ prod: { policy: { all: ['tests_passed', 'soaked'] } } }).error!.issues),
      /soaked needs a promotion rule on the target/,
    );
  });

  it('says durations the way people do', () => {
    assert.deepEqual([0, 40_000, 300_000, 7_980_000, 3 * 86_400_000 + 4 * HOUR].map(humanDuration), [
      '0s',
      '40s',
      '5m',
      '2h13m',
      '3d4h',
    ]);
  });
});

describe('a train from the command line', () => {
  it('reads --service, --after and a manifest together, and refuses what is not a name or a version', () => {
    assert.deepEqual(parseServiceVersion('api=1f2e3d4'), { service: 'api', version: '1f2e3d4' });
    assert.deepEqual(parseAfter('ui:api'), ['ui', 'api']);
    assert.throws(() => parseServiceVersion('api=$(id)'), /is not <service>=<version>/);
    assert.throws(() => parseAfter('ui;api'), /"ui;api" is not <service>:<service it comes after>/);
    const request = trainRequestOf(
      { target: 'stage', services: { api: 'v1' }, after: [], checks: ['e2e'] },
      { services: ['ui=v2'], after: ['ui:api'], checks: [], skipSlowScans: false, initiator: 'ci' },
    );
    assert.deepEqual(request, {
      target: 'stage',
      initiator: 'ci',
      services: [
        { service: 'api', version: 'v1' },
        { service: 'ui', version: 'v2' },
      ],
      after: [['ui', 'api']],
      checks: ['e2e'],
      skipSlowScans: false,
    });
    assert.throws(
      () =>
        trainRequestOf(null, {
          target: 'prod',
          services: ['api=v1'],
          after: [],
          checks: [],
          skipSlowScans: false,
          initiator: 'ci',
          from: 'train-stage-1',
        }),
      /--from train-stage-1 releases exactly that train's manifest/,
    );
  });
});
