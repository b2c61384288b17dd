/**
 * Each device class's known answers (its spot-check pool: tiles a trusted worker backed) and the
 * audits that stock it while a trusted worker is online (decide.ts).
 */
import { readAtMostEvery } from '../read-cache.ts';
import { keys } from './keys.ts';
import { runScript } from './lua/scripts.ts';
import type { FarmRedis } from './redis.ts';

/**
 * Stocking audits a class may have out at once: each holds its tile's verdict until a trusted
 * worker answers, so a new class's verdicts must not all queue behind its trusted workers.
 */
const STOCKING_AT_ONCE = 4;

export class KnownAnswers {
  /** Each class's known answers, read at most once a second: every verdict asks. */
  private readonly counts = new Map<string, () => Promise<number>>();

  constructor(
    private readonly redis: FarmRedis,
    /** Known answers a class is stocked to (0: never). */
    private readonly target: number,
    /** How long a stocking audit may hold its reservation: a replica's deadline. */
    private readonly reservationMs: number,
  ) {}

  /** Whether the class has fewer known answers than the target (a task without a class: no). */
  async short(deviceClass: string): Promise<boolean> {
    if (!deviceClass || this.target === 0) return false;
    let count = this.counts.get(deviceClass);
    if (!count) {
      // A failed read counts as stocked.
      count = readAtMostEvery(1000, () => this.redis.zcard(keys.spotPool(deviceClass)), this.target);
      this.counts.set(deviceClass, count);
    }
    return (await count()) < this.target;
  }

  /** Reserves a stocking audit of the task, if the class may have another out (stock-reserve.lua). */
  async reserve(deviceClass: string, task: string): Promise<boolean> {
    const reserved = await runScript(
      this.redis,
      'stock-reserve',
      [keys.spotPool(deviceClass), keys.stocking(deviceClass)],
      [task, Date.now(), this.target, STOCKING_AT_ONCE, this.reservationMs],
    );
    return Number(reserved) === 1;
  }
}
