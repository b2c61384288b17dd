/**
 * Moves job events from the outbox stream (includes/outbox.lua) into the webhook queue: one
 * delivery per (event, hook of its owner that wants it). Every orchestrator reads the stream as a
 * consumer of one group, so each entry goes to one of them; an entry is deleted only once its
 * deliveries are queued, and one that an orchestrator read but never queued (it died) stays
 * pending until another claims it (XAUTOCLAIM, after claimMs). Queueing an entry twice queues
 * nothing new: a delivery's job id is its entry's and hook's.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { z } from 'zod';
import { type WebhookEvent, WebhookEventType } from '../../shared/webhooks.ts';
import { crashPoint } from '../crash-points.ts';
import { keys } from '../state/keys.ts';
import { type FarmRedis, fieldsOf } from '../state/redis.ts';
import type { Webhooks } from '../state/webhooks.ts';

const GROUP = 'webhooks';
const BATCH = 100;
/** The longest a read waits for new entries: how late a claim pass or a close may be. */
const BLOCK_MS = 2000;
/** Consumers (one per orchestrator start) idle this long with nothing pending are forgotten. */
const STALE_CONSUMER_MS = 24 * 3600_000;

/** An entry as includes/outbox.lua writes it. */
const OutboxEntry = z.object({
  type: WebhookEventType,
  job: z.string(),
  owner: z.string(),
  frame: z.coerce.number().int().optional(),
  state: z.enum(['done', 'failed']).optional(),
  error: z.string().optional(),
});

export interface QueuedDelivery {
  /** Unique per entry and hook: queueing it again is a no-op. */
  jobId: string;
  hook: string;
  event: WebhookEvent;
}

export interface OutboxDeps {
  redis: FarmRedis;
  webhooks: Webhooks;
  queue(deliveries: QueuedDelivery[]): Promise<void>;
  claimMs: number;
  log: Logger;
}

type Entry = [id: string, fields: string[]];

/** The event an entry stands for: its id is the entry's, its time the entry's (when the script ran). */
function eventOf(id: string, entry: z.infer<typeof OutboxEntry>): WebhookEvent {
  const { type, job, frame, state, error } = entry;
  return { id: `evt_${id}`, type, createdAt: Number(id.split('-')[0]), job, frame, state, error };
}

export function startOutbox(deps: OutboxDeps): { close(): Promise<void> } {
  const { redis, log } = deps;
  // XREADGROUP blocks its connection: one of its own.
  const reader = redis.duplicate();
  reader.on('error', () => undefined);
  const consumer = randomBytes(8).toString('hex');
  let stopped = false;
  const stopping = new AbortController();

  async function handle([id, fields]: Entry): Promise<void> {
    const parsed = OutboxEntry.safeParse(fieldsOf(fields));
    if (parsed.success) {
      const event = eventOf(id, parsed.data);
      const hooks = (await deps.webhooks.ofOwner(parsed.data.owner)).filter((h) => h.events.includes(event.type));
      if (hooks.length > 0) {
        crashPoint('before-webhook-queue');
        await deps.queue(hooks.map((h) => ({ jobId: `${id}.${h.id}`, hook: h.id, event })));
      }
    } else log.error({ entry: id }, 'malformed outbox entry dropped');
    await redis.multi().xack(keys.outbox, GROUP, id).xdel(keys.outbox, id).exec();
  }

  /** Takes over entries pending too long (their reader died), and forgets long-gone consumers. */
  async function claim(): Promise<void> {
    let cursor = '0-0';
    do {
      const [next, entries] = (await redis.xautoclaim(keys.outbox, GROUP, consumer, deps.claimMs, cursor, 'COUNT', BATCH)) as [
        string,
        (Entry | null)[],
      ];
      // Entries trimmed by the stream's cap come back empty.
      for (const entry of entries) if (entry) await handle(entry);
      cursor = next;
    } while (cursor !== '0-0');
    const consumers = (await redis.xinfo('CONSUMERS', keys.outbox, GROUP)) as string[][];
    for (const c of consumers.map(fieldsOf)) {
      if (c.name !== consumer && Number(c.pending) === 0 && Number(c.idle) > STALE_CONSUMER_MS)
        await redis.xgroup('DELCONSUMER', keys.outbox, GROUP, c.name);
    }
  }

  const running = (async () => {
    let grouped = false;
    let claimAt = 0;
    while (!stopped) {
      try {
        if (!grouped) {
          // From the stream's start: entries written before any orchestrator made the group are delivered too.
          await redis.xgroup('CREATE', keys.outbox, GROUP, '0', 'MKSTREAM').catch((e: Error) => {
            if (!e.message.includes('BUSYGROUP')) throw e;
          });
          grouped = true;
        }
        if (Date.now() >= claimAt) {
          await claim();
          claimAt = Date.now() + deps.claimMs / 2;
        }
        const read = (await reader.xreadgroup(
          'GROUP',
          GROUP,
          consumer,
          'COUNT',
          BATCH,
          'BLOCK',
          Math.min(BLOCK_MS, deps.claimMs),
          'STREAMS',
          keys.outbox,
          '>',
        )) as [string, Entry[]][] | null;
        for (const entry of read?.[0]?.[1] ?? []) await handle(entry);
      } catch (err) {
        if (stopped) break;
        grouped = false;
        log.warn({ err: (err as Error).message }, 'webhook outbox read failed; trying again');
        await sleep(1000, undefined, { signal: stopping.signal }).catch(() => undefined);
      }
    }
  })();

  return {
    async close() {
      stopped = true;
      stopping.abort();
      reader.disconnect();
      await running;
    },
  };
}
