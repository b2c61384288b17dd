/** Determinism class records (orchestrator/classes.ts measures them; the operator's workers establish them). */
import type { z } from 'zod';
import type { ClassView } from '../../shared/protocol.ts';
import { keys } from './keys.ts';
import type { FarmRedis } from './redis.ts';

export type ClassRecord = z.infer<typeof ClassView> & {
  /** Scene CID the answers are for. */
  calibration: string;
};

/** Class records change rarely (an operator adds a GPU model); readers may see one a moment old. */
const CACHE_MS = 2000;

export class Classes {
  private cache: { at: number; records: ClassRecord[] } | undefined;

  constructor(private readonly redis: FarmRedis) {}

  async all(): Promise<ClassRecord[]> {
    if (this.cache && Date.now() - this.cache.at < CACHE_MS) return this.cache.records;
    const h = await this.redis.hgetall(keys.classes);
    const records = Object.values(h).map((v) => JSON.parse(v) as ClassRecord);
    this.cache = { at: Date.now(), records };
    return records;
  }

  async get(id: string): Promise<ClassRecord | undefined> {
    const raw = await this.redis.hget(keys.classes, id);
    return raw ? (JSON.parse(raw) as ClassRecord) : undefined;
  }

  async save(record: ClassRecord): Promise<void> {
    await this.redis.hset(keys.classes, record.id, JSON.stringify(record));
    this.cache = undefined;
  }
}
