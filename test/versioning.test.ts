// Worker versioning on a real dev server: a release started on one build of the worker finishes
// after the next build becomes current, moving to it (auto-upgrade, the default) or staying on the
// build it started on until it ends (pinned). Workflow code changes themselves are kept compatible
// with running histories by `patched()`, which the replay test checks against recorded histories.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { GreenlightClient } from '../src/client/api';
import type { WorkerDeployment } from '../src/config/load';
import { parseOrThrow } from '../src/config/errors';
import { Config } from '../src/config/schema';
import { composeDependencies, createWorker } from '../src/worker';
import type { Dependencies } from '../src/worker';
import { destroyAll, releaseRequest, TEST_CONFIG } from '../harness/release';
import { startDevServer, workflowBundle } from '../harness/temporal';
import { waitForStage } from './helpers/wait';

let env: TestWorkflowEnvironment;
let stateDir: string;
let providers: Dependencies;
let api: GreenlightClient;
const taskQueue = `greenlight-versioning-${process.pid}`;
const running = new Map<string, { worker: Worker; done: Promise<void> }>();

before(async () => {
  env = await startDevServer();
  stateDir = await mkdtemp(join(tmpdir(), 'greenlight-versioning-'));
  providers = await composeDependencies(parseOrThrow(Config, TEST_CONFIG, 'test config'), stateDir, {
    searchPath: process.env.PATH ?? '',
    client: env.client,
  });
  api = new GreenlightClient(env.client, { taskQueue });
});

after(async () => {
  for (const { worker, done } of running.values()) {
    if (worker.getState() === 'RUNNING') worker.shutdown();
    await done.catch(() => undefined);
  }
  if (providers) {
    await providers.close();
    await destroyAll(providers.localInfra, stateDir);
  }
  await env?.teardown();
  await rm(stateDir, { recursive: true, force: true });
});

/** A worker of one build of the deployment, running until stopped. */
async function startBuild(deployment: WorkerDeployment): Promise<void> {
  const worker = await createWorker({
    connection: env.nativeConnection,
    namespace: 'default',
    taskQueue,
    deps: providers.deps,
    workflowBundle: await workflowBundle(),
    deployment,
  });
  running.set(deployment.buildId, { worker, done: worker.run() });
}

async function stopBuild(buildId: string): Promise<void> {
  const build = running.get(buildId)!;
  build.worker.shutdown();
  await build.done;
}

/** Makes a build the deployment's current version, as `temporal worker deployment set-current-version` does. */
async function makeCurrent(deploymentName: string, buildId: string): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      await env.client.workflowService.setWorkerDeploymentCurrentVersion({
        namespace: 'default',
        deploymentName,
        buildId,
        identity: 'versioning-test',
      });
      return;
    } catch (e) {
      // The version exists once its worker has polled.
      if (i >= 100) throw e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** The build that completed each workflow task of an execution, in order. */
async function buildsOf(workflowId: string): Promise<string[]> {
  const events = (await env.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  return events
    .map((e) => e.workflowTaskCompletedEventAttributes?.deploymentVersion?.buildId)
    .filter((b): b is string => typeof b === 'string' && b !== '');
}

const unique = (builds: string[]) => builds.filter((b, i) => builds.indexOf(b) === i);

describe('upgrading the worker while releases run (worker versioning)', () => {
  it('auto-upgrade: a release started on build 1 finishes on build 2 once it is current', async () => {
    const name = `greenlight-auto-${process.pid}`;
    await startBuild({ name, buildId: 'auto-1', behavior: 'auto-upgrade' });
    await makeCurrent(name, 'auto-1');
    const { releaseId } = await api.startRelease(releaseRequest('web', 'v1', 'stage'));
    await waitForStage(api, releaseId, 'awaiting_approval');

    await startBuild({ name, buildId: 'auto-2', behavior: 'auto-upgrade' });
    await makeCurrent(name, 'auto-2');
    await stopBuild('auto-1');
    await api.approve(releaseId, { approver: 'alice' });
    const done = await api.wait(releaseId);
    assert.equal(done.stage, 'completed', done.reason ?? '');
    assert.deepEqual(unique(await buildsOf(releaseId)), ['auto-1', 'auto-2']);
    await stopBuild('auto-2');
  });

  it('pinned: a release stays on the build it started on while new releases go to the current one', async () => {
    const name = `greenlight-pinned-${process.pid}`;
    await startBuild({ name, buildId: 'pinned-1', behavior: 'pinned' });
    await makeCurrent(name, 'pinned-1');
    const old = await api.startRelease(releaseRequest('api', 'v1', 'stage'));
    await waitForStage(api, old.releaseId, 'awaiting_approval');

    await startBuild({ name, buildId: 'pinned-2', behavior: 'pinned' });
    await makeCurrent(name, 'pinned-2');
    const fresh = await api.startRelease(releaseRequest('shop', 'v1', 'dev'));
    assert.equal((await api.wait(fresh.releaseId)).stage, 'completed');
    await api.approve(old.releaseId, { approver: 'alice' });
    assert.equal((await api.wait(old.releaseId)).stage, 'completed');
    assert.deepEqual(
      unique(await buildsOf(old.releaseId)),
      ['pinned-1'],
      'the old release never left build 1',
    );
    assert.deepEqual(unique(await buildsOf(fresh.releaseId)), ['pinned-2'], 'the new one ran on build 2');
    // The lane, which outlives releases, is not pinned: it moves to the current version (at once,
    // or at its next task).
    const lane = (await env.client.workflow.getHandle('greenlight-lane:api:stage').describe()).raw
      .workflowExecutionInfo?.versioningInfo;
    assert.equal(lane?.behavior, temporal.api.enums.v1.VersioningBehavior.VERSIONING_BEHAVIOR_AUTO_UPGRADE);
    const goesTo = lane?.versionTransition?.deploymentVersion?.buildId ?? lane?.deploymentVersion?.buildId;
    assert.equal(goesTo, 'pinned-2', JSON.stringify(lane));
  });
});
