import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { GreenlightError } from '../src/client/api';
import { approveSignal, laneWorkflowId, RELEASE_WORKFLOW, statusQuery } from '../src/shared/messages';
import type { Deployment, ReleaseStatus } from '../src/shared/release';
import type { Harness } from '../harness/release';
import { releaseRequest, startHarness } from '../harness/release';
import { findCli } from '../harness/temporal';
import { cliEnvironment, runCli } from './helpers/cli';
import { getJson, isProcessAlive } from './helpers/inspect';
import { waitFor, waitForStage } from './helpers/wait';

let h: Harness;

before(async () => {
  h = await startHarness();
});

after(async () => {
  await h?.stop();
});

const alias = (service: string, target: string) => `${service}.${target}.test.internal`;

async function aliasTarget(service: string, target: string): Promise<string | null> {
  return (await h.dns.get(alias(service, target)))?.value ?? null;
}

/** Runs a first release of `service` so later tests have a blue to replace. */
async function establishBlue(service: string, target = 'dev'): Promise<ReleaseStatus> {
  const { releaseId } = await h.api.startRelease(releaseRequest(service, 'v1', target));
  const status = await h.api.wait(releaseId);
  assert.equal(status.stage, 'completed');
  return status;
}

/** A blue that existed before greenlight: deployed and aliased directly through the providers. */
async function existingBlue(service: string, target: string, aliasTtl = 1): Promise<Deployment> {
  const hostname = `${service}-v1.${target}.test.internal`;
  const blue = await h.infra.deploy({ service, version: 'v1', target, hostname, releaseId: 'manual' });
  await h.dns.upsert({ name: hostname, type: 'A', value: '127.0.0.1', ttl: 1 });
  await h.dns.upsert({ name: alias(service, target), type: 'CNAME', value: hostname, ttl: aliasTtl });
  return blue;
}

async function expectRefused(call: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(call, (e: unknown) => {
    assert.ok(e instanceof GreenlightError, `expected a GreenlightError, got ${String(e)}`);
    assert.equal(e.code, 'refused');
    assert.match(e.message, pattern);
    return true;
  });
}

