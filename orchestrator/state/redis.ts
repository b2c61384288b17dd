/** The orchestrator's Redis connection, with the farm's Lua scripts registered as commands. */
import { Redis } from 'ioredis';
import { BIND, FRAME_DONE, RELEASE, REOPEN, SETTLE, SPOT, SPOT_VERDICT, SUBMIT } from './scripts.ts';

export type FarmRedis = Redis & {
  farmBind(...args: (string | number)[]): Promise<[string, string, string, string, string]>;
  farmSubmit(...args: (string | number)[]): Promise<string[]>;
  farmSettle(...args: (string | number)[]): Promise<[string, number, string?]>;
  farmReopen(...args: (string | number)[]): Promise<number>;
  farmSpot(...args: (string | number)[]): Promise<[string, number, string, string, string] | null>;
  farmSpotVerdict(...args: (string | number)[]): Promise<number>;
  farmRelease(...args: (string | number)[]): Promise<number>;
  farmFrameDone(...args: (string | number)[]): Promise<number>;
};

export function connectRedis(url: string): FarmRedis {
  // BullMQ's rule for blocking clients, and harmless here: retry forever while Redis restarts.
  const redis = new Redis(url, { maxRetriesPerRequest: null }) as FarmRedis;
  redis.defineCommand('farmBind', { numberOfKeys: 5, lua: BIND });
  redis.defineCommand('farmSubmit', { numberOfKeys: 5, lua: SUBMIT });
  redis.defineCommand('farmSettle', { numberOfKeys: 4, lua: SETTLE });
  redis.defineCommand('farmRelease', { numberOfKeys: 3, lua: RELEASE });
  redis.defineCommand('farmFrameDone', { numberOfKeys: 4, lua: FRAME_DONE });
  redis.defineCommand('farmReopen', { numberOfKeys: 5, lua: REOPEN });
  redis.defineCommand('farmSpot', { numberOfKeys: 2, lua: SPOT });
  redis.defineCommand('farmSpotVerdict', { numberOfKeys: 2, lua: SPOT_VERDICT });
  return redis;
}
