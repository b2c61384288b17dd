/**
 * The public price series, from the recorded clearings (pure): OHLC candles with volume, and the
 * farm's price index — the volume-weighted median clearing price of the last hour, flagged when
 * the hour's volume is below a floor (a thin market's price says little) — which is also the
 * price the farm pays its own work at, at most.
 */

/**
 * One recorded clearing: its interval start, price in ticks (null: nothing crossed), volume in book
 * units, and the requesters that took part in its trade, each at its volume (clearings recorded
 * before buyers were have none); `voteAt`: the price their votes are held to where it is not the
 * clearing's (the book's median ask, where the price was over it: market/interval.ts).
 */
export interface ClearingPoint {
  at: number;
  price: number | null;
  volume: number;
  buyers?: Record<string, number>;
  voteAt?: number;
}

export interface Candle {
  /** Start of the candle's period (ms). */
  t: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

export const CANDLE_MS = { '1m': 60_000, '1h': 3_600_000, '1d': 86_400_000 } as const;

/** What the index looks back over. */
export const INDEX_WINDOW_MS = 3_600_000;

/** Candles of `periodMs` from clearings in time order; periods in which nothing traded have none. */
export function candles(points: readonly ClearingPoint[], periodMs: number): Candle[] {
  const out: Candle[] = [];
  for (const p of points) {
    if (p.price === null || p.volume === 0) continue;
    const t = Math.floor(p.at / periodMs) * periodMs;
    const last = out.at(-1);
    if (last?.t === t) {
      last.high = Math.max(last.high, p.price);
      last.low = Math.min(last.low, p.price);
      last.close = p.price;
      last.volume += p.volume;
    } else out.push({ t, open: p.price, high: p.price, low: p.price, close: p.price, volume: p.volume });
  }
  return out;
}

/**
 * The volume-weighted median price: half the volume traded at or below it. Null when nothing
 * traded; `thin` when less than `floor` units did.
 */
export function priceIndex(points: readonly ClearingPoint[], floor: number): { price: number | null; volume: number; thin: boolean } {
  const traded = points.filter((p): p is ClearingPoint & { price: number } => p.price !== null && p.volume > 0);
  const volume = traded.reduce((s, p) => s + p.volume, 0);
  if (volume === 0) return { price: null, volume, thin: true };
  let below = 0;
  // The cumulative volume reaches half the total at the latest at the last point: find always finds.
  const median = [...traded]
    .sort((a, b) => a.price - b.price)
    .find((p) => {
      below += p.volume;
      return 2 * below >= volume;
    }) as ClearingPoint & { price: number };
  return { price: median.price, volume, thin: volume < floor };
}

/**
 * The price the farm names as the one that traded — what it pays its own work at, at most (spot
 * checks, re-renders, audits), what a market order's collar is at least a band over and what values
 * collateral — from the
 * clearings of the last hour (the new one among them), once the hour traded at least `floor` units
 * and at least `minBuyers` requesters bought in it; else null, leaving the last one named. Each
 * requester's own volume-weighted median is one vote, and the price is their median (the lower of
 * the middle two): a requester whose bid crosses its own provider key's ask at the highest price
 * names nothing alone, however much it trades (the index, weighted by volume, would be its price
 * once it out-traded the hour), and raising the price takes more than half of the hour's buyers —
 * requesters are the operator's tokens, where provider keys are free. Clearings recorded before
 * buyers were count toward the volume, and no vote (the requester that traded in them may vote).
 * A clearing's buyers vote at its `voteAt`, where it has one.
 */
export function tradedPrice(hour: readonly ClearingPoint[], floor: number, minBuyers: number): number | null {
  if (priceIndex(hour, floor).thin) return null;
  const byBuyer = new Map<string, ClearingPoint[]>();
  for (const p of hour)
    for (const [buyer, volume] of Object.entries(p.buyers ?? {}))
      byBuyer.set(buyer, [...(byBuyer.get(buyer) ?? []), { at: p.at, price: p.voteAt ?? p.price, volume }]);
  const votes = [...byBuyer.values()]
    .map((points) => priceIndex(points, 0).price)
    .filter((price): price is number => price !== null)
    .sort((a, b) => a - b);
  return votes.length < minBuyers ? null : votes[Math.floor((votes.length - 1) / 2)];
}

/** The price that traded as the farm pays and caps with it: at most the operator's `ceiling` (ticks), when it set one. */
export const boundedTraded = (traded: number | null, ceiling: number | null): number | null =>
  traded === null || ceiling === null ? traded : Math.min(traded, ceiling);