describe('blue/green release on a real Temporal dev server', () => {
  it('deploys, tests, waits for approval, cuts over, bakes and terminates blue', async () => {
    const blue = await establishBlue('web');
    const blueEndpoint = blue.live!.endpoint;
    const bluePid = await h.infra.pidOf(blue.live!.hostname);
    assert.ok(bluePid && isProcessAlive(bluePid));

    const { releaseId } = await h.api.startRelease(releaseRequest('web', '2f3e4d5', 'dev'));
    // dev needs no approval: straight through.
    const done = await h.api.wait(releaseId);
    assert.equal(done.stage, 'completed');
    assert.equal(done.previous?.version, 'v1');
    assert.equal(done.live?.version, '2f3e4d5');
    assert.deepEqual(await getJson(`${done.live!.endpoint}/version`), { service: 'web', version: '2f3e4d5' });
    assert.equal(await aliasTarget('web', 'dev'), 'web-2f3e4d5.dev.test.internal');
    assert.equal(done.isBlueTerminated, true);
    assert.equal(isProcessAlive(bluePid), false, 'blue process is gone');
    await assert.rejects(fetch(`${blueEndpoint}/healthz`));
    assert.equal(await h.dns.get('web-v1.dev.test.internal'), null, "blue's record is removed");
    assert.deepEqual(
      done.history.map((x) => x.stage),
      [
        'queued',
        'deploying',
        'testing',
        'evaluating_policy',
        'cutting_over',
        'baking',
        'awaiting_termination',
        'terminating_blue',
        'completed',
      ],
    );
    // The CMDB has every stage, both deployments and the replacement.
    const changes = await h.cmdb.changes('web', 'dev');
    assert.deepEqual(
      changes
        .filter((c) => c.releaseId === releaseId)
        .map((c) => c.stage)
        .reverse(),
      done.history.slice(1).map((x) => x.stage),
    );
    const deployments = await h.cmdb.deployments('web', 'dev');
    assert.deepEqual(
      deployments.map((d) => [d.version, d.status]),
      [
        ['v1', 'terminated'],
        ['2f3e4d5', 'live'],
      ],
    );
    assert.deepEqual(
      (await h.cmdb.relationships('web', 'dev')).map((r) => `${r.fromId} ${r.relation} ${r.toId}`),
      ['web-2f3e4d5.dev.test.internal replaces web-v1.dev.test.internal'],
    );
    assert.equal(done.policyDecisions.length, 1);
    assert.equal(done.policyDecisions[0].allowed, true);
    assert.deepEqual(done.policyDecisions[0].facts, {
      tests_passed: true,
      slow_scans_skipped: false,
      approval_obtained: true,
      maintenance_window_open: true,
      first_release: false,
    });
  });

  it('waits on stage for one approval, then promotes; search attributes follow the stage', async () => {
    const { releaseId } = await h.api.startRelease(
      releaseRequest('api', 'v7', 'stage', { initiator: 'alice' }),
    );
    const waiting = await waitForStage(h.api, releaseId, 'awaiting_approval');
    assert.match(waiting.waitingFor ?? '', /1 more approval \(0 of 1 given\) from anyone/);
    assert.equal(waiting.policyDecisions.at(-1)?.allowed, false);
    assert.match(waiting.policyDecisions.at(-1)!.explanation, /approval_obtained ✗/);
    assert.equal(await aliasTarget('api', 'stage'), null, 'alias untouched while waiting');

    const listed = await waitForList({ stage: 'awaiting_approval', service: 'api' });
    assert.equal(listed[0].releaseId, releaseId);

    const receipt = await h.api.approve(releaseId, { approver: 'alice', comment: 'ship it' });
    assert.equal(receipt.accepted, true);
    const done = await h.api.wait(releaseId);
    assert.equal(done.stage, 'completed');
    assert.deepEqual(
      done.approvals.approvedBy.map((a) => [a.approver, a.comment, a.via]),
      [['alice', 'ship it', 'update']],
    );
    assert.equal(done.policyDecisions.length, 2);
    assert.equal(done.policyDecisions[1].allowed, true);
    assert.equal(await aliasTarget('api', 'stage'), 'api-v7.stage.test.internal');
    const completed = await waitForList({ stage: 'completed', service: 'api' });
    assert.equal(completed[0].releaseId, releaseId);
  });

  it('accepts an approval sent as a signal', async () => {
    const { releaseId } = await h.api.startRelease(releaseRequest('sig', 'v1', 'stage'));
    await waitForStage(h.api, releaseId, 'awaiting_approval');
    await h.client.workflow.getHandle(releaseId).signal(approveSignal, { approver: 'dana' });
    const done = await h.api.wait(releaseId);
    assert.equal(done.stage, 'completed');
    assert.equal(done.approvals.approvedBy[0].via, 'signal');
  });

  it('refuses an unauthorized approver and the initiator on prod without harm, then needs two distinct approvers', async () => {
    // A first prod release, so the second one has a blue.
    const first = await h.api.startRelease(releaseRequest('shop', 'v1', 'prod', { initiator: 'erin' }));
    await waitForStage(h.api, first.releaseId, 'awaiting_approval');
    await h.api.approve(first.releaseId, { approver: 'alice' });
    await h.api.approve(first.releaseId, { approver: 'bob' });
    assert.equal((await h.api.wait(first.releaseId)).stage, 'completed');

    const { releaseId } = await h.api.startRelease(
      releaseRequest('shop', 'v2', 'prod', { initiator: 'alice' }),
    );
    const before = await waitForStage(h.api, releaseId, 'awaiting_approval');

    await expectRefused(
      h.api.approve(releaseId, { approver: 'mallory' }),
      /mallory may not approve releases to prod; allowed: alice, bob, carol/,
    );
    await expectRefused(
      h.api.approve(releaseId, { approver: 'alice' }),
      /alice started this release and may not approve it on prod/,
    );
    await expectRefused(h.api.approve(releaseId, { approver: 'ALICE ' }), /may not approve it on prod/);
    await expectRefused(h.api.reject(releaseId, { approver: 'mallory' }), /may not reject/);
    // A malformed signal is recorded and changes nothing.
    await h.client.workflow.getHandle(releaseId).signal(approveSignal, { approver: '' } as never);

    const after = await waitFor(h.api, releaseId, (s) => s.approvals.refused.length === 1, 'a refusal');
    assert.equal(after.stage, 'awaiting_approval');
    assert.deepEqual(after.approvals.approvedBy, []);
    assert.equal(after.approvals.rejectedBy, null);
    assert.deepEqual(after.green, before.green);
    // Refused Updates were rejected by the validator: only the signal is in the history.
    assert.deepEqual(
      after.approvals.refused.map((r) => [r.kind, r.by, r.via]),
      [['approve', '', 'signal']],
    );
    assert.equal(await updateEventCount(releaseId), 0, 'no refused Update entered the history');
    assert.equal(await aliasTarget('shop', 'prod'), 'shop-v1.prod.test.internal', 'prod alias still on blue');

    await h.api.approve(releaseId, { approver: 'bob' });
    await expectRefused(
      h.api.approve(releaseId, { approver: 'Bob' }),
      /already approved; approvals must come from distinct people/,
    );
    const one = await h.api.status(releaseId);
    assert.equal(one.stage, 'awaiting_approval');
    assert.match(one.waitingFor ?? '', /1 more approval \(1 of 2 given\) from alice, bob, carol, not alice/);
    await h.api.approve(releaseId, { approver: 'carol' });
    const done = await h.api.wait(releaseId);
    assert.equal(done.stage, 'completed');
    assert.equal(await aliasTarget('shop', 'prod'), 'shop-v2.prod.test.internal');
  });

  it('rejects oversized, malformed and invisible-name Updates before they are accepted', async () => {
    const { releaseId } = await h.api.startRelease(
      releaseRequest('huge', 'v1', 'prod', { initiator: 'erin' }),
    );
    await waitForStage(h.api, releaseId, 'awaiting_approval');
    const raw = h.client.workflow.getHandle(releaseId);
    const sizeBefore = await historyBytes(releaseId);
    const refusedBy = async (payload: unknown, pattern: RegExp) =>
      assert.rejects(raw.executeUpdate('approve', { args: [payload] }), (e: unknown) => {
        assert.ok(e instanceof WorkflowUpdateFailedError, String(e));
        assert.match(String(e.cause?.message), pattern);
        assert.ok(String(e.cause?.message).length < 500, 'the refusal does not quote the payload');
        return true;
      });
    // Sent as the plain `temporal` CLI would: nothing in between validates it.
    await refusedBy(
      { approver: 'bob', comment: 'y'.repeat(1_500_000) },
      /comment is too long \(at most 1000/,
    );
    // Over the server's 2 MB blob limit, the rejection (which carries the request back) is itself
    // too big for the server: it fails the Update, and the release goes on untouched.
    await assert.rejects(
      raw.executeUpdate('approve', { args: [{ approver: 'bob', comment: 'x'.repeat(3_000_000) }] }),
    );
    await refusedBy(
      { who: 'bob' },
      /approver is missing; unknown field "who"; the fields are approver, comment/,
    );
    await refusedBy({ approver: '' }, /approver is empty/);
    // Invisible characters would make "b\u0085ob" and "bo\u200bb" two people who both read "bob".
    await refusedBy(
      { approver: 'b\u0085ob' },
      /approver contains the invisible or control character U\+0085/,
    );
    await refusedBy({ approver: 'bo\u200bb' }, /U\+200B/);
    await refusedBy({ approver: 'bob\u202e' }, /U\+202E/);

    const status = await h.api.status(releaseId);
    assert.equal(status.stage, 'awaiting_approval', 'the release goes on');
    assert.equal(await updateEventCount(releaseId), 0);
    const grown = (await historyBytes(releaseId)) - sizeBefore;
    assert.ok(grown < 10_000, `refused Updates grew the history by ${grown} bytes`);

    // Names are compared after NFKC and case folding: a full-width "ｂｏｂ" is bob.
    await h.api.approve(releaseId, { approver: 'bob' });
    await expectRefused(h.api.approve(releaseId, { approver: 'ＢＯＢ' }), /already approved/);
    await h.api.abort(releaseId, { by: 'erin' });
    assert.equal((await h.api.wait(releaseId)).stage, 'aborted');
  });

  it('believes a breaker notice only for its own dependency whose breaker the worker finds open', async () => {
    const { releaseId } = await h.api.startRelease(releaseRequest('forged', 'v1', 'stage'));
    await waitForStage(h.api, releaseId, 'awaiting_approval');
    const notice = (breaker: string) => ({
      breaker,
      state: 'open',
      step: 'swap alias',
      message: 'forged',
      retryAt: '2030-01-01T00:00:00.000Z',
    });
    // From outside: the breakers are closed, or belong to another target.
    const checked = await localActivities(releaseId);
    await h.client.workflow.getHandle(releaseId).signal('breakerNotice', notice('dns:stage'));
    await waitUntil(async () => (await localActivities(releaseId)) > checked, 'the worker was asked');
    await signalAndWait(releaseId, 'breakerNotice', notice('dns:prod'));
    await signalAndWait(releaseId, 'breakerNotice', notice('infra:nosuch'));
    // What the release itself believes (the Web UI's details show it), not the client's live view.
    const believed = () => h.client.workflow.getHandle(releaseId).query(statusQuery);
    assert.equal((await believed()).blockedBy, null);

    // A notice about a breaker that is open is believed, with the worker's retry time.
    await h.breakers.operate('dns:stage', 'open', 'test');
    try {
      // The CMDB's breaker never holds a release back: a notice about it is not believed either.
      await h.breakers.operate('cmdb', 'open', 'test');
      await signalAndWait(releaseId, 'breakerNotice', notice('cmdb'));
      assert.equal((await believed()).blockedBy, null);
      await h.client.workflow.getHandle(releaseId).signal('breakerNotice', {
        ...notice('dns:stage'),
        step: '[approve here](http://evil)',
      });
      await waitUntil(async () => (await believed()).blockedBy !== null, 'a verified notice');
      const blocked = await believed();
      assert.equal(blocked.blockedBy?.state, 'forced_open');
      assert.notEqual(blocked.blockedBy?.retryAt, '2030-01-01T00:00:00.000Z');
      // In the worker's words: the sender's text is not shown.
      assert.equal(blocked.blockedBy?.message, 'circuit breaker dns:stage is forced open');
      assert.equal(blocked.blockedBy?.step, 'call dns:stage');
    } finally {
      await h.breakers.operate('dns:stage', 'close', 'test');
      await h.breakers.operate('cmdb', 'close', 'test');
    }
    await h.api.abort(releaseId, { by: 'ci' });
    assert.equal((await h.api.wait(releaseId)).stage, 'aborted');
  });

  it('keeps its history readable: every timer has a summary, internal signals are not offered', async () => {
    const { releaseId } = await h.api.startRelease(releaseRequest('tidy', 'v1', 'stage'));
    await waitForStage(h.api, releaseId, 'awaiting_approval');
    const handle = h.client.workflow.getHandle(releaseId);
    // What the Web UI lists under "Send a Signal" and "Send an Update".
    const metadata = (await handle.query('__temporal_workflow_metadata')) as {
      definition: { signalDefinitions: { name: string }[]; updateDefinitions: { name: string }[] };
    };
    assert.deepEqual(metadata.definition.signalDefinitions.map((d) => d.name).sort(), [
      'abort',
      'approve',
      'reject',
      'rollback',
    ]);
    await h.api.approve(releaseId, { approver: 'bob' });
    assert.equal((await h.api.wait(releaseId)).stage, 'completed');
    const events = (await handle.fetchHistory()).events ?? [];
    const timers = events.filter((e) => e.timerStartedEventAttributes);
    assert.ok(timers.length >= 1, 'the approval timeout is a timer');
    for (const timer of timers)
      assert.ok(timer.userMetadata?.summary, `timer ${timer.eventId} has a summary`);
    assert.equal(events.filter((e) => e.workflowTaskFailedEventAttributes).length, 0);
  });

  it('blocks prod by policy when slow scans are skipped, with the decision recorded', async () => {
    const { releaseId } = await h.api.startRelease(
      releaseRequest('fast', 'v1', 'prod', { skipSlowScans: true }),
    );
    const handle = h.client.workflow.getHandle(releaseId);
    await assert.rejects(handle.result(), WorkflowFailedError);
    const status = await h.api.status(releaseId);
    assert.equal(status.stage, 'failed');
    assert.match(
      status.reason ?? '',
      /policy blocked promotion: all\(tests_passed ✓, approval_obtained ✗, not\(slow_scans_skipped ✓\) ✗\) ✗/,
    );
    assert.equal(status.tests?.checks.find((c) => c.name === 'latency')?.skipped, true);
    assert.equal(await aliasTarget('fast', 'prod'), null);
    assert.equal(await h.infra.describe({ hostname: 'fast-v1.prod.test.internal' }), null, 'green torn down');
  });

  it("keeps blue until the old alias record's TTL has run out, even past the termination wait", async () => {
    // dev waits 500 ms before terminating blue; the alias that pointed at blue had a TTL of 3 s.
    await existingBlue('ttl', 'dev', 3);
    const { releaseId } = await h.api.startRelease(releaseRequest('ttl', 'v2', 'dev'));
    const done = await h.api.wait(releaseId);
    assert.equal(done.stage, 'completed', done.reason ?? '');
    const at = (stage: string) => Date.parse(done.history.find((x) => x.stage === stage)!.at);
    const blueLived = at('terminating_blue') - at('baking');
    assert.ok(
      blueLived >= 2900,
      `blue was terminated ${blueLived} ms after cutover, before the 3 s TTL ran out`,
    );
  });

  it('runs a command check against green with BASE_URL and keeps its output', async () => {
    const { releaseId } = await h.api.startRelease(releaseRequest('smoke', 'v5', 'dev'));
    const done = await h.api.wait(releaseId);
    assert.equal(done.stage, 'completed', done.reason ?? '');
    const [smoke] = done.tests!.checks;
    assert.equal(smoke.name, 'smoke');
    assert.equal(smoke.passed, true, smoke.detail);
    assert.equal(smoke.output, 'green says v5');
  });

  it('ends as rejected when an approver rejects, and tears green down', async () => {
    await establishBlue('pay');
    const { releaseId } = await h.api.startRelease(releaseRequest('pay', 'v2', 'stage'));
    const waiting = await waitForStage(h.api, releaseId, 'awaiting_approval');
    await h.api.reject(releaseId, { approver: 'bob', comment: 'not today' });
    const done = await h.api.wait(releaseId);
    assert.equal(done.stage, 'rejected');
    assert.equal(done.reason, 'rejected by bob: not today');
    assert.equal(await h.infra.describe({ hostname: waiting.green!.hostname }), null);
    assert.equal(await h.dns.get(waiting.green!.hostname), null);
  });

  it('expires when no decision arrives in time, and cleans up', async () => {
    const { releaseId } = await h.api.startRelease(releaseRequest('slow', 'v1', 'qa'));
    const waiting = await waitForStage(h.api, releaseId, 'awaiting_approval');
    const done = await h.api.wait(releaseId);
    assert.equal(done.stage, 'expired');
    assert.match(done.reason ?? '', /no decision within 2 s/);
    assert.equal(await h.infra.describe({ hostname: waiting.green!.hostname }), null);
    assert.equal(await aliasTarget('slow', 'qa'), null);
    await expectRefused(
      h.api.approve(releaseId, { approver: 'late' }),
      /release has already ended \(expired\)/,
    );
  });

  it('tears green down and never touches the alias when integration tests fail', async () => {
    const blue = await existingBlue('broken', 'dev');
    const { releaseId } = await h.api.startRelease(releaseRequest('broken', 'v2', 'dev'));
    await assert.rejects(h.client.workflow.getHandle(releaseId).result(), WorkflowFailedError);
    const status = await h.api.status(releaseId);
    assert.equal(status.stage, 'failed');
    assert.equal(status.tests?.passed, false);
    assert.match(status.tests!.checks[0].detail, /status 404, expected 200/);
    assert.ok(!status.history.some((x) => x.stage === 'cutting_over'));
    assert.equal(await aliasTarget('broken', 'dev'), blue.hostname);
    assert.deepEqual(await h.infra.describe({ hostname: blue.hostname }), blue, 'blue still runs');
    assert.equal(await h.infra.describe({ hostname: 'broken-v2.dev.test.internal' }), null);
    assert.equal(await h.dns.get('broken-v2.dev.test.internal'), null);
  });

  it('rolls back to blue automatically when green fails a health check while baking', async () => {
    const blue = await existingBlue('cart', 'soak');
    const { releaseId } = await h.api.startRelease(releaseRequest('cart', 'v2', 'soak'));
    const baking = await waitForStage(h.api, releaseId, 'baking');
    assert.equal(await aliasTarget('cart', 'soak'), 'cart-v2.soak.test.internal');
    assert.equal(baking.live?.version, 'v2');
    // Kill green for real: the next health check fails.
    process.kill((await h.infra.pidOf(baking.green!.hostname))!, 'SIGKILL');
    await assert.rejects(h.client.workflow.getHandle(releaseId).result(), WorkflowFailedError);
    const done = await h.api.status(releaseId);
    assert.equal(done.stage, 'rolled_back');
    assert.match(done.reason ?? '', /health check failed while baking/);
    assert.equal(await aliasTarget('cart', 'soak'), blue.hostname);
    assert.equal(done.live?.version, 'v1');
    assert.deepEqual(await getJson(`${blue.endpoint}/version`), { service: 'cart', version: 'v1' });
    assert.equal(await h.dns.get(baking.green!.hostname), null);
  });

  it('rolls back on request while baking; abort is refused after cutover', async () => {
    const blue = await existingBlue('mail', 'soak');
    const { releaseId } = await h.api.startRelease(releaseRequest('mail', 'v2', 'soak'));
    await waitForStage(h.api, releaseId, 'baking');
    await expectRefused(h.api.abort(releaseId, { by: 'ops' }), /cannot abort after cutover/);
    const receipt = await h.api.rollback(releaseId, { by: 'ops', reason: 'error rate' });
    assert.match(receipt.message, /pointing the alias back to blue/);
    await assert.rejects(h.client.workflow.getHandle(releaseId).result(), WorkflowFailedError);
    const done = await h.api.status(releaseId);
    assert.equal(done.stage, 'rolled_back');
    assert.equal(done.reason, 'rollback requested by ops: error rate');
    assert.equal(done.live?.version, 'v1');
    assert.equal(await aliasTarget('mail', 'soak'), blue.hostname);
    assert.equal(await h.infra.describe({ hostname: 'mail-v2.soak.test.internal' }), null);
    await expectRefused(
      h.api.rollback(releaseId, { by: 'ops' }),
      /release has already ended \(rolled back\)/,
    );
  });

  it('rolls back on request during the termination wait, while blue still runs', async () => {
    const blue = await establishBlue('feed', 'uat');
    const { releaseId } = await h.api.startRelease(releaseRequest('feed', 'v2', 'uat'));
    const waiting = await waitForStage(h.api, releaseId, 'awaiting_termination');
    assert.match(waiting.waitingFor ?? '', /termination of blue v1 at .*; rollback possible until then/);
    assert.equal(await aliasTarget('feed', 'uat'), 'feed-v2.uat.test.internal');
    await h.api.rollback(releaseId, { by: 'ops' });
    await assert.rejects(h.client.workflow.getHandle(releaseId).result(), WorkflowFailedError);
    const done = await h.api.status(releaseId);
    assert.equal(done.stage, 'rolled_back');
    assert.equal(done.isBlueTerminated, false);
    assert.equal(await aliasTarget('feed', 'uat'), blue.live!.hostname);
    assert.deepEqual(await getJson(`${blue.live!.endpoint}/version`), { service: 'feed', version: 'v1' });
  });
});

describe("freezes and maintenance windows, by the worker's configuration", () => {
  /** A local date-time on UTC's clock, to the second, `ms` from now. */
  const clock = (ms: number) => new Date(Date.now() + ms).toISOString().slice(0, 19);

  it('waits durably through a freeze, deploying nothing, and goes by itself when it ends', async () => {
    const freeze = {
      name: 'launch-day',
      blocks: ['release' as const],
      timeZone: 'UTC',
      from: clock(-60_000),
      to: clock(4_000),
    };
    h.config.targets.dev!.freezes.push(freeze);
    try {
      const { releaseId } = await h.api.startRelease(releaseRequest('frozen', 'v1', 'dev'));
      const waiting = await waitForStage(h.api, releaseId, 'waiting_for_window');
      assert.equal(waiting.window?.reason, 'freeze launch-day blocks release');
      assert.equal(waiting.window?.goesAt, `${freeze.to}.000Z`);
      assert.equal(
        await h.infra.describe({ hostname: 'frozen-v1.dev.test.internal' }),
        null,
        'nothing deployed',
      );
      const done = await h.api.wait(releaseId);
      assert.equal(done.stage, 'completed');
      const deployedAt = Date.parse(done.history.find((x) => x.stage === 'deploying')!.at);
      assert.ok(deployedAt >= Date.parse(`${freeze.to}Z`), 'deployed once the freeze ended');
      const changes = await h.cmdb.changes('frozen', 'dev');
      const wait = changes.find((c) => c.stage === 'waiting_for_window');
      assert.match(
        wait?.note ?? '',
        /^dev is closed: freeze launch-day blocks release; goes at .+ \(before deploying\)$/,
      );
    } finally {
      h.config.targets.dev!.freezes.length = 0;
    }
  });

  it('goes at once on an override approved by the target’s rule, recorded in the status, history and CMDB', async () => {
    // prod: two approvals from alice, bob or carol, never the initiator.
    // A global freeze through the whole UTC day 30 days from now.
    const lastDay = new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10);
    h.config.freezes.push({
      name: 'year-end',
      blocks: ['release'],
      timeZone: 'UTC',
      from: '2020-01-01',
      to: lastDay,
    });
    try {
      const { releaseId } = await h.api.startRelease({
        ...releaseRequest('hotfix', 'v1', 'prod'),
        initiator: 'alice',
      });
      const waiting = await waitForStage(h.api, releaseId, 'waiting_for_window');
      assert.equal(
        Date.parse(waiting.window!.goesAt),
        Date.parse(`${lastDay}T00:00:00Z`) + 86_400_000,
        'the freeze ends when its last day does',
      );
      await expectRefused(
        h.api.overrideWindow(releaseId, { approver: 'alice', reason: 'mine' }),
        /^alice started this release and may not let it go while prod is closed$/,
      );
      const env = await cliEnvironment(h);
      const cli = await runCli(
        ['release', 'override', releaseId, '--approver', 'bob', '--reason', 'INC-7: payments down'],
        env,
      );
      assert.equal(cli.code, 0, cli.stderr);
      assert.equal(cli.stdout, 'overridden by bob: freeze year-end blocks release; going now\n');
      const approving = await waitForStage(h.api, releaseId, 'awaiting_approval');
      assert.deepEqual(
        { ...approving.windowOverride, at: undefined },
        {
          approver: 'bob',
          reason: 'INC-7: payments down',
          closedReason: 'freeze year-end blocks release',
          at: undefined,
        },
      );
      // The override lets the release go; it approves nothing: prod's two approvals are still needed.
      await h.api.approve(releaseId, { approver: 'bob' });
      await h.api.approve(releaseId, { approver: 'carol' });
      const done = await h.api.wait(releaseId);
      assert.equal(done.stage, 'completed');
      assert.equal(
        done.history.filter((x) => x.stage === 'waiting_for_window').length,
        1,
        'no second wait before cutover',
      );
      const events = (await h.client.workflow.getHandle(releaseId).fetchHistory()).events ?? [];
      const accepted = events.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes);
      assert.equal(accepted.length, 3, 'the override and two approvals; the refused override is not there');
      const changes = await h.cmdb.changes('hotfix', 'prod');
      assert.ok(
        changes.some(
          (c) =>
            c.step.endsWith(':window_override') &&
            c.note === 'let go while closed (freeze year-end blocks release) by bob: INC-7: payments down',
        ),
        JSON.stringify(changes.map((c) => [c.step, c.note])),
      );
      const status = await runCli(['release', 'status', releaseId], env);
      assert.match(
        status.stdout,
        /^override {2}let go while closed \(freeze year-end blocks release\) by bob at .+: INC-7: payments down$/m,
      );
    } finally {
      h.config.freezes.length = 0;
    }
  });
});

