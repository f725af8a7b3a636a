import { releaseMetrics } from './metrics';
import { condition, log, patched } from '@temporalio/workflow';
import { FailureTypes } from '../../shared/messages';
import { effectivePolicy, evaluatePolicy } from '../../shared/policy';
import type { Policy, PolicyDecision } from '../../shared/policy';
import type { BakeCheck } from '../../shared/release';
import { isMaintenanceWindowOpen } from '../../shared/target';
import { long, quick } from '../common/proxies';
import { describeFailure, isFailureOfType } from '../common/failures';
import { Patches } from './patches';
import { BakeJudge } from './bake-judge';
import { coordinates, Ending } from './run';
import type { Run } from './run';
import { removeGreen, restoreAlias, tearDown } from './undo';

// The steps of a blue/green release, in order. Each records its stage in the journal, pushes the
// undo of what it is about to change, and throws an `Ending` when the release ends there.

const nowIso = (): string => new Date().toISOString();

/**
 * Asks the target's environment whether it takes a release: only while it is active. The client
 * asks first; this holds for releases started any other way (the plain `temporal` CLI).
 */
export async function askEnvironment(run: Run): Promise<void> {
  if (!patched(Patches.askEnvironment)) return;
  const { target, releaseId, service, version } = run.release.status;
  const { refusal } = await quick.environmentGate.executeWithOptions(
    { summary: `ask environment ${target}` },
    [{ target, release: { releaseId, service, version } }],
  );
  if (refusal) throw new Ending('failed', refusal);
}

/**
 * Deploys green beside blue, from its version's artifact: resolved first, so a version without one
 * fails before anything is deployed, and its digest is in the status from then on.
 */
export async function deployGreen(run: Run): Promise<void> {
  const { service, version, releaseId } = run.release.status;
  if (patched(Patches.resolveArtifact)) {
    const { uri, digest } = await quick.resolveArtifact.executeWithOptions(
      { summary: `resolve artifact ${service}@${version}` },
      [{ service, version }],
    );
    run.artifact = { uri, digest };
    run.release.setArtifact(run.artifact);
    const { expectedDigest } = run.request;
    if (expectedDigest && digest !== expectedDigest) {
      throw new Ending(
        'failed',
        `the artifact of ${service}@${version} has changed since its manifest was recorded: ${digest} now, ${expectedDigest} recorded`,
      );
    }
  }
  run.undo.push('remove green', (cause) => removeGreen(run, cause));
  await run.journal.enter('deploying', `deploying ${version} beside ${run.blue?.version ?? 'nothing'}`);
  run.green = await long.deployGreen.executeWithOptions({ summary: `deploy green ${service} ${version}` }, [
    {
      ...coordinates(run),
      releaseId,
      version,
      ttl: run.settings.recordTtl,
      ...(run.artifact ? { artifact: run.artifact } : {}),
    },
  ]);
  run.release.setGreen(run.green);
}

/** Runs the integration tests against green. */
export async function testGreen(run: Run): Promise<void> {
  const green = run.green!;
  const { skipSlowScans } = run.release.status;
  await run.journal.enter('testing', `green at ${green.hostname}`, [
    { deployment: green, colour: 'green', status: 'candidate' },
  ]);
  const tests = await long.runIntegrationTests.executeWithOptions(
    { summary: `integration tests against ${green.hostname}${skipSlowScans ? ' (slow scans skipped)' : ''}` },
    [{ deployment: green, skipSlowScans }],
  );
  run.release.setTests(tests);
}

/**
 * On a target with a promotion rule, asks the CMDB whether green's artifact completed on the target
 * it promotes from and stayed live there long enough: the facts `promoted` and `soaked`, explained
 * in the status and the history.
 */
export async function judgePromotion(run: Run): Promise<void> {
  const { release, settings, artifact } = run;
  if (!settings.promotion) return;
  const { service, target } = release.status;
  run.promotion = artifact
    ? await quick.promotionFacts.executeWithOptions(
        { summary: `promotion of ${service} from ${settings.promotion.from}` },
        [{ service, target, digest: artifact.digest }],
      )
    : null;
  // The rule was removed from the worker's configuration meanwhile: there is nothing to judge.
  if (!run.promotion) return;
  release.setPromotion(run.promotion);
  release.addNote(`promotion: ${run.promotion.explanation}`, nowIso());
}

