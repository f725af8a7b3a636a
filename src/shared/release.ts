import { z } from 'zod';

import { personName, plainText } from './text';

export const ServiceName = z
  .string()
  .regex(
    /^[a-z][a-z0-9-]{0,30}[a-z0-9]$|^[a-z]$/,
    'a service is lowercase letters, digits and "-", e.g. web',
  );

export const TargetName = z
  .string()
  .regex(
    /^[a-z][a-z0-9-]{0,30}[a-z0-9]$|^[a-z]$/,
    'a target is lowercase letters, digits and "-", e.g. stage',
  );

/** A git SHA or tag. Letters, digits, `.`, `_`, `-`; anything that could be shell or DNS syntax is refused. */
export const Version = z
  .string()
  .regex(
    /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,38}[A-Za-z0-9])?$/,
    'a version is a git SHA or tag: letters, digits, ".", "_" and "-", at most 40 characters',
  );

/** A person's name (approver, initiator, who intervened): see `personName`. */
export const PersonName = personName();

/** A release train's id: `train-<target>-<suffix>` (see `shared/train`). */
export const TrainId = z
  .string()
  .max(200)
  .regex(/^train-[a-z0-9-]+-[A-Za-z0-9._-]{1,120}$/, 'a train id is train-<target>-<suffix>');

export const ReleaseRequest = z.strictObject({
  service: ServiceName,
  version: Version,
  target: TargetName,
  skipSlowScans: z.boolean().default(false),
  initiator: personName('initiator'),
  /**
   * Wait before cutover (stage `awaiting_go`) until a `go` request, bounded by the target's approval
   * timeout: a release train deploys and tests every service first, then cuts them over together.
   */
  holdBeforeCutover: z.boolean().default(false),
  /**
   * The train this release belongs to (its parent workflow). The train holds the lane, judges the
   * policy with the cross-service checks, gathers the approvals, and lets the release cut over
   * (a `go` naming the train, with its approvals) and retire blue (a `trainCommit`).
   */
  train: TrainId.optional(),
  /**
   * The artifact digest the release must deploy (a train replaying another's manifest): a version
   * whose artifact has other bytes now fails before anything is deployed.
   */
  expectedDigest: z
    .string()
    .regex(/^sha256:[0-9a-f]{64}$/, 'sha256:<64 hex digits>')
    .optional(),
  /**
   * A scheduled release: it waits (stage `scheduled`, abortable, holding no lane) until this
   * instant, then takes its lane and runs. A release started directly (not through its lane).
   */
  notBefore: z.iso.datetime({ offset: true }).optional(),
});
export type ReleaseRequest = z.infer<typeof ReleaseRequest>;

/** The longest a release may be scheduled ahead (`notBefore`). */
export const MAX_SCHEDULE_AHEAD_MS = 366 * 86_400_000;
export type ReleaseRequestInput = z.input<typeof ReleaseRequest>;

export const ApprovalInput = z.strictObject({
  approver: personName('approver'),
  comment: plainText(1000, 'comment').optional(),
});
export const APPROVAL_FIELDS = ['approver', 'comment'] as const;
export type ApprovalInput = z.infer<typeof ApprovalInput>;

/** An approval to release while the target is closed (a freeze, or outside its windows). */
export const OverrideInput = z.strictObject({
  approver: personName('approver'),
  reason: plainText(1000, 'reason').pipe(z.string().min(1, 'say why the release may not wait')),
});
export const OVERRIDE_FIELDS = ['approver', 'reason'] as const;
export type OverrideInput = z.infer<typeof OverrideInput>;

export const InterventionInput = z.strictObject({
  by: personName('by').optional(),
  reason: plainText(1000, 'reason').optional(),
});
export const INTERVENTION_FIELDS = ['by', 'reason'] as const;
export type InterventionInput = z.infer<typeof InterventionInput>;

/** The stages before the alias moves: an abort (or a rollback) tears green down and ends there. */
export const PRE_CUTOVER_STAGES = [
  'scheduled',
  'queued',
  'waiting_for_window',
  'deploying',
  'testing',
  'evaluating_policy',
  'awaiting_approval',
  'awaiting_go',
] as const;