describe('abort', () => {
  it('aborts before cutover: green torn down, alias left on blue', async () => {
    const blue = await existingBlue('news', 'stage');
    const { releaseId } = await h.api.startRelease(releaseRequest('news', 'v2', 'stage'));
    await waitForStage(h.api, releaseId, 'awaiting_approval');
    await h.api.abort(releaseId, { by: 'ops', reason: 'wrong build' });
    const done = await h.api.wait(releaseId);
    assert.equal(done.stage, 'aborted');
    assert.equal(done.reason, 'abort requested by ops: wrong build');
    assert.equal(await h.infra.describe({ hostname: 'news-v2.stage.test.internal' }), null);
    assert.equal(await aliasTarget('news', 'stage'), blue.hostname);
    assert.deepEqual(await h.infra.describe({ hostname: blue.hostname }), blue, 'blue still runs');
  });

  it('honours an abort sent while integration tests run, on a target that needs no approval', async () => {
    const blue = await existingBlue('slowtests', 'dev');
    const { releaseId } = await h.api.startRelease(releaseRequest('slowtests', 'v2', 'dev'));
    await waitForStage(h.api, releaseId, 'testing');
    const receipt = await h.api.abort(releaseId, { by: 'ops' });
    assert.match(receipt.message, /tearing green down/);
    const done = await h.api.wait(releaseId);
    assert.equal(done.stage, 'aborted');
    assert.ok(!done.history.some((x) => x.stage === 'cutting_over'), 'never cut over');
    assert.equal(await aliasTarget('slowtests', 'dev'), blue.hostname);
    assert.equal(await h.infra.describe({ hostname: 'slowtests-v2.dev.test.internal' }), null);
  });

  it('treats a cancellation of the workflow as an abort before cutover', async () => {
    const blue = await existingBlue('cancel1', 'stage');
    const { releaseId } = await h.api.startRelease(releaseRequest('cancel1', 'v2', 'stage'));
    await waitForStage(h.api, releaseId, 'awaiting_approval');
    await h.client.workflow.getHandle(releaseId).cancel();
    const done = await h.api.wait(releaseId);
    assert.equal(done.stage, 'aborted');
    assert.equal(done.reason, 'abort requested by temporal: workflow cancellation requested');
    // It cleaned up and completed with its final status, rather than ending as cancelled.
    assert.equal((await h.client.workflow.getHandle(releaseId).describe()).status.name, 'COMPLETED');
    assert.equal(await aliasTarget('cancel1', 'stage'), blue.hostname);
    assert.equal(await h.infra.describe({ hostname: 'cancel1-v2.stage.test.internal' }), null);
  });

  it('treats a cancellation of the workflow as a rollback after cutover', async () => {
    const blue = await existingBlue('cancel2', 'soak');
    const { releaseId } = await h.api.startRelease(releaseRequest('cancel2', 'v2', 'soak'));
    await waitForStage(h.api, releaseId, 'baking');
    await h.client.workflow.getHandle(releaseId).cancel();
    const done = await h.api.wait(releaseId);
    assert.equal(done.stage, 'rolled_back');
    assert.equal(await aliasTarget('cancel2', 'soak'), blue.hostname);
    assert.deepEqual(await getJson(`${blue.endpoint}/version`), { service: 'cancel2', version: 'v1' });
    assert.equal(await h.infra.describe({ hostname: 'cancel2-v2.soak.test.internal' }), null);
  });
});

