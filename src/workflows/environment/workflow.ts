import {
  allHandlersFinished,
  condition,
  continueAsNew,
  log,
  patched,
  proxyActivities,
  setCurrentDetails,
  setDefaultSignalHandler,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../../activities';
import {
  EnvironmentStart,
  environmentAdmitUpdate,
  environmentApproveUpdate,
  environmentCheckDriftUpdate,
  environmentExtendUpdate,
  environmentRejectUpdate,
  environmentSignals,
  environmentRetryUpdate,
  environmentStatusQuery,
  environmentTransitionUpdate,
  environmentUpgradeUpdate,
  UpgradeRequest,
} from '../../shared/environment';
import type { EnvironmentReceipt, EnvironmentStartInput, EnvironmentStatus } from '../../shared/environment';
import { autoTransitionFrom, DECOMMISSION, transitionFrom } from '../../shared/flow';
import type { FlowAction, FlowTransition } from '../../shared/flow';
import { FailureTypes, SearchAttributes } from '../../shared/messages';
import { evaluatePolicy } from '../../shared/policy';
import { isMaintenanceWindowOpen } from '../../shared/target';
import { describeIssues } from '../../shared/text';
import { describeFailure, outcome } from '../common/failures';
import { startNotification } from '../notify';
import { environmentDetails } from './details';
import { freezeActionOf, freezeVerdict, unreadCalendar } from './freeze';
import { EnvironmentPatches } from './patches';
import { EnvironmentState } from './state';
import type { EnvironmentCarry, EnvironmentRequestKind, Verdict } from './state';

const audit = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  scheduleToCloseTimeout: '2m',
  heartbeatTimeout: '10s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
});

/**
 * An action that keeps failing blocks the environment after a few attempts, with the reason: people
 * see it and retry, rather than an environment that seems to hang for an hour.
 */
const acts = proxyActivities<Activities>({
  startToCloseTimeout: '15m',
  scheduleToCloseTimeout: '1h',
  heartbeatTimeout: '10s',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '30s',
    maximumAttempts: 4,
    nonRetryableErrorTypes: [FailureTypes.invalidInput],
  },
});

/**
 * One environment's whole life, as its pinned flow says: it takes the automatic transitions up to
 * where it stays (active), then the transitions people ask for, until it is decommissioned. A
 * transition runs its actions, judges its policy on the facts they yield, and moves; a failed
 * action or a policy that says no leaves the environment where it was, blocked, until a retry
 * (which first compensates what the failed attempt did). Continues as new when Temporal suggests.
 */
export async function environmentLifecycle(
  input: EnvironmentStartInput,
  carried?: EnvironmentCarry,
): Promise<EnvironmentStatus> {
  const parsed = EnvironmentStart.safeParse(input);
  if (!parsed.success)
    throw outcome(FailureTypes.invalidInput, `invalid environment: ${describeIssues(parsed.error.issues)}`);
  const env = new EnvironmentState(parsed.data, Date.now(), carried);
  registerHandlers(env);
  publish(env);

  while (!env.isFinal) {
    // A long life in short runs: between transitions, with no request waiting, the workflow
    // continues as new with its state when its history has grown long (Temporal's suggestion, or
    // the environment's own budget), so its history never reaches the server's limits. It carries
    // its definition as it is now (an upgrade's), not as it was started.
    if (isHistoryLong(env.start) && env.requested === null && !env.isRetryRequested) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof environmentLifecycle>(env.start, {
        status: env.status,
        expiresAt: env.expiresAt,
        driftDueAt: env.driftDueAt,
      });
    }
    const next = nextTransition(env);
    if (next) {
      await take(env, next.transition, next.by, next.note);
      // After a reconcile, a drift check shows what it mended.
      if (next.transition.on === 'reconcile' && !env.status.blocked) env.checkDriftSoon(Date.now());
      continue;
    }
    // Idle: nothing happens until someone asks, the next drift check is due or the TTL runs out
    // (a durable timer for whichever comes first).
    env.scheduleDrift(Date.now());
    publish(env);
    const wakeAt = Math.min(env.expiresAt ?? Infinity, env.driftDueAt ?? Infinity);
    const sequence = env.wakes;
    const isWoken = () =>
      env.requested !== null || env.isRetryRequested || env.wakes !== sequence || isHistoryLong(env.start);
    const isAsked =
      wakeAt === Infinity
        ? (await condition(isWoken), true)
        : await condition(isWoken, Math.max(0, wakeAt - Date.now()));
    env.updateTtl(Date.now());
    publish(env);
    if (isAsked) continue;
    if (env.expiresAt !== null && Date.now() >= env.expiresAt) expire(env);
    else if (env.driftDueAt !== null && Date.now() >= env.driftDueAt) await checkDrift(env);
  }
  if (patched(EnvironmentPatches.leakCheck)) await checkLeaks(env);
  publish(env);
  return env.status;
}

