import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { z } from 'zod';
import type {
  ApprovalInput,
  ApprovalRecord,
  ArtifactRef,
  InterventionInput,
  PolicyDecisionRecord,
  RefusedRequest,
  Stage,
  TestReport,
} from './release';
import { ServiceName, TargetName, TrainId, Version } from './release';
import { personName, plainText } from './text';

/** The most services one train releases together. */
export const MAX_TRAIN_SERVICES = 20;

/** A train's id: `train-<target>-<suffix>`; its releases are `<service>-<target>-<suffix>`. */
export { TrainId };

/** The name of a cross-service check or a final action in the worker's `trains` configuration. */
export const TrainPartName = z
  .string()
  .max(60)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'a name of letters, digits, ".", "_" and "-"');

/** `[dependent, dependency]`: the dependent cuts over only once its dependency has baked. */
export const TrainEdge = z.tuple([ServiceName, ServiceName]);

export const TrainRequest = z
  .strictObject({
    target: TargetName,
    initiator: personName('initiator'),
    /** The services and versions; none with `from` (the manifest of that train says them). */
    services: z
      .array(z.strictObject({ service: ServiceName, version: Version }))
      .max(MAX_TRAIN_SERVICES, `a train releases at most ${MAX_TRAIN_SERVICES} services`)
      .default([]),
    /** The dependency order: `[ui, api]` is `--after ui:api` (ui cuts over after api has baked). */
    after: z.array(TrainEdge).max(200).default([]),
    /** Cross-service checks to run, by name, from the worker's `trains.checks`; absent: all of them. */
    checks: z.array(TrainPartName).max(20).optional(),
    /** A final action to run after every service has baked, by name, from `trains.actions`. */
    finalAction: TrainPartName.optional(),
    skipSlowScans: z.boolean().default(false),
    /** The train whose manifest this one replays (`train start --from`), when it does. */
    from: TrainId.optional(),
  })
  .superRefine((train, ctx) => {
    if (train.from) {
      if (train.services.length || train.after.length) {
        ctx.addIssue({
          code: 'custom',
          path: ['services'],
          message: `a train from ${train.from} releases exactly its manifest; name no services or order`,
        });
      }
      return;
    }
    if (train.services.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['services'], message: 'a train releases at least one service' });
      return;
    }
    const problem = orderProblem(train.services, train.after);
    if (problem) ctx.addIssue({ code: 'custom', message: problem, path: ['after'] });
  });

/** A train's manifest, as the CMDB records it and `train start --from` replays it. */
export interface TrainManifestRecord {
  trainId: string;
  target: string;
  services: { service: string; version: string; digest: string | null }[];
  after: [string, string][];
  configHash: string;
  outcome: string;
}
export type TrainRequest = z.output<typeof TrainRequest>;
export type TrainRequestInput = z.input<typeof TrainRequest>;

/** Why the services and their order cannot make a train (a repeated service, an unknown one, a cycle), or null. */
export function orderProblem(
  services: readonly { service: string }[],
  after: readonly (readonly [string, string])[],
): string | null {
  const names = services.map((s) => s.service);
  const repeated = names.find((n, i) => names.indexOf(n) !== i);
  if (repeated) return `${repeated} is named twice; a train releases each service once`;
  for (const [dependent, dependency] of after) {
    for (const name of [dependent, dependency]) {
      if (!names.includes(name)) return `${dependent}:${dependency} names ${name}, which is not in the train`;
    }
    if (dependent === dependency) return `${dependent}:${dependency}: a service cannot come after itself`;
  }
  const order = cutoverOrder(names, after);
  return 'cycle' in order ? `the order has a cycle: ${order.cycle.join(' after ')}` : null;
}

/**
 * The cutover order as steps: each step's services cut over together, once every service of the
 * earlier steps has baked. Services keep the order they were given within a step. A cycle is
 * returned, named, instead.
 */
export function cutoverOrder(
  names: readonly string[],
  after: readonly (readonly [string, string])[],
): { steps: string[][] } | { cycle: string[] } {
  const steps: string[][] = [];
  const placed = new Set<string>();
  while (placed.size < names.length) {
    const ready = names.filter(
      (n) =>
        !placed.has(n) && after.every(([dependent, dependency]) => dependent !== n || placed.has(dependency)),
    );
    if (ready.length === 0)
      return {
        cycle: findCycle(
          names.filter((n) => !placed.has(n)),
          after,
        ),
      };
    for (const n of ready) placed.add(n);
    steps.push(ready);
  }
  return { steps };
}

