import { randomBytes } from 'node:crypto';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { WorkflowFailedError, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure, WorkflowIdReusePolicy } from '@temporalio/common';
import type { z } from 'zod';
import { SearchAttributes, TASK_QUEUE } from '../shared/messages';
import {
  APPROVAL_FIELDS,
  ApprovalInput,
  INTERVENTION_FIELDS,
  InterventionInput,
  TargetName,
} from '../shared/release';
import { describeIssues, escapeMarkdown } from '../shared/text';
import {
  isTrainEnded,
  TrainId,
  trainAbortUpdate,
  trainApproveUpdate,
  trainRejectUpdate,
  TrainRequest,
  trainRollbackUpdate,
  trainStatusQuery,
} from '../shared/train';
import type { TrainReceipt, TrainRequestInput, TrainStatus } from '../shared/train';
import type { releaseTrain } from '../workflows';
import { GreenlightError, patientUpdate } from './errors';

export const TRAIN_WORKFLOW = 'releaseTrain';

export interface TrainSummary {
  trainId: string;
  target: string | null;
  stage: string | null;
  status: string;
  startedAt: string;
}

function validate<S extends z.ZodType>(
  schema: S,
  value: unknown,
  what: string,
  fields?: readonly string[],
): z.output<S> {
  const result = schema.safeParse(value, { reportInput: true });
  if (result.success) return result.data;
  throw new GreenlightError(
    `invalid ${what}: ${describeIssues(result.error.issues, fields ? { fields } : {})}`,
    'invalid_input',
  );
}

/** The Web UI's summary and details of a train (its "User Metadata"). */
function trainSummary(request: TrainRequest): { staticSummary: string; staticDetails: string } {
  if (request.from) {
    return {
      staticSummary: `train → ${request.target}: the manifest of ${request.from}`,
      staticDetails: `Release train to **${request.target}** of exactly what ${escapeMarkdown(request.from)} released.`,
    };
  }
  const order = request.after.length
    ? request.after.map(([a, b]) => `${a} after ${b}`).join(', ')
    : 'all together';
  return {
    staticSummary:
      `train → ${request.target}: ${request.services.map((s) => `${s.service} ${s.version}`).join(', ')}`.slice(
        0,
        200,
      ),
    staticDetails: `Release train of ${request.services.length} service(s) to **${request.target}**, cutover order ${order}.`,
  };
}

/** Release trains through their workflows (`train-<target>-<suffix>`): every input validated before it leaves. */
export class TrainClient {
  constructor(
    private readonly client: Client,
    /** The release or train running in a service's lane on a target, if any. */
    private readonly runningRelease: (
      service: string,
      target: string,
    ) => Promise<{ releaseId: string; stage: string | null } | null>,
    private readonly options: { taskQueue?: string } = {},
  ) {}