/**
 * Looks for drift and records what it found in the status, the Web UI and the logs; in the CMDB's
 * change log when the findings change (drift found, changed, or gone): a check that finds what the
 * last one found adds nothing there.
 */
async function checkDrift(env: EnvironmentState): Promise<void> {
  const before = JSON.stringify(env.status.lastDrift?.findings ?? []);
  let report: { clean: boolean; findings: string[] };
  try {
    report = await acts.checkEnvironmentDrift.executeWithOptions(
      { summary: `drift check of ${env.status.name}` },
      [{ environment: env.status.name, template: env.status.template }],
    );
  } catch (e) {
    report = { clean: false, findings: [`drift check failed: ${describeFailure('drift check', e)}`] };
  }
  env.recordDrift({ ...report, at: new Date().toISOString() }, Date.now());
  publish(env);
  if (!report.clean) log.warn('drift found', { environment: env.status.name, findings: report.findings });
  if (JSON.stringify(env.status.lastDrift!.findings) !== before) {
    const note = report.clean ? 'no drift any more' : report.findings.join('; ');
    await journal(env, { on: 'drift_check', to: env.state }, env.state, 'done', 'greenlight', note);
  }
}

/** After decommissioning: anything of the environment left behind, by name, in the status. */
async function checkLeaks(env: EnvironmentState): Promise<void> {
  try {
    env.recordLeakCheck(
      await acts.checkEnvironmentLeaks.executeWithOptions({ summary: `leak check of ${env.status.name}` }, [
        { environment: env.status.name, template: env.status.template },
      ]),
    );
  } catch (e) {
    env.recordLeakCheck({ clean: false, leftovers: [`not checked: ${describeFailure('leak check', e)}`] });
  }
  const { clean, leftovers } = env.status.leakCheck!;
  if (!clean) log.warn('leftovers after decommissioning', { environment: env.status.name, leftovers });
}

/** Adopts the definition the worker's configuration has now; refused when it cannot be. */
async function upgrade(env: EnvironmentState, input: unknown): Promise<EnvironmentReceipt> {
  const { by } = UpgradeRequest.parse(input ?? {});
  let definition;
  try {
    definition = await audit.environmentDefinition.executeWithOptions(
      { summary: `read the current definition of ${env.status.name}` },
      [{ environment: env.status.name, template: env.status.template }],
    );
  } catch (e) {
    throw outcome(FailureTypes.requestRefused, describeFailure('upgrade', e));
  }
  const from = env.state;
  const verdict = env.adopt(definition, by, new Date().toISOString());
  publish(env);
  if (!verdict.ok) throw outcome(FailureTypes.requestRefused, verdict.reason);
  await journal(env, { on: 'upgrade', to: from }, from, 'done', by, verdict.message);
  return { accepted: true, state: env.state, message: verdict.message };
}

function isHistoryLong(start: Pick<EnvironmentStart, 'historyBudget'>): boolean {
  const info = workflowInfo();
  return info.continueAsNewSuggested || info.historyLength >= start.historyBudget;
}

/** What to do next: a retry, a transition people asked for, or the flow's automatic one. */
function nextTransition(
  env: EnvironmentState,
): { transition: FlowTransition; by?: string; note?: string } | null {
  const flow = env.start.flow;
  if (env.requested) {
    const { transition, by, reason } = env.requested;
    return { transition, by, note: reason };
  }
  if (env.status.blocked) {
    if (!env.isRetryRequested) return null;
    const t =
      transitionFrom(flow, env.state, env.status.blocked.transition) ?? autoTransitionFrom(flow, env.state);
    // Nothing left to retry here (the flow has no such transition): the retry is spent.
    if (!t) env.isRetryRequested = false;
    return t ? { transition: t, note: 'retry' } : null;
  }
  const auto = autoTransitionFrom(flow, env.state);
  return auto ? { transition: auto } : null;
}