/** Gets the promotion decision: the target's policy, with the approvals it asks for. */
export async function decide(run: Run): Promise<void> {
  const { release, settings } = run;
  // A train's release: its train judges the policy with the cross-service checks and gathers the
  // approvals; the release judges its own policy at the train's go.
  if (release.status.train) return;
  await run.journal.enter('evaluating_policy');
  release.setRequiredApprovals(settings.approval.required);
  const first = evaluate(run);
  if (first.allowed) return;
  const withApproval = evaluatePolicy(policyOf(run), { ...facts(run), approval_obtained: true });
  if (!withApproval.allowed) {
    const why = run.promotion && !run.promotion.soaked ? ` (${run.promotion.explanation})` : '';
    throw blocked(run, `policy blocked promotion: ${first.explanation}${why}`);
  }

  const timeoutMs = settings.approval.timeout;
  release.openApprovalGate(settings.approval, new Date(Date.now() + timeoutMs).toISOString());
  await run.journal.enter(
    'awaiting_approval',
    `policy needs approval: ${first.explanation}`,
    [],
    release.approvalWaitText(),
  );
  const isDecided =
    (await condition(() => release.isApproved || release.isRejected, timeoutMs, {
      summary: `approval timeout (${settings.approval.required} approval(s) needed)`,
    })) ||
    release.isApproved ||
    release.isRejected; // a decision in the same task as the timeout still counts
  if (!isDecided) throw new Ending('expired', `no decision within ${timeoutMs / 1000} s`);
  if (release.isRejected) {
    const r = release.status.approvals.rejectedBy;
    throw new Ending('rejected', `rejected by ${r?.approver}${r?.comment ? `: ${r.comment}` : ''}`);
  }
  const second = evaluate(run);
  if (!second.allowed) throw blocked(run, `policy blocked promotion after approval: ${second.explanation}`);
}

/**
 * With `holdBeforeCutover`, waits until told to go: a train deploys and tests all its services
 * first, then lets each cut over. Bounded by the target's approval timeout; the policy is judged
 * again at the go.
 */
export async function awaitGo(run: Run): Promise<void> {
  const { release, settings } = run;
  const { train } = release.status;
  if (!run.holdBeforeCutover && !train) return;
  // A train waits for its approval while its releases hold: they hold longer than that, and its
  // end cancels them anyway.
  const timeoutMs = train ? 2 * settings.approval.timeout + TRAIN_MARGIN_MS : settings.approval.timeout;
  if (train) release.holdForTrain(settings.approval);
  const until = new Date(Date.now() + timeoutMs).toISOString();
  await run.journal.enter(
    'awaiting_go',
    train
      ? `green is ready; held until train ${train} lets it cut over`
      : 'green is ready; held before cutover',
    [],
    train ? `train ${train} to let it cut over, until ${until}` : `a go to cut over, until ${until}`,
  );
  const isGiven = train
    ? await awaitTrainWord(run, 'go', Date.now() + timeoutMs)
    : (await condition(() => release.isGoGiven, timeoutMs, {
        summary: `wait for a go to cut over until ${until}`,
      })) || release.isGoGiven;
  if (!isGiven) throw new Ending('expired', `no go to cut over within ${timeoutMs / 1000} s`);
  // The facts may have changed while it was held (a maintenance window closed): a go never
  // overrides the policy, which is judged again.
  const decision = evaluate(run);
  if (!decision.allowed) throw blocked(run, `policy blocked promotion at the go: ${decision.explanation}`);
}

/** Points the alias at green (compare-and-swap against blue). */
export async function cutOver(run: Run): Promise<void> {
  const { release } = run;
  // An abort accepted while the last pre-cutover activity was finishing wins over promotion.
  // Nothing awaits between this check and the stage change, so no abort slips in after it.
  if (release.isAbortRequested) throw new Ending('aborted', release.interventionNote ?? 'aborted');
  const green = run.green!;
  await run.journal.enter('cutting_over', `${run.names.alias} → ${green.hostname}`);
  run.undo.push('restore alias', (cause) => restoreAlias(run, cause));
  try {
    const { previousTtl } = await quick.cutOverAlias.executeWithOptions(
      { summary: `cut over ${run.names.alias} → ${green.hostname}` },
      [
        {
          ...coordinates(run),
          from: run.blue?.hostname ?? null,
          to: green.hostname,
          ttl: run.settings.recordTtl,
        },
      ],
    );
    // Until resolvers have dropped the old answer, clients may still reach blue.
    run.blueNeededUntil = Date.now() + (previousTtl ?? run.settings.recordTtl) * 1000;
  } catch (e) {
    // Someone else moved the alias: it never pointed at green, so there is nothing to restore.
    if (isFailureOfType(e, FailureTypes.dnsConflict)) run.undo.drop('restore alias');
    throw new Ending('failed', describeFailure('cutover', e));
  }
  release.setLive(green);
}

