/**
 * Forward windows' records (market/forwards.ts has the rules): orders placed with what they lock,
 * each window's book, its clearing and settlement applied by one script each, what the window
 * delivering now owes whom (read by the dispatcher), and the idle time that excuses a provider.
 */
import { type OrderState, RAYS_PER_BOOK_UNIT } from '../../shared/market.ts';
import type { Order } from '../market/clearing.ts';
import type { Entitlement, Obligation, WindowSettlement } from '../market/forwards.ts';
import { keys } from './keys.ts';
import { runScript } from './lua/scripts.ts';
import type { FarmRedis } from './redis.ts';

export type ForwardSide = 'bid' | 'ask';
export type WindowState = 'open' | 'cleared' | 'settled';

export interface OrderRecord {
  id: string;
  side: ForwardSide;
  account: string;
  window: number;
  units: number;
  limit: number;
  locked: number;
  filled: number;
  state: OrderState;
  placedAt: number;
}

export interface WindowRecord {
  start: number;
  state: WindowState;
  /** Ticks per RU once cleared; null before, or when nothing crossed. */
  price: number | null;
  volume: number;
}

/** The window delivering now, as the dispatcher needs it. */
export interface DeliveringWindow {
  start: number;
  end: number;
  price: number;
  /** Providers that still owe rays, and buyers with a prepaid share. */
  owing: Set<string>;
  buyers: Set<string>;
}

export class Forwards {
  constructor(private readonly redis: FarmRedis) {}

  /** 'ok', 'closed' (its gate has passed, or it has cleared) or 'funds' (the balance cannot cover what it locks). */
  async place(o: Omit<OrderRecord, 'filled' | 'state'>, gate: number): Promise<'ok' | 'closed' | 'funds'> {
    const w = String(o.window);
    return (await runScript(
      this.redis,
      'forward-order',
      [keys.forward(w), keys.forwardOrders(w), keys.order(o.id)],
      [o.id, o.side, o.account, w, o.units, o.limit, o.locked, o.placedAt, gate],
    )) as 'ok' | 'closed' | 'funds';
  }

  /**
   * 'ok' (its escrow or collateral is back in the balance), 'unknown' (no order `id` of `account`)
   * or 'closed' (its window's gate has passed, or it cleared, or it was withdrawn already).
   */
  async withdraw(id: string, account: string, window: number, gate: number): Promise<'ok' | 'unknown' | 'closed'> {
    const w = String(window);
    return (await runScript(
      this.redis,
      'forward-withdraw',
      [keys.forward(w), keys.forwardOrders(w), keys.order(id)],
      [id, account, Date.now(), gate],
    )) as 'ok' | 'unknown' | 'closed';
  }

  async order(id: string): Promise<OrderRecord | undefined> {
    const h = await this.redis.hgetall(keys.order(id));
    if (!h.id) return undefined;
    const n = (k: string) => Number(h[k] ?? 0);
    return {
      id: h.id,
      side: h.side as ForwardSide,
      account: h.account,
      window: n('window'),
      units: n('units'),
      limit: n('limit'),
      locked: n('locked'),
      filled: n('filled'),
      state: h.state as OrderRecord['state'],
      placedAt: n('placedAt'),
    };
  }

  /** An account's orders, newest first. */
  async ordersOf(account: string, limit: number): Promise<OrderRecord[]> {
    const ids = await this.redis.zrevrange(keys.ordersOf(account), 0, limit - 1);
    return (await Promise.all(ids.map((id) => this.order(id)))).filter((o): o is OrderRecord => o !== undefined);
  }

  /** The window's orders in time order (their priority at equal limits). */
  async orders(start: number): Promise<OrderRecord[]> {
    const ids = await this.redis.zrange(keys.forwardOrders(String(start)), 0, -1);
    return (await Promise.all(ids.map((id) => this.order(id)))).filter((o): o is OrderRecord => o !== undefined);
  }

  /** The window's book for the auction: bids and asks in book units. */
  async book(start: number): Promise<{ bids: Order[]; asks: Order[] }> {
    // One withdrawn between the list and its read is left out (forward-clear.lua refuses to fill it).
    const orders = (await this.orders(start)).filter((o) => o.state !== 'withdrawn');
    const of = (side: ForwardSide) => orders.filter((o) => o.side === side).map((o) => ({ id: o.id, limit: o.limit, quantity: o.units }));
    return { bids: of('bid'), asks: of('ask') };
  }

