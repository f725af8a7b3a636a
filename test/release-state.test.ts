import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ApprovalRule } from '../src/shared/target';
import { MAX_REFUSED, ReleaseState } from '../src/workflows/release/state';

const NOW = '2026-11-21T12:00:00.000Z';
const PROD: ApprovalRule = {
  required: 2,
  approvers: ['alice', 'bob', 'carol'],
  initiatorMayApprove: false,
  timeout: 3_600_000,
};

function awaitingApproval(rule: ApprovalRule = PROD, initiator = 'alice'): ReleaseState {
  const r = new ReleaseState(
    'rel-1',
    { service: 'web', version: 'v2', target: 'prod', initiator, skipSlowScans: false },
    NOW,
  );
  r.setStage('awaiting_approval', NOW);
  r.openApprovalGate(rule, '2026-11-21T13:00:00.000Z');
  return r;
}

describe('approval rules', () => {
  it('refuses an approval from the release initiator on prod', () => {
    const r = awaitingApproval();
    const v = r.decide('approve', { approver: 'alice' }, 'update', NOW);
    assert.deepEqual(v, { ok: false, reason: 'alice started this release and may not approve it on prod' });
    assert.deepEqual(r.status.approvals.approvedBy, []);
    assert.equal(r.status.approvals.refused.length, 1);
  });

  it('refuses an approver who is not on the list, and says who may', () => {
    const r = awaitingApproval();
    const v = r.decide('approve', { approver: 'mallory' }, 'signal', NOW);
    assert.equal(v.ok, false);
    assert.match(
      !v.ok ? v.reason : '',
      /mallory may not approve releases to prod; allowed: alice, bob, carol/,
    );
  });

  it('needs distinct approvers, compared without case or surrounding spaces', () => {
    const r = awaitingApproval();
    assert.equal(r.decide('approve', { approver: 'bob' }, 'update', NOW).ok, true);
    assert.equal(r.isApproved, false);
    assert.match(
      r.status.waitingFor ?? '',
      /1 more approval \(1 of 2 given\) from alice, bob, carol, not alice/,
    );
    const again = r.decide('approve', { approver: ' BOB ' }, 'update', NOW);
    assert.equal(again.ok, false);
    assert.equal(r.decide('approve', { approver: 'carol', comment: 'ok' }, 'update', NOW).ok, true);
    assert.equal(r.isApproved, true);
    assert.deepEqual(
      r.status.approvals.approvedBy.map((a) => a.approver),
      ['bob', 'carol'],
    );
  });

  it('refuses names with invisible or control characters, so one person cannot approve twice', () => {
    const r = awaitingApproval();
    assert.equal(r.decide('approve', { approver: 'bob' }, 'update', NOW).ok, true);
    for (const [name, code] of [
      ['b\u0085ob', 'U+0085'],
      ['bo\u200bb', 'U+200B'],
      ['bob\u202e', 'U+202E'],
      ['\u2066bob', 'U+2066'],
      ['bo\u2028b', 'U+2028'],
    ]) {
      const verdict = r.judge('approve', { approver: name });
      assert.deepEqual(verdict, {
        ok: false,
        reason: `invalid approve: approver contains the invisible or control character ${code}; type it as plain text`,
      });
    }
    assert.equal(r.isApproved, false, 'still one approval of two');
  });

  it('compares names after Unicode NFKC and case folding', () => {
    const r = awaitingApproval(
      { required: 2, approvers: ['Straße', 'bob'], initiatorMayApprove: false, timeout: 1 },
      'ＢＯＢ',
    );
    assert.match(
      (r.judge('approve', { approver: 'bob' }) as { reason: string }).reason,
      /started this release/,
    );
    assert.equal(r.decide('approve', { approver: 'STRASSE' }, 'update', NOW).ok, true);
    assert.match(
      (r.judge('approve', { approver: 'strasse' }) as { reason: string }).reason,
      /already approved/,
    );
  });

  it('judges without changing anything, as an Update validator must', () => {
    const r = awaitingApproval();
    const before = JSON.stringify(r.status);
    assert.equal(r.judge('approve', { approver: 'bob' }).ok, true);
    assert.equal(r.judge('approve', { approver: 'alice' }).ok, false);
    assert.equal(r.judge('abort', { by: 'ops' }).ok, true);
    assert.deepEqual(r.judge('approve', { who: 'bob' }), {
      ok: false,
      reason: 'invalid approve: approver is missing; unknown field "who"; the fields are approver, comment',
    });
    assert.deepEqual(r.judge('approve', { approver: '  ' }), {
      ok: false,
      reason: 'invalid approve: approver is empty',
    });
    assert.equal(JSON.stringify(r.status), before);
    assert.equal(r.isAbortRequested, false);
  });

  it('lets the initiator approve where the rule allows it (stage)', () => {
    const r = awaitingApproval({ required: 1, initiatorMayApprove: true, timeout: 1000 });
    assert.equal(r.decide('approve', { approver: 'alice' }, 'update', NOW).ok, true);
    assert.equal(r.isApproved, true);
  });

  it('records an invalid payload and changes nothing else', () => {
    const r = awaitingApproval();
    const before = JSON.stringify({ ...r.status, approvals: { ...r.status.approvals, refused: [] } });
    for (const payload of [
      undefined,
      'bob',
      { approver: '' },
      { approver: 'bob', extra: 1 },
      { approver: 'bo\nb' },
    ]) {
      assert.equal(r.decide('approve', payload, 'signal', NOW).ok, false);
    }
    assert.equal(r.status.approvals.refused.length, 5);
    assert.equal(r.status.approvals.refused[3].by, 'bob', 'the claimed name is kept for the audit');
    assert.equal(
      r.status.approvals.refused[4].by,
      'bo<U+000A>b',
      'invisible characters in the claimed name are shown, not kept',
    );
    assert.equal(JSON.stringify({ ...r.status, approvals: { ...r.status.approvals, refused: [] } }), before);
  });

  it('keeps only the newest refused requests, so a flood cannot grow the status without bound', () => {
    const r = awaitingApproval();
    for (let i = 0; i < MAX_REFUSED + 25; i++)
      r.decide('approve', { approver: `intruder${i}` }, 'signal', NOW);
    assert.equal(r.status.approvals.refused.length, MAX_REFUSED);
    assert.equal(r.status.approvals.refused.at(-1)?.by, `intruder${MAX_REFUSED + 24}`);
    assert.equal(r.status.approvals.refused[0].by, 'intruder25');
  });

  it('refuses approvals when the release is not waiting for them', () => {
    const r = awaitingApproval();
    r.setStage('baking', NOW);
    const v = r.decide('approve', { approver: 'bob' }, 'update', NOW);
    assert.deepEqual(v, { ok: false, reason: 'release is not awaiting approval (stage baking)' });
  });

  it('lets the first decision stand when a rejection follows the final approval in the same task', () => {
    const r = awaitingApproval({ required: 1, initiatorMayApprove: true, timeout: 1000 });
    assert.equal(r.decide('approve', { approver: 'bob' }, 'update', NOW).ok, true);
    assert.deepEqual(r.decide('reject', { approver: 'carol' }, 'update', NOW), {
      ok: false,
      reason: 'release has already been approved',
    });
    assert.equal(r.isRejected, false);
  });

  it('accepts a rejection from an allowed approver, including the initiator', () => {
    const r = awaitingApproval();
    assert.equal(r.decide('reject', { approver: 'alice', comment: 'wrong build' }, 'update', NOW).ok, true);
    assert.equal(r.isRejected, true);
    assert.equal(r.status.approvals.rejectedBy?.comment, 'wrong build');
  });
});

