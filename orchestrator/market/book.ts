/**
 * The book an interval clears, built from the farm's state (pure): each running job bids for the
 * work it still needs at its limit, each online provider with an ask offers what it can render in
 * the interval at its measured speed. Quantities are whole book units (µRU).
 */
import { fromTicks, RAYS_PER_BOOK_UNIT } from '../../shared/market.ts';
import { maxRays } from '../../shared/render-units.ts';
import { MAX_TICK, type Order } from './clearing.ts';

export interface JobDemand {
  id: string;
  /** Ticks per RU; none: a market order. */
  bid: number | null;
  pixels: number;
  spp: number;
  tilesTotal: number;
  tilesVerified: number;
  raysVerified: number;
}

export interface ProviderSupply {
  id: string;
  /** Ticks per RU. */
  ask: number;
  /** Rays it verified and the render time they took, so far. */
  raysDone: number;
  renderMs: number;
}

/**
 * Rays a job still needs: from the verified tiles' average once there are some, else the most its
 * pixels can trace (an upper bound the first verified tiles refine).
 */
export function remainingRays(job: JobDemand): number {
  const left = job.tilesTotal - job.tilesVerified;
  if (left <= 0) return 0;
  if (job.tilesVerified > 0) return Math.round((job.raysVerified / job.tilesVerified) * left);
  return maxRays(job.pixels, job.spp);
}

export function bookOf(
  jobs: readonly JobDemand[],
  providers: readonly ProviderSupply[],
  intervalMs: number,
): { bids: Order[]; asks: Order[] } {
  const bids = jobs
    .map((j) => ({ id: j.id, limit: j.bid ?? MAX_TICK, quantity: Math.ceil(remainingRays(j) / RAYS_PER_BOOK_UNIT) }))
    .filter((o) => o.quantity > 0);
  const asks = providers
    .filter((p) => p.renderMs > 0)
    .map((p) => ({ id: p.id, limit: p.ask, quantity: Math.floor(((p.raysDone / p.renderMs) * intervalMs) / RAYS_PER_BOOK_UNIT) }))
    .filter((o) => o.quantity > 0);
  return { bids, asks };
}

/** The curves by price level: units wanted at or above each named price, offered at or below it. One sweep. */
export function levels(bids: readonly Order[], asks: readonly Order[]): { price: number; demand: number; supply: number }[] {
  const prices = [...new Set([...bids, ...asks].map((o) => o.limit).filter((p) => p < MAX_TICK))].sort((a, b) => a - b);
  const bidsAsc = [...bids].sort((x, y) => x.limit - y.limit);
  const asksAsc = [...asks].sort((x, y) => x.limit - y.limit);
  let demand = bids.reduce((s, b) => s + b.quantity, 0);
  let supply = 0;
  let b = 0;
  let a = 0;
  return prices.map((price) => {
    while (b < bidsAsc.length && bidsAsc[b].limit < price) demand -= bidsAsc[b++].quantity;
    while (a < asksAsc.length && asksAsc[a].limit <= price) supply += asksAsc[a++].quantity;
    return { price, demand, supply };
  });
}

/**
 * Why a job with a bid is paused by the last clearing, for its owner: the price is over its limit,
 * or nothing crossed and the cheapest ask is over it. Null when it may trade.
 */
export function pauseReason(bid: number | null, last: { price: number | null; bestAsk: number | null } | undefined): string | null {
  if (bid === null || !last) return null;
  const credits = (ticks: number) => fromTicks(ticks).toFixed(3);
  if (last.price !== null && bid < last.price)
    return `paused: spot ${credits(last.price)} > your limit ${credits(bid)} credits/RU; it resumes when the price comes down`;
  if (last.price === null && last.bestAsk !== null && bid < last.bestAsk)
    return `paused: the cheapest ask, ${credits(last.bestAsk)}, is over your limit ${credits(bid)} credits/RU; it resumes when cheaper supply arrives`;
  return null;
}
