import {
  allHandlersFinished,
  CancellationScope,
  condition,
  isCancellation,
  patched,
  workflowInfo,
} from '@temporalio/workflow';
import { FailureTypes } from '../../shared/messages';
import { hostnames, isTerminalStage, MAX_SCHEDULE_AHEAD_MS, ReleaseRequest } from '../../shared/release';
import { describeIssues } from '../../shared/text';
import type { ReleaseRequestInput, ReleaseStatus } from '../../shared/release';
import { quick } from '../common/proxies';
import { Compensations } from '../common/compensation';
import { describeFailure, outcome } from '../common/failures';
import { registerHandlers } from './handlers';
import { Journal } from './journal';
import { holdLane } from './lane';
import { releaseMetrics, reportStage } from './metrics';
import { Notifier } from './notifier';
import { Patches } from './patches';
import { Publisher } from './publisher';
import { Ending } from './run';
import type { Run } from './run';
import { ReleaseState } from './state';
import { awaitWindow } from './window';
import {
  askEnvironment,
  awaitGo,
  awaitTrainCommit,
  bake,
  cutOver,
  decide,
  deployGreen,
  judgePromotion,
  retireBlue,
  testGreen,
} from './steps';

const nowIso = (): string => new Date().toISOString();

/** A blue/green release of one service version to one target. The workflow id is the release id. */
export async function blueGreenRelease(input: ReleaseRequestInput): Promise<ReleaseStatus> {
  const parsed = ReleaseRequest.safeParse(input);
  if (!parsed.success) {
    throw outcome(
      FailureTypes.invalidInput,
      `invalid release request: ${describeIssues(parsed.error.issues)}`,
    );
  }
  const release = new ReleaseState(workflowInfo().workflowId, parsed.data, nowIso());
  if (parsed.data.train && workflowInfo().parent?.workflowId !== parsed.data.train) {
    throw outcome(
      FailureTypes.invalidInput,
      `invalid release request: train ${parsed.data.train} starts its own releases; this one was not started by it`,
    );
  }
  releaseMetrics.started(release.status.target);
  const publisher = new Publisher(release);
  const preparation = new AbortableSteps(release);
  const notifier = new Notifier(release);
  registerHandlers(release, publisher, () => preparation.abort(), notifier);
  publisher.start();

  const journal = new Journal(release, publisher, notifier);
  if (parsed.data.notBefore && !(await awaitSchedule(release, journal, parsed.data.notBefore))) {
    return release.status;
  }
  const freeLane = await holdLane(release, publisher, parsed.data.notBefore !== undefined);
  if (!freeLane) return release.status; // aborted while it waited for its lane
  try {
    await CancellationScope.nonCancellable(async () => {
      const run = await begin(release, journal, parsed.data);
      notifier.listen(run.settings.notify);
      await runSteps(run, preparation);
    });
  } catch (e) {
    // A failure no step handled (settings or blue unreadable, blue could not be terminated…):
    // the release still ends with a stage and a reason.
    if (!isTerminalStage(release.stage)) {
      const reason = describeFailure(`stage ${release.stage}`, e);
      // Recorded like every other ending: in the CMDB (for its history and `greenlight stats`),
      // and told to the webhooks and the train.
      if (patched(Patches.recordEveryEnding))
        await CancellationScope.nonCancellable(() => journal.finish('failed', reason));
      else {
        release.end('failed', nowIso(), reason);
        reportStage(release);
        publisher.publish();
      }
    }
  } finally {
    await freeLane();
  }
  // Requests still being handled (a breaker notice being verified) finish before the release
  // completes, so no message is left unhandled as it ends.
  await CancellationScope.nonCancellable(() => condition(allHandlersFinished));
  if (release.stage === 'failed' || release.stage === 'rolled_back') {
    throw outcome(
      FailureTypes.releaseFailed,
      `release ${release.stage.replace('_', ' ')}: ${release.status.reason ?? 'unknown reason'}`,
      release.status,
    );
  }
  return release.status;
}

/**
 * A scheduled release waits for its time (stage `scheduled`, no lane held), then takes its lane.
 * An abort (or the workflow's cancellation) meanwhile ends it `aborted`, nothing done: false.
 */