describe('abort and rollback', () => {
  // The workflow cancels the running step when an abort is accepted (release-rules.test.ts: "on an
  // abort during integration tests…"); the state only records it.
  it('treats a rollback before cutover as an abort', () => {
    const r = awaitingApproval();
    const v = r.intervene('rollback', { by: 'ops' }, 'update', NOW);
    assert.equal(v.ok, true);
    assert.equal(r.isAbortRequested, true);
    assert.equal(r.isRollbackRequested, false);
    assert.equal(r.intervene('abort', {}, 'update', NOW).ok, false, 'a second request is refused');
  });

  it('refuses abort after cutover and accepts rollback until blue is terminated', () => {
    const r = awaitingApproval();
    r.setStage('baking', NOW);
    assert.match(
      (r.intervene('abort', {}, 'signal', NOW) as { reason: string }).reason,
      /cannot abort after cutover/,
    );
    assert.equal(r.intervene('rollback', undefined, 'signal', NOW).ok, true);
    assert.equal(r.isRollbackRequested, true);

    const late = awaitingApproval();
    late.setStage('terminating_blue', NOW);
    assert.equal(late.intervene('rollback', {}, 'update', NOW).ok, false);
    late.end('completed', NOW, null);
    assert.match(
      (late.intervene('rollback', {}, 'update', NOW) as { reason: string }).reason,
      /release has already ended \(completed\); to go back, release the previous version/,
    );
  });
});

describe('go, for a release held before cutover', () => {
  it('accepts one go while held and refuses it at any other time, recording the refusal', () => {
    const r = awaitingApproval();
    assert.deepEqual(r.judge('go', {}), {
      ok: false,
      reason: 'release is not waiting for a go (stage awaiting_approval)',
    });
    r.setStage('awaiting_go', NOW);
    assert.deepEqual(r.judge('go', { by: 'x'.repeat(500) }).ok, false, 'an oversized name is refused');
    assert.equal(r.isGoGiven, false, 'judging changes nothing');
    assert.deepEqual(r.go({ by: 'train' }, 'signal', NOW), {
      ok: true,
      message: 'go from train; cutting over',
    });
    assert.equal(r.isGoGiven, true);
    assert.deepEqual(r.status.notes, ['go from train by signal'], 'who let it cut over is kept');
    assert.deepEqual(r.go({}, 'update', NOW), { ok: false, reason: 'release has already been told to go' });
    assert.deepEqual(
      r.status.approvals.refused.map((x) => [x.kind, x.reason]),
      [['go', 'release has already been told to go']],
    );
  });

  it('refuses a go once an abort is accepted, and an abort is accepted while held', () => {
    const r = awaitingApproval();
    r.setStage('awaiting_go', NOW);
    assert.equal(r.intervene('abort', { by: 'ops' }, 'update', NOW).ok, true);
    assert.deepEqual(r.judge('go', {}), { ok: false, reason: 'release is being aborted' });
  });
});
