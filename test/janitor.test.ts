import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Reclaimed } from '../src/activities';
import { parseOrThrow } from '../src/config/errors';
import { JanitorConfig } from '../src/config/schema';
import { ensureJanitorSchedule, JANITOR_SCHEDULE_ID } from '../src/temporal/janitor-schedule';
import type { Harness } from '../harness/release';
import { releaseRequest, startHarness } from '../harness/release';
import { getJson, isProcessAlive } from './helpers/inspect';
import { waitForStage } from './helpers/wait';

let h: Harness;

before(async () => {
  h = await startHarness();
});

after(async () => {
  await h?.stop();
});

async function runJanitor(
  graceMs: number,
): Promise<{ reclaimed: Reclaimed[]; checked: number; failed: number }> {
  return h.client.workflow.execute('janitor', {
    taskQueue: h.taskQueue,
    workflowId: `janitor-${graceMs}-${Date.now()}`,
    args: [{ graceMs }],
  });
}

describe('the janitor', () => {
  it('reclaims what a terminated release left running, and nothing else', async () => {
    // A live deployment, and a release in its termination wait that still keeps blue.
    const live = await h.api.startRelease(releaseRequest('kept', 'v1', 'dev'));
    assert.equal((await h.api.wait(live.releaseId)).stage, 'completed');
    const keeping = await h.api.startRelease(releaseRequest('blue', 'v1', 'uat'));
    await h.api.wait(keeping.releaseId);
    const next = await h.api.startRelease(releaseRequest('blue', 'v2', 'uat'));
    await waitForStage(h.api, next.releaseId, 'awaiting_termination');
    // A release that waits for approval, and one terminated while it waited.
    const busy = await h.api.startRelease(releaseRequest('busy', 'v1', 'stage'));
    const left = await h.api.startRelease(releaseRequest('left', 'v1', 'stage'));
    const busyGreen = (await waitForStage(h.api, busy.releaseId, 'awaiting_approval')).green!;
    const leftGreen = (await waitForStage(h.api, left.releaseId, 'awaiting_approval')).green!;
    await h.client.workflow.getHandle(left.releaseId).terminate('an operator stopped it');
    const leftPid = (await h.infra.pidOf(leftGreen.hostname))!;
    assert.ok(isProcessAlive(leftPid), 'termination left green running');

    // A deployment whose release completed is never reclaimed, even once no alias points at it
    // (an operator moved the alias to a maintenance page).
    const keptLive = (await h.api.status(live.releaseId)).live!;
    await h.dns.upsert({
      name: 'kept.dev.test.internal',
      type: 'CNAME',
      value: 'maintenance.dev.test.internal',
      ttl: 1,
    });

    // Within the grace period nothing is touched.
    assert.deepEqual((await runJanitor(3_600_000)).reclaimed, []);
    assert.ok(isProcessAlive(leftPid));

    const report = await runJanitor(0);
    assert.deepEqual(
      report.reclaimed.map((r) => [r.hostname, r.releaseId, r.releaseEnded]),
      [[leftGreen.hostname, left.releaseId, 'terminated']],
    );
    assert.equal(isProcessAlive(leftPid), false, "the terminated release's green is stopped");
    assert.equal(await h.dns.get(leftGreen.hostname), null, 'its record is removed');
    const row = (await h.cmdb.deployments('left', 'stage')).find((d) => d.hostname === leftGreen.hostname);
    assert.equal(row?.status, 'torn_down');
    const change = (await h.cmdb.changes('left', 'stage')).find((c) => c.stage === 'reclaimed');
    assert.match(
      change?.note ?? '',
      /reclaimed by the janitor: release .* ended \(terminated\) without cleaning up/,
    );

    // The running release's green, the live deployment and the blue kept for a rollback still answer.
    assert.deepEqual(await getJson(`${busyGreen.endpoint}/version`), { service: 'busy', version: 'v1' });
    assert.deepEqual(await getJson(`${keptLive.endpoint}/version`), { service: 'kept', version: 'v1' });
    assert.equal(report.failed, 0);
    await h.api.abort(busy.releaseId, { by: 'ci' });
    await h.api.rollback(next.releaseId, { by: 'ci' });
    assert.equal((await h.api.wait(next.releaseId)).stage, 'rolled_back');
  });

  it('keeps one schedule, created by the worker and updated as configured, or deleted when disabled', async () => {
    const config = parseOrThrow(JanitorConfig, { interval: '5m', grace: '1m' }, 'janitor');
    assert.equal(await ensureJanitorSchedule(h.client, h.taskQueue, config), 'created');
    assert.equal(
      await ensureJanitorSchedule(h.client, h.taskQueue, { ...config, interval: 120_000 }),
      'updated',
    );
    const described = await h.client.schedule.getHandle(JANITOR_SCHEDULE_ID).describe();
    assert.equal(described.spec.intervals?.[0]?.every, 120_000);
    assert.equal(described.action.type, 'startWorkflow');
    assert.deepEqual(described.action.type === 'startWorkflow' ? described.action.args : null, [
      { graceMs: 60_000 },
    ]);
    assert.equal(
      await ensureJanitorSchedule(h.client, h.taskQueue, { ...config, enabled: false }),
      'deleted',
    );
  });
});