/** The TTL ran out: decommission, as if asked, without approval (the TTL was the decision). */
function expire(env: EnvironmentState): void {
  const t = transitionFrom(env.start.flow, env.state, DECOMMISSION);
  if (!t) return;
  // Marked by the workflow itself: no request people send can claim it (whatever name it gives).
  env.requested = {
    on: DECOMMISSION,
    by: 'ttl',
    reason: 'the TTL ran out',
    force: false,
    transition: t,
    isExpiry: true,
  };
}

/**
 * A freeze that blocks the transition now (see `freezeVerdict`): the TTL's decommission is put
 * off, a request is blocked (and recorded) unless forced. Returns the note of a forced transition,
 * or null when the transition may not run now.
 */
async function passFreeze(env: EnvironmentState, t: FlowTransition): Promise<{ note?: string } | null> {
  const action = freezeActionOf(t);
  if (!action || !patched(EnvironmentPatches.freezes)) return {};
  const now = new Date().toISOString();
  const request = env.requested;
  const gate = await acts.calendarGate
    .executeWithOptions({ summary: `is ${action} frozen` }, [
      { target: env.status.name, action, at: now, windows: false },
    ])
    .catch((e: unknown) => unreadCalendar(describeFailure('calendar', e), Date.now()));
  const verdict = freezeVerdict(gate, request, Date.now());
  if (verdict.kind === 'open') return {};
  if (verdict.kind === 'forced') return { note: verdict.note };
  if (verdict.kind === 'postponed') env.postponeExpiry(verdict.until, verdict.note, now);
  else {
    // A transition that failed half-way stays so: its retry after the freeze compensates first.
    const blocked = env.status.blocked;
    env.block(t, env.state, verdict.reason, blocked?.transition === t.on ? blocked.ranActions : 0, now);
  }
  env.clearRequest();
  publish(env);
  if (verdict.kind === 'blocked') await journal(env, t, env.state, 'blocked', request?.by, verdict.reason);
  return null;
}

async function take(env: EnvironmentState, t: FlowTransition, by?: string, note?: string): Promise<void> {
  const from = env.state;
  const now = () => new Date().toISOString();
  const request = env.requested;
  const isExpiry = request?.isExpiry === true;
  const freeze = await passFreeze(env, t);
  if (!freeze) return;
  if (freeze.note) note = [note, freeze.note].filter(Boolean).join('; ');
  if (!isExpiry && env.needsApproval(t, request ?? undefined)) {
    env.openApprovalGate(t);
    publish(env);
    const isDecided = await condition(() => env.isApproved || env.isRejected, env.start.approval.timeout);
    if (!isDecided || env.isRejected) {
      const why = env.isRejected
        ? `rejected by ${env.status.approvals.rejectedBy!.approver}`
        : 'no decision in time';
      env.closeApprovalGate();
      env.clearRequest();
      log.info('environment transition not approved', { transition: t.on, why });
      publish(env);
      return;
    }
  }
  // A transition that failed half-way is compensated, in reverse order, before it runs again.
  const blocked = env.status.blocked;
  if (blocked?.transition === t.on && blocked.ranActions > 0) {
    await compensate(env, t);
  }
  env.begin(t, now());
  publish(env);
  const facts: Record<string, boolean> = {};
  let ran = 0;
  for (const action of t.actions) {
    try {
      const result = await run(env, action);
      Object.assign(facts, result.facts);
      ran++;
    } catch (e) {
      const reason = describeFailure(action.run, e);
      env.block(t, from, reason, ran + 1, now());
      env.clearRequest();
      publish(env);
      await journal(env, t, from, 'blocked', by, reason);
      return;
    }
  }
  Object.assign(facts, await environmentFacts(env));
  facts.approval_obtained = env.isApproved && env.status.approvals.required > 0;
  const decision = evaluatePolicy(t.policy ?? { all: [] as never[] }, facts);
  env.recordDecision(t, decision, facts, now());
  const isForced = request?.force === true;
  if (t.policy !== undefined && !decision.allowed && !isForced) {
    env.block(t, from, `policy blocked ${t.on}`, ran, now(), decision.explanation);
    env.clearRequest();
    publish(env);
    await journal(env, t, from, 'blocked', by, `policy blocked ${t.on}: ${decision.explanation}`);
    return;
  }
  const forcedNote =
    t.policy !== undefined && !decision.allowed ? `forced past ${decision.explanation}` : undefined;
  const finalNote = [note, forcedNote].filter(Boolean).join('; ') || undefined;
  env.finish(t, from, now(), by, finalNote);
  env.clearRequest();
  publish(env);
  await journal(env, t, from, 'done', by, finalNote);
}

