import {
  ApplicationFailure,
  CancellationScope,
  log,
  ParentClosePolicy,
  proxyActivities,
  startChild,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { NotifyRequest } from '../shared/notify';
import type { DeliveryReport } from '../shared/notify';
import { FailureTypes } from '../shared/messages';
import { describeFailure, outcome } from './common/failures';

const plan = proxyActivities<Activities>({ startToCloseTimeout: '30s', retry: { maximumAttempts: 5 } });

/**
 * A delivery is retried for its webhook's `retryFor` (1 s apart, doubling up to 30 s), each attempt
 * through the webhook's circuit breaker; a receiver that refuses (4xx) is not retried.
 */
const deliverer = (retryForMs: number) =>
  proxyActivities<Activities>({
    startToCloseTimeout: '1m',
    scheduleToCloseTimeout: Math.max(retryForMs, 1_000),
    retry: {
      initialInterval: '1s',
      backoffCoefficient: 2,
      maximumInterval: '30s',
      nonRetryableErrorTypes: [FailureTypes.invalidInput],
    },
  });

/**
 * Tells the webhooks that hear of an event, each delivery on its own: started by a release (or an
 * environment) and left to run, so a receiver that is slow or down never holds up what it is told
 * about. Completes with what became of each delivery; fails, naming the webhooks that did not get
 * it, when one did not (red in the Web UI, and in the worker's log).
 */
export async function deliverNotifications(input: NotifyRequest): Promise<DeliveryReport[]> {
  const parsed = NotifyRequest.safeParse(input);
  if (!parsed.success) throw outcome(FailureTypes.invalidInput, 'invalid notification');
  const messages = await plan.planNotifications.executeWithOptions(
    { summary: `who hears of ${parsed.data.event}` },
    [parsed.data],
  );
  const reports = await Promise.all(
    messages.map((message) =>
      deliverer(message.retryForMs)
        .deliverWebhook.executeWithOptions({ summary: `tell ${message.webhook}` }, [message])
        .catch((e: unknown) => ({
          webhook: message.webhook,
          delivered: false,
          detail: describeFailure(`notify ${message.webhook}`, e),
        })),
    ),
  );
  const missed = reports.filter((r) => !r.delivered);
  if (missed.length > 0) {
    const what = missed.map((r) => `${r.webhook} (${r.detail})`).join('; ');
    log.warn('notification not delivered', { event: parsed.data.event, missed: what });
    throw ApplicationFailure.create({
      type: 'NotificationUndelivered',
      message: `not delivered to ${what}`,
      nonRetryable: true,
      details: [reports],
    });
  }
  return reports;
}

/**
 * Starts the notification of an event as a workflow of its own and leaves it to run (it outlives
 * whoever started it); a failure to start it is logged, never thrown.
 */
export async function startNotification(
  workflowId: string,
  request: NotifyRequest,
  summary: string,
): Promise<void> {
  try {
    await CancellationScope.nonCancellable(() =>
      startChild(deliverNotifications, {
        workflowId,
        args: [{ ...request, detail: request.detail.slice(0, 1000) }],
        parentClosePolicy: ParentClosePolicy.ABANDON,
        staticSummary: summary,
      }),
    );
  } catch (e) {
    log.warn('notification not started', { event: request.event, error: describeFailure('notify', e) });
  }
}
