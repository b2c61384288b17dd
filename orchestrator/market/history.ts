/**
 * The public price series, from the recorded clearings (pure): OHLC candles with volume, and the
 * farm's price index — the volume-weighted median clearing price of the last hour, flagged when
 * the hour's volume is below a floor (a thin market's price says little) — which is also the
 * price the farm pays its own work at, at most.
 */

/** One recorded clearing: its interval start, price in ticks (null: nothing crossed), volume in book units. */
export interface ClearingPoint {
  at: number;
  price: number | null;
  volume: number;
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
 * checks, re-renders, audits), what caps a market order's price and values collateral — from the
 * clearings of the last hour (the new one among them): their index, once the hour traded at least
 * `floor` units; else null, leaving the last one named. The index, not the last clearing: a
 * requester whose own key's ask crossed its bid at a high price named it for one interval's
 * trade; now it must trade more than the rest of the hour did.
 */
export function tradedPrice(hour: readonly ClearingPoint[], floor: number): number | null {
  const index = priceIndex(hour, floor);
  return index.thin ? null : index.price;
}
