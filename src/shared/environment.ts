import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { z } from 'zod';
import type { FlowAction } from './flow';
import { Flow, TransitionName } from './flow';
import type { PolicyDecision } from './policy';
import { PersonName, ServiceName, TargetName, Version } from './release';
import type { ApprovalRecord, ApprovalInput } from './release';
import { ApprovalRule, MaintenanceWindow } from './target';
import { plainText } from './text';

/** An environment's workflow id: one long-lived workflow per environment. */
export const environmentWorkflowId = (name: string): string => `env-${name}`;

/** What an environment's workflow is started with; the flow is pinned into it then. */
export const EnvironmentStart = z.strictObject({
  name: TargetName,
  /** The template it was made from (`ephemeral`), or `target` for a configured target. */
  template: z.string().max(40),
  /** The flow's name, and its definition as it was when the environment was created. */
  flowName: z.string().max(40),
  flow: Flow,
  /** Protected environments need approval for transitions marked `approval`. */
  isProtected: z.boolean().default(false),
  approval: ApprovalRule.prefault({}),
  maintenanceWindows: z.array(MaintenanceWindow).max(20).default([]),
  /** Decommissioned by itself this long after it was created (extendable); null: never. */
  ttlMs: z
    .number()
    .int()
    .positive()
    .max(366 * 24 * 3_600_000)
    .nullable()
    .default(null),
  /** How often, while active, it looks for drift; 0: never (environments created before drift checks). */
  driftCheckMs: z
    .number()
    .int()
    .min(0)
    .max(366 * 24 * 3_600_000)
    .refine((ms) => ms === 0 || ms >= 1_000, 'at least a second, or 0')
    .default(0),
  createdBy: PersonName,
  /** History events after which the workflow continues as new (sooner when Temporal suggests). */
  historyBudget: z.number().int().min(50).max(40_000).default(10_000),
});
export type EnvironmentStart = z.output<typeof EnvironmentStart>;
export type EnvironmentStartInput = z.input<typeof EnvironmentStart>;

/** What people ask of an environment: a transition by name (`start_maintenance`). */
export const TransitionRequest = z.strictObject({
  on: TransitionName,
  by: PersonName.optional(),
  reason: plainText(1000, 'reason').optional(),
  /** Take it although the policy says no; needs an approval, and is recorded. */
  force: z.boolean().default(false),
});
export type TransitionRequest = z.output<typeof TransitionRequest>;

export const ExtendRequest = z.strictObject({
  /** How much longer from now, in milliseconds. */
  ttlMs: z
    .number()
    .int()
    .positive()
    .max(366 * 24 * 3_600_000),
  by: PersonName.optional(),
});

export const RetryRequest = z.strictObject({ by: PersonName.optional() });

/** A transition that could not be taken: the environment stays where it was until a retry. */
export interface Blocked {
  transition: string;
  reason: string;
  /** The policy's explanation, when the policy said no. */
  explanation?: string;
  at: string;
  /** Actions of the transition that had run before it failed: compensated before a retry. */
  ranActions: number;
}

export interface EnvironmentTransitionRecord {
  transition: string;
  from: string;
  to: string;
  at: string;
  by?: string;
  note?: string;
}

export interface EnvironmentStatus {
  name: string;
  state: string;
  since: string;
  template: string;
  flowName: string;
  /** The transition running now, if any. */
  running: string | null;
  ttl: { expiresAt: string; isExpiringSoon: boolean } | null;
  /** Why the TTL's decommission was put off (a freeze that blocks decommissioning), if it was. */
  ttlPostponed?: string | null;
  blocked: Blocked | null;
  approvals: {
    /** The transition waiting for approval, if any. */
    pending: string | null;
    required: number;
    approvedBy: ApprovalRecord[];
    rejectedBy: ApprovalRecord | null;
    refused: { kind: string; by: string | null; reason: string; at: string }[];
  };
  lastDecision: (PolicyDecision & { transition: string; facts: Record<string, boolean>; at: string }) | null;
  /** The newest transitions, oldest first. */
  history: EnvironmentTransitionRecord[];
  /** The newest drift check, and when the next is due (null: none while not active, or turned off). */
  lastDrift: DriftReport | null;
  nextDriftCheck: string | null;
  /** The newest releases that started here, oldest first (the CMDB keeps them all). */
  releases: EnvironmentRelease[];
  /** Once decommissioned: whether anything of the environment was left, by name. */
  leakCheck: LeakCheck | null;
  createdAt: string;
  createdBy: string;
}

/** What a drift check found: the module against its infrastructure, DNS and instances against the CMDB. */
export interface DriftReport {
  at: string;
  clean: boolean;
  findings: string[];
}

