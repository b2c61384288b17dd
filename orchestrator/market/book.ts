/**
 * The book an interval clears, built from the farm's state (pure): each running job its owner has
 * not paused bids for the work it still needs at its limit, as far as its escrow pays for it; each
 * online provider with an ask offers what it can render in the interval at its measured speed.
 * Quantities are whole book units (µRU).
 */
import { fromTicks, RAYS_PER_BOOK_UNIT } from '../../shared/market.ts';
import { costMicros, formatCredits, fromMicros } from '../../shared/money.ts';
import { maxRays } from '../../shared/render-units.ts';
import { MAX_TICK, type Order } from './clearing.ts';

export interface JobDemand {
  id: string;
  /** The requester it is bought for: the price that traded needs several (history.ts tradedPrice). */
  owner: string;
  /** Ticks per RU; none: a market order. */
  bid: number | null;
  pixels: number;
  spp: number;
  tilesTotal: number;
  tilesVerified: number;
  raysVerified: number;
  /** µc of its escrow not yet paid or committed: what it can still buy with. */
  free: number;
  /** The most rays one of its tiles can take: what a replica of it commits at a price. */
  tileRays: number;
  /** Since when its bid stands as it is (ms; includes/jobs.lua bidAnew): 0 for one older than that record. */
  bidSince: number;
  /** Its replicas workers hold now (bind.lua): tiles being rendered, not wanted in the book … */
  replicasOut: number;
  /** … counted as tiles by the replicas it issued a tile on average (a quorum of 2 holds two a tile). */
  replicasIssued: number;
}

export interface ProviderSupply {
  id: string;
  /** Ticks per RU. */
  ask: number;
  /** Rays it verified and the render time they took, so far. */
  raysDone: number;
  renderMs: number;
  /** µc requesters paid it in the last hour, before the fee (includes/reputation.lua countPaid). */
  paidRecent: number;
}

/**
 * Rays a job still needs that no worker is rendering: from the verified tiles' average once there
 * are some, else the most its pixels can trace (an upper bound the first verified tiles refine).
 * Not the tiles held: a job whose one tile its owner's key held until its deadline bid for it
 * interval after interval, a tick over the market orders' collar, buying nothing (an attacker's
 * review). Replicas held count as tiles by the replicas a tile takes on average: a quorum job
 * with one replica of each tile out, the other queued, had dropped out of the book (another).
 */
export function remainingRays(job: JobDemand): number {
  const perTile = Math.max(1, job.replicasIssued / Math.max(1, job.tilesTotal));
  const left = job.tilesTotal - job.tilesVerified - Math.max(0, job.replicasOut) / perTile;
  if (left <= 0) return 0;
  if (job.tilesVerified > 0) return Math.round((job.raysVerified / job.tilesVerified) * left);
  return Math.round((maxRays(job.pixels, job.spp) * left) / job.tilesTotal);
}

/**
 * Rays of the whole tiles `free` µc pay for at `ticks` per RU, each replica committing its tile's
 * most (`tileRays`: bind.lua refuses a tile its escrow cannot cover as unfunded); any number at no
 * price.
 */
function fundedRays(free: number, tileRays: number, ticks: number): number {
  const tile = costMicros(tileRays, ticks, 'up');
  return tile > 0 ? Math.floor(free / tile) * tileRays : Number.POSITIVE_INFINITY;
}

/**
 * The highest price (ticks per RU) at which `free` µc pay for one of a job's tiles: what its bid
 * is worth at most. Over it a bid is for tiles bind.lua refuses as unfunded: jobs each a µc short
 * of a tile, a tick over the market orders' collar, set the price every interval while buying
 * nothing (an attacker's review); and a bid is capped there rather than left out, or a job with a
 * generous limit and a budget for the price there is would take no part in the price.
 */
function fundedLimit(free: number, tileRays: number): number {
  let ticks = Math.min(MAX_TICK, Math.floor((free * 1e6) / tileRays));
  // The quotient in floating point may be a tick over.
  while (ticks > 0 && costMicros(tileRays, ticks, 'up') > free) ticks--;
  return ticks;
}

/** An ask in the book, with what requesters paid its provider in the last hour (µc). */
type Offer = Order & { paid: number };

