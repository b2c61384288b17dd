/**
 * Requesters' webhooks: each is its owner's, with the URL it is delivered to, the events it wants
 * and the secret its deliveries are signed with (kept to sign; shown to its owner once); its
 * failed delivery attempts in a row, and whether they disabled it; and its pending deliveries.
 */
import { randomBytes } from 'node:crypto';
import { MAX_WEBHOOKS, type Webhook, type WebhookCreated, type WebhookEventType } from '../../shared/webhooks.ts';
import { keys } from './keys.ts';
import { runScript } from './lua/scripts.ts';
import type { FarmRedis } from './redis.ts';

export interface WebhookRecord extends Webhook {
  owner: string;
  secret: string;
}

const view = ({ id, url, events, createdAt, disabled }: Webhook): Webhook => ({ id, url, events, createdAt, disabled });

function parse(h: Record<string, string>): WebhookRecord | undefined {
  if (!h.id) return undefined;
  const disabled = h.disabledAt ? { at: Number(h.disabledAt), reason: h.disabledReason ?? '' } : undefined;
  return { id: h.id, owner: h.owner, url: h.url, events: JSON.parse(h.events), secret: h.secret, createdAt: Number(h.createdAt), disabled };
}

/** What a hook's pending deliveries are held to (webhook-admit.lua). */
export interface PendingLimits {
  maxPending: number;
  /** Longer than any delivery lasts. */
  maxAgeMs: number;
}

export class Webhooks {
  constructor(private readonly redis: FarmRedis) {}

  /** A new hook with a new secret, or undefined when its owner already has MAX_WEBHOOKS. */
  async add(owner: string, url: string, events: WebhookEventType[]): Promise<WebhookCreated | undefined> {
    const hook: WebhookRecord = {
      id: `wh_${randomBytes(8).toString('hex')}`,
      owner,
      url,
      events,
      // Standard Webhooks' form: its libraries take the base64 after the prefix as the key.
      secret: `whsec_${randomBytes(32).toString('base64')}`,
      createdAt: Date.now(),
    };
    const added = await runScript(
      this.redis,
      'webhook-add',
      [keys.webhook(hook.id), keys.webhooksOf(owner)],
      [hook.id, JSON.stringify({ ...hook, events: JSON.stringify(events) }), MAX_WEBHOOKS],
    );
    return added === 1 ? { ...view(hook), secret: hook.secret } : undefined;
  }

  async get(id: string): Promise<WebhookRecord | undefined> {
    return parse(await this.redis.hgetall(keys.webhook(id)));
  }

  /** The owner's hooks, secrets included (for delivery), oldest first. */
  async ofOwner(owner: string): Promise<WebhookRecord[]> {
    const ids = await this.redis.smembers(keys.webhooksOf(owner));
    const m = this.redis.multi();
    for (const id of ids) m.hgetall(keys.webhook(id));
    const hooks = ((await m.exec()) ?? []).map(([, h]) => parse(h as Record<string, string>));
    return hooks.filter((h): h is WebhookRecord => h !== undefined).sort((a, b) => a.createdAt - b.createdAt);
  }

  /** What its owner is shown: no secrets. */
  async list(owner: string): Promise<Webhook[]> {
    return (await this.ofOwner(owner)).map(view);
  }

  /** Removes the owner's hook; false when it has none of that id (another's hook included). */
  async remove(owner: string, id: string): Promise<boolean> {
    if ((await this.redis.hget(keys.webhook(id), 'owner')) !== owner) return false;
    await this.redis.multi().del(keys.webhook(id), keys.webhookPending(id)).srem(keys.webhooksOf(owner), id).exec();
    return true;
  }

  /** Removes every hook of the owner (its token is revoked). */
  async removeAll(owner: string): Promise<void> {
    const m = this.redis.multi();
    for (const id of await this.redis.smembers(keys.webhooksOf(owner))) m.del(keys.webhook(id), keys.webhookPending(id));
    await m.del(keys.webhooksOf(owner)).exec();
  }

  /** Turns the owner's disabled hook on again, its count of failures cleared; false when it has none of that id. */
  async enable(owner: string, id: string): Promise<boolean> {
    if ((await this.redis.hget(keys.webhook(id), 'owner')) !== owner) return false;
    await this.redis.hdel(keys.webhook(id), 'failures', 'disabledAt', 'disabledReason');
    return true;
  }

  /**
   * Before a delivery to `hook` is queued as BullMQ job `delivery` (its hash `jobKey`): 'queue',
   * or 'full' when the hook has as many pending as it may, or 'off' when it is disabled or gone.
   */
  async admit(hook: string, delivery: string, jobKey: string, limits: PendingLimits, now = Date.now()): Promise<'queue' | 'full' | 'off'> {
    return (await runScript(
      this.redis,
      'webhook-admit',
      [keys.webhook(hook), keys.webhookPending(hook), jobKey],
      [delivery, now, limits.maxPending, limits.maxAgeMs],
    )) as 'queue' | 'full' | 'off';
  }

  /** A delivery ended without reaching its receiver (given up, or dropped): it is no longer pending. */
  async ended(hook: string, delivery: string): Promise<void> {
    await this.redis.zrem(keys.webhookPending(hook), delivery);
  }

  /** A delivery reached its receiver: it is no longer pending, and the hook's failures in a row start again. */
  async delivered(hook: string, delivery: string): Promise<void> {
    await this.redis.multi().zrem(keys.webhookPending(hook), delivery).hdel(keys.webhook(hook), 'failures').exec();
  }

  /** An attempt failed; true when it disabled the hook (`limit` in a row), with `reason` for its owner. */
  async failed(hook: string, limit: number, reason: string, now = Date.now()): Promise<boolean> {
    return (await runScript(this.redis, 'webhook-failed', [keys.webhook(hook)], [limit, now, reason])) === 1;
  }
}
