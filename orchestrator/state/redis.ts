/** The orchestrator's Redis connection, with the farm's Lua scripts registered as commands. */
import { Redis } from 'ioredis';
import { defineScripts } from './lua/scripts.ts';

export type FarmRedis = Redis;

export function connectRedis(url: string): FarmRedis {
  // BullMQ's rule for blocking clients, and harmless here: retry forever while Redis restarts.
  const redis = new Redis(url, { maxRetriesPerRequest: null });
  defineScripts(redis);
  return redis;
}
