import type { Client, WorkflowHandle } from '@temporalio/client';
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import type { z } from 'zod';
import {
  AdmitRequest,
  EnvironmentStart,
  environmentAdmitUpdate,
  environmentApproveUpdate,
  environmentCheckDriftUpdate,
  environmentExtendUpdate,
  environmentRejectUpdate,
  environmentRetryUpdate,
  environmentStatusQuery,
  environmentTransitionUpdate,
  environmentUpgradeUpdate,
  environmentWorkflowId,
  ExtendRequest,
  isOpenForReleases,
  RetryRequest,
  TransitionRequest,
  UpgradeRequest,
  whyNotActive,
} from '../shared/environment';
import type { EnvironmentReceipt, EnvironmentStartInput, EnvironmentStatus } from '../shared/environment';
import { SearchAttributes, TASK_QUEUE } from '../shared/messages';
import { ApprovalInput, TargetName } from '../shared/release';
import { describeIssues } from '../shared/text';
import type { environmentLifecycle } from '../workflows';
import { GreenlightError, patientUpdate } from './errors';

export const ENVIRONMENT_WORKFLOW = 'environmentLifecycle';

/** How long a release waits for an environment that is on its way to active. */
const GATE_WAIT_MS = 30_000;

/** Not active yet, but getting there by itself: never active before, and not blocked. */
function isOnItsWay(s: EnvironmentStatus): boolean {
  const wasActive = s.history.some((h) => h.to === 'active');
  return s.state !== 'active' && !wasActive && s.blocked === null && s.approvals.pending === null;
}

export interface EnvironmentSummary {
  name: string;
  state: string | null;
  status: string;
  startedAt: string;
}

function parse<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new GreenlightError(`invalid ${what}: ${describeIssues(result.error.issues)}`, 'invalid_input');
}

/** Environments through their workflows (`env-<name>`): every input validated before it leaves. */
export class EnvironmentClient {
  constructor(
    private readonly client: Client,
    private readonly taskQueue: string = TASK_QUEUE,
  ) {}

  /** Starts an environment's workflow with its flow pinned; refused while one of that name runs. */
  async create(input: EnvironmentStartInput): Promise<{ name: string }> {
    const start = parse(EnvironmentStart, input, 'environment');
    try {
      await this.start(start);
    } catch (e) {
      if (e instanceof WorkflowExecutionAlreadyStartedError) {
        throw new GreenlightError(`environment ${start.name} exists already`, 'conflict');
      }
      throw e;
    }
    return { name: start.name };
  }

  /**
   * Starts a configured target's environment the first time a worker starts; one that exists, or
   * existed and was decommissioned, is left as it is.
   */
  async ensure(input: EnvironmentStartInput): Promise<'created' | 'exists'> {
    const start = parse(EnvironmentStart, input, 'environment');
    try {
      await this.start(start, WorkflowIdReusePolicy.REJECT_DUPLICATE);
      return 'created';
    } catch (e) {
      if (e instanceof WorkflowExecutionAlreadyStartedError) return 'exists';
      throw e;
    }
  }

  async status(name: string): Promise<EnvironmentStatus> {
    const handle = this.handle(name);
    try {
      const description = await handle.describe();
      if (description.status.name === 'RUNNING') return await handle.query(environmentStatusQuery);
      return await handle.result();
    } catch (e) {
      if (e instanceof WorkflowNotFoundError)
        throw new GreenlightError(`no environment ${name}`, 'not_found');
      throw e;
    }
  }

  /**
   * Whether a release may start in an environment: only while it is active. `exists` is false when
   * there is no environment of that name (a configured target whose environment is not created yet).
   */
  async gate(name: string): Promise<{ exists: boolean; refusal: string | null }> {
    const handle = this.handle(name);
    let status: EnvironmentStatus;
    try {
      const description = await handle.describe();
      if (description.status.name !== 'RUNNING') {
        return {
          exists: true,
          refusal: `environment ${name} has ended (${description.status.name.toLowerCase()})`,
        };
      }
      status = await handle.query(environmentStatusQuery);
    } catch (e) {
      if (e instanceof WorkflowNotFoundError) return { exists: false, refusal: null };
      throw e;
    }
    // An environment on its way to active (created a moment ago, as at a worker's first start) is
    // waited for, a little; one in maintenance, blocked or decommissioning is refused at once.
    for (let waited = 0; isOnItsWay(status) && waited < GATE_WAIT_MS; waited += 250) {
      await new Promise((r) => setTimeout(r, 250));
      status = await handle.query(environmentStatusQuery);
    }
    if (isOpenForReleases(status)) return { exists: true, refusal: null };
    return { exists: true, refusal: whyNotActive(status) };
  }