  /**
   * Starts a train. Refused before anything starts when a service of it is being released (naming
   * that release or train); the train takes every lane itself too, so a race is refused there.
   */
  async start(input: TrainRequestInput): Promise<{ trainId: string }> {
    const request = validate(TrainRequest, input, 'train');
    for (const { service } of request.services) {
      const running = await this.runningRelease(service, request.target);
      if (running) {
        throw new GreenlightError(
          `${running.releaseId} (stage ${running.stage ?? '?'}) is releasing ${service} to ${request.target}; a train runs only when none of its services is being released`,
          'conflict',
        );
      }
    }
    const trainId = `train-${request.target}-${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
    await this.client.workflow.start<typeof releaseTrain>(TRAIN_WORKFLOW, {
      workflowId: trainId,
      taskQueue: this.options.taskQueue ?? TASK_QUEUE,
      args: [request],
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      typedSearchAttributes: [
        { key: SearchAttributes.target, value: request.target },
        { key: SearchAttributes.train, value: trainId },
        { key: SearchAttributes.stage, value: 'starting' },
      ],
      ...trainSummary(request),
    });
    return { trainId };
  }

  approve(trainId: string, input: z.input<typeof ApprovalInput>): Promise<TrainReceipt> {
    const payload = validate(ApprovalInput, input, 'approval', APPROVAL_FIELDS);
    return this.update(trainId, (h) => patientUpdate(h, trainApproveUpdate, [payload]));
  }

  reject(trainId: string, input: z.input<typeof ApprovalInput>): Promise<TrainReceipt> {
    const payload = validate(ApprovalInput, input, 'rejection', APPROVAL_FIELDS);
    return this.update(trainId, (h) => patientUpdate(h, trainRejectUpdate, [payload]));
  }

  abort(trainId: string, input: z.input<typeof InterventionInput> = {}): Promise<TrainReceipt> {
    const payload = validate(InterventionInput, input, 'abort', INTERVENTION_FIELDS);
    return this.update(trainId, (h) => patientUpdate(h, trainAbortUpdate, [payload]));
  }

  rollback(trainId: string, input: z.input<typeof InterventionInput> = {}): Promise<TrainReceipt> {
    const payload = validate(InterventionInput, input, 'rollback', INTERVENTION_FIELDS);
    return this.update(trainId, (h) => patientUpdate(h, trainRollbackUpdate, [payload]));
  }

  /** A train's status: queried while it runs, read from its result (or failure) once it has ended. */
  async status(trainId: string): Promise<TrainStatus> {
    const handle = this.handle(trainId);
    const description = await this.describe(handle);
    if (description.status.name === 'RUNNING') return handle.query(trainStatusQuery);
    return this.finalStatus(handle);
  }

  /** Calls `onChange` with each new status until the train ends; returns the final status. */
  async watch(trainId: string, onChange: (s: TrainStatus) => void, intervalMs = 1000): Promise<TrainStatus> {
    let last = '';
    for (;;) {
      const status = await this.status(trainId);
      const key = `${status.history.length}|${status.services.map((m) => m.stage).join(',')}|${status.approvals.approvedBy.length}`;
      if (key !== last) {
        last = key;
        onChange(status);
      }
      if (isTrainEnded(status.stage)) return status;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }

  async list(filter: { target?: string; limit?: number } = {}): Promise<TrainSummary[]> {
    const clauses = [`WorkflowType = '${TRAIN_WORKFLOW}'`];
    if (filter.target !== undefined) {
      validate(TargetName, filter.target, 'target');
      clauses.push(`${SearchAttributes.target.name} = '${filter.target}'`);
    }
    const rows: TrainSummary[] = [];
    for await (const w of this.client.workflow.list({ query: clauses.join(' AND ') })) {
      const get = (key: typeof SearchAttributes.target) => {
        const v = w.typedSearchAttributes.get(key);
        return typeof v === 'string' ? v : null;
      };
      rows.push({
        trainId: w.workflowId,
        target: get(SearchAttributes.target),
        stage: get(SearchAttributes.stage),
        status: w.status.name.toLowerCase(),
        startedAt: w.startTime.toISOString(),
      });
      if (rows.length >= (filter.limit ?? 20)) break;
    }
    return rows;
  }

  private handle(trainId: string): WorkflowHandle<typeof releaseTrain> {
    validate(TrainId, trainId, 'train id');
    return this.client.workflow.getHandle<typeof releaseTrain>(trainId);
  }

  private async describe(handle: WorkflowHandle) {
    try {
      return await handle.describe();
    } catch (e) {
      if (e instanceof WorkflowNotFoundError)
        throw new GreenlightError(`no train ${handle.workflowId}`, 'not_found');
      throw e;
    }
  }

  private async finalStatus(handle: WorkflowHandle<typeof releaseTrain>): Promise<TrainStatus> {
    try {
      return await handle.result();
    } catch (e) {
      if (!(e instanceof WorkflowFailedError)) throw e;
      const details = e.cause instanceof ApplicationFailure ? e.cause.details : undefined;
      if (details?.[0]) return details[0] as TrainStatus;
      const last = await handle.query(trainStatusQuery).catch(() => null);
      if (last) return last;
      throw new GreenlightError(
        `train ${handle.workflowId} ended without a final status: ${e.cause?.message ?? e.message}`,
        'ended',
      );
    }
  }

  private async update(
    trainId: string,
    call: (h: WorkflowHandle) => Promise<TrainReceipt>,
  ): Promise<TrainReceipt> {
    const handle = this.handle(trainId);
    const description = await this.describe(handle);
    if (description.status.name !== 'RUNNING') {
      const final = await this.finalStatus(handle).catch(() => null);
      throw new GreenlightError(
        `train ${trainId} has already ended (${final ? final.stage.replaceAll('_', ' ') : description.status.name.toLowerCase()})`,
        'refused',
      );
    }
    try {
      return await call(handle);
    } catch (e) {
      if (e instanceof WorkflowUpdateFailedError)
        throw new GreenlightError(e.cause?.message ?? e.message, 'refused');
      throw e;
    }
  }
}