async function awaitSchedule(release: ReleaseState, journal: Journal, notBefore: string): Promise<boolean> {
  const at = new Date(notBefore).toISOString();
  if (Date.parse(at) - Date.now() > MAX_SCHEDULE_AHEAD_MS) {
    await journal.finish('failed', `scheduled for ${at}, more than a year ahead; nothing was done`);
    return false;
  }
  await journal.enter('scheduled', `goes at ${at}`, [], `its time, ${at}`);
  // Cancelling the workflow is an abort (see the handlers): the wait ends as for any abort.
  await CancellationScope.nonCancellable(() =>
    condition(() => release.isAbortRequested, Math.max(Date.parse(at) - Date.now(), 1), {
      summary: `wait until ${at}`,
    }),
  );
  if (release.isAbortRequested) {
    await journal.finish(
      'aborted',
      `${release.interventionNote ?? 'aborted'} before its time; nothing was done`,
    );
    return false;
  }
  await journal.enter('queued', `its time came (${at}); taking the lane`);
  return true;
}

/** Reads the target's settings and the live (blue) deployment the release replaces. */
async function begin(release: ReleaseState, journal: Journal, request: ReleaseRequest): Promise<Run> {
  const { service, target, version } = release.status;
  const settings = await quick.loadTargetSettings.executeWithOptions(
    { summary: `load settings of ${target}` },
    [{ target }],
  );
  const blue = await quick.resolveLiveDeployment.executeWithOptions(
    { summary: 'resolve live (blue) deployment' },
    [{ service, target, zone: settings.zone }],
  );
  release.setBlue(blue);
  return {
    release,
    journal,
    settings,
    blue,
    green: null,
    artifact: null,
    promotion: null,
    names: hostnames(service, version, target, settings.zone),
    undo: new Compensations<Ending>(),
    blueNeededUntil: 0,
    removed: null,
    holdBeforeCutover: request.holdBeforeCutover,
    request,
  };
}

/**
 * The steps in order. A step that ends the release early throws an `Ending`; the undo of every
 * step taken then runs in reverse (alias back to blue, green torn down) before the final stage.
 */
async function runSteps(run: Run, preparation: AbortableSteps): Promise<void> {
  try {
    await askEnvironment(run);
    if (run.blue?.hostname === run.names.green) {
      throw new Ending(
        'failed',
        `${run.release.status.version} is already live on ${run.release.status.target} (${run.names.green})`,
      );
    }
    await preparation.run(async () => {
      await awaitWindow(run, 'before deploying');
      await deployGreen(run);
      await testGreen(run);
      await judgePromotion(run);
      await decide(run);
      await awaitGo(run);
      await awaitWindow(run, 'before cutover');
    });
    await cutOver(run);
    await bake(run);
    await awaitTrainCommit(run);
    await retireBlue(run);
  } catch (e) {
    if (!(e instanceof Ending)) throw e;
    if (e.stage === 'rolled_back') await run.journal.enter('rolling_back', e.reason);
    const notes = await run.undo.unwind(e);
    const removed = run.removed
      ? [{ deployment: run.removed, colour: 'green' as const, status: 'torn_down' as const }]
      : [];
    await run.journal.finish(e.stage, [e.reason, ...notes].join('; '), removed);
  }
}

/**
 * The steps before cutover, which an accepted abort cancels (a running deploy or test finishes
 * cleanly, an approval wait ends). Their failures end the release; green is then torn down.
 */
class AbortableSteps {
  private scope: CancellationScope | null = null;

  constructor(private readonly release: ReleaseState) {}

  abort(): void {
    this.scope?.cancel();
  }

  async run(steps: () => Promise<void>): Promise<void> {
    const scope = new CancellationScope();
    this.scope = scope;
    try {
      if (this.release.isAbortRequested) scope.cancel();
      await scope.run(steps);
    } catch (e) {
      if (e instanceof Ending) throw e;
      if (isCancellation(e) && this.release.isAbortRequested) {
        throw new Ending('aborted', this.release.interventionNote ?? 'aborted');
      }
      throw new Ending('failed', describeFailure('preparing green', e));
    } finally {
      this.scope = null;
    }
  }
}