/** Health checks of green until the bake time is over; a failure or a request rolls back. */
export async function bake(run: Run): Promise<void> {
  const { release, settings } = run;
  const green = run.green!;
  await run.journal.enter('baking', `health checks for ${settings.bake / 1000} s`, [
    { deployment: green, colour: 'green', status: 'live' },
  ]);
  const judge = new BakeJudge(settings.rollbackPolicy);
  let deadline = Date.now() + settings.bake;
  let isExtended = false;
  for (;;) {
    while (Date.now() < deadline && !release.isRollbackRequested) {
      await lookWhileBaking(run, judge);
      const left = deadline - Date.now();
      if (left <= 0) break;
      await condition(() => release.isRollbackRequested, Math.min(settings.healthCheckInterval, left), {
        summary: 'next health check while baking',
      });
    }
    // A query waiting for data keeps the bake going, once, for another bake's length.
    if (release.isRollbackRequested || !judge.isWaitingForData || isExtended) break;
    isExtended = true;
    deadline = Date.now() + settings.bake;
    release.addNote(
      `no data yet from ${judge.waitingFor.join(', ')}: baking ${settings.bake / 1000} s more`,
      nowIso(),
    );
  }
  if (judge.isWaitingForData)
    release.addNote(`no data from ${judge.waitingFor.join(', ')} while baking: passed`, nowIso());
  throwIfRollbackRequested(run);
}

/**
 * One look at green while it bakes: its health check and metric analysis, judged by the target's
 * rollback policy; ends the release (rolled back) when the policy says so, the decision recorded
 * with the query results behind it.
 */
async function lookWhileBaking(run: Run, judge: BakeJudge): Promise<void> {
  const { release } = run;
  const green = run.green!;
  let check: BakeCheck | null = null;
  let failure: string | null = null;
  try {
    check = await quick.checkHealth.executeWithOptions(
      { summary: `health check ${green.hostname}`, scheduleToCloseTimeout: '1m' },
      [{ deployment: green }],
    );
    if (!check.passed) failure = `health check failed while baking: ${check.detail}`;
  } catch (e) {
    failure = describeFailure('health check', e);
  }
  // Prometheus unreachable never rolls a release back: the look goes on without it, said once.
  if (check?.analysisUnavailable && judge.noteUnavailable())
    release.addNote(`metric analysis skipped: ${check.analysisUnavailable}`, nowIso());
  const verdict = judge.judge(failure, check?.analysis ?? [], Date.now());
  if (judge.isWorthRecording(verdict))
    release.recordDecision(judge.policy, verdict.decision, verdict.facts, nowIso());
  if (verdict.decision.allowed) throw new Ending('rolled_back', verdict.reason);
}

/**
 * A train's release, once baked, keeps everything as it is until its train says every service has
 * baked: until then the train can roll it back, all or nothing (also on a first release).
 */
export async function awaitTrainCommit(run: Run): Promise<void> {
  const { release, settings } = run;
  const { train } = release.status;
  if (!train) return;
  const timeoutMs = 2 * settings.approval.timeout + TRAIN_MARGIN_MS;
  const until = new Date(Date.now() + timeoutMs).toISOString();
  await run.journal.enter(
    'awaiting_termination',
    `baked; held until every service of train ${train} has baked`,
    [],
    `train ${train} to commit (every service baked), until ${until}; rollback possible until then`,
  );
  const isDone = await awaitTrainWord(run, 'commit', Date.now() + timeoutMs);
  throwIfRollbackRequested(run);
  if (!isDone) throw new Ending('rolled_back', `train ${train} did not commit within ${timeoutMs / 1000} s`);
}

/**
 * Waits for the train's go (or commit) until `deadline`. A signal proves nothing (anyone may send
 * one): each is confirmed with the train itself, which must have let this release cut over (or
 * committed it); the approvals it records are the train's. Releases of the version before this
 * confirmation took the signal as it was. True once given; false at the deadline or on a rollback.
 */
