import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { escapeMarkdown } from './text';
import type {
  ApprovalInput,
  BreakerNotice,
  InterventionInput,
  OverrideInput,
  ReleaseRequest,
  ReleaseRequestInput,
  ReleaseStatus,
} from './release';

/** The task queue greenlight's worker polls. */
export const TASK_QUEUE = 'greenlight';

export const RELEASE_WORKFLOW = 'blueGreenRelease';

export const statusQuery = defineQuery<ReleaseStatus>('status');

// Signals and Updates share names: a signal is fire-and-forget, an Update answers with the result.
export const approveSignal = defineSignal<[ApprovalInput]>('approve');
export const rejectSignal = defineSignal<[ApprovalInput]>('reject');
export const rollbackSignal = defineSignal<[InterventionInput]>('rollback');
export const abortSignal = defineSignal<[InterventionInput]>('abort');
/** Lets a release held before cutover (`holdBeforeCutover`) cut over; a train sends it. */
export const goSignal = defineSignal<[InterventionInput]>('go');

/** What an accepted Update answers. */
export interface DecisionReceipt {
  accepted: true;
  stage: ReleaseStatus['stage'];
  message: string;
}

export const approveUpdate = defineUpdate<DecisionReceipt, [ApprovalInput]>('approve');
export const rejectUpdate = defineUpdate<DecisionReceipt, [ApprovalInput]>('reject');
export const rollbackUpdate = defineUpdate<DecisionReceipt, [InterventionInput]>('rollback');
export const abortUpdate = defineUpdate<DecisionReceipt, [InterventionInput]>('abort');
export const goUpdate = defineUpdate<DecisionReceipt, [InterventionInput]>('go');
/** Lets a release waiting for its target to open (a freeze, outside its windows) go now: an approval with a reason. */
export const overrideWindowUpdate = defineUpdate<DecisionReceipt, [OverrideInput]>('overrideWindow');

/** Sent by an activity whose call a circuit breaker rejected: the release shows what blocks it. */
export const breakerNoticeSignal = defineSignal<[BreakerNotice]>('breakerNotice');

/**
 * Sent by releases of earlier versions to free their lane; lanes ignore it now (only the holder's
 * end frees a lane). Kept so that those releases' histories replay.
 */
export const freeLaneSignal = defineSignal('free');

/** Who holds a lane. */
export interface LaneHolder {
  releaseId: string;
  /** The version it releases, when the lane admitted it. */
  version?: string;
}

/** What a client sends a lane to start a release in it. */
export interface LaneStartRequest {
  releaseId: string;
  request: ReleaseRequestInput;
}

/** Update-with-Start on a lane: admits the release when the lane is free, refuses it otherwise. */
export const startReleaseUpdate = defineUpdate<LaneHolder, [LaneStartRequest]>('startRelease');

/** The release holding a lane, or null. */
export const laneHolderQuery = defineQuery<LaneHolder | null>('holder');

export const LANE_WORKFLOW = 'releaseLane';

export const SearchAttributes = {
  service: defineSearchAttributeKey('GreenlightService', SearchAttributeType.KEYWORD),
  target: defineSearchAttributeKey('GreenlightTarget', SearchAttributeType.KEYWORD),
  version: defineSearchAttributeKey('GreenlightVersion', SearchAttributeType.KEYWORD),
  stage: defineSearchAttributeKey('GreenlightStage', SearchAttributeType.KEYWORD),
  /** The train a release belongs to; on a train, its own id. */
  train: defineSearchAttributeKey('GreenlightTrain', SearchAttributeType.KEYWORD),
} as const;

export const ALL_SEARCH_ATTRIBUTES = Object.values(SearchAttributes);

/** The lane is a child workflow whose id is unique per service and target: it is the release lock. */
export function laneWorkflowId(service: string, target: string): string {
  return `greenlight-lane:${service}:${target}`;
}

/** Failure type names; activities throw them and workflows and clients branch on them. */
export const FailureTypes = {
  invalidInput: 'InvalidInput',
  unknownTarget: 'UnknownTarget',
  dnsConflict: 'DnsConflict',
  dnsVerification: 'DnsVerificationFailed',
  dnsRefused: 'DnsUpdateRefused',
  deployFailed: 'DeployFailed',
  infraStateLocked: 'InfraStateLocked',
  infraConfigInvalid: 'InfraConfigInvalid',
  dependencyUnavailable: 'DependencyUnavailable',
  /** A version has no artifact in the store: nothing is deployed. */
  artifactMissing: 'ArtifactMissing',
  /** An artifact that cannot be used: its bytes changed since its version was first used. */
  artifactInvalid: 'ArtifactInvalid',
  releaseConflict: 'ReleaseConflict',
  /** The lane's release has just ended and the lane is about to end: try again. */
  laneClosing: 'LaneClosing',
  requestRefused: 'RequestRefused',
  releaseFailed: 'ReleaseFailed',
  /** An environment's action did not succeed (a smoke check failed, a secret is missing…). */
  actionFailed: 'EnvironmentActionFailed',
  /** A circuit breaker rejected the call; retryable, after the breaker's remaining open time. */
  circuitOpen: 'CircuitOpen',
} as const;

/** Errors an activity must not retry: retrying cannot change the outcome. */
export const NON_RETRYABLE_FAILURES = [
  FailureTypes.invalidInput,
  FailureTypes.unknownTarget,
  FailureTypes.dnsConflict,
];

/** The search attributes a release starts with; the stage one follows it as it runs. */
export function releaseSearchAttributes(request: ReleaseRequest) {
  return [
    { key: SearchAttributes.service, value: request.service },
    { key: SearchAttributes.target, value: request.target },
    { key: SearchAttributes.version, value: request.version },
    { key: SearchAttributes.stage, value: request.notBefore ? 'scheduled' : 'queued' },
  ];
}

/** The Web UI's summary and details of a release (its "User Metadata" tab). */
export function releaseSummary(request: ReleaseRequestInput): {
  staticSummary: string;
  staticDetails: string;
} {
  const notes = [
    ...(request.skipSlowScans ? ['slow scans skipped'] : []),
    ...(request.holdBeforeCutover ? ['held before cutover until told to go'] : []),
    ...(request.notBefore ? [`scheduled for ${request.notBefore}`] : []),
  ];
  return {
    staticSummary: `${request.service} ${request.version} → ${request.target}`,
    staticDetails:
      `Blue/green release of **${request.service}** version \`${request.version}\` to **${request.target}**, ` +
      `started by ${escapeMarkdown(request.initiator)}${notes.length ? ` (${notes.join('; ')})` : ''}.`,
  };
}
