import { randomBytes } from 'node:crypto';
import type { Client, WorkflowExecutionInfo, WorkflowHandle } from '@temporalio/client';
import {
  WithStartWorkflowOperation,
  WorkflowFailedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { ApplicationFailure, defaultPayloadConverter } from '@temporalio/common';
import { tsToDate } from '@temporalio/common/lib/time';
import { z } from 'zod';
import {
  abortUpdate,
  goUpdate,
  approveUpdate,
  overrideWindowUpdate,
  FailureTypes,
  LANE_WORKFLOW,
  laneWorkflowId,
  rejectUpdate,
  RELEASE_WORKFLOW,
  releaseSearchAttributes,
  releaseSummary,
  rollbackUpdate,
  SearchAttributes,
  startReleaseUpdate,
  statusQuery,
  TASK_QUEUE,
} from '../shared/messages';
import type { DecisionReceipt } from '../shared/messages';
import {
  APPROVAL_FIELDS,
  ApprovalInput,
  BreakerNotice,
  endedReason,
  INTERVENTION_FIELDS,
  InterventionInput,
  OVERRIDE_FIELDS,
  OverrideInput,
  MAX_SCHEDULE_AHEAD_MS,
  STAGES,
  isTerminalStage,
  ReleaseRequest,
  ServiceName,
  TargetName,
} from '../shared/release';
import type { ReleaseRequestInput, ReleaseStatus, RequestKind, Stage } from '../shared/release';
import { describeIssues } from '../shared/text';
import { EnvironmentClient } from './environments';
import { TrainClient } from './trains';
import { GreenlightError, patientUpdate } from './errors';
import type { blueGreenRelease, releaseLane } from '../workflows';

export { GreenlightError } from './errors';

/** How often a start is tried while the lane's previous release is just ending. */
const ADMIT_ATTEMPTS = 8;

/** How many failed polls in a row `watch` rides out. */
const WATCH_RETRIES = 30;

export interface ReleaseSummary {
  releaseId: string;
  service: string | null;
  target: string | null;
  version: string | null;
  stage: string | null;
  status: string;
  startedAt: string;
  closedAt: string | null;
}

export interface ListFilter {
  service?: string;
  target?: string;
  version?: string;
  stage?: string;
  limit?: number;
}

/** The typed client API behind the CLI: every input is validated here before it reaches Temporal. */
export class GreenlightClient {
  constructor(
    private readonly client: Client,
    private readonly options: {
      taskQueue?: string;
      knownTargets?: readonly string[];
      /**
       * The host name the target's alias points at now, when the client can read DNS (the CLI can):
       * a release of the version that is already live is then refused before anything starts.
       */
      liveHostname?: (
        request: ReleaseRequest,
      ) => Promise<{ alias: string; green: string; live: string | null }>;
    } = {},
  ) {}

  /** Release trains: start, approve, inspect, abort and roll back. */
  get trains(): TrainClient {
    return new TrainClient(this.client, (service, target) => this.runningRelease(service, target), {
      taskQueue: this.options.taskQueue,
    });
  }

  /** The environments: create, inspect, and ask them for transitions. */
  get environments(): EnvironmentClient {
    return new EnvironmentClient(this.client, this.options.taskQueue);
  }

  /** Starts a release; refused at once when another release of the service to the target runs. */
  async startRelease(input: ReleaseRequestInput): Promise<{ releaseId: string }> {
    const request = validate(ReleaseRequest, input, 'release request');
    // A release asks its environment first: it starts only while that is active. A scheduled one
    // asks when its time comes (the workflow does, before anything is deployed).
    const gate = await this.environments.gate(request.target);
    if (gate.refusal && !request.notBefore) throw new GreenlightError(gate.refusal, 'refused');
    const known = this.options.knownTargets;
    if (known && !known.includes(request.target) && !gate.exists) {
      throw new GreenlightError(
        `unknown target ${JSON.stringify(request.target)}; configured targets: ${known.join(', ')}`,
        'unknown_target',
      );
    }
    const live = await this.options.liveHostname?.(request).catch(() => null);
    if (live && live.live === live.green) {
      throw new GreenlightError(
        `${request.service} ${request.version} is already live on ${request.target} (${live.alias} → ${live.green}); nothing to release`,
        'refused',
      );
    }
    const releaseId = `${request.service}-${request.target}-${request.version}-${randomBytes(3).toString('hex')}`;
    if (request.notBefore) await this.schedule(releaseId, request);
    else await this.admit(releaseId, request);
    return { releaseId };
  }

  /**
   * Starts a scheduled release directly (not through its lane, which it takes when its time
   * comes): it waits in the stage `scheduled`, listed and abortable, holding nothing.
   */
  private async schedule(releaseId: string, request: ReleaseRequest): Promise<void> {
    const at = Date.parse(request.notBefore!);
    if (!(at > Date.now()) || at - Date.now() > MAX_SCHEDULE_AHEAD_MS) {
      throw new GreenlightError(
        `a release is scheduled for a time to come within a year; ${request.notBefore} is not`,
        'invalid_input',
      );
    }
    await this.client.workflow.start(RELEASE_WORKFLOW, {
      workflowId: releaseId,
      taskQueue: this.options.taskQueue ?? TASK_QUEUE,
      args: [{ ...request, notBefore: new Date(at).toISOString() }],
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      typedSearchAttributes: releaseSearchAttributes(request),
      ...releaseSummary(request),
    });
  }

  /**
   * Starts the release through its lane with Update-with-Start: the lane admits exactly one release
   * at a time and refuses the others synchronously, naming the one that holds it.
   */
  private async admit(releaseId: string, request: ReleaseRequest): Promise<void> {
    const laneId = laneWorkflowId(request.service, request.target);
    for (let attempt = 1; ; attempt++) {
      const startLane = new WithStartWorkflowOperation<typeof releaseLane>(LANE_WORKFLOW, {
        workflowId: laneId,
        taskQueue: this.options.taskQueue ?? TASK_QUEUE,
        workflowIdConflictPolicy: 'USE_EXISTING',
        args: [],
        staticSummary: `lane: ${request.service} → ${request.target}`,
        staticDetails: 'The lock of one service and target; it runs one release at a time as its child.',
      });
      try {
        await this.client.workflow.executeUpdateWithStart(startReleaseUpdate, {
          args: [{ releaseId, request }],
          startWorkflowOperation: startLane,
        });
        return;
      } catch (e) {
        const failure = e instanceof WorkflowUpdateFailedError ? e.cause : undefined;
        if (!(failure instanceof ApplicationFailure)) throw e;
        const holder = failure.type === FailureTypes.releaseConflict ? await this.holderOf(failure) : null;
        // The lane's release has just ended and the lane is about to: the next attempt starts a new one.
        const isClosing = failure.type === FailureTypes.laneClosing || holder?.isClosed === true;
        if (isClosing && attempt < ADMIT_ATTEMPTS) {
          await new Promise((r) => setTimeout(r, 200 * attempt));
          continue;
        }
        if (holder) throw conflict(holder, request);
        throw new GreenlightError(
          failure.message,
          failure.type === FailureTypes.invalidInput ? 'invalid_input' : 'conflict',
        );
      }
    }
  }

  /** The release a lane's refusal names, and whether it still runs. */
  private async holderOf(failure: ApplicationFailure): Promise<Holder | null> {
    const holder = failure.details?.[0] as { releaseId?: unknown; version?: unknown } | undefined;
    if (typeof holder?.releaseId !== 'string') return null;
    const summary = await this.client.workflow
      .getHandle(holder.releaseId)
      .describe()
      .then(summarise)
      .catch(() => null);
    // Just admitted, the release may not be visible yet: the lane's word is all there is.
    if (!summary) {
      const version = typeof holder.version === 'string' ? holder.version : null;
      return { releaseId: holder.releaseId, version, stage: 'queued', isClosed: false };
    }
    const isClosed =
      summary.status !== 'running' || (summary.stage !== null && isTerminalStage(summary.stage as Stage));
    return { releaseId: holder.releaseId, version: summary.version, stage: summary.stage, isClosed };
  }

  /** The release holding the lane of `service` on `target`, if one runs. */
  async runningRelease(service: string, target: string): Promise<ReleaseSummary | null> {
    validate(ServiceName, service, 'service');
    validate(TargetName, target, 'target');
    try {
      const lane = await this.client.workflow.getHandle(laneWorkflowId(service, target)).describe();
      // A lane holds the release it admitted as its child, or is the child of a release started directly.
      const holderId = lane.raw.pendingChildren?.[0]?.workflowId ?? lane.parentExecution?.workflowId;
      if (lane.status.name !== 'RUNNING' || !holderId) return null;
      const holder = summarise(await this.client.workflow.getHandle(holderId).describe());
      // A release that has reached its final stage frees its lane a moment later.
      if (holder.status !== 'running' || (holder.stage && isTerminalStage(holder.stage as Stage)))
        return null;
      return holder;
    } catch (e) {
      if (e instanceof WorkflowNotFoundError) return null;
      throw e;
    }
  }

  approve(releaseId: string, input: z.input<typeof ApprovalInput>): Promise<DecisionReceipt> {
    const payload = validate(ApprovalInput, input, 'approval', APPROVAL_FIELDS);
    return this.update(releaseId, 'approve', (h) => patientUpdate(h, approveUpdate, [payload]));
  }

  reject(releaseId: string, input: z.input<typeof ApprovalInput>): Promise<DecisionReceipt> {
    const payload = validate(ApprovalInput, input, 'rejection', APPROVAL_FIELDS);
    return this.update(releaseId, 'reject', (h) => patientUpdate(h, rejectUpdate, [payload]));
  }

  rollback(releaseId: string, input: z.input<typeof InterventionInput> = {}): Promise<DecisionReceipt> {
    const payload = validate(InterventionInput, input, 'rollback', INTERVENTION_FIELDS);
    return this.update(releaseId, 'rollback', (h) => patientUpdate(h, rollbackUpdate, [payload]));
  }

  abort(releaseId: string, input: z.input<typeof InterventionInput> = {}): Promise<DecisionReceipt> {
    const payload = validate(InterventionInput, input, 'abort', INTERVENTION_FIELDS);
    return this.update(releaseId, 'abort', (h) => patientUpdate(h, abortUpdate, [payload]));
  }

  /** Lets a release held before cutover (`holdBeforeCutover`) cut over. */
  go(releaseId: string, input: z.input<typeof InterventionInput> = {}): Promise<DecisionReceipt> {
    const payload = validate(InterventionInput, input, 'go', INTERVENTION_FIELDS);
    return this.update(releaseId, 'go', (h) => patientUpdate(h, goUpdate, [payload]));
  }

  /**
   * Lets a release waiting for its target to open (a freeze, or outside its maintenance windows) go
   * now: an approval by the target's rule, with a reason, kept in the status, history and CMDB.
   */
  async overrideWindow(releaseId: string, input: z.input<typeof OverrideInput>): Promise<DecisionReceipt> {
    const payload = validate(OverrideInput, input, 'override', OVERRIDE_FIELDS);
    return this.update(releaseId, 'override', (h) => patientUpdate(h, overrideWindowUpdate, [payload]));
  }

  /**
   * The status of a release: queried while it runs; read from its result (or its failure's details)
   * once it has ended, so no worker is needed to inspect past releases.
   */
  async status(releaseId: string): Promise<ReleaseStatus> {
    const handle = this.handle(releaseId);
    const description = await this.describe(handle);
    if (description.status.name !== 'RUNNING') return this.finalStatus(handle);
    const status = await handle.query(statusQuery);
    return { ...status, blockedBy: currentBlock(status, description.raw.pendingActivities ?? []) };
  }

  /** Waits until the release ends and returns its final status. */
  async wait(releaseId: string): Promise<ReleaseStatus> {
    const handle = this.handle(releaseId);
    await this.describe(handle);
    return this.finalStatus(handle);
  }

  /** Calls `onChange` with each new status until the release ends; returns the final status. */
  async watch(
    releaseId: string,
    onChange: (s: ReleaseStatus) => void,
    intervalMs = 1000,
  ): Promise<ReleaseStatus> {
    let last = '';
    for (let failures = 0; ;) {
      let status: ReleaseStatus;
      try {
        status = await this.status(releaseId);
        failures = 0;
      } catch (e) {
        // A worker restart or a brief outage makes one poll fail; keep watching for a while.
        if (e instanceof GreenlightError || ++failures > WATCH_RETRIES) throw e;
        await new Promise((r) => setTimeout(r, intervalMs));
        continue;
      }
      const key = `${status.history.length}|${status.waitingFor}|${status.approvals.approvedBy.length}|${status.approvals.refused.length}`;
      if (key !== last) {
        last = key;
        onChange(status);
      }
      if (isTerminalStage(status.stage)) return status;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }

  async list(filter: ListFilter = {}): Promise<ReleaseSummary[]> {
    const clauses = [`WorkflowType = '${RELEASE_WORKFLOW}'`];
    const add = (key: string, value: string | undefined, schema: z.ZodType) => {
      if (value === undefined) return;
      validate(schema, value, key);
      clauses.push(`${key} = '${value}'`);
    };
    add(SearchAttributes.service.name, filter.service, ServiceName);
    add(SearchAttributes.target.name, filter.target, TargetName);
    add(SearchAttributes.version.name, filter.version, z.string().regex(/^[A-Za-z0-9._-]{1,40}$/));
    add(
      SearchAttributes.stage.name,
      filter.stage,
      z.enum(STAGES, { error: `expected one of ${STAGES.join(', ')}` }),
    );
    const rows: ReleaseSummary[] = [];
    for await (const w of this.client.workflow.list({ query: clauses.join(' AND ') })) {
      rows.push(summarise(w));
      if (rows.length >= (filter.limit ?? 20)) break;
    }
    return rows;
  }

  private handle(releaseId: string): WorkflowHandle<typeof blueGreenRelease> {
    validate(z.string().min(1).max(200), releaseId, 'release id');
    return this.client.workflow.getHandle<typeof blueGreenRelease>(releaseId);
  }

  private async describe(handle: WorkflowHandle) {
    try {
      return await handle.describe();
    } catch (e) {
      if (e instanceof WorkflowNotFoundError)
        throw new GreenlightError(`no release ${handle.workflowId}`, 'not_found');
      throw e;
    }
  }

  private async finalStatus(handle: WorkflowHandle<typeof blueGreenRelease>): Promise<ReleaseStatus> {
    try {
      return await handle.result();
    } catch (e) {
      if (!(e instanceof WorkflowFailedError)) throw e;
      const details = e.cause instanceof ApplicationFailure ? e.cause.details : undefined;
      if (details?.[0]) return details[0] as ReleaseStatus;
      // Terminated or timed out: a worker can still answer the query from the history.
      const last = await handle.query(statusQuery).catch(() => null);
      if (last) return last;
      const { status } = await handle.describe();
      throw new GreenlightError(
        `release ${handle.workflowId} ended (${status.name.toLowerCase()}) without a final status: ${e.cause?.message ?? e.message}`,
        'ended',
      );
    }
  }

  private async update(
    releaseId: string,
    kind: RequestKind,
    call: (h: WorkflowHandle) => Promise<DecisionReceipt>,
  ): Promise<DecisionReceipt> {
    const handle = this.handle(releaseId);
    const description = await this.describe(handle);
    if (description.status.name !== 'RUNNING') {
      // In the release's words (`rolled back`), not Temporal's (`failed`).
      const final = await this.finalStatus(handle).catch(() => null);
      const reason = final
        ? endedReason(kind, final.stage)
        : `release has already ended (${description.status.name.toLowerCase()})`;
      throw new GreenlightError(`release ${releaseId}: ${reason}`, 'refused');
    }
    try {
      return await call(handle);
    } catch (e) {
      if (e instanceof WorkflowUpdateFailedError) {
        throw new GreenlightError(e.cause?.message ?? e.message, 'refused');
      }
      throw e;
    }
  }
}

/** `temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED`: waiting for its next attempt. */
const PENDING_ACTIVITY_STATE_SCHEDULED = 1;

type PendingActivity = NonNullable<
  Awaited<ReturnType<WorkflowHandle['describe']>>['raw']['pendingActivities']
>[number];

/**
 * What holds a running release back now, from Temporal's own view of its pending activities: an
 * attempt that a circuit breaker refused and that waits for its next try. The notice the release
 * keeps may be older; this is true at the moment of asking.
 */
function currentBlock(status: ReleaseStatus, pending: readonly PendingActivity[]): BreakerNotice | null {
  for (const activity of pending) {
    const failure = activity.lastFailure;
    const info = failure?.applicationFailureInfo;
    // A started attempt is the breaker's trial, running now: nothing blocks it.
    const isWaiting = activity.state === PENDING_ACTIVITY_STATE_SCHEDULED;
    if (info?.type !== FailureTypes.circuitOpen || !isWaiting || !activity.nextAttemptScheduleTime) continue;
    const details = decodeDetails(info.details?.payloads?.[0]);
    const breaker =
      typeof details?.breaker === 'string' ? details.breaker : (status.blockedBy?.breaker ?? 'unknown');
    const state = BreakerNotice.shape.state.safeParse(details?.state);
    const known = status.blockedBy?.breaker === breaker ? status.blockedBy : null;
    return {
      breaker,
      state: state.success ? state.data : 'open',
      step: known?.step ?? activity.activityType?.name ?? 'run an activity',
      message: (failure?.message ?? '').slice(0, 500),
      retryAt: tsToDate(activity.nextAttemptScheduleTime).toISOString(),
    };
  }
  return null;
}

function decodeDetails(payload: unknown): Record<string, unknown> | null {
  try {
    const value = defaultPayloadConverter.fromPayload(payload as never);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** The release a lane's refusal names, as far as it is known. */
interface Holder {
  releaseId: string;
  version: string | null;
  stage: string | null;
  isClosed: boolean;
}

/** The error for a release refused because another holds the lane: it names that release. */
function conflict(holder: Holder, request: ReleaseRequest): GreenlightError {
  return new GreenlightError(
    `release ${holder.releaseId} (${request.service} ${holder.version ?? '?'} → ${request.target}, stage ${holder.stage ?? '?'}) is running; ` +
      `only one release per service and target runs at a time`,
    'conflict',
  );
}

function validate<S extends z.ZodType>(
  schema: S,
  value: unknown,
  what: string,
  fields?: readonly string[],
): z.output<S> {
  const result = schema.safeParse(value, { reportInput: true });
  if (result.success) return result.data;
  const issues = describeIssues(result.error.issues, fields ? { fields } : {});
  throw new GreenlightError(`invalid ${what}: ${issues}`, 'invalid_input');
}

function summarise(w: Omit<WorkflowExecutionInfo, 'raw'>): ReleaseSummary {
  const get = (key: (typeof SearchAttributes)[keyof typeof SearchAttributes]) => {
    const v = w.typedSearchAttributes.get(key);
    return typeof v === 'string' ? v : null;
  };
  return {
    releaseId: w.workflowId,
    service: get(SearchAttributes.service),
    target: get(SearchAttributes.target),
    version: get(SearchAttributes.version),
    stage: get(SearchAttributes.stage) as Stage | null,
    status: w.status.name.toLowerCase(),
    startedAt: w.startTime.toISOString(),
    closedAt: w.closeTime?.toISOString() ?? null,
  };
}
