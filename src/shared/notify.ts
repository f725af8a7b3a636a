import { z } from 'zod';

// Notifications: what happened, told to webhooks. Shared by the workflows (which say what
// happened) and the activities (which compose and deliver the messages).

/** What a webhook can be told. */
export const NOTIFY_EVENTS = [
  'approval_requested',
  'window_waiting',
  'completed',
  'rolled_back',
  'failed',
  'breaker_opened',
  'environment_transition',
  'drift',
] as const;
export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];

/** A webhook's name: also its circuit breaker's, `notify:<name>`. */
export const WebhookName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'a webhook name is lowercase letters, digits and "-", e.g. team-chat');

/** What a workflow says happened: the activity makes the message and the link from it. */
export const NotifyRequest = z.strictObject({
  event: z.enum(NOTIFY_EVENTS),
  /** The workflow it is about (its id), for the link. */
  workflowId: z.string().min(1).max(200),
  target: z.string().min(1).max(63),
  service: z.string().max(63).optional(),
  version: z.string().max(63).optional(),
  /** What happened, in words (a reason, who approves): plain text. */
  detail: z.string().max(1000),
  at: z.iso.datetime(),
});
export type NotifyRequest = z.infer<typeof NotifyRequest>;

/** One message to one webhook: composed (no secret in it), then delivered and signed. */
export interface WebhookMessage {
  webhook: string;
  /** A stable id across retries, so a receiver can drop a repeat. */
  delivery: string;
  /** How long it is retried before it is given up. */
  retryForMs: number;
  body: WebhookBody;
}

/** What a webhook receives: a Slack-compatible `text`, and the same facts as fields. */
export interface WebhookBody {
  text: string;
  event: NotifyEvent;
  target: string;
  service: string | null;
  version: string | null;
  workflowId: string;
  detail: string;
  link: string;
  at: string;
}

/** What became of a delivery. */
export interface DeliveryReport {
  webhook: string;
  delivered: boolean;
  /** The HTTP status the receiver answered, or why there was none. */
  detail: string;
}
