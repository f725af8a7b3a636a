import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Worker } from '@temporalio/worker';
import type { ReplayWorkerOptions } from '@temporalio/worker';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { defaultPayloadConverter } from '@temporalio/common';
import { environmentWorkflowId } from '../src/shared/environment';
import { approveSignal, rejectSignal, rollbackSignal, SearchAttributes } from '../src/shared/messages';
import type { Harness } from '../harness/release';
import { releaseRequest, startHarness } from '../harness/release';
import { temporalCliPath, uncountedReleaseMetrics, workflowBundle } from '../harness/temporal';
import { waitForStage } from './helpers/wait';

const run = promisify(execFile);

// Histories recorded by earlier versions of the workflow. Regenerate (only when a change is meant
// to be incompatible, with a versioning plan) with GREENLIGHT_RECORD_HISTORIES=1 npm test.
const FIXTURES = join(__dirname, '..', '..', 'test', 'histories');

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h?.stop();
});

/**
 * The id a history's workflow ran under, where the workflow depends on it: a train names its
 * releases after its own id, which it carries as its GreenlightTrain search attribute; an
 * environment (`env-<name>`, its input's name) names its notifications after its id. Other
 * workflows replay under any id (the fixture's name).
 */
function workflowIdOf(history: ReturnType<typeof historyFromJSON>): string | null {
  const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
  if (started?.workflowType?.name === 'environmentLifecycle') {
    const input = started.input?.payloads?.[0];
    const name = input ? (defaultPayloadConverter.fromPayload(input) as { name?: unknown }).name : null;
    return typeof name === 'string' ? environmentWorkflowId(name) : null;
  }
  if (started?.workflowType?.name === 'blueGreenRelease') {
    // A release names its notifications `notify-<its id>-<n>`.
    const notify = history.events
      ?.map((e) => e.startChildWorkflowExecutionInitiatedEventAttributes)
      .find((c) => c?.workflowType?.name === 'deliverNotifications');
    const id = notify?.workflowId?.replace(/^notify-/, '').replace(/-\d+$/, '');
    return id ?? null;
  }
  if (started?.workflowType?.name !== 'releaseTrain') return null;
  const payload = started.searchAttributes?.indexedFields?.[SearchAttributes.train.name];
  const id: unknown = payload ? defaultPayloadConverter.fromPayload(payload) : null;
  return typeof id === 'string' ? id : null;
}

async function replayOptions(): Promise<ReplayWorkerOptions> {
  return { workflowBundle: await workflowBundle(), sinks: uncountedReleaseMetrics() };
}

