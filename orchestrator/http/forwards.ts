/**
 * Reservations (requesters' forward bids) and the forward curve; providers' offers are placed
 * through the signed worker routes (work.ts) with the same `placeOrder`. Rules in
 * market/forwards.ts; what an order locks is held by forward-order.lua.
 */
import { randomBytes } from 'node:crypto';
import { type Response, Router } from 'express';
import {
  type ForwardCurve,
  type ForwardOrderView,
  fromBookUnits,
  fromTicks,
  type OfferRequest,
  RAYS_PER_BOOK_UNIT,
  ReservationRequest,
  toBookUnits,
  toTicks,
} from '../../shared/market.ts';
import { costMicros, fromMicros } from '../../shared/money.ts';
import { Ids, LedgerQuery } from '../../shared/protocol.ts';
import { clearingPrice } from '../market/clearing.ts';
import { collateralFor, type ForwardSettings, openWindows, windowRefusal } from '../market/forwards.ts';
import type { ForwardSide, Forwards, OrderRecord } from '../state/forwards.ts';
import type { Market } from '../state/market.ts';
import { consume, type Limits } from './limits.ts';
import { HttpError, param } from './problem.ts';

export interface ForwardDeps {
  forwards: Forwards;
  limits: Limits;
  forwardSettings: ForwardSettings;
  /** The last price that traded: an offer's collateral is valued at it when its own price is lower. */
  market: Market;
}

/**
 * Places a reservation (bid) or an offer (ask) for `account`, locking its escrow or collateral;
 * orders count against the account's submissions per minute.
 */
export async function placeOrder(
  deps: ForwardDeps,
  side: ForwardSide,
  account: string,
  body: ReservationRequest | OfferRequest,
  res: Response,
): Promise<ForwardOrderView> {
  await consume(deps.limits.submission, account, res);
  const { forwards, forwardSettings: s } = deps;
  const now = Date.now();
  const refusal = windowRefusal(body.start, now, s);
  if (refusal) throw new HttpError(409, 'Window closed', refusal, [{ path: 'start', message: refusal }]);
  const units = toBookUnits(body.ru);
  const limit = toTicks('maxPrice' in body ? body.maxPrice : body.minPrice);
  const rays = units * RAYS_PER_BOOK_UNIT;
  // An offer at a token price still locks collateral worth what the market pays.
  const locked =
    side === 'bid'
      ? costMicros(rays, limit, 'up')
      : collateralFor(rays, Math.max(limit, (await deps.market.lastTraded()) ?? 0), s.collateralShare);
  const id = `o${randomBytes(10).toString('hex')}`;
  const placed = await forwards.place(
    { id, side, account, window: body.start, units, limit, locked, placedAt: now },
    body.start - s.gateMs,
  );
  if (placed === 'closed')
    throw new HttpError(409, 'Window closed', 'this window takes no more orders', [{ path: 'start', message: 'closed' }]);
  if (placed === 'funds') {
    const what = side === 'bid' ? 'the reservation holds its most value' : 'the offer locks its collateral';
    throw new HttpError(402, 'Not enough credits', `${what}, ${fromMicros(locked)} credits, from the balance`, [
      { path: 'ru', message: `needs ${fromMicros(locked)} credits` },
    ]);
  }
  return view(deps, (await forwards.order(id)) as OrderRecord);
}

/**
 * Withdraws `account`'s order `id` (a reservation or an offer, by `side`) while its window takes
 * orders: what it locked comes back to the balance.
 */
export async function withdrawOrder(deps: ForwardDeps, side: ForwardSide, account: string, id: string): Promise<ForwardOrderView> {
  const what = side === 'bid' ? 'reservation' : 'offer';
  const o = await deps.forwards.order(id);
  // Another account's order is not found, not shown.
  const unknown = () => new HttpError(404, 'Not found', `no ${what} ${id}`);
  if (!o || o.account !== account || o.side !== side) throw unknown();
  const done = await deps.forwards.withdraw(id, account, o.window, o.window - deps.forwardSettings.gateMs);
  if (done === 'unknown') throw unknown();
  if (done === 'closed') {
    const why = o.state === 'open' ? 'its window takes no more orders' : `it is ${o.state}`;
    throw new HttpError(409, 'Not withdrawable', `the ${what} cannot be withdrawn: ${why}`, [{ path: 'id', message: why }]);
  }
  return view(deps, (await deps.forwards.order(id)) as OrderRecord);
}

export async function view(deps: ForwardDeps, o: OrderRecord): Promise<ForwardOrderView> {
  const w = await deps.forwards.window(o.window);
  return {
    id: o.id,
    side: o.side,
    start: o.window,
    end: o.window + deps.forwardSettings.windowMs,
    ru: fromBookUnits(o.units),
    limit: fromTicks(o.limit),
    locked: fromMicros(o.locked),
    state: o.state,
    filledRu: fromBookUnits(o.filled),
    window: { state: w.state, price: w.price === null ? null : fromTicks(w.price) },
  };
}

/** GET and POST /api/reservations: the caller's reservations. */
export function reservationRoutes(deps: ForwardDeps): Router {
  const r = Router();
  r.post('/', async (req, res) => {
    const body = ReservationRequest.parse(req.body ?? {});
    const placed = await placeOrder(deps, 'bid', req.principal?.owner as string, body, res);
    res.status(201).location(`/api/reservations/${placed.id}`).json(placed);
  });
  r.get('/', async (req, res) => {
    const { limit } = LedgerQuery.parse(req.query);
    const orders = await deps.forwards.ordersOf(req.principal?.owner as string, limit);
    res.json({ reservations: await Promise.all(orders.map((o) => view(deps, o))) });
  });
  r.post('/:id/withdraw', async (req, res) => {
    res.json(await withdrawOrder(deps, 'bid', req.principal?.owner as string, param(req, 'id', Ids.order)));
  });
  r.get('/:id', async (req, res) => {
    const o = await deps.forwards.order(param(req, 'id', Ids.order));
    if (!o || o.account !== req.principal?.owner) throw new HttpError(404, 'Not found', `no reservation ${req.params.id}`);
    res.json(await view(deps, o));
  });
  return r;
}

/** The forward curve: every window from the one delivering now to the horizon. */
export async function forwardCurve(deps: ForwardDeps, now = Date.now()): Promise<ForwardCurve> {
  const s = deps.forwardSettings;
  const recorded = new Map((await deps.forwards.windows(now - s.windowMs)).map((w) => [w.start, w]));
  const starts = [...new Set([...recorded.keys(), ...openWindows(now, s)])].filter((t) => t + s.windowMs > now).sort((a, b) => a - b);
  const windows = await Promise.all(
    starts.map(async (start) => {
      const w = recorded.get(start) ?? { start, state: 'open' as const, price: null, volume: 0 };
      const { bids, asks } = await deps.forwards.book(start);
      const indicative = w.state === 'open';
      const c = indicative ? clearingPrice(bids, asks) : { price: w.price, volume: w.volume };
      return {
        start,
        end: start + s.windowMs,
        state: w.state,
        price: c.price === null ? null : fromTicks(c.price),
        indicative,
        volume: fromBookUnits(c.volume),
        bids: bids.length,
        asks: asks.length,
      };
    }),
  );
  return { windowMs: s.windowMs, gateMs: s.gateMs, collateralShare: s.collateralShare, windows };
}