/**
 * Records a transition in the CMDB's change log and the environment's item. The CMDB is a record,
 * not a gate: a write that fails is logged and the environment goes on.
 */
/** What a transition's entry says: the environment, the transition, where from, how it went, who, why. */
type Entry = [
  env: EnvironmentState,
  t: Pick<FlowTransition, 'on' | 'to'>,
  from: string,
  outcome: 'done' | 'blocked',
  by?: string,
  note?: string,
];

async function journal(...entry: Entry): Promise<void> {
  await record(...entry);
  await tell(...entry);
}

/** Tells the webhooks that listen of a transition (done or blocked), or of drift found, changed or gone. */
async function tell(...[env, t, from, outcome, by, note]: Entry): Promise<void> {
  if (!patched(EnvironmentPatches.notifications)) return;
  const { name } = env.status;
  const event = t.on === 'drift_check' ? 'drift' : 'environment_transition';
  try {
    const isHeard = await acts.isNotified.executeWithOptions({ summary: `does anyone hear of ${event}` }, [
      { target: name, event },
    ]);
    if (!isHeard) return;
  } catch (e) {
    log.warn('notification skipped', { event, error: describeFailure('notify', e) });
    return;
  }
  const what =
    event === 'drift'
      ? (note ?? '')
      : `${t.on} ${outcome === 'done' ? `${from} → ${t.to}` : `blocked in ${from}`}${by ? ` by ${by}` : ''}${note ? `: ${note}` : ''}`;
  const { workflowId } = workflowInfo();
  await startNotification(
    `notify-${workflowId}-${Date.now()}-${t.on}`,
    { event, workflowId, target: name, detail: what, at: new Date().toISOString() },
    `notify: ${name} ${event === 'drift' ? 'drift' : t.on}`,
  );
}

async function record(...[env, t, from, outcome, by, note]: Entry): Promise<void> {
  const at = new Date().toISOString();
  const isRetired = env.isFinal;
  try {
    const { notRecorded } = await audit.recordEnvironmentChange.executeWithOptions(
      { summary: `record ${t.on} in CMDB` },
      [
        {
          change: {
            environment: env.status.name,
            step: `${at}:${t.on}:${outcome}`,
            transition: t.on,
            from,
            to: outcome === 'done' ? t.to : from,
            outcome,
            at,
            ...(by ? { by } : {}),
            ...(note ? { note: note.slice(0, 2000) } : {}),
          },
          item: {
            name: env.status.name,
            state: env.state,
            template: env.status.template,
            ttlExpiresAt: env.status.ttl?.expiresAt ?? null,
            decommissionedAt: isRetired ? at : null,
            updatedAt: at,
          },
        },
      ],
    );
    if (notRecorded)
      log.warn('CMDB write given up; the environment goes on', { transition: t.on, reason: notRecorded });
  } catch (e) {
    log.warn('CMDB write failed; the environment goes on', {
      transition: t.on,
      error: describeFailure('cmdb', e),
    });
  }
}

function run(env: EnvironmentState, action: FlowAction) {
  return acts.runEnvironmentAction.executeWithOptions({ summary: `${action.run} on ${env.status.name}` }, [
    {
      environment: env.status.name,
      action,
      item: {
        template: env.status.template,
        state: env.state,
        ttlExpiresAt: env.status.ttl?.expiresAt ?? null,
      },
    },
  ]);
}

