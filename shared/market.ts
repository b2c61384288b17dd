/**
 * The market's wire types. Prices are credits per render unit (RU, shared/render-units.ts) with at
 * most three decimals, held as integer ticks of 0.001 credit; quantities in the book are whole
 * µRU (10^3 rays), shown in RU.
 */
import { z } from 'zod';
import { RAYS_PER_RU } from './render-units.ts';

export const TICKS_PER_CREDIT = 1000;
export const RAYS_PER_BOOK_UNIT = 1000;
const BOOK_UNITS_PER_RU = RAYS_PER_RU / RAYS_PER_BOOK_UNIT;
/** RU as whole book units, and back. */
export const toBookUnits = (ru: number): number => Math.round(ru * BOOK_UNITS_PER_RU);
export const fromBookUnits = (units: number): number => units / BOOK_UNITS_PER_RU;

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
  /**
   * The price that traded as the farm uses it (what it pays its own work at most; null: none named
   * yet), and the most a market order pays now (a band over its reference price, market/book.ts; null: any price).
   */
  traded: z.number().nullable(),
  marketOrderLimit: z.number().nullable(),
});
export type MarketView = z.infer<typeof MarketView>;

export const CandleInterval = z.enum(['1m', '1h', '1d']);
export type CandleInterval = z.infer<typeof CandleInterval>;

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

/** RU in whole book units (10^-6 RU), from one to 10^6 RU. */
export const ForwardRu = z
  .number()
  .min(1 / BOOK_UNITS_PER_RU)
  .max(1e6)
  .refine((ru) => Math.abs(ru * BOOK_UNITS_PER_RU - toBookUnits(ru)) < 1e-6, 'at most six decimals');

/** POST /api/reservations: RU bought in a forward window at most at `maxPrice`; POST /api/work/offers: RU sold at least at `minPrice`. */
export const ReservationRequest = z.object({
  start: z.number().int().min(0),
  ru: ForwardRu,
  // At no price it would lock nothing: free orders, kept until settled, that anyone could pile up.
  maxPrice: Price.refine((p) => p > 0, 'a reservation names a price above 0'),
});
export const OfferRequest = z.object({
  start: z.number().int().min(0),
  ru: ForwardRu,
  minPrice: Price.refine((p) => p > 0, 'an offer names a price above 0'),
});
export type ReservationRequest = z.infer<typeof ReservationRequest>;
export type OfferRequest = z.infer<typeof OfferRequest>;

export const WindowState = z.enum(['open', 'cleared', 'settled']);
/** An order waits in its window's book (`open`) until the window clears, or its account withdraws it before the gate. */
export const OrderState = z.enum(['open', 'filled', 'unfilled', 'withdrawn']);
export type OrderState = z.infer<typeof OrderState>;

/** A reservation or an offer: what it asked for, what it locked (escrow or collateral), what it got. */
export const ForwardOrderView = z.object({
  id: z.string(),
  side: z.enum(['bid', 'ask']),
  start: z.number(),
  end: z.number(),
  ru: z.number(),
  /** Credits per RU: a bid's most, an offer's least. */
  limit: z.number(),
  /** Credits locked when placed. */
  locked: z.number(),
  state: OrderState,
  filledRu: z.number(),
  window: z.object({ state: WindowState, price: z.number().nullable() }),
});
export type ForwardOrderView = z.infer<typeof ForwardOrderView>;

/**
 * GET /api/market/forwards: the forward curve. Each window from the one delivering now to the
 * horizon: its price once cleared, else the indicative price its book would clear at now.
 */
export const ForwardCurve = z.object({
  windowMs: z.number(),
  gateMs: z.number(),
  collateralShare: z.number(),
  windows: z.array(
    z.object({
      start: z.number(),
      end: z.number(),
      state: WindowState,
      /** Credits per RU: final once cleared, indicative while open; null when nothing crosses. */
      price: z.number().nullable(),
      indicative: z.boolean(),
      /** RU traded (or that would trade now). */
      volume: z.number(),
      bids: z.number().int(),
      asks: z.number().int(),
    }),
  ),
});
export type ForwardCurve = z.infer<typeof ForwardCurve>;
