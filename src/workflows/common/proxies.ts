import { ActivityCancellationType, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import { NON_RETRYABLE_FAILURES } from '../../shared/messages';

const RETRY = {
  initialInterval: '1s',
  backoffCoefficient: 2,
  maximumInterval: '30s',
  nonRetryableErrorTypes: NON_RETRYABLE_FAILURES,
} as const;

/**
 * Every activity heartbeats every 2 s while it runs (a worker interceptor): when its worker dies,
 * the attempt times out after this and is retried on another worker, whatever its start-to-close.
 */
const HEARTBEAT_TIMEOUT = '10s';

/**
 * Quick calls to infrastructure. Retries are bounded by time, not by a small attempt count: a
 * dependency that is down for a few minutes delays the work instead of failing it.
 */
export const quick = proxyActivities<Activities>({
  startToCloseTimeout: '2m',
  scheduleToCloseTimeout: '15m',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: RETRY,
});

/** Deploying and testing take long; they heartbeat and finish cleanly when the work is cancelled. */
export const long = proxyActivities<Activities>({
  startToCloseTimeout: '15m',
  scheduleToCloseTimeout: '1h',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: RETRY,
});

/** The CMDB is a record, not a gate: a write that cannot be made soon is noted and the work goes on. */
export const audit = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  scheduleToCloseTimeout: '2m',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: RETRY,
});
