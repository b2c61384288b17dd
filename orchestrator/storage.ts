/**
 * Storage health: free space where blobs live and Redis' memory. When either runs short the farm
 * says so — /healthz degraded with the reason, 507 on the requests that would store something,
 * the reason on every job it holds up, gauges in /metrics — instead of failing writes one by one.
 * It recovers by itself once space returns.
 */

import { statfs } from 'node:fs/promises';
import { MIB } from '../shared/bytes.ts';
import type { FarmRedis } from './state/redis.ts';

export interface StorageFacts {
  freeBytes: number;
  redisUsedBytes: number;
  /** Redis' `maxmemory`; 0 when it has none. */
  redisMaxBytes: number;
}

export interface StorageLimits {
  /** Least free space the data directory keeps; below it, nothing new is stored. */
  minFreeBytes: number;
  /** Share of Redis' `maxmemory` past which nothing new is stored. */
  maxRedisShare: number;
}

/** Why the farm cannot store more right now; empty when it can. */
export function storageProblems(facts: StorageFacts, limits: StorageLimits): string[] {
  const problems: string[] = [];
  if (facts.freeBytes < limits.minFreeBytes)
    problems.push(`disk: ${Math.floor(facts.freeBytes / MIB)} MiB free, below the ${Math.floor(limits.minFreeBytes / MIB)} MiB kept free`);
  if (facts.redisMaxBytes > 0 && facts.redisUsedBytes > limits.maxRedisShare * facts.redisMaxBytes)
    problems.push(
      `redis: ${Math.floor(facts.redisUsedBytes / MIB)} MiB used of its ${Math.floor(facts.redisMaxBytes / MIB)} MiB maxmemory`,
    );
  return problems;
}

/** A write refused for lack of space (507). */
export class StorageFull extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`storage full: ${problems.join('; ')}`);
    this.name = 'StorageFull';
  }
}

/** Whether an error from the file system or Redis means it is out of space. */
export function isOutOfSpace(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT' || /^OOM /.test((err as Error)?.message ?? '');
}

/** How long a measurement is reused: statfs and INFO are cheap, but not free per request. */
const FRESH_MS = 1000;

export class StorageMonitor {
  private last?: { at: number; facts: StorageFacts };

  constructor(
    private readonly dataDir: string,
    private readonly redis: FarmRedis,
    private readonly limits: StorageLimits,
  ) {}

  async facts(): Promise<StorageFacts> {
    if (this.last && Date.now() - this.last.at < FRESH_MS) return this.last.facts;
    const [fs, info] = await Promise.all([statfs(this.dataDir), this.redis.info('memory')]);
    const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? 0);
    const facts = { freeBytes: fs.bavail * fs.bsize, redisUsedBytes: field('used_memory'), redisMaxBytes: field('maxmemory') };
    this.last = { at: Date.now(), facts };
    return facts;
  }

  async problems(): Promise<string[]> {
    return storageProblems(await this.facts(), this.limits);
  }

  /** Throws StorageFull when nothing new may be stored. */
  async assertWritable(): Promise<void> {
    const problems = await this.problems();
    if (problems.length > 0) throw new StorageFull(problems);
  }
}
