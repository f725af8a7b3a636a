// The rules of a bake's looks, without a server: bounds, `for`, no data, and the rollback policy.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AnalysisResult } from '../src/shared/release';
import { BakeJudge } from '../src/workflows/release/bake-judge';

const result = (value: number | null, extra: Partial<AnalysisResult> = {}): AnalysisResult => ({
  name: 'errors',
  query: 'q',
  value,
  bounds: 'max 3',
  isBreached: value !== null && value > 3,
  onNoData: 'wait',
  forMs: 0,
  ...extra,
});

describe('judging a bake', () => {
  it('rolls back on a breach at once, or only once it has lasted its `for`', () => {
    const judge = new BakeJudge();
    assert.equal(judge.judge(null, [result(2)], 0).decision.allowed, false);
    const breached = judge.judge(null, [result(5)], 1_000);
    assert.equal(breached.decision.allowed, true);
    assert.equal(
      breached.reason,
      'rollback policy any(health_check_failed ✗, error_threshold_exceeded ✓) ✓: errors = 5 (max 3) for q',
    );

    const patient = new BakeJudge();
    const lasting = [result(5, { forMs: 2_000 })];
    assert.equal(patient.judge(null, lasting, 0).facts.error_threshold_exceeded, false);
    assert.equal(patient.judge(null, lasting, 1_999).facts.error_threshold_exceeded, false);
    // Back within bounds: the clock starts again.
    assert.equal(
      patient.judge(null, [result(1, { forMs: 2_000 })], 2_500).facts.error_threshold_exceeded,
      false,
    );
    assert.equal(patient.judge(null, lasting, 3_000).facts.error_threshold_exceeded, false);
    assert.equal(patient.judge(null, lasting, 5_000).facts.error_threshold_exceeded, true);
  });

  it('takes no data as a pass, a failure, or a reason to wait, as each query says', () => {
    const judge = new BakeJudge();
    assert.equal(
      judge.judge(null, [result(null, { onNoData: 'pass' })], 0).facts.error_threshold_exceeded,
      false,
    );
    assert.equal(
      judge.judge(null, [result(null, { onNoData: 'fail' })], 0).facts.error_threshold_exceeded,
      true,
    );
    const waiting = new BakeJudge();
    waiting.judge(null, [result(null)], 0);
    assert.deepEqual(waiting.waitingFor, ['errors']);
    waiting.judge(null, [result(1)], 1_000);
    assert.equal(waiting.isWaitingForData, false, 'data came');
  });

  it('records a decision when its facts change, not at every look of a long bake', () => {
    const judge = new BakeJudge('error_threshold_exceeded');
    const ridden = judge.judge('health check failed', [], 0);
    assert.equal(judge.isWorthRecording(ridden), true, 'a failure the policy rode out');
    assert.equal(
      judge.isWorthRecording(judge.judge('health check failed', [], 500)),
      false,
      'the same again',
    );
    assert.equal(judge.isWorthRecording(judge.judge(null, [], 1_000)), false, 'nothing to record');
    assert.equal(
      judge.isWorthRecording(judge.judge(null, [result(9)], 1_500)),
      true,
      'a breach: the rollback',
    );
  });

  it('lets the rollback policy decide: a health failure alone keeps its own words; a policy may ignore it', () => {
    const judge = new BakeJudge();
    const verdict = judge.judge('health check failed while baking: GET /healthz: status 503', [], 0);
    assert.equal(verdict.decision.allowed, true);
    assert.equal(verdict.reason, 'health check failed while baking: GET /healthz: status 503');
    const metricsOnly = new BakeJudge('error_threshold_exceeded');
    assert.equal(metricsOnly.judge('health check failed', [], 0).decision.allowed, false);
    assert.equal(metricsOnly.noteUnavailable(), true);
    assert.equal(metricsOnly.noteUnavailable(), false, 'said once');
  });
});
