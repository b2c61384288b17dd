/**
 * The farm's id: made once, by the first orchestrator to start on its Redis, and the same for
 * every orchestrator of the farm since. Worker signatures cover it (shared/signing.ts).
 */
import { randomBytes } from 'node:crypto';
import { keys } from './keys.ts';
import type { FarmRedis } from './redis.ts';

export async function farmId(redis: FarmRedis): Promise<string> {
  await redis.set(keys.farmId, `f${randomBytes(8).toString('hex')}`, 'NX');
  return (await redis.get(keys.farmId)) as string;
}
