/**
 * Webhooks in one orchestrator: the outbox reader queues deliveries (outbox.ts), and a BullMQ
 * worker on the `webhooks` queue makes them (deliver.ts), ATTEMPTS times at most, waiting
 * webhookBackoffMs after the first failure and twice as long after each next one (by default
 * 10 s, 20 s, … about 5.7 h in all). One requester's failing or slow receivers must not hold up
 * everyone's deliveries nor fill Redis: a hook has at most webhookMaxPending deliveries queued
 * (further events for it are dropped), and webhookFailureLimit failed attempts in a row disable
 * it (what it still has queued is dropped) until its owner enables it again. A delivery to a hook
 * deleted meanwhile is dropped. Each attempt's outcome is counted on /metrics and a failure logged.
 */
import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { OrchestratorConfig } from '../config.ts';
import type { Metrics } from '../metrics.ts';
import type { FarmRedis } from '../state/redis.ts';
import type { Webhooks } from '../state/webhooks.ts';
import { AddressRefused } from './addresses.ts';
import { deliver } from './deliver.ts';
import { startOutbox } from './outbox.ts';

export const ATTEMPTS = 12;
/** How long a receiver has to answer. */
const TIMEOUT_MS = 10_000;
/** Deliveries in flight per orchestrator (each mostly waits on its receiver). */
const CONCURRENCY = 16;

interface DeliveryJob {
  hook: string;
  /** The event's id, and its JSON as it is sent in every attempt. */
  event: string;
  body: string;
}

export interface WebhookDeps {
  redis: FarmRedis;
  /** BullMQ's connection. */
  bull: Redis;
  webhooks: Webhooks;
  metrics: Pick<Metrics, 'webhook'>;
  log: Logger;
  settings: Pick<
    OrchestratorConfig,
    'webhookAllowPrivate' | 'webhookBackoffMs' | 'webhookClaimMs' | 'webhookFailureLimit' | 'webhookMaxPending'
  >;
}

export function startWebhooks(deps: WebhookDeps): { queue: Queue; close(): Promise<void> } {
  const { webhooks, metrics, log, settings } = deps;
  const queue = new Queue<DeliveryJob>('webhooks', { connection: deps.bull, streams: { events: { maxLen: 1000 } } });
  queue.on('error', (err) => log.warn({ err: err.message, queue: queue.name }, 'queue error'));
  const options = {
    attempts: ATTEMPTS,
    backoff: { type: 'exponential', delay: settings.webhookBackoffMs },
    // A delivery's job stays an hour after it succeeds (well past webhookClaimMs): the same outbox
    // entry queued again meanwhile, after a crash, is a no-op.
    removeOnComplete: { age: 3600 },
    // Long enough to look into, short enough that a requester's failing receiver does not fill Redis.
    removeOnFail: { age: 24 * 3600 },
  };
  // Twice a delivery's whole schedule of retries: a pending entry older than this lost its job.
  const pending = { maxPending: settings.webhookMaxPending, maxAgeMs: settings.webhookBackoffMs * 2 ** ATTEMPTS };
  const outbox = startOutbox({
    redis: deps.redis,
    webhooks,
    claimMs: settings.webhookClaimMs,
    log,
    queue: async (deliveries) => {
      const admitted: typeof deliveries = [];
      for (const d of deliveries) {
        const outcome = await webhooks.admit(d.hook, d.jobId, queue.toKey(d.jobId), pending);
        if (outcome === 'queue') admitted.push(d);
        else {
          metrics.webhook('dropped');
          log.debug({ hook: d.hook, event: d.event.id, outcome }, 'webhook event dropped');
        }
      }
      await queue.addBulk(
        admitted.map((d) => ({
          name: d.event.type,
          data: { hook: d.hook, event: d.event.id, body: JSON.stringify(d.event) },
          opts: { jobId: d.jobId, ...options },
        })),
      );
    },
  });

  // A delivery leaves its hook's pending set here, as it ends, and never ends but here: a stalled
  // one (its orchestrator died) is made again rather than failed, as delivery is at least once.
  const worker = new Worker<DeliveryJob, 'delivered' | 'removed' | 'disabled'>(
    'webhooks',
    async (job) => {
      const id = job.id as string;
      const hook = await webhooks.get(job.data.hook);
      if (!hook || hook.disabled) {
        await webhooks.ended(job.data.hook, id);
        return hook ? 'disabled' : 'removed';
      }
      try {
        await deliver(
          { url: hook.url, secret: hook.secret, id: job.data.event, body: job.data.body },
          { allowPrivate: settings.webhookAllowPrivate, timeoutMs: TIMEOUT_MS },
        );
      } catch (err) {
        const limit = settings.webhookFailureLimit;
        const reason = `${limit} delivery attempts in a row failed; the last: ${(err as Error).message}`;
        if (await webhooks.failed(hook.id, limit, reason)) log.warn({ hook: hook.id, owner: hook.owner, reason }, 'webhook disabled');
        if (job.attemptsMade + 1 >= (job.opts.attempts ?? 1)) await webhooks.ended(hook.id, id);
        throw err;
      }
      await webhooks.delivered(hook.id, id);
      return 'delivered';
    },
    { connection: deps.bull, concurrency: CONCURRENCY, maxStalledCount: Number.MAX_SAFE_INTEGER },
  );
  worker.on('completed', (_job, outcome) => {
    if (outcome === 'delivered') metrics.webhook('delivered');
    if (outcome === 'disabled') metrics.webhook('dropped');
  });
  worker.on('failed', (job, err) => {
    metrics.webhook('failed');
    const last = job !== undefined && job.attemptsMade >= (job.opts.attempts ?? 1);
    if (last) metrics.webhook('dropped');
    const detail = err instanceof AddressRefused ? err.detail : undefined;
    const fields = { hook: job?.data.hook, event: job?.data.event, attempt: job?.attemptsMade, err: err.message, detail };
    if (last) log.error(fields, 'webhook not delivered: every attempt failed');
    else log.warn(fields, 'webhook delivery failed; it is tried again');
  });
  worker.on('error', (err) => log.warn({ err: err.message }, 'queue worker error'));

  return {
    queue,
    async close() {
      await outbox.close();
      await worker.close();
      await queue.close();
    },
  };
}
