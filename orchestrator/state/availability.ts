/** Who could still take a replica of a task (availability.lua), for the small-farm grace and arbitration. */
import { maxRaysPerSample } from '../../shared/render-units.ts';
import { LIMITS } from '../../shared/scene.ts';
import type { Prices } from '../dispatch.ts';
import type { Availability } from '../verdict/decide.ts';
import type { Classes } from './classes.ts';
import { keys } from './keys.ts';
import { runScript } from './lua/scripts.ts';
import type { FarmRedis } from './redis.ts';

export class AvailabilityReader {
  constructor(
    private readonly redis: FarmRedis,
    private readonly classes: Classes,
    private readonly onlineWindowMs: number,
    private readonly stakePerReplicaMicros: number,
    private readonly minStakeMicros: number,
    /** The market's prices as binding reads them (dispatch.ts MarketReader). */
    private readonly prices: () => Promise<Prices>,
  ) {}

  async of(task: { id: string; job: string; class: string; excluded: readonly string[] }, shareCap: number): Promise<Availability> {
    const since = Date.now() - this.onlineWindowMs;
    if (!task.class) return { trusted: 0, eligible: (await this.onlineOutside(task.excluded, since)) ? 1 : 0 };
    const { spot, marketLimit } = await this.prices();
    const [trusted, eligible] = (await runScript(
      this.redis,
      'availability',
      [
        keys.classWorking(task.class),
        keys.classTrusted(task.class),
        keys.jobBlacklist(task.job),
        keys.jobShare(task.job),
        keys.taskReplicas(task.id),
        keys.job(task.job),
        keys.task(task.id),
      ],
      [
        task.class,
        since,
        this.stakePerReplicaMicros,
        shareCap,
        this.minStakeMicros,
        spot ?? '',
        marketLimit ?? '',
        maxRaysPerSample(LIMITS.maxBounces),
      ],
    )) as [number, number];
    return { trusted: Number(trusted), eligible: Number(eligible), elsewhere: await this.elsewhere(task, since) };
  }

  /**
   * No replica taken yet: whether a worker online could take the first — any, or, for a tile
   * opened to the other classes (reclass.lua), one of a class not set aside for it.
   */
  private async onlineOutside(excluded: readonly string[], since: number): Promise<boolean> {
    if (excluded.length === 0) return (await this.redis.zcount(keys.workersBy('lastSeen'), since, '+inf')) > 0;
    return (await this.classesWithAny(keys.classWorking, excluded, since)) > 0;
  }

  /**
   * Established classes other than the tile's and those set aside for it with a trusted worker seen
   * since `since`: one that can take the tile whatever its stake or share (not at any price: README, Known limits).
   */
  private elsewhere(task: { class: string; excluded: readonly string[] }, since: number): Promise<number> {
    return this.classesWithAny(keys.classTrusted, [task.class, ...task.excluded], since);
  }

  /** How many established classes but `except` have a member in their set `setOf` scored since `since`. */
  private async classesWithAny(setOf: (deviceClass: string) => string, except: readonly string[], since: number): Promise<number> {
    const others = (await this.classes.all()).filter((c) => c.established && !except.includes(c.id));
    if (others.length === 0) return 0;
    const m = this.redis.pipeline();
    for (const c of others) m.zcount(setOf(c.id), since, '+inf');
    return ((await m.exec()) ?? []).filter(([, n]) => Number(n) > 0).length;
  }
}
