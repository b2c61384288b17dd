/**
 * The recorded clearings as the public price series reads them (time, price, volume), kept in
 * memory and brought up to date at most once an interval by reading again only the last
 * REREAD_INTERVALS intervals' (a clearing an orchestrator that stalled records late lands
 * there). Candles of a day cover the whole history kept, a week of clearings: read and parsed
 * whole, with each one's buyers, for every anonymous request, twenty of them had held an
 * orchestrator's every answer for 7 s (an attacker's review).
 */
import { sharedFor } from '../single-flight.ts';
import type { Market } from '../state/market.ts';
import type { ClearingPoint } from './history.ts';

/** Intervals read again at each refresh: clearings recorded up to this many intervals late still count. */
const REREAD_INTERVALS = 30;

export class PriceSeries {
  private points: ClearingPoint[] = [];
  private readonly refresh: () => Promise<void>;

  constructor(
    private readonly market: Market,
    private readonly historyMs: number,
    private readonly intervalMs: number,
  ) {
    this.refresh = sharedFor(intervalMs, () => this.catchUp());
  }

  /** The clearings since `from` (ms), in time order, as of the last refresh. */
  async since(from: number): Promise<ClearingPoint[]> {
    await this.refresh();
    return this.points.slice(firstAtOrAfter(this.points, from));
  }

  private async catchUp(): Promise<void> {
    const now = Date.now();
    const last = this.points.at(-1);
    const from = last ? Math.min(last.at, now) - REREAD_INTERVALS * this.intervalMs : now - this.historyMs;
    const fresh = (await this.market.since(from)).map(({ at, price, volume }) => ({ at, price, volume }));
    const kept = this.points.slice(firstAtOrAfter(this.points, now - this.historyMs), firstAtOrAfter(this.points, from));
    this.points = kept.concat(fresh);
  }
}

/** The index of the first point at or after `at` (points in time order). */
function firstAtOrAfter(points: readonly ClearingPoint[], at: number): number {
  let lo = 0;
  let hi = points.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (points[mid].at < at) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