async function awaitTrainWord(run: Run, word: 'go' | 'commit', deadline: number): Promise<boolean> {
  const { release } = run;
  const train = release.status.train!;
  const isGiven = () => (word === 'go' ? release.isGoGiven : release.isCommitted);
  const isAsked = () => (word === 'go' ? release.pendingGo !== null : release.isCommitPending);
  const confirms = patched(Patches.trainConfirms);
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) return isGiven();
    await condition(() => isAsked() || release.isRollbackRequested, left, {
      summary: `wait for train ${train} to ${word === 'go' ? 'let it cut over' : 'commit'}`,
    });
    if (release.isRollbackRequested) return false;
    if (!isAsked()) continue;
    if (!confirms) {
      if (word === 'go') release.acceptTrainGo(release.pendingGo!.approvals, nowIso());
      else release.acceptCommit(nowIso());
      return true;
    }
    const { releaseId } = release.status;
    const answer = await quick.trainDecision.executeWithOptions(
      { summary: `confirm the ${word} with ${train}` },
      [{ train, releaseId }],
    );
    if (word === 'go' && answer.released) {
      release.acceptTrainGo(answer.approvals, nowIso());
      return true;
    }
    if (word === 'commit' && answer.committed) {
      release.acceptCommit(nowIso());
      return true;
    }
    const reason = `train ${train} has not ${word === 'go' ? 'let this release cut over' : 'committed'}; the ${word} was not from it`;
    if (word === 'go') release.declineTrainGo(reason, nowIso());
    else release.declineCommit(reason, nowIso());
  }
}

/** Beyond twice the approval timeout, how long a train's release waits for its train. */
const TRAIN_MARGIN_MS = 3_600_000;

/** Keeps blue for a quick rollback, then terminates it: from then on the release is committed. */
export async function retireBlue(run: Run): Promise<void> {
  const { release, blue } = run;
  if (!blue) return run.journal.finish('completed', null);
  const wait = Math.max(run.settings.terminationWait, run.blueNeededUntil - Date.now());
  const until = new Date(Date.now() + wait).toISOString();
  await run.journal.enter(
    'awaiting_termination',
    `blue ${blue.version} kept until ${until} for a quick rollback`,
    [],
    `termination of blue ${blue.version} at ${until}; rollback possible until then`,
  );
  await condition(() => release.isRollbackRequested, wait, {
    summary: `keep blue ${blue.version} for a quick rollback until ${until}`,
  });
  throwIfRollbackRequested(run);
  run.undo.commit();
  await run.journal.enter('terminating_blue', `terminating ${blue.hostname}`);
  const leak = await tearDown(run, blue.hostname);
  release.setBlueTerminated(leak === null);
  // Green is live and healthy: the release did its job; a leak is noted for whoever cleans up.
  if (leak) return run.journal.finish('completed', `green is live; ${leak}`);
  await run.journal.finish('completed', null, [{ deployment: blue, colour: 'blue', status: 'terminated' }]);
}

function throwIfRollbackRequested({ release }: Run): void {
  if (release.isRollbackRequested)
    throw new Ending('rolled_back', release.interventionNote ?? 'rollback requested');
}

/** The release policy denied the cutover: the release fails, and the worker's metrics count a denial. */
function blocked({ release }: Run, reason: string): Ending {
  releaseMetrics.policyDenied(release.status.target, 'release');
  return new Ending('failed', reason);
}

function evaluate(run: Run): PolicyDecision {
  const { release } = run;
  const decisionFacts = facts(run);
  const policy = policyOf(run);
  const decision = evaluatePolicy(policy, decisionFacts);
  release.recordDecision(policy, decision, decisionFacts, nowIso());
  log.info('policy decision', { allowed: decision.allowed, explanation: decision.explanation });
  return decision;
}

/** The policy the target enforces: its own, and its promotion rule's facts when it has one. */
function policyOf({ settings, promotion }: Run): Policy {
  return effectivePolicy(settings.policy, promotion !== null);
}

/** The facts a target's policy is evaluated on. */
function facts({ release, settings, blue, promotion }: Run): Record<string, boolean> {
  return {
    ...(promotion ? { promoted: promotion.promoted, soaked: promotion.soaked } : {}),
    tests_passed: release.status.tests?.passed === true,
    slow_scans_skipped: release.status.skipSlowScans,
    approval_obtained: release.isApproved,
    maintenance_window_open: isMaintenanceWindowOpen(settings.maintenanceWindows, new Date()),
    first_release: blue === null,
  };
}