/** A release that started in the environment. */
export interface EnvironmentRelease {
  releaseId: string;
  service: string;
  version: string;
  at: string;
}

/** A release asking to start here: refused unless the environment is active. */
export const AdmitRequest = z.strictObject({
  releaseId: z.string().min(1).max(200),
  service: ServiceName,
  version: Version,
});

/** `upgrade` and `check_drift`: who asks. */
export const UpgradeRequest = z.strictObject({ by: PersonName.optional() });

/** An environment's definition as the configuration has it now (what `env upgrade` adopts). */
export const EnvironmentDefinition = z.strictObject({
  flowName: z.string().max(40),
  flow: Flow,
  driftCheckMs: EnvironmentStart.shape.driftCheckMs,
});
export type EnvironmentDefinition = z.output<typeof EnvironmentDefinition>;

/** Why an environment takes no release now, in its words: `stage is in maintenance since 14:02 (…)`. */
export function whyNotActive(s: EnvironmentStatus): string {
  const since = s.since.slice(11, 16);
  const entered = [...s.history].reverse().find((h) => h.to === s.state);
  const how = entered
    ? ` (${entered.transition}${entered.by ? ` by ${entered.by}` : ''}${entered.note ? `: ${entered.note}` : ''})`
    : '';
  const state = s.state === 'maintenance' ? 'in maintenance' : s.state;
  const running = s.running ? `; ${s.running} is running` : '';
  const blocked = s.blocked ? `; blocked: ${s.blocked.reason}` : '';
  return `${s.name} is ${state} since ${since} UTC${how}${running}${blocked}; releases need it active`;
}

/** Whether an environment takes a release now: active, with nothing running. */
export function isOpenForReleases(s: Pick<EnvironmentStatus, 'state' | 'running'>): boolean {
  return s.state === 'active' && !s.running;
}

/** What the leak check after decommissioning found: clean, or each leftover by name. */
export interface LeakCheck {
  clean: boolean;
  leftovers: string[];
}

/** What an accepted environment request answers. */
export interface EnvironmentReceipt {
  accepted: true;
  state: string;
  message: string;
}

export const environmentStatusQuery = defineQuery<EnvironmentStatus>('status');
export const environmentTransitionUpdate = defineUpdate<EnvironmentReceipt, [TransitionRequest]>(
  'transition',
);
export const environmentApproveUpdate = defineUpdate<EnvironmentReceipt, [ApprovalInput]>('approve');
export const environmentRejectUpdate = defineUpdate<EnvironmentReceipt, [ApprovalInput]>('reject');
export const environmentRetryUpdate = defineUpdate<EnvironmentReceipt, [z.input<typeof RetryRequest>]>(
  'retry',
);
export const environmentUpgradeUpdate = defineUpdate<EnvironmentReceipt, [z.input<typeof UpgradeRequest>]>(
  'upgrade',
);
export const environmentCheckDriftUpdate = defineUpdate<EnvironmentReceipt, [z.input<typeof UpgradeRequest>]>(
  'check_drift',
);
export const environmentAdmitUpdate = defineUpdate<EnvironmentReceipt, [z.input<typeof AdmitRequest>]>(
  'admit',
);
export const environmentExtendUpdate = defineUpdate<EnvironmentReceipt, [z.input<typeof ExtendRequest>]>(
  'extend',
);

/**
 * The same requests as Signals, for senders that cannot wait for an answer (the plain `temporal
 * workflow signal`): judged by the same rules, a refusal recorded in the status.
 */
export const environmentSignals = {
  transition: defineSignal<[TransitionRequest]>('transition'),
  approve: defineSignal<[ApprovalInput]>('approve'),
  reject: defineSignal<[ApprovalInput]>('reject'),
  retry: defineSignal<[z.input<typeof RetryRequest>]>('retry'),
  extend: defineSignal<[z.input<typeof ExtendRequest>]>('extend'),
  checkDrift: defineSignal<[z.input<typeof UpgradeRequest>]>('check_drift'),
  upgrade: defineSignal<[z.input<typeof UpgradeRequest>]>('upgrade'),
} as const;

/** One action of a flow run for one environment, by the `runEnvironmentAction` activity. */
export interface EnvironmentActionInput {
  environment: string;
  action: FlowAction;
  /** What the CMDB records of the environment (`cmdb.register`, `cmdb.retire`). */
  item: { template: string; state: string; ttlExpiresAt: string | null };
}

/** What an action did: the facts it yields, and a line for people. */
export interface EnvironmentActionResult {
  facts: Record<string, boolean>;
  detail: string;
}