/** How a release ends. */
export const TERMINAL_STAGES = [
  'completed',
  'rejected',
  'expired',
  'rolled_back',
  'aborted',
  'failed',
] as const;

export const STAGES = [
  ...PRE_CUTOVER_STAGES,
  'cutting_over',
  'baking',
  'awaiting_termination',
  'terminating_blue',
  'rolling_back',
  'cleaning_up',
  ...TERMINAL_STAGES,
] as const;
export type Stage = (typeof STAGES)[number];

export function isTerminalStage(stage: Stage): boolean {
  return (TERMINAL_STAGES as readonly Stage[]).includes(stage);
}

/**
 * Why an ended release refuses a request, in the release's own words (its stage, not Temporal's
 * status), with what to do instead.
 */
/** What people ask of a running release. */
export type RequestKind = 'approve' | 'reject' | 'abort' | 'rollback' | 'go' | 'override';

export function endedReason(kind: RequestKind, stage: Stage): string {
  const hint =
    kind === 'rollback' && stage === 'completed' ? '; to go back, release the previous version' : '';
  return `release has already ended (${stage.replaceAll('_', ' ')})${hint}`;
}

/** Which side of a release a deployment is: the live one it replaces, or the new one. */
export const DEPLOYMENT_COLOURS = ['blue', 'green'] as const;
export type DeploymentColour = (typeof DEPLOYMENT_COLOURS)[number];

/** What became of a deployment, as the CMDB records it. */
export const DEPLOYMENT_STATUSES = ['live', 'candidate', 'terminated', 'torn_down'] as const;
export type DeploymentStatus = (typeof DEPLOYMENT_STATUSES)[number];

/** A running instance of one version of a service on a target. */
export interface Deployment {
  service: string;
  version: string;
  target: string;
  hostname: string;
  endpoint: string;
  /** The release that created it, when the infrastructure knows. */
  releaseId?: string;
  /** True for a live deployment whose instance no longer runs (the alias still names it). */
  isGone?: boolean;
  /** What the infrastructure plan did, when the provider plans (Terraform/OpenTofu). */
  plan?: { add: number; change: number; destroy: number };
}

export interface CheckResult {
  name: string;
  passed: boolean;
  slow: boolean;
  skipped: boolean;
  durationMs: number;
  detail: string;
  /** The tail of a command check's output. */
  output?: string;
}

/** One metric query judged while green bakes. */
export interface AnalysisResult {
  name: string;
  /** The query as asked (green's names filled in). */
  query: string;
  /** The series summed; null when no series matched. */
  value: number | null;
  /** Its bounds, in words: `max 0.05`, `min 10`. */
  bounds: string;
  /** Whether the value is outside its bounds now. */
  isBreached: boolean;
  onNoData: 'pass' | 'fail' | 'wait';
  forMs: number;
}

/** A health check while baking, with the metric analysis done with it. */
export interface BakeCheck extends CheckResult {
  analysis?: AnalysisResult[];
  /** Why the analysis could not be done this time (Prometheus unreachable, its breaker open). */
  analysisUnavailable?: string;
}

export interface TestReport {
  passed: boolean;
  checks: CheckResult[];
  startedAt: string;
  finishedAt: string;
}

export interface ApprovalRecord {
  approver: string;
  comment?: string;
  at: string;
  via: 'signal' | 'update';
}

export interface RefusedRequest {
  kind: RequestKind;
  by: string | null;
  reason: string;
  at: string;
  via: 'signal' | 'update' | 'cancel';
}

export interface PolicyDecisionRecord {
  policy: unknown;
  allowed: boolean;
  explanation: string;
  facts: Record<string, boolean>;
  at: string;
}

export interface StageChange {
  stage: Stage;
  at: string;
  note?: string;
}

/** What a target's promotion rule found of a release's artifact: the facts, and the words that explain them. */
export interface PromotionFacts {
  from: string;
  soakMs: number;
  promoted: boolean;
  soaked: boolean;
  explanation: string;
}

/** An immutable artifact: where it is, and the sha256 of its bytes (`sha256:<hex>`). */
export interface ArtifactRef {
  uri: string;
  digest: string;
}

