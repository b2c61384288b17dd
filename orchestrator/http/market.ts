/**
 * The public market (shared/market.ts): the last interval's clearing price, volume and curves;
 * the price history as candles; the farm's price index.
 */
import { Router } from 'express';
import { z } from 'zod';
import {
  CandleInterval,
  fromBookUnits,
  fromTicks,
  type MarketHistory,
  type MarketIndex,
  type MarketView,
  toBookUnits,
} from '../../shared/market.ts';
import { CANDLE_MS, candles, INDEX_WINDOW_MS, priceIndex } from '../market/history.ts';
import { PriceSeries } from '../market/price-series.ts';
import { sharedFor } from '../single-flight.ts';
import type { Market } from '../state/market.ts';
import { type ForwardDeps, forwardCurve } from './forwards.ts';

/** Candles a history answer holds at most. */
const CANDLES = 120;
const HistoryQuery = z.object({ interval: CandleInterval.default('1m') });

const price = (ticks: number | null): number | null => (ticks === null ? null : fromTicks(ticks));

/** How old the forward curve an orchestrator answers with may be. */
const CURVE_FRESH_MS = 1000;

export function marketRoutes(
  market: Market,
  settings: { marketIntervalMs: number; marketIndexFloorRu: number; marketHistoryMs: number },
  forwards: ForwardDeps,
): Router {
  const intervalMs = settings.marketIntervalMs;
  const series = new PriceSeries(market, settings.marketHistoryMs, intervalMs);
  const r = Router();

  r.get('/', async (_req, res) => {
    const [c, traded] = await Promise.all([market.last(), market.lastTraded()]);
    const view: MarketView = {
      at: c?.at ?? null,
      intervalMs,
      price: price(c?.price ?? null),
      volume: fromBookUnits(c?.volume ?? 0),
      bids: c?.bids ?? 0,
      asks: c?.asks ?? 0,
      bestBid: price(c?.bestBid ?? null),
      bestAsk: price(c?.bestAsk ?? null),
      spread: c && c.bestBid !== null && c.bestAsk !== null ? fromTicks(c.bestBid - c.bestAsk) : null,
      levels: (c?.levels ?? []).map((l) => ({
        price: fromTicks(l.price),
        demand: fromBookUnits(l.demand),
        supply: fromBookUnits(l.supply),
      })),
      traded: price(traded),
      marketOrderLimit: price(c?.marketLimit ?? null),
    };
    res.json(view);
  });

  r.get('/history', async (req, res) => {
    const { interval } = HistoryQuery.parse(req.query);
    const period = CANDLE_MS[interval];
    const since = (Math.floor(Date.now() / period) - CANDLES + 1) * period;
    const history: MarketHistory = {
      interval,
      candles: candles(await series.since(since), period).map((c) => ({
        t: c.t,
        open: fromTicks(c.open),
        high: fromTicks(c.high),
        low: fromTicks(c.low),
        close: fromTicks(c.close),
        volume: fromBookUnits(c.volume),
      })),
    };
    res.json(history);
  });

  r.get('/index', async (_req, res) => {
    const floor = settings.marketIndexFloorRu;
    const index = priceIndex(await series.since(Date.now() - INDEX_WINDOW_MS), toBookUnits(floor));
    const view: MarketIndex = {
      price: price(index.price),
      volume: fromBookUnits(index.volume),
      thin: index.thin,
      windowMs: INDEX_WINDOW_MS,
      floor,
    };
    res.json(view);
  });

  /**
   * The forward curve: each window's price, final once cleared, else indicative. Public, and it
   * reads every order of every open window: computed at most once a second per orchestrator (an
   * attacker's review: orders of a microcredit, 86,000 a day per requester, read on every GET).
   */
  const curve = sharedFor(CURVE_FRESH_MS, () => forwardCurve(forwards));
  r.get('/forwards', async (_req, res) => {
    res.json(await curve());
  });

  return r;
}
