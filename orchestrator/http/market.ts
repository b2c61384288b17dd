/**
 * The public market (shared/market.ts): the last interval's clearing price, volume and curves;
 * the price history as candles; the farm's price index.
 */
import { Router } from 'express';
import { z } from 'zod';
import {
  CandleInterval,
  fromTicks,
  type MarketHistory,
  type MarketIndex,
  type MarketView,
  RAYS_PER_BOOK_UNIT,
} from '../../shared/market.ts';
import { RAYS_PER_RU } from '../../shared/render-units.ts';
import { CANDLE_MS, candles, priceIndex } from '../market/history.ts';
import type { Market } from '../state/market.ts';

/** Candles a history answer holds at most. */
const CANDLES = 120;
const INDEX_WINDOW_MS = 3_600_000;
const HistoryQuery = z.object({ interval: CandleInterval.default('1m') });

const ru = (units: number): number => (units * RAYS_PER_BOOK_UNIT) / RAYS_PER_RU;
const price = (ticks: number | null): number | null => (ticks === null ? null : fromTicks(ticks));

export function marketRoutes(market: Market, settings: { marketIntervalMs: number; marketIndexFloorRu: number }): Router {
  const intervalMs = settings.marketIntervalMs;
  const r = Router();

  r.get('/', async (_req, res) => {
    const c = await market.last();
    const view: MarketView = {
      at: c?.at ?? null,
      intervalMs,
      price: price(c?.price ?? null),
      volume: ru(c?.volume ?? 0),
      bids: c?.bids ?? 0,
      asks: c?.asks ?? 0,
      bestBid: price(c?.bestBid ?? null),
      bestAsk: price(c?.bestAsk ?? null),
      spread: c && c.bestBid !== null && c.bestAsk !== null ? fromTicks(c.bestBid - c.bestAsk) : null,
      levels: (c?.levels ?? []).map((l) => ({ price: fromTicks(l.price), demand: ru(l.demand), supply: ru(l.supply) })),
    };
    res.json(view);
  });

  r.get('/history', async (req, res) => {
    const { interval } = HistoryQuery.parse(req.query);
    const period = CANDLE_MS[interval];
    const since = (Math.floor(Date.now() / period) - CANDLES + 1) * period;
    const history: MarketHistory = {
      interval,
      candles: candles(await market.since(since), period).map((c) => ({
        t: c.t,
        open: fromTicks(c.open),
        high: fromTicks(c.high),
        low: fromTicks(c.low),
        close: fromTicks(c.close),
        volume: ru(c.volume),
      })),
    };
    res.json(history);
  });

  r.get('/index', async (_req, res) => {
    const floor = settings.marketIndexFloorRu;
    const index = priceIndex(await market.since(Date.now() - INDEX_WINDOW_MS), (floor * RAYS_PER_RU) / RAYS_PER_BOOK_UNIT);
    const view: MarketIndex = { price: price(index.price), volume: ru(index.volume), thin: index.thin, windowMs: INDEX_WINDOW_MS, floor };
    res.json(view);
  });

  return r;
}