/**
 * The book's median ask (the lower median), each ask weighed `by` what requesters paid its provider
 * in the last hour (the median of what was delivered) or by what it offers; null when nothing
 * weighs anything. By money: weight bought with one's own keys costs the operator's fee on it at
 * any price. Not by what it offers alone where anything was delivered: a measured speed can be
 * gamed (a key answering its own job's tiles in milliseconds), and a key claiming most of the
 * book's capacity at a fortune made the median that; nor by results counted: a key's tiny tiles
 * outweighed every honest provider; nor by checked work: a requester has its own job's tiles
 * checked at will by disputing them, honest providers only at random; nor by rays: a forward
 * window priced at a tick bought them for nothing (attacker's reviews).
 */
export function medianAsk(asks: readonly Offer[], by: 'delivered' | 'offered'): number | null {
  const weight = (a: Offer) => (by === 'delivered' ? a.paid : a.quantity);
  const total = asks.reduce((s, a) => s + weight(a), 0);
  if (total === 0) return null;
  let below = 0;
  for (const a of [...asks].sort((x, y) => x.limit - y.limit)) {
    below += weight(a);
    if (2 * below >= total) return a.limit;
  }
  return null;
}

/**
 * A market order's reference price: the higher of the price that traded and `delivered`, the
 * median ask of what was delivered, or, where nothing was (a quiet hour), of what is offered — not
 * the price that traded alone, which one quiet interval's trade at a key's ask of 0 names, and then
 * collars every market order at 0 until something is delivered (an attacker's review). At most
 * the operator's `ceiling` (ticks; null: none).
 */
export function referencePrice(
  delivered: number | null,
  asks: readonly Offer[],
  market: { traded: number | null; ceiling: number | null },
): number | null {
  const { traded, ceiling } = market;
  const median = delivered ?? medianAsk(asks, 'offered');
  const reference = median === null ? traded : Math.max(median, traded ?? 0);
  return reference === null || ceiling === null ? reference : Math.min(reference, ceiling);
}

/**
 * A market order's collar, as exchanges collar theirs: the most it pays, `bandMilli` thousandths of
 * its reference price. The clearing maximises volume, so an uncollared market order paid whatever
 * one free key asked for a sliver of capacity wherever market orders wanted more than the cheaper
 * providers render (an attacker's review). The reference holds two things an attacker cannot move
 * alone: a sliver's ask moves no median of what was delivered, and the price that traded takes
 * several requesters to name; the median keeps market orders trading where the price named is low
 * (its requesters trading with their own keys, one cheap interval). Null before either exists.
 */
export const collarOf = (reference: number | null, bandMilli: number): number | null =>
  reference === null ? null : Math.min(MAX_TICK, Math.floor((reference * bandMilli) / 1000));

/**
 * The most a buyer's vote for the price that traded counts at: the median ask of what was
 * delivered (a price over what supply asks — market orders paying up to their collar to a key
 * asking within it, a dust bid lifting the price to it — must not ratchet the price named up, nor
 * keep a stale one up), else the price named; null (no vote) with neither: a young farm's first
 * price must not be a gamed speed's ask (attacker's reviews).
 */
export const voteCap = (delivered: number | null, traded: number | null): number | null => delivered ?? traded;

/**
 * The book of an interval, with the median ask of what was delivered (medianAsk) and its market
 * orders' collar (their bid's limit; null: any price). `bandMilli`: marketOrderBand in thousandths;
 * `ceiling`: the operator's bound on the reference price (marketTradedCeiling, ticks; null: none).
 */