describe('versions and host names', () => {
  it('refuses to release the version that is already live, and leaves it running', async () => {
    const first = await establishBlue('same');
    const { releaseId } = await h.api.startRelease(releaseRequest('same', 'v1', 'dev'));
    const done = await h.api.wait(releaseId);
    assert.equal(done.stage, 'failed');
    assert.equal(done.reason, 'v1 is already live on dev (same-v1.dev.test.internal)');
    assert.equal(await aliasTarget('same', 'dev'), first.live!.hostname);
    assert.deepEqual(await getJson(`${first.live!.endpoint}/version`), { service: 'same', version: 'v1' });
  });

  it('gives versions that differ only in case or punctuation their own host names', async () => {
    const lower = await establishBlue('case');
    const { releaseId } = await h.api.startRelease(releaseRequest('case', 'V1', 'dev'));
    const done = await h.api.wait(releaseId);
    assert.equal(done.stage, 'completed', done.reason ?? '');
    assert.notEqual(done.live!.hostname, lower.live!.hostname);
    assert.match(done.live!.hostname, /^case-v1-[0-9a-f]{8}\.dev\.test\.internal$/);
    assert.deepEqual(await getJson(`${done.live!.endpoint}/version`), { service: 'case', version: 'V1' });
    assert.equal(await aliasTarget('case', 'dev'), done.live!.hostname);
  });

  it('replaces a live deployment that is no longer running, and refuses an alias it does not manage', async () => {
    await h.dns.upsert({
      name: alias('ghost', 'dev'),
      type: 'CNAME',
      value: 'ghost-v0.dev.test.internal',
      ttl: 1,
    });
    const { releaseId } = await h.api.startRelease(releaseRequest('ghost', 'v1', 'dev'));
    const done = await h.api.wait(releaseId);
    assert.equal(done.stage, 'completed', done.reason ?? '');
    assert.equal(done.previous?.version, 'unknown');
    assert.equal(await aliasTarget('ghost', 'dev'), 'ghost-v1.dev.test.internal');

    await h.dns.upsert({ name: alias('foreign', 'dev'), type: 'CNAME', value: 'lb.example.com', ttl: 1 });
    const foreign = await h.api.startRelease(releaseRequest('foreign', 'v1', 'dev'));
    const refused = await h.api.wait(foreign.releaseId);
    assert.equal(refused.stage, 'failed');
    assert.match(
      refused.reason ?? '',
      /points at lb\.example\.com, which is not a foreign deployment on dev/,
    );
    assert.equal(await aliasTarget('foreign', 'dev'), 'lb.example.com');
  });

  it("never tears down another service's deployment that happens to have green's host name", async () => {
    // `web-api` version v1 and `web` version api-v1 both map to web-api-v1.dev.test.internal.
    const other = await establishBlue('web-api');
    const { releaseId } = await h.api.startRelease(releaseRequest('web', 'api-v1', 'dev'));
    const done = await h.api.wait(releaseId);
    assert.equal(done.stage, 'failed');
    assert.match(done.reason ?? '', /already runs web-api v1; refusing to reuse it for web api-v1/);
    assert.deepEqual(await getJson(`${other.live!.endpoint}/version`), { service: 'web-api', version: 'v1' });
    assert.equal((await h.dns.get(other.live!.hostname))?.type, 'A', "the other service's record is kept");
    assert.equal(await aliasTarget('web-api', 'dev'), other.live!.hostname);
  });

  it('rolls back to a live deployment whose instance is gone by restoring the alias', async () => {
    const gone = 'spook-v0.soak.test.internal';
    await h.dns.upsert({ name: alias('spook', 'soak'), type: 'CNAME', value: gone, ttl: 1 });
    const { releaseId } = await h.api.startRelease(releaseRequest('spook', 'v1', 'soak'));
    const baking = await waitForStage(h.api, releaseId, 'baking');
    assert.equal(baking.previous?.isGone, true);
    await h.api.rollback(releaseId, { by: 'ops' });
    const done = await waitForStage(h.api, releaseId, 'rolled_back', 15_000);
    assert.equal(done.reason, 'rollback requested by ops');
    assert.equal(await aliasTarget('spook', 'soak'), gone);
    assert.equal(await h.infra.describe({ hostname: 'spook-v1.soak.test.internal' }), null);
  });

  it('ends with a failed stage and its reason when the target is unknown to the worker', async () => {
    const handle = await h.client.workflow.start(RELEASE_WORKFLOW, {
      taskQueue: h.taskQueue,
      workflowId: 'unknown-target',
      args: [{ service: 'web', version: 'v1', target: 'moon', initiator: 'ci' }],
    });
    await assert.rejects(handle.result(), WorkflowFailedError);
    const status = await h.api.status('unknown-target');
    assert.equal(status.stage, 'failed');
    assert.match(status.reason ?? '', /unknown target "moon"; configured targets: dev, stage/);
  });
});

