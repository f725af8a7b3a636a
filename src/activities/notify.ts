import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { SecretRef } from '../config/fields';
import type { WebhookConfig } from '../config/notifications';
import { NOTIFY_EVENTS, NotifyRequest, WebhookName } from '../shared/notify';
import type { DeliveryReport, NotifyEvent, WebhookBody, WebhookMessage } from '../shared/notify';
import { FailureTypes } from '../shared/messages';
import { parseInput } from './failures';
import type { ActivityContext } from './guard';
import { z } from 'zod';

/** The Web UI of the local dev server, when the configuration names none. */
export const DEFAULT_WEB_UI_URL = 'http://localhost:8233';

/** What each event says, after the release's name. */
const SAYS: Record<NotifyEvent, string> = {
  approval_requested: 'waits for approval',
  window_waiting: 'waits for its target to open',
  completed: 'completed',
  rolled_back: 'rolled back',
  failed: 'failed',
  breaker_opened: 'is held back by an open circuit breaker',
  environment_transition: 'changed',
  drift: 'drift check',
};

/** Slack's mrkdwn treats `&`, `<` and `>` as markup: people's words are escaped. */
const slack = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * Notifications: which webhooks hear of an event (and the message each gets), and one delivery,
 * signed, through the webhook's own circuit breaker. A secret (a URL that carries a token, the
 * signing key) is read when it is used and never appears in a message, an error or a log.
 */
export function createNotifyActivities({ deps, guarded }: ActivityContext) {
  const notifications = () => deps.config.notifications;
  const secretsEnv = deps.secretsEnv ?? process.env;

  return {
    /** Whether some webhook hears of `event` on `target` (an environment asks before it tells). */
    async isNotified(input: unknown): Promise<boolean> {
      const { target, event } = parseInput(
        z.object({ target: z.string().min(1).max(63), event: z.enum(NOTIFY_EVENTS) }),
        input,
      );
      return notifications().webhooks.some(
        (w) => w.events.includes(event) && (!w.targets || w.targets.includes(target)),
      );
    },

    /** The messages of an event: one per webhook that hears of it, composed with its link. */
    async planNotifications(input: unknown): Promise<WebhookMessage[]> {
      const request = parseInput(NotifyRequest, input);
      const { webhooks, webUiUrl } = notifications();
      const { info } = Context.current();
      const namespace = info.workflowNamespace ?? 'default';
      const link = `${(webUiUrl ?? DEFAULT_WEB_UI_URL).replace(/\/+$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(request.workflowId)}`;
      const what = request.service
        ? `${request.service} ${request.version ?? ''} → ${request.target}`.replace('  ', ' ')
        : request.target;
      const text = `[greenlight] *${slack(what)}* ${SAYS[request.event]}${request.detail ? `: ${slack(request.detail)}` : ''} <${link}|${slack(request.workflowId)}>`;
      const body: WebhookBody = {
        text,
        event: request.event,
        target: request.target,
        service: request.service ?? null,
        version: request.version ?? null,
        workflowId: request.workflowId,
        detail: request.detail,
        link,
        at: request.at,
      };
      const delivery = info.workflowExecution?.workflowId ?? request.workflowId;
      return webhooks
        .filter((w) => w.events.includes(request.event) && (!w.targets || w.targets.includes(request.target)))
        .map((w) => ({ webhook: w.name, delivery: `${delivery}:${w.name}`, retryForMs: w.retryFor, body }));
    },

    /**
     * POSTs one message as JSON. Signed when the webhook has a secret: `X-Greenlight-Signature:
     * sha256=<hex HMAC-SHA256 of "<X-Greenlight-Timestamp>.<body>">`. A 2xx answer delivers it;
     * 408, 429, 5xx and no answer are retried; any other answer is final.
     */
    async deliverWebhook(input: unknown): Promise<DeliveryReport> {
      const message = parseInput(
        z.object({
          webhook: WebhookName,
          delivery: z.string().max(300),
          retryForMs: z.number().int().nonnegative(),
          body: z.record(z.string(), z.unknown()),
        }),
        input,
      ) as unknown as WebhookMessage;
      const webhook = notifications().webhooks.find((w) => w.name === message.webhook);
      if (!webhook)
        return { webhook: message.webhook, delivered: false, detail: 'no longer configured on this worker' };
      const body = JSON.stringify(message.body);
      const timestamp = String(Math.floor(Date.now() / 1000));
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'user-agent': 'greenlight',
        'x-greenlight-event': message.body.event,
        'x-greenlight-delivery': message.delivery,
        'x-greenlight-timestamp': timestamp,
      };
      if (webhook.secret) {
        const key = readSecret(webhook.secret, webhook.name, 'secret', secretsEnv);
        headers['x-greenlight-signature'] =
          `sha256=${createHmac('sha256', key).update(`${timestamp}.${body}`).digest('hex')}`;
      }
      const url =
        typeof webhook.url === 'string'
          ? webhook.url
          : readSecret(webhook.url, webhook.name, 'url', secretsEnv);
      const status = await guarded(
        `notify:${webhook.name}`,
        `notify ${webhook.name}`,
        () => post(webhook, url, body, headers),
        { notify: false },
      );
      return { webhook: webhook.name, delivered: true, detail: `HTTP ${status}` };
    },
  };
}

/** One POST; the URL never appears in what it throws (it may carry a token). */
async function post(
  webhook: WebhookConfig,
  url: string,
  body: string,
  headers: Record<string, string>,
): Promise<number> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      body,
      headers,
      redirect: 'manual',
      signal: AbortSignal.timeout(webhook.timeout),
    });
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).name;
    throw ApplicationFailure.retryable(
      `webhook ${webhook.name} did not answer (${cause})`,
      'WebhookUnavailable',
    );
  }
  await response.body?.cancel().catch(() => undefined);
  const { status } = response;
  if (status >= 200 && status < 300) return status;
  const message = `webhook ${webhook.name} answered HTTP ${status}`;
  if (status === 408 || status === 429 || status >= 500)
    throw ApplicationFailure.retryable(message, 'WebhookUnavailable');
  throw ApplicationFailure.nonRetryable(`${message}; not retried`, FailureTypes.invalidInput);
}

/** A webhook's secret (its URL or signing key), read where it is referenced. */
function readSecret(ref: SecretRef, webhook: string, what: string, env: NodeJS.ProcessEnv): string {
  if ('env' in ref) {
    const value = env[ref.env];
    if (!value)
      throw ApplicationFailure.nonRetryable(
        `webhook ${webhook}: the environment variable ${ref.env} (its ${what}) is not set`,
        FailureTypes.invalidInput,
      );
    return value;
  }
  try {
    return readFileSync(ref.file, 'utf8').replace(/\r?\n$/, '');
  } catch (e) {
    throw ApplicationFailure.nonRetryable(
      `webhook ${webhook}: cannot read its ${what} from ${ref.file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
      FailureTypes.invalidInput,
    );
  }
}
