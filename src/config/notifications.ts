import { z } from 'zod';
import { NOTIFY_EVENTS, WebhookName } from '../shared/notify';
import type { NotifyEvent } from '../shared/notify';
import { TargetName } from '../shared/release';
import { SecretRef, TimerDuration } from './fields';

// Where greenlight tells people what happened: webhooks, per target and event.

/** An http(s) URL without credentials in it; a URL that carries a token goes by reference. */
const WebhookUrl = z
  .url({ protocol: /^https?$/, error: 'an http:// or https:// URL' })
  .max(2000)
  // zod runs refinements after a failed format check too: only a URL that parses is looked into.
  .refine((url) => {
    const parsed = URL.canParse(url) ? new URL(url) : null;
    return !parsed || (!parsed.username && !parsed.password);
  }, 'no user or password in the URL');

export const WebhookConfig = z.strictObject({
  name: WebhookName,
  /** Where to POST: a URL, or a reference to one (a Slack webhook URL is itself a secret). */
  url: z.union([WebhookUrl, SecretRef], {
    error: 'an http(s) URL, or a reference to one: { env: VARIABLE } or { file: path }',
  }),
  /** The HMAC-SHA256 key of the `X-Greenlight-Signature` header, by reference. Default: unsigned. */
  secret: SecretRef.optional(),
  /** What it is told. Default: everything. */
  events: z
    .array(z.enum(NOTIFY_EVENTS))
    .min(1)
    .max(NOTIFY_EVENTS.length)
    .default([...NOTIFY_EVENTS]),
  /** The targets (and environments) it hears about. Default: all. */
  targets: z.array(TargetName).min(1).max(100).optional(),
  /** How long one delivery may take. Default 5s. */
  timeout: TimerDuration.prefault('5s'),
  /** How long a message is retried (1 s apart, doubling up to 30 s) before it is given up. Default 10m. */
  retryFor: TimerDuration.prefault('10m'),
});
export type WebhookConfig = z.output<typeof WebhookConfig>;

export const NotificationsConfig = z
  .strictObject({
    /** The Web UI's address, for the link in each message. Default: the local dev server's. */
    webUiUrl: WebhookUrl.optional(),
    webhooks: z.array(WebhookConfig).max(20).default([]),
  })
  .refine(
    (n) => new Set(n.webhooks.map((w) => w.name)).size === n.webhooks.length,
    'each webhook has its own name',
  );
export type NotificationsConfig = z.output<typeof NotificationsConfig>;

/** The events some webhook of the configuration tells about `target`. */
export function notifiedEvents(notifications: NotificationsConfig, target: string): NotifyEvent[] {
  const events = new Set<NotifyEvent>();
  for (const w of notifications.webhooks) {
    if (w.targets && !w.targets.includes(target)) continue;
    for (const e of w.events) events.add(e);
  }
  return NOTIFY_EVENTS.filter((e) => events.has(e));
}