describe('replay', () => {
  it('replays histories recorded in this run against the current workflow code', async () => {
    // A release through every kind of step: blue, approval by update, a refused approval, bake, termination.
    const blue = await h.api.startRelease(releaseRequest('web', 'v1', 'dev'));
    await h.api.wait(blue.releaseId);
    const approved = await h.api.startRelease(releaseRequest('web', 'v2', 'prod', { initiator: 'alice' }));
    await waitForStage(h.api, approved.releaseId, 'awaiting_approval');
    await h.api.approve(approved.releaseId, { approver: 'alice' }).catch(() => undefined);
    await h.api.approve(approved.releaseId, { approver: 'bob' });
    await h.api.approve(approved.releaseId, { approver: 'carol' });
    await h.api.wait(approved.releaseId);
    // A release rejected by signal, after a malformed (refused) approval.
    const rejected = await h.api.startRelease(releaseRequest('web', 'v3', 'stage'));
    await waitForStage(h.api, rejected.releaseId, 'awaiting_approval');
    await h.client.workflow.getHandle(rejected.releaseId).signal(approveSignal, { approver: '' });
    await h.client.workflow
      .getHandle(rejected.releaseId)
      .signal(rejectSignal, { approver: 'bob', comment: 'no' });
    await h.api.wait(rejected.releaseId);
    // A release rolled back by signal while blue waits for termination.
    const uatBlue = await h.api.startRelease(releaseRequest('web', 'v1', 'uat'));
    await h.api.wait(uatBlue.releaseId);
    const rolledBack = await h.api.startRelease(releaseRequest('web', 'v2', 'uat'));
    await waitForStage(h.api, rolledBack.releaseId, 'awaiting_termination');
    await h.client.workflow.getHandle(rolledBack.releaseId).signal(rollbackSignal, { by: 'ops' });
    assert.equal((await h.api.wait(rolledBack.releaseId)).stage, 'rolled_back');

    // A release cancelled (the Web UI's Cancel) while it waits for approval: an abort.
    const cancelled = await h.api.startRelease(releaseRequest('web', 'v4', 'stage'));
    await waitForStage(h.api, cancelled.releaseId, 'awaiting_approval');
    await h.client.workflow.getHandle(cancelled.releaseId).cancel();
    assert.equal((await h.api.wait(cancelled.releaseId)).stage, 'aborted');

    const ids = [
      blue.releaseId,
      approved.releaseId,
      rejected.releaseId,
      rolledBack.releaseId,
      cancelled.releaseId,
    ];
    const histories = await Promise.all(ids.map((id) => h.client.workflow.getHandle(id).fetchHistory()));
    for (const [i, history] of histories.entries()) {
      const result = await Worker.runReplayHistory(await replayOptions(), history, ids[i]).then(
        () => null,
        (e: unknown) => e,
      );
      assert.equal(result, null, `history of ${ids[i]} replays without nondeterminism: ${String(result)}`);
    }

    if (process.env.GREENLIGHT_RECORD_HISTORIES === '1') {
      await mkdir(FIXTURES, { recursive: true });
      // Only missing fixtures are written: the existing ones stay as histories of earlier versions.
      const names = [
        'dev-completed',
        'prod-approved',
        'stage-rejected-by-signal',
        'uat-rolled-back-by-signal',
        // Recorded by the version before lanes were admitted by Update-with-Start.
        'stage-cancelled',
      ];
      const existing = new Set(await readdir(FIXTURES));
      const cli = await temporalCliPath();
      for (const [i, id] of ids.entries()) {
        if (existing.has(`${names[i]}.json`)) continue;
        const { stdout } = await run(cli, [
          'workflow',
          'show',
          '--workflow-id',
          id,
          '--output',
          'json',
          '--address',
          h.address,
        ]);
        // Stack traces name paths of the recording machine; replay does not need them.
        const sanitized = stdout.replace(/"stackTrace": "(?:[^"\\]|\\.)*"/g, '"stackTrace": ""');
        await writeFile(join(FIXTURES, `${names[i]}.json`), sanitized);
      }
    }
  });

  it('replays the committed histories of earlier versions', async () => {
    const files = (await readdir(FIXTURES)).filter((f) => f.endsWith('.json'));
    assert.ok(files.length >= 5, `expected committed histories in ${FIXTURES}`);
    for (const file of files) {
      const history = historyFromJSON(JSON.parse(await readFile(join(FIXTURES, file), 'utf8')));
      await assert.doesNotReject(
        Worker.runReplayHistory(await replayOptions(), history, workflowIdOf(history) ?? file),
        `replay of ${file}`,
      );
    }
  });
});

describe('the workflow bundle', () => {
  it('loads zod and luxon once for the sandbox, not once per workflow', async () => {
    const { code } = await workflowBundle();
    // The bundler drops a preloaded module whose exports nobody uses when its package declares no
    // side effects (zod, luxon): the preload function must still require the shared-libraries module.
    const preload = /exports\.preloadModules = function preloadModules\(\) \{([^}]*)\}/.exec(code);
    assert.ok(preload, 'the bundle has a preload function');
    assert.match(preload[1]!, /__webpack_require__\([^)]*"[^"]*workflows\/common\/shared-libraries\.js"\)/);
  });
});