  async window(start: number): Promise<WindowRecord> {
    const [state, price, volume] = await this.redis.hmget(keys.forward(String(start)), 'state', 'price', 'volume');
    return { start, state: (state ?? 'open') as WindowState, price: price ? Number(price) : null, volume: Number(volume ?? 0) };
  }

  /** Windows with orders, from `from` on. */
  async windows(from: number): Promise<WindowRecord[]> {
    const starts = await this.redis.zrangebyscore(keys.forwardsAll, from, '+inf');
    return Promise.all(starts.map((s) => this.window(Number(s))));
  }

  async applyClearing(start: number, price: number | null, volume: number, fills: Map<string, number>, collateralPpm: number, now: number) {
    const w = String(start);
    return (
      (await runScript(
        this.redis,
        'forward-clear',
        [keys.forward(w), keys.forwardOrders(w)],
        [w, price ?? '', volume, JSON.stringify(Object.fromEntries(fills)), now, collateralPpm, RAYS_PER_BOOK_UNIT],
      )) === 1
    );
  }

  /**
   * What each provider sold, delivered and was excused from (at `msPerRay` of its sold rate), what
   * each buyer got, and whether replicas that count towards it are still out: ones its buyers
   * prepaid, and ones a provider is excused for (bind.lua), whose time counts from their answer
   * unless their verdict finds them not valid.
   */
  async ledgerOf(
    start: number,
    windowMs: number,
  ): Promise<{ obligations: Obligation[]; entitlements: Entitlement[]; replicasOut: boolean }> {
    const w = String(start);
    const [owed, delivered, idle, collateral, buyers, excusedOut] = await Promise.all([
      this.redis.hgetall(keys.forwardOwed(w)),
      this.redis.hgetall(keys.forwardDelivered(w)),
      this.redis.hgetall(keys.forwardIdle(w)),
      this.redis.hgetall(keys.forwardCollateral(w)),
      this.redis.smembers(keys.forwardBuyers(w)),
      this.redis.hget(keys.forward(w), 'excusedOut'),
    ]);
    const obligations = Object.entries(owed).map(([worker, rays]) => ({
      worker,
      owed: Number(rays),
      delivered: Number(delivered[worker] ?? 0),
      // Idle while it owed: excused at the rate it sold.
      excused: Math.floor((Number(rays) * Math.min(windowMs, Number(idle[worker] ?? 0))) / windowMs),
      collateral: Number(collateral[worker] ?? 0),
    }));
    const pots = await Promise.all(
      buyers.map(async (owner) => {
        const [entitled, received, committed] = await this.redis.hmget(
          keys.forwardPot(`${w}:${owner}`),
          'entitled',
          'received',
          'committed',
        );
        return { owner, entitled: Number(entitled ?? 0), received: Number(received ?? 0), committed: Number(committed ?? 0) };
      }),
    );
    return {
      obligations,
      entitlements: pots.map(({ owner, entitled, received }) => ({ owner, entitled, received })),
      replicasOut: pots.some((p) => p.committed > 0) || Number(excusedOut ?? 0) > 0,
    };
  }

  async applySettlement(start: number, settlement: WindowSettlement, now: number): Promise<boolean> {
    const w = String(start);
    return (await runScript(this.redis, 'forward-settle', [keys.forward(w)], [w, JSON.stringify(settlement), now])) === 1;
  }

  /** The window from `start` to `end`, if it cleared at a price. */
  async delivering(start: number, end: number): Promise<DeliveringWindow | undefined> {
    const w = await this.window(start);
    if (w.state !== 'cleared' || w.price === null) return undefined;
    const s = String(start);
    const [owed, delivered, buyers] = await Promise.all([
      this.redis.hgetall(keys.forwardOwed(s)),
      this.redis.hgetall(keys.forwardDelivered(s)),
      this.redis.smembers(keys.forwardBuyers(s)),
    ]);
    const owing = Object.entries(owed)
      .filter(([worker, rays]) => Number(rays) > Number(delivered[worker] ?? 0))
      .map(([worker]) => worker);
    return { start, end, price: w.price, owing: new Set(owing), buyers: new Set(buyers) };
  }

  /** A provider that owes the window asked for work from `from` to `to` (ms) while no buyer had any: time it is excused for. */
  async recordIdle(window: DeliveringWindow, worker: string, from: number, to: number): Promise<void> {
    await runScript(
      this.redis,
      'forward-idle',
      [keys.forwardIdle(String(window.start)), keys.forwardHeld(String(window.start))],
      [worker, Math.max(from, window.start), Math.min(to, window.end)],
    );
  }
}
