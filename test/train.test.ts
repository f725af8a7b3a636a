import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GreenlightError } from '../src/client/api';
import type { TrainClient } from '../src/client/trains';
import { goUpdate, SearchAttributes } from '../src/shared/messages';
import type { ReleaseStatus } from '../src/shared/release';
import { isTrainEnded } from '../src/shared/train';
import type { TrainStatus } from '../src/shared/train';
import type { ConfigInput } from '../src/config/schema';
import type { Harness } from '../harness/release';
import { releaseRequest, startHarness, TEST_CONFIG } from '../harness/release';
import { cliEnvironment, runCli } from './helpers/cli';
import { replayAndRecord } from './helpers/histories';
import { getJson } from './helpers/inspect';
import { waitFor, waitForStage } from './helpers/wait';

let h: Harness;
let trains: TrainClient;
/** The train that completed on line, replayed by --from. */
let completedTrain = '';
let dir: string;
let config: ConfigInput;
/** Histories to replay (and record as fixtures): fixture name → workflow id. */
const recorded = new Map<string, string>();

/** A cross-service check that asks each green for its version, and writes what it was given. */
const CROSS_CHECK = `
const fs = require('node:fs');
const services = process.env.GREENLIGHT_SERVICES.split(',');
Promise.all(services.map(async (s) => {
  const url = process.env['GREENLIGHT_GREEN_' + s.toUpperCase().replaceAll('-', '_') + '_URL'];
  const body = await (await fetch(url + '/version')).json();
  return [s, url, body.version];
})).then((seen) => {
  fs.writeFileSync(process.argv[1], JSON.stringify({ train: process.env.GREENLIGHT_TRAIN, seen }));
});
`;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'greenlight-train-'));
  config = {
    ...TEST_CONFIG,
    targets: {
      ...TEST_CONFIG.targets,
      // One approval for the whole train; a bake long enough to act during it.
      line: {
        recordTtl: 1,
        approval: { required: 1, timeout: '1h' },
        policy: { all: ['tests_passed', 'approval_obtained'] },
        bake: '3s',
        healthCheckInterval: '200ms',
        terminationWait: '300ms',
      },
      // Promoted from line: only what completed there, live at least an hour (gate) or at all (next).
      gate: { recordTtl: 1, policy: 'tests_passed', promotion: { from: 'line', soak: '1h' } },
      next: {
        recordTtl: 1,
        policy: 'tests_passed',
        bake: '500ms',
        healthCheckInterval: '200ms',
        terminationWait: '300ms',
        promotion: { from: 'line' },
      },
      last: {
        recordTtl: 1,
        policy: 'tests_passed',
        bake: '300ms',
        terminationWait: '300ms',
        promotion: { from: 'line' },
      },
    },
    trains: {
      checks: [
        { name: 'together', command: [process.execPath, '-e', CROSS_CHECK, join(dir, 'cross-check.json')] },
        { name: 'never-passes', command: [process.execPath, '-e', 'process.exit(3)'] },
      ],
      actions: {
        broken: { command: [process.execPath, '-e', "console.log('no tag pushed'); process.exit(4)"] },
        tag: {
          command: [
            process.execPath,
            '-e',
            "require('node:fs').writeFileSync(process.argv[1], JSON.stringify({ api: process.env.GREENLIGHT_VERSION_API, ui: process.env.GREENLIGHT_VERSION_UI, worker: process.env.GREENLIGHT_VERSION_WORKER }))",
            join(dir, 'tagged.json'),
          ],
        },
      },
    },
  };
  h = await startHarness(config);
  trains = h.api.trains;
});

after(async () => {
  await h?.stop();
  await rm(dir, { recursive: true, force: true });
});

const alias = (service: string, target = 'line') => `${service}.${target}.test.internal`;
const aliasTarget = async (service: string, target = 'line') =>
  (await h.dns.get(alias(service, target)))?.value ?? null;

