import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { ApprovalInput, BreakerNotice, InterventionInput, ReleaseStatus } from './release';

/** The task queue greenlight's worker polls. */
export const TASK_QUEUE = 'greenlight';

export const RELEASE_WORKFLOW = 'blueGreenRelease';

export const statusQuery = defineQuery<ReleaseStatus>('status');

// Signals and Updates share names: a signal is fire-and-forget, an Update answers with the result.
export const approveSignal = defineSignal<[ApprovalInput]>('approve');
export const rejectSignal = defineSignal<[ApprovalInput]>('reject');
export const rollbackSignal = defineSignal<[InterventionInput]>('rollback');
export const abortSignal = defineSignal<[InterventionInput]>('abort');

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

/** Sent by an activity whose call a circuit breaker rejected: the release shows what blocks it. */
export const breakerNoticeSignal = defineSignal<[BreakerNotice]>('breakerNotice');

/** Signal that frees a lane. */
export const freeLaneSignal = defineSignal('free');

export const SearchAttributes = {
  service: defineSearchAttributeKey('GreenlightService', SearchAttributeType.KEYWORD),
  target: defineSearchAttributeKey('GreenlightTarget', SearchAttributeType.KEYWORD),
  version: defineSearchAttributeKey('GreenlightVersion', SearchAttributeType.KEYWORD),
  stage: defineSearchAttributeKey('GreenlightStage', SearchAttributeType.KEYWORD),
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
  releaseConflict: 'ReleaseConflict',
  requestRefused: 'RequestRefused',
  releaseFailed: 'ReleaseFailed',
  /** A circuit breaker rejected the call; retryable, after the breaker's remaining open time. */
  circuitOpen: 'CircuitOpen',
} as const;

/** Errors an activity must not retry: retrying cannot change the outcome. */
export const NON_RETRYABLE_FAILURES = [
  FailureTypes.invalidInput,
  FailureTypes.unknownTarget,
  FailureTypes.dnsConflict,
];
