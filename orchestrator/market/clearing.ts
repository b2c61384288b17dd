/**
 * The uniform-price double auction that clears each market interval, as power exchanges clear
 * their spot markets: every bid (a job's demand, at most `limit` ticks per unit) and ask (a
 * provider's capacity, at least `limit` ticks per unit) meets at one price, and everyone trades at
 * it. Pure and integer-only: prices in ticks, quantities in whole units.
 *
 * The rule, in order (as the call auctions that open stock exchanges):
 * 1. the price maximises the volume traded, min(demand at or above it, supply at or below it);
 * 2. among those prices, the ones that leave the smallest imbalance |demand − supply|;
 * 3. what is still a range (a flat stretch where the curves overlap) is settled by market
 *    pressure: its highest price when demand exceeds supply all along it, its lowest when supply
 *    exceeds demand, else its midpoint rounded down to a tick.
 * The price is never above the highest limit a limit bid names or an ask that some bid reaches
 * names, so market bids alone never set it: a market bid's limit is its collar (market/book.ts),
 * the most it pays, and an ask no bid reaches (a free key asking a fortune) lifts nothing. No cross (no bid at or above any ask) clears nothing, at no price. Bids at or
 * above the price are filled highest first and asks at or below it lowest first; orders at the
 * same limit are filled in the order given (the caller's time priority), the last one partly.
 */

export interface Order {
  id: string;
  /** Ticks per unit: the most a bid pays, the least an ask takes. A market bid's: its collar, or MAX_TICK. */
  limit: number;
  /** A market bid: it takes the price, and names none. */
  market?: boolean;
  /** Units offered or wanted, > 0. */
  quantity: number;
}

export interface Clearing {
  /** The interval's price in ticks; null when nothing crosses. */
  price: number | null;
  /** Units traded. */
  volume: number;
  /** Units each filled order trades (orders not filled are absent). */
  bids: Map<string, number>;
  asks: Map<string, number>;
}

/** Highest price an order may name (a market bid names it): 10^9 ticks. */
export const MAX_TICK = 1_000_000_000;

/**
 * The price where the curves cross, under the rule above. O(n log n): demand and supply change
 * only at an ask's limit (supply grows there) and just above a bid's limit (demand falls there),
 * so the price segments between those points are all there is to compare.
 */
export function clearingPrice(bids: readonly Order[], asks: readonly Order[]): { price: number | null; volume: number } {
  const cap = priceCap(bids, asks);
  const breaks = [...new Set([0, ...asks.map((a) => a.limit), ...bids.map((b) => b.limit + 1)])]
    .filter((p) => p <= cap)
    .sort((x, y) => x - y);
  const byLimitDesc = [...bids].sort((x, y) => y.limit - x.limit);
  const byLimitAsc = [...asks].sort((x, y) => x.limit - y.limit);
  let demand = bids.reduce((s, b) => s + b.quantity, 0);
  let supply = 0;
  let b = byLimitDesc.length - 1;
  let a = 0;
  let best: { volume: number; imbalance: number; lo: number; hi: number; pressure: Set<number> } | undefined;
  for (const [i, p] of breaks.entries()) {
    // Demand at p: bids whose limit is at least p. Supply at p: asks whose limit is at most p.
    while (b >= 0 && byLimitDesc[b].limit < p) demand -= byLimitDesc[b--].quantity;
    while (a < byLimitAsc.length && byLimitAsc[a].limit <= p) supply += byLimitAsc[a++].quantity;
    const volume = Math.min(demand, supply);
    const imbalance = Math.abs(demand - supply);
    const hi = i + 1 < breaks.length ? breaks[i + 1] - 1 : cap;
    const pressure = Math.sign(demand - supply);
    if (!best || volume > best.volume || (volume === best.volume && imbalance < best.imbalance)) {
      best = { volume, imbalance, lo: p, hi, pressure: new Set([pressure]) };
    } else if (volume === best.volume && imbalance === best.imbalance) {
      best.hi = hi;
      best.pressure.add(pressure);
    }
  }
  if (!best || best.volume === 0) return { price: null, volume: 0 };
  const only = best.pressure.size === 1 ? [...best.pressure][0] : 0;
  const price = only > 0 ? best.hi : only < 0 ? best.lo : Math.floor((best.lo + best.hi) / 2);
  return { price, volume: best.volume };
}

/** The highest price the book may clear at: the highest limit of a limit bid, or of an ask some bid reaches. */
export function priceCap(bids: readonly Order[], asks: readonly Order[]): number {
  const reach = bids.reduce((m, b) => Math.max(m, b.limit), -1);
  return [...asks.filter((a) => a.limit <= reach), ...bids.filter((b) => !b.market)].reduce((m, o) => Math.max(m, o.limit), 0);
}

/** Clears the book: the price, and each order's fill in priority order. */
export function clear(bids: readonly Order[], asks: readonly Order[]): Clearing {
  const { price, volume } = clearingPrice(bids, asks);
  if (price === null) return { price, volume, bids: new Map(), asks: new Map() };
  return {
    price,
    volume,
    bids: fill(
      bids.filter((o) => o.limit >= price),
      (x, y) => y.limit - x.limit,
      volume,
    ),
    asks: fill(
      asks.filter((o) => o.limit <= price),
      (x, y) => x.limit - y.limit,
      volume,
    ),
  };
}

/** Fills `volume` units from the orders in priority order (a stable sort keeps the given order within a limit). */
function fill(orders: Order[], priority: (x: Order, y: Order) => number, volume: number): Map<string, number> {
  const fills = new Map<string, number>();
  let left = volume;
  for (const o of orders.sort(priority)) {
    if (left === 0) break;
    const q = Math.min(o.quantity, left);
    fills.set(o.id, (fills.get(o.id) ?? 0) + q);
    left -= q;
  }
  return fills;
}