  async list(limit = 50): Promise<EnvironmentSummary[]> {
    const rows: EnvironmentSummary[] = [];
    for await (const w of this.client.workflow.list({ query: `WorkflowType = '${ENVIRONMENT_WORKFLOW}'` })) {
      const state = w.typedSearchAttributes.get(SearchAttributes.stage);
      rows.push({
        name: w.workflowId.replace(/^env-/, ''),
        state: typeof state === 'string' ? state : null,
        status: w.status.name.toLowerCase(),
        startedAt: w.startTime.toISOString(),
      });
      if (rows.length >= limit) break;
    }
    return rows;
  }

  /** Asks for a transition by name (`start_maintenance`, `decommission`…). */
  transition(name: string, input: z.input<typeof TransitionRequest>): Promise<EnvironmentReceipt> {
    const request = parse(TransitionRequest, input, 'transition');
    return this.update(name, (h) => patientUpdate(h, environmentTransitionUpdate, [request]));
  }

  decide(
    name: string,
    kind: 'approve' | 'reject',
    input: z.input<typeof ApprovalInput>,
  ): Promise<EnvironmentReceipt> {
    const request = parse(ApprovalInput, input, kind === 'approve' ? 'approval' : 'rejection');
    const update = kind === 'approve' ? environmentApproveUpdate : environmentRejectUpdate;
    return this.update(name, (h) => patientUpdate(h, update, [request]));
  }

  retry(name: string, input: z.input<typeof RetryRequest> = {}): Promise<EnvironmentReceipt> {
    const request = parse(RetryRequest, input, 'retry');
    return this.update(name, (h) => patientUpdate(h, environmentRetryUpdate, [request]));
  }

  extend(name: string, input: z.input<typeof ExtendRequest>): Promise<EnvironmentReceipt> {
    const request = parse(ExtendRequest, input, 'extension');
    return this.update(name, (h) => patientUpdate(h, environmentExtendUpdate, [request]));
  }

  /** Adopts the flow the worker's configuration defines now, instead of the one pinned at creation. */
  upgrade(name: string, input: z.input<typeof UpgradeRequest> = {}): Promise<EnvironmentReceipt> {
    const request = parse(UpgradeRequest, input, 'upgrade');
    return this.update(name, (h) => patientUpdate(h, environmentUpgradeUpdate, [request]));
  }

  /** Looks for drift now, instead of at the next interval (the environment must be active). */
  checkDrift(name: string, input: z.input<typeof UpgradeRequest> = {}): Promise<EnvironmentReceipt> {
    const request = parse(UpgradeRequest, input, 'drift check');
    return this.update(name, (h) => patientUpdate(h, environmentCheckDriftUpdate, [request]));
  }

  /**
   * Lets a release start in the environment, which lists it: refused (with the reason) unless the
   * environment is active. Null when there is no such environment (nothing to ask).
   */
  async admit(name: string, input: z.input<typeof AdmitRequest>): Promise<{ refusal: string | null }> {
    const request = parse(AdmitRequest, input, 'release');
    const { exists, refusal } = await this.gate(name);
    if (!exists || refusal) return { refusal };
    try {
      await this.update(name, (h) => patientUpdate(h, environmentAdmitUpdate, [request]));
      return { refusal: null };
    } catch (e) {
      if (e instanceof GreenlightError) return { refusal: e.message };
      throw e;
    }
  }

  private start(start: EnvironmentStart, workflowIdReusePolicy?: WorkflowIdReusePolicy) {
    return this.client.workflow.start<typeof environmentLifecycle>(ENVIRONMENT_WORKFLOW, {
      taskQueue: this.taskQueue,
      workflowId: environmentWorkflowId(start.name),
      args: [start],
      ...(workflowIdReusePolicy === undefined ? {} : { workflowIdReusePolicy }),
      staticSummary: `environment ${start.name} (${start.template}, flow ${start.flowName})`,
    });
  }

  private handle(name: string): WorkflowHandle<typeof environmentLifecycle> {
    parse(TargetName, name, 'environment name');
    return this.client.workflow.getHandle<typeof environmentLifecycle>(environmentWorkflowId(name));
  }

  private async update(
    name: string,
    call: (h: WorkflowHandle) => Promise<EnvironmentReceipt>,
  ): Promise<EnvironmentReceipt> {
    const handle = this.handle(name);
    try {
      const description = await handle.describe();
      if (description.status.name !== 'RUNNING') {
        throw new GreenlightError(
          `environment ${name} has ended (${description.status.name.toLowerCase()})`,
          'refused',
        );
      }
      return await call(handle);
    } catch (e) {
      if (e instanceof WorkflowNotFoundError)
        throw new GreenlightError(`no environment ${name}`, 'not_found');
      if (e instanceof WorkflowUpdateFailedError)
        throw new GreenlightError(e.cause?.message ?? e.message, 'refused');
      throw e;
    }
  }
}