/** Runs a transition's compensating actions in reverse order; best effort. */
async function compensate(env: EnvironmentState, t: FlowTransition): Promise<void> {
  for (const action of [...t.compensate].reverse()) {
    try {
      await run(env, action);
    } catch (e) {
      log.warn('compensation failed', { action: action.run, error: describeFailure(action.run, e) });
    }
  }
}

/** The facts an environment knows whatever its actions did. */
async function environmentFacts(env: EnvironmentState): Promise<Record<string, boolean>> {
  const { activeReleases } = await acts.activeReleases.executeWithOptions(
    { summary: `releases running in ${env.status.name}` },
    [{ target: env.status.name }],
  );
  return {
    maintenance_window_open: isMaintenanceWindowOpen(env.start.maintenanceWindows, new Date()),
    no_active_deployments: activeReleases.length === 0,
  };
}

/** The state last written to the search attributes: each upsert is a history event. */
const published = new WeakMap<EnvironmentState, string>();

/** Keeps the UI's details and the search attributes (name, state) in step; an unchanged state upserts nothing. */
function publish(env: EnvironmentState): void {
  setCurrentDetails(environmentDetails(env.status));
  if (published.get(env) === env.state) return;
  upsertSearchAttributes([
    { key: SearchAttributes.target, value: env.status.name },
    { key: SearchAttributes.stage, value: env.state },
  ]);
  published.set(env, env.state);
}

function registerHandlers(env: EnvironmentState): void {
  setHandler(environmentStatusQuery, () => env.status);
  // Requests are Updates, judged before they are accepted, or Signals, judged by the same rules
  // when they arrive, a refusal recorded in the status. Any other signal changes nothing.
  setDefaultSignalHandler((name) => {
    log.warn('signal ignored: no such request', { signal: name.slice(0, 100) });
  });
  const apply =
    (kind: EnvironmentRequestKind) =>
    (input: unknown): EnvironmentReceipt => {
      const verdict: Verdict = env.apply(kind, input, 'update', Date.now());
      publish(env);
      if (!verdict.ok) throw outcome(FailureTypes.requestRefused, verdict.reason);
      return { accepted: true, state: env.state, message: verdict.message };
    };
  const validator = (kind: EnvironmentRequestKind) => (input: unknown) => {
    const verdict = env.judge(kind, input);
    if (!verdict.ok) throw outcome(FailureTypes.requestRefused, verdict.reason);
  };
  setHandler(environmentTransitionUpdate, apply('transition'), { validator: validator('transition') });
  setHandler(environmentApproveUpdate, apply('approve'), { validator: validator('approve') });
  setHandler(environmentRejectUpdate, apply('reject'), { validator: validator('reject') });
  setHandler(environmentRetryUpdate, apply('retry'), { validator: validator('retry') });
  setHandler(environmentExtendUpdate, apply('extend'), { validator: validator('extend') });
  setHandler(environmentAdmitUpdate, apply('admit'), { validator: validator('admit') });
  setHandler(environmentCheckDriftUpdate, apply('checkDrift'), { validator: validator('checkDrift') });
  setHandler(environmentUpgradeUpdate, (input) => upgrade(env, input), { validator: validator('upgrade') });
  registerSignals(env);
}

/** The requests as Signals (environments started before them ignore every signal, as they did). */
function registerSignals(env: EnvironmentState): void {
  if (!patched(EnvironmentPatches.signals)) return;
  const signalled = (kind: Exclude<EnvironmentRequestKind, 'admit' | 'upgrade'>) => (input: unknown) => {
    env.apply(kind, input, 'signal', Date.now());
    publish(env);
  };
  for (const kind of ['transition', 'approve', 'reject', 'retry', 'extend', 'checkDrift'] as const) {
    setHandler(environmentSignals[kind], signalled(kind));
  }
  setHandler(environmentSignals.upgrade, async (input: unknown) => {
    if (!env.apply('upgrade', input, 'signal', Date.now()).ok) return publish(env);
    try {
      await upgrade(env, input);
    } catch (e) {
      env.recordRefusal('upgrade', input, 'signal', describeFailure('upgrade', e), Date.now());
      publish(env);
    }
  });
}
