/**
 * Which orchestrators of the farm are alive: each says so every few seconds; one that has been
 * silent for a while died (kill -9, a lost machine) or was cut off. Its survivors then recover what
 * it may have left between two steps, as a restart of it would (recovery.ts), without waiting for
 * it to come back.
 */
import { keys } from './keys.ts';
import type { FarmRedis } from './redis.ts';

export class Orchestrators {
  constructor(private readonly redis: FarmRedis) {}

  /** `self` is alive at `now`. */
  async alive(self: string, now = Date.now()): Promise<void> {
    await this.redis.zadd(keys.orchestrators, now, self);
  }

  /** `self` stops cleanly: nothing of its is left to recover. */
  async leave(self: string): Promise<void> {
    await this.redis.zrem(keys.orchestrators, self);
  }

  /** Takes (once across the farm) the orchestrators last alive before `before`. */
  async takeSilent(before: number): Promise<string[]> {
    const [[, silent]] = (await this.redis
      .multi()
      .zrangebyscore(keys.orchestrators, '-inf', before)
      .zremrangebyscore(keys.orchestrators, '-inf', before)
      .exec()) as [[unknown, string[]], unknown];
    return silent;
  }
}
