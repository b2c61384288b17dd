/**
 * Requesters' webhooks: each is its owner's, with the URL it is delivered to, the events it wants
 * and the secret its deliveries are signed with (kept to sign; shown to its owner once).
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

const view = ({ id, url, events, createdAt }: Webhook): Webhook => ({ id, url, events, createdAt });

function parse(h: Record<string, string>): WebhookRecord | undefined {
  if (!h.id) return undefined;
  return { id: h.id, owner: h.owner, url: h.url, events: JSON.parse(h.events), secret: h.secret, createdAt: Number(h.createdAt) };
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
      secret: `whsec_${randomBytes(32).toString('base64url')}`,
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
    await this.redis.multi().del(keys.webhook(id)).srem(keys.webhooksOf(owner), id).exec();
    return true;
  }
}