async function waitForTrain(
  trainId: string,
  isThere: (s: TrainStatus) => boolean,
  what: string,
): Promise<TrainStatus> {
  const deadline = Date.now() + 60_000;
  let last: TrainStatus | undefined;
  while (Date.now() < deadline) {
    last = await trains.status(trainId);
    if (isThere(last)) return last;
    if (isTrainEnded(last.stage))
      throw new Error(`the train ended (${last.stage}: ${last.reason}) before ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last?.history)}`);
}

const ended = (trainId: string) => waitForTrain(trainId, (s) => isTrainEnded(s.stage), 'the train to end');

const when = (s: ReleaseStatus, stage: string) => {
  const at = s.history.find((x) => x.stage === stage)?.at;
  assert.ok(at, `${s.releaseId} reached ${stage}`);
  return Date.parse(at);
};

const SERVICES = (version: string) => [
  { service: 'api', version },
  { service: 'ui', version },
  { service: 'worker', version },
];

describe('a release train on a real Temporal dev server', () => {
  it('deploys every green, checks them together, takes one approval, cuts over in order and completes', async () => {
    const { trainId } = await trains.start({
      target: 'line',
      initiator: 'ci',
      services: SERVICES('v1'),
      after: [
        ['ui', 'api'],
        ['worker', 'ui'],
      ],
      checks: ['together'],
      finalAction: 'tag',
    });
    const waiting = await waitForTrain(trainId, (s) => s.stage === 'awaiting_approval', 'the approval gate');
    assert.deepEqual(waiting.order, [['api'], ['ui'], ['worker']]);
    assert.deepEqual(
      waiting.services.map((m) => m.stage),
      ['awaiting_go', 'awaiting_go', 'awaiting_go'],
      'every release holds before cutover',
    );
    // The cross-service check ran once, against every green together.
    assert.equal(waiting.crossChecks?.passed, true);
    const seen = JSON.parse(await readFile(join(dir, 'cross-check.json'), 'utf8'));
    assert.equal(seen.train, trainId);
    assert.deepEqual(
      seen.seen.map(([s, url, v]: [string, string, string]) => [
        s,
        v,
        url === waiting.services.find((m) => m.service === s)!.green!.endpoint,
      ]),
      [
        ['api', 'v1', true],
        ['ui', 'v1', true],
        ['worker', 'v1', true],
      ],
    );
    // Nothing moved yet.
    for (const s of ['api', 'ui', 'worker']) assert.equal(await aliasTarget(s), null);
    // A release of the train cannot be approved or let go on its own.
    await assert.rejects(
      h.api.approve(waiting.services[0].releaseId, { approver: 'mallory' }),
      /belongs to train .*; approve the train/,
    );
    await assert.rejects(
      h.client.workflow
        .getHandle(waiting.services[2].releaseId)
        .executeUpdate(goUpdate, { args: [{ by: 'mallory' }] }),
      (e: Error) => /only its train lets it cut over/.test((e.cause as Error | undefined)?.message ?? ''),
    );
    // A forged go that names the train, sent as a signal as the train sends it: the release asks
    // its train, which has let nothing cut over, and holds on.
    const forged = h.client.workflow.getHandle(waiting.services[2].releaseId);
    await forged.signal('go', { by: 'mallory', train: trainId, approvals: [{ approver: 'mallory' }] });
    const declined = await waitFor(
      h.api,
      waiting.services[2].releaseId,
      (s) => s.approvals.refused.some((r) => /has not let this release cut over/.test(r.reason)),
      'the forged go declined',
    );
    assert.equal(declined.stage, 'awaiting_go');
    assert.deepEqual(declined.approvals.approvedBy, []);
    assert.equal(await aliasTarget('worker'), null);
    // A flood of forged nudges is not believed beyond a budget, and changes nothing.
    for (let i = 0; i < 200; i++)
      await h.client.workflow.getHandle(trainId).signal('trainNudge', { releaseId: 'x' });

    recorded.set('completed', trainId).set('completed-api', waiting.services[0].releaseId);
    recorded.set('confirmed-worker', waiting.services[2].releaseId);
    completedTrain = trainId;
    const receipt = await trains.approve(trainId, { approver: 'alice', comment: 'ship it' });
    // A forged commit to api once it has baked, before the others have: api asks its train, which
    // has not committed, and keeps blue (the train could still roll it back).
    await waitForStage(h.api, waiting.services[0].releaseId, 'awaiting_termination');
    await h.client.workflow
      .getHandle(waiting.services[0].releaseId)
      .signal('trainCommit', { train: trainId });
    const held = await waitFor(
      h.api,
      waiting.services[0].releaseId,
      (s) => s.approvals.refused.some((r) => /has not committed/.test(r.reason)),
      'the forged commit declined',
    );
    assert.equal(held.stage, 'awaiting_termination');
    assert.match(receipt.message, /approved by alice \(1 of 1\)/);
    const done = await ended(trainId);
    assert.equal(done.stage, 'completed', JSON.stringify(done.history));
    assert.equal(done.finalAction?.passed, true, done.finalAction?.detail);
    assert.deepEqual(JSON.parse(await readFile(join(dir, 'tagged.json'), 'utf8')), {
      api: 'v1',
      ui: 'v1',
      worker: 'v1',
    });

    const statuses = await Promise.all(done.services.map((m) => h.api.status(m.releaseId)));
    for (const s of statuses) {
      assert.equal(s.stage, 'completed', `${s.releaseId}: ${s.reason}`);
      assert.equal(await aliasTarget(s.service), s.green!.hostname);
      assert.deepEqual(
        s.approvals.approvedBy.map((a) => a.approver),
        ['alice'],
        'the train’s approval, recorded',
      );
      const described = await h.client.workflow.getHandle(s.releaseId).describe();
      assert.equal(described.typedSearchAttributes.get(SearchAttributes.train), trainId);
    }
    const [api, ui, worker] = statuses;
    // Each service baked before its dependent cut over, and none retired blue before all had baked.
    assert.ok(when(ui, 'cutting_over') >= when(api, 'awaiting_termination'), 'ui after api baked');
    assert.ok(when(worker, 'cutting_over') >= when(ui, 'awaiting_termination'), 'worker after ui baked');
    for (const s of statuses) assert.ok(when(s, 'completed') >= when(worker, 'awaiting_termination'));
  });

  it('rolls back every service cut over, in reverse order, when one fails while baking; the rest tear green down', async () => {
    const { trainId } = await trains.start({
      target: 'line',
      initiator: 'ci',
      services: SERVICES('v2'),
      after: [
        ['ui', 'api'],
        ['worker', 'ui'],
      ],
      checks: ['together'],
    });
    const waiting = await waitForTrain(trainId, (s) => s.stage === 'awaiting_approval', 'the approval gate');
    await trains.approve(trainId, { approver: 'alice' });
    const uiBaking = await waitForStage(h.api, waiting.services[1].releaseId, 'baking');
    assert.equal(await aliasTarget('api'), waiting.services[0].green!.hostname, 'api is live on v2');
    // Kill ui's green for real: its next health check fails.
    const pid = (await h.infra.pidOf(uiBaking.green!.hostname))!;
    process.kill(pid, 'SIGKILL');
    const killedAt = new Date().toISOString();
    const done = await ended(trainId);
    const ui = await h.api.status(done.services[1].releaseId);
    assert.equal(
      done.stage,
      'rolled_back',
      `killed ${pid} at ${killedAt}; ui: ${JSON.stringify(ui.history)}`,
    );
    recorded.set('rolled-back', trainId).set('rolled-back-api', done.services[0].releaseId);
    recorded.set('rolled-back-worker', done.services[2].releaseId);
    // A health check sent as the process died is reset; one sent after, refused: either way, gone.
    assert.match(
      done.reason ?? '',
      /^ui roll(?:ing|ed) back: health check failed while baking: GET \/healthz: (?:ECONNREFUSED|ECONNRESET) \(api rolled back, ui rolled back, worker aborted\)$/,
    );
    const [api, , worker] = await Promise.all(done.services.map((m) => h.api.status(m.releaseId)));
    assert.equal(api.stage, 'rolled_back');
    assert.equal(ui.stage, 'rolled_back');
    assert.equal(worker.stage, 'aborted', 'worker never cut over: its green was torn down');
    // Every alias is back on v1, which still answers; no v2 green runs.
    for (const s of [api, ui, worker]) {
      assert.equal(await aliasTarget(s.service), `${s.service}-v1.line.test.internal`);
      assert.equal(await h.infra.describe({ hostname: s.green!.hostname }), null, `${s.service} v2 is gone`);
    }
    const v1 = await h.infra.describe({ hostname: 'api-v1.line.test.internal' });
    assert.deepEqual(await getJson(`${v1!.endpoint}/version`), { service: 'api', version: 'v1' });
    // api rolled back by the train, after ui had ended.
    assert.match(api.reason ?? '', /rollback requested by train/);
    assert.ok(when(api, 'rolled_back') >= when(ui, 'rolled_back'));
  });

  it('tears every green down when the train is rejected; nothing moves', async () => {
    const { trainId } = await trains.start({
      target: 'line',
      initiator: 'ci',
      services: SERVICES('v3'),
      checks: [],
    });
    const waiting = await waitForTrain(trainId, (s) => s.stage === 'awaiting_approval', 'the approval gate');
    assert.deepEqual(waiting.order, [['api', 'ui', 'worker']]);
    // A second train over one of its services is refused, naming this one.
    await assert.rejects(
      trains.start({ target: 'line', initiator: 'ci', services: [{ service: 'ui', version: 'v4' }] }),
      (e: unknown) =>
        e instanceof GreenlightError &&
        e.code === 'conflict' &&
        e.message.startsWith(`${trainId} (stage awaiting_approval) is releasing ui to line`),
    );
    await trains.reject(trainId, { approver: 'bob', comment: 'not today' });
    const done = await ended(trainId);
    assert.equal(done.stage, 'rejected');
    recorded.set('rejected-together', trainId);
    assert.match(done.reason ?? '', /rejected by bob: not today/);
    for (const m of done.services) {
      assert.equal(m.stage, 'aborted');
      assert.equal(await aliasTarget(m.service), `${m.service}-v1.line.test.internal`);
      assert.equal(await h.infra.describe({ hostname: m.green!.hostname }), null);
    }
  });

  it('fails the train when a cross-service check fails, before any cutover', async () => {
    const { trainId } = await trains.start({
      target: 'line',
      initiator: 'ci',
      services: [{ service: 'api', version: 'v4' }],
      checks: ['never-passes'],
    });
    const done = await ended(trainId);
    assert.equal(done.stage, 'failed');
    assert.match(done.reason ?? '', /policy blocked promotion: all\(tests_passed ✗, approval_obtained ✗\) ✗/);
    assert.match(done.crossChecks?.checks[0].detail ?? '', /^exit 3 after \d+ ms$/);
    assert.equal(await aliasTarget('api'), 'api-v1.line.test.internal');
  });

  it('is refused while one of its services is being released, naming that release', async () => {
    const { releaseId } = await h.api.startRelease(releaseRequest('ui', 'v5', 'line'));
    await waitForStage(h.api, releaseId, 'awaiting_approval');
    await assert.rejects(
      trains.start({ target: 'line', initiator: 'ci', services: SERVICES('v5') }),
      (e: unknown) => {
        assert.ok(e instanceof GreenlightError);
        assert.equal(e.code, 'conflict');
        assert.match(
          e.message,
          new RegExp(`^${releaseId} \\(stage awaiting_approval\\) is releasing ui to line`),
        );
        return true;
      },
    );
    // Started past the client, the train itself refuses, naming the holder, and starts nothing.
    const handle = await h.client.workflow.start('releaseTrain', {
      workflowId: 'train-line-direct',
      taskQueue: h.taskQueue,
      args: [{ target: 'line', initiator: 'ci', services: SERVICES('v5') }],
    });
    await assert.rejects(handle.result(), (e: Error) => {
      assert.match(
        (e.cause as Error | undefined)?.message ?? '',
        new RegExp(`^train failed: ui to line is being released by ${releaseId} `),
      );
      return true;
    });
    const status = await trains.status('train-line-direct');
    assert.equal(status.stage, 'failed');
    assert.ok(status.services.every((m) => m.stage === 'not_started'));
    await h.api.abort(releaseId, { by: 'test' });
    await h.api.wait(releaseId);
  });

  it('validates a train before it starts: a cycle, an unknown service in the order, a repeated service', async () => {
    const cases: [object, RegExp][] = [
      [
        {
          after: [
            ['ui', 'api'],
            ['api', 'ui'],
          ],
        },
        /the order has a cycle: (ui after api after ui|api after ui after api)/,
      ],
      [{ after: [['ui', 'db']] }, /ui:db names db, which is not in the train/],
      [{ services: [...SERVICES('v6'), { service: 'ui', version: 'v7' }] }, /ui is named twice/],
    ];
    for (const [change, pattern] of cases) {
      await assert.rejects(
        trains.start({ target: 'line', initiator: 'ci', services: SERVICES('v6'), ...change } as never),
        (e: unknown) => e instanceof GreenlightError && e.code === 'invalid_input' && pattern.test(e.message),
      );
    }
  });

  it('promotes only an artifact that completed on the target it promotes from, and soaked there', async () => {
    // api v1 completed on line (the first train): promoted; an hour's soak it has not had.
    const early = await h.api.startRelease(releaseRequest('api', 'v1', 'gate'));
    const blocked = await h.api.wait(early.releaseId);
    assert.equal(blocked.stage, 'failed');
    assert.deepEqual(
      { promoted: blocked.promotion?.promoted, soaked: blocked.promotion?.soaked },
      { promoted: true, soaked: false },
    );
    assert.match(
      blocked.promotion!.explanation,
      /^api sha256:[0-9a-f]{12}… completed on line \(release api-line-\S+\) but was live there only \d+s, still live of the 1h soak$/,
    );
    assert.match(
      blocked.reason ?? '',
      /^policy blocked promotion: all\(tests_passed ✓, promoted ✓, soaked ✗\) ✗ \(api sha256:/,
    );
    assert.ok(blocked.history.some((x) => x.stage === 'testing') && blocked.green, 'judged after its tests');
    // No soak asked: promoted and soaked.
    const next = await h.api.wait((await h.api.startRelease(releaseRequest('api', 'v1', 'next'))).releaseId);
    assert.equal(next.stage, 'completed', next.reason ?? '');
    assert.equal(next.promotion?.soaked, true);
    assert.deepEqual(next.policyDecisions.at(-1)?.facts, {
      promoted: true,
      soaked: true,
      tests_passed: true,
      slow_scans_skipped: false,
      approval_obtained: true,
      maintenance_window_open: true,
      first_release: true,
    });
    // v2 was rolled back on line (the second train): never promoted.
    const back = await h.api.wait((await h.api.startRelease(releaseRequest('api', 'v2', 'next'))).releaseId);
    assert.equal(back.stage, 'failed');
    assert.match(
      back.promotion!.explanation,
      /^api sha256:\S+ was rolled back on line \(release api-line-\S+\) and never completed there$/,
    );
    const never = await h.api.wait((await h.api.startRelease(releaseRequest('ui', 'v9', 'next'))).releaseId);
    assert.match(never.promotion!.explanation, /^ui sha256:\S+ has not completed a release on line$/);
  });

  it('replays a completed train exactly with --from: the same versions, digests and order', async () => {
    const record = await h.cmdb.train(completedTrain);
    assert.ok(record, 'the completed train is in the CMDB');
    assert.equal(record.outcome, 'completed');
    assert.deepEqual(record.after, [
      ['ui', 'api'],
      ['worker', 'ui'],
    ]);
    assert.match(record.configHash, /^sha256:[0-9a-f]{64}$/);
    const source = await trains.status(completedTrain);
    assert.deepEqual(
      record.manifest,
      source.services.map((m) => ({ service: m.service, version: m.version, digest: m.artifact!.digest })),
    );

    const { trainId } = await trains.start({
      target: 'last',
      initiator: 'ci',
      from: completedTrain,
      checks: [],
    });
    const done = await ended(trainId);
    assert.equal(done.stage, 'completed', done.reason ?? '');
    assert.equal(done.from, completedTrain);
    assert.deepEqual(done.order, source.order);
    assert.deepEqual(
      done.services.map((m) => [m.service, m.version, m.artifact?.digest]),
      source.services.map((m) => [m.service, m.version, m.artifact?.digest]),
    );
    assert.equal((await h.cmdb.train(trainId))?.fromTrain, completedTrain);

    // A manifest whose artifact has other bytes now is refused before anything is deployed.
    await h.cmdb.recordTrain({
      ...record,
      trainId: 'train-line-tampered',
      manifest: record.manifest.map((m) =>
        m.service === 'ui' ? { ...m, digest: `sha256:${'0'.repeat(64)}` } : m,
      ),
    });
    const tampered = await ended(
      (await trains.start({ target: 'gate', initiator: 'ci', from: 'train-line-tampered' })).trainId,
    );
    assert.equal(tampered.stage, 'failed');
    assert.match(
      tampered.reason ?? '',
      /^ui failed: the artifact of ui@v1 has changed since its manifest was recorded: sha256:[0-9a-f]{64} now, sha256:0{64} recorded/,
    );
    assert.ok(tampered.services.every((m) => m.stage === 'aborted' || m.stage === 'failed'));
    // Only a completed train is promoted.
    const rolledBack = await ended(
      (await trains.start({ target: 'gate', initiator: 'ci', from: recorded.get('rolled-back')! })).trainId,
    );
    assert.match(
      rolledBack.reason ?? '',
      /ended rolled back; only a completed train's manifest is promoted$/,
    );
  });

  it('rolls back on request once cutover has begun, and refuses an abort then', async () => {
    const { trainId } = await trains.start({
      target: 'line',
      initiator: 'ci',
      services: SERVICES('v10'),
      after: [
        ['ui', 'api'],
        ['worker', 'ui'],
      ],
      checks: [],
    });
    const waiting = await waitForTrain(trainId, (s) => s.stage === 'awaiting_approval', 'the approval gate');
    await trains.approve(trainId, { approver: 'alice' });
    await waitForStage(h.api, waiting.services[1].releaseId, 'baking');
    await assert.rejects(trains.abort(trainId, { by: 'bob' }), /cannot abort once cutover has begun/);
    const receipt = await trains.rollback(trainId, { by: 'bob', reason: 'errors in the logs' });
    assert.match(
      receipt.message,
      /rollback requested by bob: errors in the logs; every service cut over rolls back/,
    );
    const done = await ended(trainId);
    assert.equal(done.stage, 'rolled_back');
    assert.deepEqual(
      done.services.map((m) => m.stage),
      ['rolled_back', 'rolled_back', 'aborted'],
    );
    for (const m of done.services)
      assert.equal(await aliasTarget(m.service), `${m.service}-v1.line.test.internal`);
  });

  it('unwinds cleanly when the train is cancelled, and every release when it is terminated', async () => {
    const cancelled = await trains.start({
      target: 'line',
      initiator: 'ci',
      services: SERVICES('v11'),
      checks: [],
    });
    await waitForTrain(cancelled.trainId, (s) => s.stage === 'awaiting_approval', 'the approval gate');
    await h.client.workflow.getHandle(cancelled.trainId).cancel();
    const done = await ended(cancelled.trainId);
    assert.equal(done.stage, 'aborted');
    assert.match(done.reason ?? '', /abort requested by temporal: workflow cancellation requested/);
    assert.ok(done.services.every((m) => m.stage === 'aborted'));

    const terminated = await trains.start({
      target: 'line',
      initiator: 'ci',
      services: SERVICES('v12'),
      checks: [],
    });
    const waiting = await waitForTrain(
      terminated.trainId,
      (s) => s.stage === 'awaiting_approval',
      'the gate',
    );
    await h.client.workflow.getHandle(terminated.trainId).terminate('test');
    for (const m of waiting.services) {
      const release = await h.api.wait(m.releaseId);
      assert.equal(release.stage, 'aborted', `${m.service}: cancelled with its train`);
      assert.equal(await h.infra.describe({ hostname: m.green!.hostname }), null);
    }
    // The lanes went with the train: a release of api starts again.
    const next = await h.api.startRelease(releaseRequest('api', 'v13', 'line'));
    await h.api.abort(next.releaseId, { by: 'test' });
    await h.api.wait(next.releaseId);
  });

  it('reports a final action that fails, and rolls nothing back for it', async () => {
    const { trainId } = await trains.start({
      target: 'dev',
      initiator: 'ci',
      services: [{ service: 'solo', version: 'v1' }],
      checks: [],
      finalAction: 'broken',
    });
    const done = await ended(trainId);
    assert.equal(done.stage, 'completed', done.reason ?? '');
    assert.deepEqual(
      { name: done.finalAction?.name, passed: done.finalAction?.passed, output: done.finalAction?.output },
      { name: 'broken', passed: false, output: 'no tag pushed' },
    );
    assert.match(done.finalAction!.detail, /^exit 4 after \d+ ms$/);
    assert.match(done.history.at(-1)!.note ?? '', /^final action broken failed: exit 4/);
    const [solo] = done.services;
    assert.equal(solo.stage, 'completed');
    assert.equal(await aliasTarget('solo', 'dev'), solo.green!.hostname);
  });

  it('runs from the CLI with a manifest, and says what is wrong with a bad one', async () => {
    const env = await cliEnvironment(h, config);
    const manifest = join(dir, 'train.yaml');
    await writeFile(manifest, 'target: dev\nservices:\n  api: v1\n  ui: v1\nafter: [ui:api]\nchecks: []\n');
    const run = await runCli(['train', 'start', '--manifest', manifest, '--wait'], env);
    assert.equal(run.code, 0, run.stderr);
    const trainId = /started train (train-dev-\S+)/.exec(run.stdout)?.[1];
    assert.ok(trainId, run.stdout);
    assert.match(run.stdout, /^stage {5}completed$/m);
    assert.match(run.stdout, /^order {5}api → ui$/m);
    const list = await runCli(['train', 'list', '--target', 'dev', '--json'], env);
    assert.ok(JSON.parse(list.stdout).some((t: { trainId: string }) => t.trainId === trainId));

    await writeFile(manifest, 'services:\n  api: v1\n  Bad_Name: v1\nafter: [ui-api]\n');
    const bad = await runCli(['train', 'start', '--manifest', manifest, '--target', 'dev'], env);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /invalid manifest .*train\.yaml: /);
    assert.match(bad.stderr, /"ui-api" is not <service>:<service it comes after>/);
    const flags = await runCli(
      ['train', 'start', '--target', 'dev', '--service', 'api', '--service', 'ui=$(id)'],
      env,
    );
    assert.equal(flags.code, 2);
    assert.match(flags.stderr, /--service "api" is not <service>=<version>, e.g. api=1f2e3d4/);
  });

  it('replays the histories of its trains and their releases against the current code', async () => {
    assert.ok(recorded.size >= 6, 'the trains above ran');
    await replayAndRecord(h.client, recorded, 'train-');
  });
});
