/**
 * Webhooks: a requester's URLs that receive signed events about its own jobs (README, Webhooks).
 * The API's bodies and the events' JSON are defined here once, for the orchestrator, the CLI and
 * receivers written in TypeScript.
 */
import { z } from 'zod';

export const WEBHOOK_EVENTS = ['job.done', 'job.failed', 'frame.done'] as const;
export const WebhookEventType = z.enum(WEBHOOK_EVENTS);
export type WebhookEventType = z.infer<typeof WebhookEventType>;

/** Hooks one requester may have. */
export const MAX_WEBHOOKS = 10;
export const MAX_WEBHOOK_URL = 2048;

/** An absolute http(s) URL without credentials, in its normalized form (`HTTP://Host` → `http://host/`). */
export const WebhookUrl = z
  .string()
  .max(MAX_WEBHOOK_URL)
  .transform((text, ctx) => {
    const url = URL.canParse(text) ? new URL(text) : undefined;
    const problem = !url
      ? 'not an absolute URL'
      : url.protocol !== 'http:' && url.protocol !== 'https:'
        ? 'only http and https URLs'
        : url.username || url.password
          ? 'no credentials in the URL: receivers authenticate the farm by the signature'
          : undefined;
    if (problem || !url) {
      ctx.addIssue({ code: 'custom', message: problem ?? 'not an absolute URL' });
      return z.NEVER;
    }
    return url.href;
  });

/** POST /api/webhooks; `events` defaults to every event, and is kept in WEBHOOK_EVENTS' order. */
export const WebhookRequest = z.object({
  url: WebhookUrl,
  events: z
    .array(WebhookEventType)
    .min(1)
    .max(WEBHOOK_EVENTS.length * 2)
    .default([...WEBHOOK_EVENTS])
    .transform((events) => WEBHOOK_EVENTS.filter((e) => events.includes(e))),
});
export type WebhookRequest = z.infer<typeof WebhookRequest>;

/**
 * A hook as GET /api/webhooks lists it (its secret is shown once, when it is created). `disabled`:
 * since when (ms) and why nothing is delivered to it, after too many failed attempts in a row
 * (POST /api/webhooks/:id/enable turns it on again).
 */
export const Webhook = z.object({
  id: z.string(),
  url: z.string(),
  events: z.array(WebhookEventType),
  createdAt: z.number(),
  disabled: z.object({ at: z.number(), reason: z.string() }).optional(),
});
export type Webhook = z.infer<typeof Webhook>;
export const WebhookCreated = Webhook.extend({ secret: z.string() });
export type WebhookCreated = z.infer<typeof WebhookCreated>;
export const WebhookList = z.object({ webhooks: z.array(Webhook) });

/** A hook's id in a path. */
export const WebhookId = z.string().regex(/^wh_[0-9a-f]{16}$/, 'a webhook id (wh_ and 16 hex digits)');

/**
 * The JSON body each delivery POSTs. `id` is the event's, the same in every attempt (a receiver
 * that keeps the ids it has seen drops a repeat); `createdAt` is when it happened (ms since the
 * epoch); `job` is the job's id.
 */
export const WebhookEvent = z.object({
  id: z.string(),
  type: WebhookEventType,
  createdAt: z.number(),
  job: z.string(),
  /** frame.done: the frame's number in the scene. */
  frame: z.number().int().optional(),
  /** job.done and job.failed: the job's state. */
  state: z.enum(['done', 'failed']).optional(),
  /** job.failed: why. */
  error: z.string().optional(),
});
export type WebhookEvent = z.infer<typeof WebhookEvent>;

/**
 * The headers of a delivery, Standard Webhooks' (standardwebhooks.com): any of its libraries
 * verifies a delivery with the hook's secret.
 */
export const WEBHOOK_HEADERS = {
  /** The event's id, the same in every attempt. */
  id: 'webhook-id',
  /** Seconds since the epoch of this attempt. */
  timestamp: 'webhook-timestamp',
  /** `v1,` and the base64 HMAC-SHA256 of `id.timestamp.body`, keyed with the secret's bytes (the base64 after `whsec_`). */
  signature: 'webhook-signature',
} as const;
