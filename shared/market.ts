/**
 * The market's wire types. Prices are credits per render unit (RU, shared/render-units.ts) with at
 * most three decimals, held as integer ticks of 0.001 credit; quantities in the book are whole
 * µRU (10^3 rays), shown in RU.
 */
import { z } from 'zod';

export const TICKS_PER_CREDIT = 1000;
export const RAYS_PER_BOOK_UNIT = 1000;

/** A price on the wire: credits per RU. */
export const Price = z.number().min(0).max(1_000_000).multipleOf(0.001);
export const toTicks = (credits: number): number => Math.round(credits * TICKS_PER_CREDIT);
export const fromTicks = (ticks: number): number => ticks / TICKS_PER_CREDIT;

/** One price level of the last clearing: RU wanted at or above it, RU offered at or below it. */
export const MarketLevel = z.object({ price: z.number(), demand: z.number(), supply: z.number() });

/** GET /api/market: the last interval's clearing, and the curves it cleared. */
export const MarketView = z.object({
  /** When the interval began (ms), and how long intervals are. */
  at: z.number().nullable(),
  intervalMs: z.number(),
  /** The clearing price (credits per RU); null when nothing crossed. */
  price: z.number().nullable(),
  /** RU traded at that price. */
  volume: z.number(),
  bids: z.number().int(),
  asks: z.number().int(),
  bestBid: z.number().nullable(),
  bestAsk: z.number().nullable(),
  /** bestBid − bestAsk (negative: no cross). */
  spread: z.number().nullable(),
  levels: z.array(MarketLevel),
});
export type MarketView = z.infer<typeof MarketView>;

export const CandleInterval = z.enum(['1m', '1h', '1d']);

/** GET /api/market/history?interval=1m|1h|1d: OHLC candles (credits per RU) and volume (RU). */
export const MarketHistory = z.object({
  interval: CandleInterval,
  candles: z.array(z.object({ t: z.number(), open: z.number(), high: z.number(), low: z.number(), close: z.number(), volume: z.number() })),
});
export type MarketHistory = z.infer<typeof MarketHistory>;

/**
 * GET /api/market/index: the farm's price index, the volume-weighted median clearing price of the
 * last hour; `thin` when the hour traded less than the floor.
 */
export const MarketIndex = z.object({
  price: z.number().nullable(),
  volume: z.number(),
  thin: z.boolean(),
  windowMs: z.number(),
  floor: z.number(),
});
export type MarketIndex = z.infer<typeof MarketIndex>;