/** A cycle among `left` (each waits for another of them): followed from the first until it repeats. */
function findCycle(left: string[], after: readonly (readonly [string, string])[]): string[] {
  const path: string[] = [];
  let at = left[0];
  while (!path.includes(at)) {
    path.push(at);
    at = after.find(([dependent, dependency]) => dependent === at && left.includes(dependency))![1];
  }
  return [...path.slice(path.indexOf(at)), at];
}

/** A train's stages, in order; the last six end it. */
export const TRAIN_STAGES = [
  'starting',
  'preparing',
  'checking',
  'evaluating_policy',
  'awaiting_approval',
  'cutting_over',
  'running_final_action',
  'completing',
  'rolling_back',
  'aborting',
  'completed',
  'failed',
  'rolled_back',
  'aborted',
  'rejected',
  'expired',
] as const;
export type TrainStage = (typeof TRAIN_STAGES)[number];
export const TRAIN_TERMINAL_STAGES: readonly TrainStage[] = [
  'completed',
  'failed',
  'rolled_back',
  'aborted',
  'rejected',
  'expired',
];
export const isTrainEnded = (stage: TrainStage): boolean => TRAIN_TERMINAL_STAGES.includes(stage);

/** One service of a train: its release, as the train last saw it. */
export interface TrainMember {
  service: string;
  version: string;
  releaseId: string;
  stage: Stage | 'not_started';
  green: { hostname: string; endpoint: string } | null;
  artifact: ArtifactRef | null;
  testsPassed: boolean | null;
  /** The version that was live before (blue), or null on a first release. */
  replaces: string | null;
  /** The target's promotion rule's facts of its artifact (targets with a rule). */
  promotion: { promoted: boolean; soaked: boolean; explanation: string } | null;
  reason: string | null;
}

/** What the train's `status` query returns; every field survives JSON. */
export interface TrainStatus {
  trainId: string;
  target: string;
  initiator: string;
  stage: TrainStage;
  startedAt: string;
  updatedAt: string;
  /** The cutover order, as steps of services that cut over together. */
  order: string[][];
  services: TrainMember[];
  /** The cross-service checks, against every green together. */
  crossChecks: TestReport | null;
  approvals: {
    required: number;
    approvedBy: ApprovalRecord[];
    rejectedBy: ApprovalRecord | null;
    refused: RefusedRequest[];
  };
  policyDecisions: PolicyDecisionRecord[];
  finalAction: { name: string; passed: boolean; detail: string; output?: string } | null;
  waitingFor: string | null;
  history: { stage: TrainStage; at: string; note?: string }[];
  reason: string | null;
  from: string | null;
  /** The releases the train has let cut over; each confirms its go against this. */
  released?: string[];
  /** Set once every service has baked: each release confirms its commit against this. */
  committed?: boolean;
}

/** What an accepted request to a train answers. */
export interface TrainReceipt {
  accepted: true;
  stage: TrainStage;
  message: string;
}

export const trainStatusQuery = defineQuery<TrainStatus>('status');
export const trainApproveUpdate = defineUpdate<TrainReceipt, [ApprovalInput]>('approve');
export const trainRejectUpdate = defineUpdate<TrainReceipt, [ApprovalInput]>('reject');
export const trainAbortUpdate = defineUpdate<TrainReceipt, [InterventionInput]>('abort');
export const trainRollbackUpdate = defineUpdate<TrainReceipt, [InterventionInput]>('rollback');

/**
 * Sent by a train's release when it reaches a stage the train waits for. Only a nudge: the train
 * reads its releases' statuses itself, so a forged one changes nothing.
 */
export const trainNudgeSignal = defineSignal<[{ releaseId: string }]>('trainNudge');

/** A train's go to one of its releases: the train's approvals, which the release judges by its own rule. */
export const TrainGo = z.strictObject({
  by: personName('by').optional(),
  reason: plainText(1000, 'reason').optional(),
  train: TrainId,
  /** Sent by the version before releases confirmed their go with the train; ignored since. */
  approvals: z
    .array(
      z.strictObject({ approver: personName('approver'), comment: plainText(1000, 'comment').optional() }),
    )
    .max(10)
    .default([]),
});
export type TrainGo = z.output<typeof TrainGo>;
export const trainGoSignal = defineSignal<[z.input<typeof TrainGo>]>('go');

/** After every service has baked: a train's release may retire blue (and can no longer be rolled back by the train). */
export const trainCommitSignal = defineSignal<[{ train: string }]>('trainCommit');
export const TrainCommit = z.strictObject({ train: TrainId });