export function bookOf(
  jobs: readonly JobDemand[],
  providers: readonly ProviderSupply[],
  intervalMs: number,
  market: { traded: number | null; bandMilli: number; ceiling: number | null },
): { bids: Order[]; asks: Order[]; delivered: number | null; collar: number | null } {
  const offers = providers
    .filter((p) => p.renderMs > 0)
    .map((p) => ({
      id: p.id,
      limit: p.ask,
      quantity: Math.floor(((p.raysDone / p.renderMs) * intervalMs) / RAYS_PER_BOOK_UNIT),
      paid: p.paidRecent,
    }))
    .filter((o) => o.quantity > 0);
  const asks = offers.map(({ id, limit, quantity }) => ({ id, limit, quantity }));
  // A bid is for the whole tiles its escrow can pay for at its limit (a market order: at its collar, else
  // at the cheapest ask; a tick at least), never more: a job that holds 1 µc and bids the highest
  // price must not set the price every other job trades at, while its own tiles are refused as
  // unfunded — nor a market order holding nothing bid for all it needs because a key asks 0, nor
  // one key asking a tick swell what market orders want past what cheaper supply renders (reviews).
  const delivered = medianAsk(offers, 'delivered');
  const collar = collarOf(referencePrice(delivered, offers, market), market.bandMilli);
  const marketBasis = Math.max(1, collar ?? Math.min(...asks.map((a) => a.limit)));
  const bids = jobs
    .map((j) => {
      const cap = fundedLimit(j.free, j.tileRays);
      // Sized at its limit (a market order: at its collar, else at the cheapest ask; with neither,
      // nothing to buy at), at most its cap; a job that pays for no tile at a tick bids for none.
      const at = j.bid ?? marketBasis;
      const affordable = cap > 0 && Number.isFinite(at) ? fundedRays(j.free, j.tileRays, Math.min(at, cap)) : 0;
      const quantity = Math.ceil(Math.min(remainingRays(j), affordable) / RAYS_PER_BOOK_UNIT);
      const limit = Math.min(j.bid ?? collar ?? MAX_TICK, cap);
      return j.bid === null ? { id: j.id, limit, quantity, market: true } : { id: j.id, limit, quantity };
    })
    .filter((o) => o.quantity > 0);
  return { bids, asks, delivered, collar };
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

/** The most rays one of a job's tiles can take: what a replica of it commits at a price. */
export const largestTileRays = (job: { tileSize: number; width: number; height: number; spp: number }): number =>
  maxRays(Math.min(job.tileSize, job.width) * Math.min(job.tileSize, job.height), job.spp);

/** What pauseReason needs of a job: its limit, and its escrow (µc) against its largest tile. */
export interface PausedJob {
  bid: number | null;
  escrow: number;
  committed: number;
  spp: number;
  tileSize: number;
  width: number;
  height: number;
}

/**
 * Why a job is paused by the last clearing, for its owner: the price is over its limit (a market
 * order's: the clearing's collar), or nothing crossed and the cheapest ask is over it; or, with no
 * replica out, what is left of its escrow cannot pay for its largest tile at that price (or, with
 * no price at all, is nothing). Null when it may trade.
 */
export function pauseReason(
  job: PausedJob,
  last: { price: number | null; bestAsk: number | null; marketLimit?: number | null } | undefined,
): string | null {
  if (!last) return null;
  const credits = (ticks: number) => fromTicks(ticks).toFixed(3);
  // A market order's limit is the clearing's collar.
  const bid = job.bid ?? last.marketLimit ?? null;
  const limit =
    job.bid === null
      ? `${credits(bid ?? 0)} credits/RU, the most a market order pays now (a band over the market's reference price; submit it again with a limit, --max-price, to pay more)`
      : `your limit ${credits(bid ?? 0)} credits/RU`;
  if (bid !== null && last.price !== null && bid < last.price)
    return `paused: spot ${credits(last.price)} > ${limit}; it resumes when the price comes down`;
  if (bid !== null && last.price === null && last.bestAsk !== null && bid < last.bestAsk)
    return `paused: the cheapest ask, ${credits(last.bestAsk)}, is over ${limit}; it resumes when cheaper supply arrives`;
  if (job.committed > 0) return null;
  const left = job.escrow;
  const price = last.price ?? last.bestAsk;
  if (price === null)
    return left > 0
      ? null
      : 'waiting: the market has no price yet and its escrow is empty, so only providers that ask nothing can take its tiles; raise its budget';
  const tile = costMicros(largestTileRays(job), price, 'up');
  if (left >= tile) return null;
  return `paused: its escrow, ${formatCredits(fromMicros(left))} credits, cannot pay for a tile at ${credits(price)} credits/RU (up to ${formatCredits(fromMicros(tile))}); it resumes when the price comes down or its budget is raised`;
}
