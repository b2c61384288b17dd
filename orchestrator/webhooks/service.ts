/**
 * Webhooks in one orchestrator: the outbox reader queues deliveries (outbox.ts), and a BullMQ
 * worker on the `webhooks` queue makes them (deliver.ts), ATTEMPTS times at most, waiting
 * webhookBackoffMs after the first failure and twice as long after each next one (by default
 * 10 s, 20 s, … about 5.7 h in all). A delivery to a hook deleted meanwhile is dropped. Each
 * attempt's outcome is counted on /metrics and a failure logged.
 */
import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { OrchestratorConfig } from '../config.ts';
import type { Metrics } from '../metrics.ts';
import type { FarmRedis } from '../state/redis.ts';
import type { Webhooks } from '../state/webhooks.ts';
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
  settings: Pick<OrchestratorConfig, 'webhookAllowPrivate' | 'webhookBackoffMs' | 'webhookClaimMs'>;
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
    removeOnFail: { age: 7 * 24 * 3600 },
  };
  const outbox = startOutbox({
    redis: deps.redis,
    webhooks,
    claimMs: settings.webhookClaimMs,
    log,
    queue: async (deliveries) =>
      void (await queue.addBulk(
        deliveries.map((d) => ({
          name: d.event.type,
          data: { hook: d.hook, event: d.event.id, body: JSON.stringify(d.event) },
          opts: { jobId: d.jobId, ...options },
        })),
      )),
  });

  const worker = new Worker<DeliveryJob, 'delivered' | 'removed'>(
    'webhooks',
    async (job) => {
      const hook = await webhooks.get(job.data.hook);
      if (!hook) return 'removed';
      await deliver(
        { url: hook.url, secret: hook.secret, id: job.data.event, body: job.data.body },
        { allowPrivate: settings.webhookAllowPrivate, timeoutMs: TIMEOUT_MS },
      );
      return 'delivered';
    },
    { connection: deps.bull, concurrency: CONCURRENCY },
  );
  worker.on('completed', (_job, outcome) => {
    if (outcome === 'delivered') metrics.webhook('delivered');
  });
  worker.on('failed', (job, err) => {
    metrics.webhook('failed');
    const last = job !== undefined && job.attemptsMade >= (job.opts.attempts ?? 1);
    if (last) metrics.webhook('dropped');
    const fields = { hook: job?.data.hook, event: job?.data.event, attempt: job?.attemptsMade, err: err.message };
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
