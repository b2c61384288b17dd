/**
 * Requester API tokens. Only a token's SHA-256 is stored; its short form names the owner of the
 * jobs submitted with it. The operator token (FARM_TOKEN) may see every job and mint, list and
 * revoke tokens. Every request looks its token up (the dashboard's cookie carries the token), so
 * a revoked token is refused from the next request on.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { ChainableCommander } from 'ioredis';
import { keys } from './keys.ts';
import { runScript } from './lua/scripts.ts';
import type { FarmRedis } from './redis.ts';

export type Role = 'operator' | 'requester';
export interface Principal {
  owner: string;
  role: Role;
  name: string;
}

const digest = (token: string) => createHash('sha256').update(token).digest('hex');
/** A token's principal: its owner is the first 16 hex digits of its digest. */
const principalOf = (token: string, role: Role, name: string): Principal => ({ owner: digest(token).slice(0, 16), role, name });

export class Tokens {
  constructor(private readonly redis: FarmRedis) {}

  /** Adds a requester's token, and opens its owner's account. */
  private async add(token: string, name: string): Promise<Principal> {
    const principal = principalOf(token, 'requester', name);
    await this.openAccount(principal, (m) => m.hset(keys.tokens, digest(token), JSON.stringify(principal)));
    return principal;
  }

  /** Opens the principal's owner account (keys.owner) if it has none, with what `also` adds to the same transaction. */
  private async openAccount(principal: Principal, also = (m: ChainableCommander) => m): Promise<void> {
    await also(this.redis.multi())
      .hset(keys.owner(principal.owner), 'name', principal.name)
      .zadd(keys.requestersAll, 'NX', Date.now(), principal.owner)
      .exec();
  }

  /**
   * Makes `token` an operator token (operator-token.lua): `exclusive` (FARM_TOKEN, the same on
   * every orchestrator), the farm's only one — any other stops working at once and can never be
   * taken again, and the keys registered as the operator's lose their trust until they register
   * with it. Operator tokens cannot be revoked through the API, so a leaked one had kept the
   * operator's power, trusted workers and ground truth, for good after the rotation meant to end
   * it (attackers' reviews). Returns the owners of the tokens revoked; throws for a token revoked
   * before (an orchestrator started with the settings a rotation replaced).
   */
  async setOperator(token: string, exclusive: boolean): Promise<string[]> {
    const principal = principalOf(token, 'operator', 'operator');
    const revoked = (await runScript(
      this.redis,
      'operator-token',
      [keys.tokens, keys.operatorTokensRevoked, keys.workersBy('credibility')],
      [digest(token), JSON.stringify(principal), exclusive ? '1' : ''],
    )) as string[] | -1;
    if (revoked === -1) throw new Error('this operator token was replaced by a newer one (FARM_TOKEN) and may not be used again');
    await this.openAccount(principal);
    return revoked;
  }

  async mint(name: string): Promise<{ token: string; principal: Principal }> {
    const token = `farm_${randomBytes(24).toString('base64url')}`;
    return { token, principal: await this.add(token, name) };
  }

  async lookup(token: string): Promise<Principal | undefined> {
    const raw = await this.redis.hget(keys.tokens, digest(token));
    return raw ? JSON.parse(raw) : undefined;
  }

  /** Every valid token's principal (never the token: only its digest is stored). */
  async list(): Promise<Principal[]> {
    return Object.values(await this.redis.hgetall(keys.tokens)).map((raw) => JSON.parse(raw) as Principal);
  }

  /** Revokes the requester token whose owner id this is; the account and its jobs stay. */
  async revoke(owner: string): Promise<'revoked' | 'unknown' | 'operator'> {
    for (const [field, raw] of Object.entries(await this.redis.hgetall(keys.tokens))) {
      const principal = JSON.parse(raw) as Principal;
      if (principal.owner !== owner) continue;
      if (principal.role === 'operator') return 'operator';
      await this.redis.hdel(keys.tokens, field);
      return 'revoked';
    }
    return 'unknown';
  }
}
