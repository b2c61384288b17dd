/**
 * The market's records: the clearings, and the two sides of the book as the farm's state has
 * them — running jobs with their bids and progress, online providers with their asks and speed.
 */

import { recentResults } from '../../shared/throughput.ts';
import { type JobDemand, largestTileRays, type ProviderSupply } from '../market/book.ts';
import { boundedTraded, type ClearingPoint } from '../market/history.ts';
import { announce } from './events.ts';
import { keys } from './keys.ts';
import { runScript } from './lua/scripts.ts';
import type { FarmRedis } from './redis.ts';

/** One interval's outcome, in ticks and book units. */
export interface ClearingRecord {
  at: number;
  price: number | null;
  volume: number;
  bids: number;
  asks: number;
  bestBid: number | null;
  bestAsk: number | null;
  levels: { price: number; demand: number; supply: number }[];
  /** The most a market order paid in it (its collar, market/book.ts); null: any price. Absent before collars. */
  marketLimit?: number | null;
}

export class Market {
  /** `tradedCeiling`: the operator's bound (ticks per RU) on the price that traded, as the farm uses it; null: none. */
  constructor(
    private readonly redis: FarmRedis,
    private readonly tradedCeiling: number | null = null,
  ) {}

  /**
   * Records the clearing unless its interval already is; history older than `keepSince` goes.
   * `votes`: the units each requester bought in it and the price their votes are held to
   * (market/book.ts voteCap), kept in the history only (the price that traded counts them; no public view lists
   * them). `traded`: the price it names as the last that
   * traded (null: it leaves the last one).
   */
  async record(
    c: ClearingRecord,
    votes: Pick<ClearingPoint, 'buyers' | 'voteAt'>,
    keepSince: number,
    traded: number | null,
  ): Promise<boolean> {
    const entry = JSON.stringify({ at: c.at, price: c.price, volume: c.volume, ...votes } satisfies ClearingPoint);
    return (
      (await runScript(
        this.redis,
        'market-record',
        [keys.marketClearings, keys.marketLast],
        [c.at, entry, JSON.stringify(c), keepSince, traded ?? ''],
      )) === 1
    );
  }

  /** Clearings since `from` (ms), in time order. */
  async since(from: number): Promise<ClearingPoint[]> {
    return (await this.redis.zrangebyscore(keys.marketClearings, from, '+inf')).map((e) => JSON.parse(e) as ClearingPoint);
  }

  /**
   * The last price that traded (ticks per RU), however long ago, as the farm pays, caps and values
   * collateral with it: at most the operator's ceiling. Null before any did.
   */
  async lastTraded(): Promise<number | null> {
    const ticks = await this.redis.get(keys.marketTraded);
    return boundedTraded(ticks === null ? null : Number(ticks), this.tradedCeiling);
  }

  /**
   * Tells these jobs' live views that what holds them up may have changed: a job's `heldUp` reads
   * the last clearing (market/book.ts pauseReason), which no change of the job itself announces.
   */
  priceMoved(jobs: readonly string[]): void {
    for (const job of jobs) announce(this.redis, job);
  }

  async last(): Promise<ClearingRecord | undefined> {
    const raw = await this.redis.get(keys.marketLast);
    return raw ? (JSON.parse(raw) as ClearingRecord) : undefined;
  }

  /** Running jobs their owners have not paused: their bids, how far they are, and what they can still pay. */
  async demand(): Promise<JobDemand[]> {
    const ids = await this.redis.smembers(keys.jobsActive);
    const m = this.redis.multi();
    for (const id of ids)
      m.hmget(
        keys.job(id),
        'owner',
        'state',
        'bid',
        'width',
        'height',
        'frames',
        'spp',
        'tilesTotal',
        'tilesVerified',
        'raysVerified',
        'paused',
        'escrow',
        'committed',
        'tileSize',
        'bidSince',
        'replicasOut',
        'replicasIssued',
      );
    const rows = ((await m.exec()) ?? []) as [unknown, (string | null)[]][];
    return rows.flatMap(
      (
        [, [owner, state, bid, width, height, frames, spp, total, verified, rays, paused, escrow, committed, tile, since, out, issued]],
        i,
      ) =>
        state === 'running' && !paused
          ? [
              {
                id: ids[i],
                owner: owner as string,
                bid: bid ? Number(bid) : null,
                pixels: Number(width) * Number(height) * (JSON.parse(frames ?? '[]') as number[]).length,
                spp: Number(spp),
                tilesTotal: Number(total),
                tilesVerified: Number(verified ?? 0),
                raysVerified: Number(rays ?? 0),
                free: Math.max(0, Number(escrow ?? 0) - Number(committed ?? 0)),
                tileRays: largestTileRays({ tileSize: Number(tile), width: Number(width), height: Number(height), spp: Number(spp) }),
                bidSince: Number(since ?? 0),
                replicasOut: Number(out ?? 0),
                replicasIssued: Number(issued ?? 0),
              },
            ]
          : [],
    );
  }

  /** Providers seen since `onlineSince` that ask a price and have a measured speed: their asks, speed, and what requesters paid them in the last hour. */
  async supply(onlineSince: number, now = Date.now()): Promise<ProviderSupply[]> {
    const ids = await this.redis.zrangebyscore(keys.workersBy('lastSeen'), onlineSince, '+inf');
    const m = this.redis.multi();
    for (const id of ids) m.hmget(keys.worker(id), 'ask', 'raysDone', 'renderMs');
    const rows = ((await m.exec()) ?? []) as [unknown, (string | null)[]][];
    const asking = rows.flatMap(([, [ask, raysDone, renderMs]], i) =>
      ask ? [{ id: ids[i], ask: Number(ask), raysDone: Number(raysDone ?? 0), renderMs: Number(renderMs ?? 0) }] : [],
    );
    // What requesters paid each measured one in the last hour: the book's median ask weighs it
    // (book.ts medianAsk). A pipeline, not a transaction: 10,000 rings read in one would hold Redis 0.1 s.
    const measured = asking.filter((p) => p.renderMs > 0);
    const r = this.redis.pipeline();
    for (const p of measured) r.hgetall(keys.workerRecentPaid(p.id));
    const rings = ((await r.exec()) ?? []) as [unknown, Record<string, string> | null][];
    return measured.map((p, i) => ({ ...p, paidRecent: recentResults(rings[i][1] ?? {}, now).reduce((s, n) => s + n, 0) }));
  }
}
