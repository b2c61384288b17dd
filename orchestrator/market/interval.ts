/**
 * Clears one market interval: builds the book from the farm's state, clears it and records the
 * result in one script (a clearing that crashes before recording leaves no trace, and a second
 * record of an interval is refused). Run once per interval across the farm as a duty (duties.ts).
 */
import type { Logger } from 'pino';
import { costMicros } from '../../shared/money.ts';
import { crashPoint } from '../crash-points.ts';
import type { Market } from '../state/market.ts';
import { bookOf, type JobDemand, levels, voteCap } from './book.ts';
import { clear } from './clearing.ts';
import { INDEX_WINDOW_MS, tradedPrice } from './history.ts';

export interface IntervalDeps {
  market: Market;
  intervalMs: number;
  /** Providers seen within this long are online. */
  onlineWindowMs: number;
  historyMs: number;
  /** Book units the last hour trades at least to name the price that traded (marketTradedFloorRu) … */
  tradedFloorUnits: number;
  /** … and how many requesters buy in it (marketTradedMinBuyers). */
  tradedMinBuyers: number;
  /** marketOrderBand, in thousandths: a market order's collar over its reference price (book.ts) … */
  marketOrderBandMilli: number;
  /** … which is at most marketTradedCeiling (ticks; null: none). */
  tradedCeiling: number | null;
  log: Logger;
}

/** Clears the interval starting at `at` (ms); false when it was already recorded. */
export async function clearMarketInterval(deps: IntervalDeps, at: number, now = Date.now()): Promise<boolean> {
  const [demand, supply, before, traded] = await Promise.all([
    deps.market.demand(),
    deps.market.supply(now - deps.onlineWindowMs, now),
    deps.market.last(),
    deps.market.lastTraded(),
  ]);
  // A bid takes part once it has stood through a whole interval before this one: a job released
  // (or funded) just before a clearing and paused just after it had set the price for nothing — a
  // limit a tick over the market orders' collar, for all the supply, paused every market order
  // while buying nothing (an attacker's review). Standing, it buys at the price it bids.
  const standing = demand.filter((j) => j.bidSince <= at - deps.intervalMs);
  const { bids, asks, delivered, collar } = bookOf(standing, supply, deps.intervalMs, {
    traded,
    bandMilli: deps.marketOrderBandMilli,
    ceiling: deps.tradedCeiling,
  });
  const c = clear(bids, asks);
  if (c.volume > 0) crashPoint('during-clearing');
  // Every requester with a bid at or above the price whose escrow pays for a tile at it takes part
  // in the interval's trade, at the interval's volume: which of bids at one limit fills first is the
  // book's order, while dispatch trades them all (an attacker's review: one of two requesters'
  // market orders was recorded), and a job whose tiles are refused as unfunded trades nothing (a
  // second review: a market order holding 1 µc had made a second buyer). Their votes are held to
  // voteCap (book.ts), and with none they vote for nothing.
  const cap = voteCap(delivered, traded);
  const jobs = new Map(demand.map((j) => [j.id, j]));
  const buyers: Record<string, number> = {};
  const price = c.price;
  if (price !== null && c.volume > 0)
    for (const bid of bids) {
      const job = jobs.get(bid.id) as JobDemand;
      if (bid.limit >= price && job.free >= costMicros(job.tileRays, price, 'up')) buyers[job.owner] = c.volume;
    }
  const votes = cap === null ? { buyers: {} } : price !== null && price > cap ? { buyers, voteAt: cap } : { buyers };
  const hour = [...(await deps.market.since(at - INDEX_WINDOW_MS)), { at, price: c.price, volume: c.volume, ...votes }];
  // Market bids name no price: the best bid is the highest limit named.
  const best = (orders: typeof bids, pick: (a: number, b: number) => number) => {
    const named = orders.filter((o) => !o.market);
    return named.length ? named.map((o) => o.limit).reduce((x, y) => pick(x, y)) : null;
  };
  const bestAsk = best(asks, Math.min);
  const recorded = await deps.market.record(
    {
      at,
      price: c.price,
      volume: c.volume,
      bids: bids.length,
      asks: asks.length,
      bestBid: best(bids, Math.max),
      bestAsk,
      levels: levels(bids, asks),
      marketLimit: collar,
    },
    votes,
    now - deps.historyMs,
    tradedPrice(hour, deps.tradedFloorUnits, deps.tradedMinBuyers),
  );
  if (recorded) deps.log.debug({ at, price: c.price, volume: c.volume, bids: bids.length, asks: asks.length }, 'market cleared');
  // What holds a job up reads the price and the best ask: its live views hear when they move.
  if (recorded && (before?.price !== c.price || before?.bestAsk !== bestAsk)) deps.market.priceMoved(demand.map((j) => j.id));
  return recorded;
}
