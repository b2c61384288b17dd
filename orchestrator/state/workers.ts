/** Worker records: registration by public key, heartbeats, counters. */
import type { WorkerView } from '../../shared/protocol.ts';
import { keys } from './keys.ts';
import type { FarmRedis } from './redis.ts';

export interface WorkerRecord {
  id: string;
  name: string;
  publicKey: string;
  class: string;
  registeredAt: number;
  lastSeen: number;
  valid: number;
  invalid: number;
  timedOut: number;
  rejected: number;
  inFlight: number;
}

const NUMERIC = ['registeredAt', 'lastSeen', 'valid', 'invalid', 'timedOut', 'rejected', 'inFlight'] as const;

export class Workers {
  constructor(
    private readonly redis: FarmRedis,
    /** A worker unseen for longer than this is shown offline. */
    private readonly onlineWindowMs: number,
  ) {}

  /** Registers a key, or refreshes name and class of a known one (counters are kept). */
  async register(id: string, publicKey: string, name: string, deviceClass: string): Promise<WorkerRecord> {
    const now = Date.now();
    const k = keys.worker(id);
    await this.redis
      .multi()
      .hsetnx(k, 'registeredAt', now)
      .hset(k, { id, name, publicKey, class: deviceClass, lastSeen: now })
      .hsetnx(k, 'valid', 0)
      .hsetnx(k, 'invalid', 0)
      .hsetnx(k, 'timedOut', 0)
      .hsetnx(k, 'rejected', 0)
      .hsetnx(k, 'inFlight', 0)
      .zadd(keys.workersAll, now, id)
      .exec();
    return (await this.get(id)) as WorkerRecord;
  }

  async get(id: string): Promise<WorkerRecord | undefined> {
    const h = await this.redis.hgetall(keys.worker(id));
    if (!h.id) return undefined;
    const record: Record<string, unknown> = { ...h };
    for (const f of NUMERIC) record[f] = Number(h[f] ?? 0);
    return record as unknown as WorkerRecord;
  }

  async list(): Promise<WorkerRecord[]> {
    const ids = await this.redis.zrange(keys.workersAll, 0, -1);
    return (await Promise.all(ids.map((id) => this.get(id)))).filter((w): w is WorkerRecord => w !== undefined);
  }

  async touch(id: string): Promise<void> {
    await this.redis.hset(keys.worker(id), 'lastSeen', Date.now());
  }

  /** Slots the worker holds and has not answered. */
  active(id: string): Promise<string[]> {
    return this.redis.smembers(keys.workerActive(id));
  }

  async reject(id: string): Promise<void> {
    await this.redis.hincrby(keys.worker(id), 'rejected', 1);
  }

  view(w: WorkerRecord): WorkerView {
    return {
      id: w.id,
      name: w.name,
      deviceClass: w.class,
      registeredAt: w.registeredAt,
      lastSeen: w.lastSeen,
      online: Date.now() - w.lastSeen < this.onlineWindowMs,
      valid: w.valid,
      invalid: w.invalid,
      timedOut: w.timedOut,
      rejected: w.rejected,
      inFlight: w.inFlight,
    };
  }
}