describe('one release per service and target', () => {
  it('refuses a second release with an error that names the running one', async () => {
    const { releaseId } = await h.api.startRelease(releaseRequest('solo', 'v1', 'stage'));
    await waitForStage(h.api, releaseId, 'awaiting_approval');
    await assert.rejects(h.api.startRelease(releaseRequest('solo', 'v2', 'stage')), (e: unknown) => {
      assert.ok(e instanceof GreenlightError);
      assert.equal(e.code, 'conflict');
      assert.match(
        e.message,
        new RegExp(`release ${releaseId} \\(solo v1 → stage, stage awaiting_approval\\) is running`),
      );
      return true;
    });
    // Bypassing the client's check, the lane still refuses atomically inside the workflow.
    const rogue = await h.client.workflow.start(RELEASE_WORKFLOW, {
      taskQueue: h.taskQueue,
      workflowId: 'solo-rogue',
      args: [{ service: 'solo', version: 'v3', target: 'stage', initiator: 'ci' }],
    });
    await assert.rejects(rogue.result(), (e: unknown) => {
      assert.ok(e instanceof WorkflowFailedError);
      assert.match(String(e.cause?.message), /another release of solo to stage is running/);
      return true;
    });
    // The running release is unharmed; a different target is not blocked.
    assert.equal((await h.api.status(releaseId)).stage, 'awaiting_approval');
    const other = await h.api.startRelease(releaseRequest('solo', 'v2', 'dev'));
    assert.equal((await h.api.wait(other.releaseId)).stage, 'completed');
    await h.api.abort(releaseId, { by: 'ci' });
    assert.equal((await h.api.wait(releaseId)).stage, 'aborted');
    // Once it has ended, the lane is free again.
    const next = await h.api.startRelease(releaseRequest('solo', 'v2', 'stage'));
    await waitForStage(h.api, next.releaseId, 'awaiting_approval');
    await h.api.abort(next.releaseId, {});
  });

  it('accepts exactly one of five simultaneous starts; the others are refused at once, naming it', async () => {
    const starts = await Promise.allSettled(
      ['v1', 'v2', 'v3', 'v4', 'v5'].map((version) =>
        h.api.startRelease(releaseRequest('race', version, 'stage')),
      ),
    );
    const accepted = starts.flatMap((s) => (s.status === 'fulfilled' ? [s.value.releaseId] : []));
    assert.equal(accepted.length, 1, `accepted: ${accepted.join(', ')}`);
    for (const start of starts) {
      if (start.status === 'fulfilled') continue;
      assert.ok(start.reason instanceof GreenlightError, String(start.reason));
      assert.equal(start.reason.code, 'conflict');
      assert.match(start.reason.message, new RegExp(`^release ${accepted[0]} \\(race v\\d → stage`));
    }
    // Nothing was started for the refused ones.
    const listed = await h.client.workflow.count(
      `WorkflowType = '${RELEASE_WORKFLOW}' AND GreenlightService = 'race'`,
    );
    assert.equal(listed.count, 1);

    // Only the holder frees its lane: a `free` signal from outside changes nothing.
    await signalAndWait(laneWorkflowId('race', 'stage'), 'free');
    await assert.rejects(
      h.api.startRelease(releaseRequest('race', 'v9', 'stage')),
      (e: unknown) => e instanceof GreenlightError && e.code === 'conflict',
    );
    await waitForStage(h.api, accepted[0], 'awaiting_approval');
    await h.api.abort(accepted[0], { by: 'ci' });
    assert.equal((await h.api.wait(accepted[0])).stage, 'aborted');
    // Its end frees the lane at once.
    const next = await h.api.startRelease(releaseRequest('race', 'v9', 'stage'));
    await h.api.abort(next.releaseId, { by: 'ci' });
  });

  it('admits and refuses starts sent with the plain temporal CLI (Update-with-Start on the lane)', async () => {
    const cliPath = await findCli();
    assert.ok(cliPath, 'the Temporal CLI is needed');
    const start = (releaseId: string, version: string) =>
      runFile(cliPath, [
        'workflow',
        'execute-update-with-start',
        '--address',
        h.address,
        '--workflow-id',
        laneWorkflowId('plain', 'stage'),
        '--type',
        'releaseLane',
        '--task-queue',
        h.taskQueue,
        '--id-conflict-policy',
        'UseExisting',
        '--update-name',
        'startRelease',
        '--update-input',
        JSON.stringify({
          releaseId,
          request: { service: 'plain', version, target: 'stage', initiator: 'alice' },
        }),
      ]);
    const first = await start('plain-stage-by-hand-1', 'v1');
    assert.equal(first.code, 0, first.stderr);
    const second = await start('plain-stage-by-hand-2', 'v2');
    assert.notEqual(second.code, 0);
    assert.match(second.stderr, /release plain-stage-by-hand-1 holds the lane greenlight-lane:plain:stage/);
    await assert.rejects(h.client.workflow.getHandle('plain-stage-by-hand-2').describe(), /not found/i);
    await waitForStage(h.api, 'plain-stage-by-hand-1', 'awaiting_approval');
    await h.api.abort('plain-stage-by-hand-1', { by: 'ci' });
    assert.equal((await h.api.wait('plain-stage-by-hand-1')).stage, 'aborted');
  });

  it('keeps the lane of a release started directly until it ends, whatever it is sent', async () => {
    const direct = await h.client.workflow.start(RELEASE_WORKFLOW, {
      taskQueue: h.taskQueue,
      workflowId: 'direct-release',
      args: [{ service: 'direct', version: 'v1', target: 'stage', initiator: 'ci' }],
    });
    await waitForStage(h.api, direct.workflowId, 'awaiting_approval');
    const lane = h.client.workflow.getHandle(laneWorkflowId('direct', 'stage'));
    await signalAndWait(lane.workflowId, 'free');
    // Even a cancellation (which its holder cannot tell from anyone else's) does not free it.
    await lane.cancel();
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await lane.describe()).status.name, 'RUNNING');
    await assert.rejects(h.api.startRelease(releaseRequest('direct', 'v2', 'stage')), (e: unknown) => {
      assert.ok(e instanceof GreenlightError);
      assert.match(
        e.message,
        /^release direct-release \(direct v1 → stage, stage awaiting_approval\) is running/,
      );
      return true;
    });
    await h.api.abort(direct.workflowId, { by: 'ci' });
    assert.equal((await h.api.wait(direct.workflowId)).stage, 'aborted');
    // Once the release has closed, the lane is ended by the parent-close policy: the next start goes.
    const next = await h.api.startRelease(releaseRequest('direct', 'v2', 'stage'));
    await h.api.abort(next.releaseId, { by: 'ci' });
  });

  it('cancels the release of a cancelled lane, and frees the lane only after it has ended', async () => {
    const { releaseId } = await h.api.startRelease(releaseRequest('lanecancel', 'v1', 'stage'));
    await waitForStage(h.api, releaseId, 'awaiting_approval');
    const lane = h.client.workflow.getHandle(laneWorkflowId('lanecancel', 'stage'));
    await lane.cancel();
    const done = await h.api.wait(releaseId);
    assert.equal(done.stage, 'aborted');
    await lane.result();
    const [releaseClosed, laneClosed] = await Promise.all([
      h.client.workflow.getHandle(releaseId).describe(),
      lane.describe(),
    ]);
    assert.equal(releaseClosed.status.name, 'COMPLETED');
    assert.equal(laneClosed.status.name, 'COMPLETED');
    assert.ok(laneClosed.closeTime! >= releaseClosed.closeTime!, 'the lane ended after its release');
  });

  it('rejects an invalid release request in the workflow too', async () => {
    const handle = await h.client.workflow.start(RELEASE_WORKFLOW, {
      taskQueue: h.taskQueue,
      workflowId: 'bad-input',
      args: [{ service: 'web', version: '1.0;rm -rf /', target: 'dev', initiator: 'ci' }],
    });
    await assert.rejects(handle.result(), (e: unknown) => {
      assert.ok(e instanceof WorkflowFailedError);
      assert.match(String(e.cause?.message), /invalid release request: version/);
      return true;
    });
  });

  it('answers the status query while it runs', async () => {
    const { releaseId } = await h.api.startRelease(releaseRequest('query', 'v1', 'stage'));
    await waitForStage(h.api, releaseId, 'awaiting_approval');
    const status = await h.client.workflow.getHandle(releaseId).query(statusQuery);
    assert.equal(status.releaseId, releaseId);
    assert.deepEqual(Object.keys(status).sort(), [
      'approvals',
      'artifact',
      'blockedBy',
      'green',
      'history',
      'initiator',
      'isBlueTerminated',
      'live',
      'notes',
      'policyDecisions',
      'previous',
      'promotion',
      'reason',
      'releaseId',
      'service',
      'skipSlowScans',
      'stage',
      'startedAt',
      'target',
      'tests',
      'train',
      'updatedAt',
      'version',
      'waitingFor',
      'window',
      'windowOverride',
    ]);
    await h.api.abort(releaseId, {});
  });
});

