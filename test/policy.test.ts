import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluatePolicy, Policy, policyFacts } from '../src/shared/policy';

const facts = {
  tests_passed: true,
  approval_obtained: false,
  health_check_failed: false,
  error_threshold_exceeded: true,
};

describe('policy evaluation', () => {
  it('allows `all` only when every member holds, and explains each fact', () => {
    const d = evaluatePolicy({ all: ['tests_passed', 'approval_obtained'] }, facts);
    assert.equal(d.allowed, false);
    assert.equal(d.explanation, 'all(tests_passed ✓, approval_obtained ✗) ✗');
    assert.equal(evaluatePolicy({ all: ['tests_passed'] }, facts).allowed, true);
  });

  it('allows `any` when one member holds', () => {
    const d = evaluatePolicy({ any: ['health_check_failed', 'error_threshold_exceeded'] }, facts);
    assert.equal(d.allowed, true);
    assert.equal(d.explanation, 'any(health_check_failed ✗, error_threshold_exceeded ✓) ✓');
    assert.equal(evaluatePolicy({ any: ['health_check_failed', 'approval_obtained'] }, facts).allowed, false);
  });

  it('negates with `not`, and nests', () => {
    const policy: Policy = {
      all: ['tests_passed', { not: { any: ['health_check_failed', 'approval_obtained'] } }],
    };
    const d = evaluatePolicy(policy, facts);
    assert.equal(d.allowed, true);
    assert.equal(
      d.explanation,
      'all(tests_passed ✓, not(any(health_check_failed ✗, approval_obtained ✗) ✗) ✓) ✓',
    );
  });

  it('treats an unknown fact as false and reports it', () => {
    const d = evaluatePolicy({ all: ['tests_passed', 'security_scan_passed'] }, facts);
    assert.equal(d.allowed, false);
    assert.deepEqual(d.unknownFacts, ['security_scan_passed']);
    // An unknown fact under `not` does not silently allow either: it is reported.
    assert.deepEqual(evaluatePolicy({ not: 'typo_fact' }, facts).unknownFacts, ['typo_fact']);
  });

  it('lists the facts a policy names', () => {
    assert.deepEqual(policyFacts({ all: ['b', { any: ['a', { not: 'c' }] }, 'a'] }), ['a', 'b', 'c']);
  });

  it('validates policies at the edge', () => {
    assert.equal(Policy.safeParse({ all: ['tests_passed', { not: 'x' }] }).success, true);
    assert.equal(Policy.safeParse({ all: [] }).success, false, 'empty all');
    assert.equal(Policy.safeParse({ all: ['a'], any: ['b'] }).success, false, 'two operators in one node');
    assert.equal(Policy.safeParse({ xor: ['a'] }).success, false, 'unknown operator');
    assert.equal(Policy.safeParse('Tests Passed').success, false, 'fact names are snake_case');
  });

  it('takes 32 levels of all, any and not (the arrays do not count), refuses 33, and any depth without overflowing', () => {
    const nest = (levels: number, wrap: (p: Policy) => Policy): Policy => {
      let p: Policy = 'tests_passed';
      for (let i = 0; i < levels; i++) p = wrap(p);
      return p;
    };
    for (const wrap of [
      (p: Policy) => ({ not: p }),
      (p: Policy) => ({ all: [p] }),
      (p: Policy) => ({ any: ['first_release', p] }),
    ]) {
      assert.equal(Policy.safeParse(nest(32, wrap)).success, true, JSON.stringify(nest(1, wrap)));
      const refused = Policy.safeParse(nest(33, wrap));
      assert.equal(refused.error?.issues[0]?.message, 'a policy nests at most 32 levels deep');
    }
    assert.equal(Policy.safeParse(nest(100_000, (p) => ({ not: p }))).success, false);
    assert.deepEqual(policyFacts(nest(100_000, (p) => ({ all: [p, 'first_release'] }))), [
      'first_release',
      'tests_passed',
    ]);
  });
});