/** What the `status` query returns; every field survives JSON. */
export interface ReleaseStatus {
  releaseId: string;
  /** The train the release belongs to, or null. */
  train?: string | null;
  service: string;
  target: string;
  version: string;
  initiator: string;
  skipSlowScans: boolean;
  stage: Stage;
  startedAt: string;
  updatedAt: string;
  /** What the release is waiting for right now, in words; null when it is not waiting. */
  waitingFor: string | null;
  /** The deployment the unsuffixed alias points at. */
  live: Deployment | null;
  /** The deployment that was live when the release started (blue). */
  previous: Deployment | null;
  /** The deployment this release created. */
  green: Deployment | null;
  /** The artifact green is deployed from (absent for releases started before artifacts). */
  artifact?: ArtifactRef | null;
  /** The promotion rule's facts, on a target with one, once judged. */
  promotion?: PromotionFacts | null;
  isBlueTerminated: boolean;
  /** Set once green has been torn down (after a rollback, an abort, a refusal or a failure). */
  isGreenTornDown?: boolean;
  tests: TestReport | null;
  approvals: {
    required: number;
    approvedBy: ApprovalRecord[];
    rejectedBy: ApprovalRecord | null;
    refused: RefusedRequest[];
  };
  policyDecisions: PolicyDecisionRecord[];
  history: StageChange[];
  /** Why the release ended the way it did, for every terminal stage but `completed`. */
  reason: string | null;
  /** A dependency's open circuit breaker that holds the release back, until it allows a trial. */
  blockedBy: BreakerNotice | null;
  /** While the release waits for its target to open (stage `waiting_for_window`): why and until when. */
  window?: WindowWait | null;
  /** The approval that let the release go while its target was closed. */
  windowOverride?: WindowOverride | null;
  /** Things the release went on despite (a CMDB write kept for later), newest last, at most 20. */
  notes: string[];
}

/** Why a release waits for its target to open, and when it goes by itself. */
export interface WindowWait {
  /** A freeze that blocks releases, or outside every maintenance window. */
  reason: string;
  /** When the target opens, by the calendar as it was last read. */
  goesAt: string;
  /** Where the release waits: before anything is deployed, or with green ready before cutover. */
  moment: 'before deploying' | 'before cutover';
  since: string;
}

/** Who let a release go while its target was closed, and why. */
export interface WindowOverride {
  approver: string;
  reason: string;
  /** What it overrode. */
  closedReason: string;
  at: string;
}

/** An activity's report that a circuit breaker rejected its call. */
export const BreakerNotice = z.strictObject({
  breaker: z.string().min(1).max(100),
  state: z.enum(['open', 'half_open', 'forced_open', 'closed']),
  /** What the activity was doing. */
  step: z.string().min(1).max(200),
  message: z.string().max(500),
  /** When the activity tries again. */
  retryAt: z.iso.datetime(),
});
export type BreakerNotice = z.output<typeof BreakerNotice>;

/**
 * Host names of a release: green's version-suffixed name and the unsuffixed alias. The label is
 * `<service>-<version>` when the version is already a lowercase DNS label; otherwise (upper case,
 * `.` or `_`, or too long) a hash of the exact version is appended, so `V2`, `v2`, `1.2` and `1-2`
 * never share a host name.
 */
export function hostnames(service: string, version: string, target: string, zone: string) {
  const plain = `${service}-${version.toLowerCase().replace(/[._]/g, '-')}`;
  const isExact = /^[a-z0-9-]+$/.test(version) && plain.length <= 63;
  const label = isExact ? plain : `${plain.slice(0, 54).replace(/-+$/, '')}-${fnv1a(version)}`;
  return {
    green: `${label}.${target}.${zone}`,
    alias: aliasHostname(service, target, zone),
  };
}

/** The unsuffixed alias of a service on a target: `<service>.<target>.<zone>`. */
export function aliasHostname(service: string, target: string, zone: string): string {
  return `${service}.${target}.${zone}`;
}

/** 32-bit FNV-1a of a string, as 8 hex digits: short, stable, sandbox-safe. */
function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}