/** Runs a program with an argument array (no shell); resolves with its exit code and output. */
function runFile(file: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** How many local activities (breaker checks) a release has run. */
async function localActivities(releaseId: string): Promise<number> {
  const events = (await h.client.workflow.getHandle(releaseId).fetchHistory()).events ?? [];
  return events.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity').length;
}

async function waitUntil(predicate: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await predicate()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Sends a signal and waits until a workflow task has seen it (or the workflow has closed). */
async function signalAndWait(workflowId: string, name: string, ...args: unknown[]): Promise<void> {
  const handle = h.client.workflow.getHandle(workflowId);
  await handle.signal(name, ...args);
  for (let i = 0; i < 100; i++) {
    const events = (await handle.fetchHistory()).events ?? [];
    // A task that started after the signal arrived has seen it; one already running had not.
    const signalled = events.map((e) => !!e.workflowExecutionSignaledEventAttributes).lastIndexOf(true);
    const started = events.findIndex((e, i) => i > signalled && e.workflowTaskStartedEventAttributes);
    const isSeen = started > 0 && events.slice(started).some((e) => e.workflowTaskCompletedEventAttributes);
    if (isSeen || (await handle.describe()).status.name !== 'RUNNING') return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no workflow task saw the ${name} signal to ${workflowId}`);
}

/** How many Update events a release's history holds. */
async function updateEventCount(releaseId: string): Promise<number> {
  const history = await h.client.workflow.getHandle(releaseId).fetchHistory();
  return (history.events ?? []).filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes).length;
}

/** The size of a release's history in bytes, as the server stores it. */
async function historyBytes(releaseId: string): Promise<number> {
  const { historySize } = await h.client.workflow.getHandle(releaseId).describe();
  return Number(historySize);
}

async function waitForList(filter: { stage: string; service: string }) {
  // Visibility is eventually consistent: poll briefly.
  for (let i = 0; i < 50; i++) {
    const rows = await h.api.list(filter);
    if (rows.length) return rows;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no release listed for ${JSON.stringify(filter)}`);
}
