/**
 * The market's clearing (orchestrator/market/clearing.ts) against a brute-force reference that
 * tries every tick, on thousands of random books (fast-check): empty sides, ties, flat segments
 * and market bids included. The reference is the rule as the README states it.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { clear, clearingPrice, MAX_TICK, type Order } from '../orchestrator/market/clearing.ts';

/** The rule, tick by tick. */
function reference(bids: readonly Order[], asks: readonly Order[]): { price: number | null; volume: number } {
  // No higher than a limit bid's limit, or an ask's that some bid (a market bid's collar included) reaches.
  const limits = [
    ...bids.filter((b) => !b.market).map((b) => b.limit),
    ...asks.filter((a) => bids.some((b) => b.limit >= a.limit)).map((a) => a.limit),
  ];
  const cap = Math.max(0, ...limits);
  const rows = Array.from({ length: cap + 1 }, (_, p) => {
    const demand = bids.filter((b) => b.limit >= p).reduce((s, b) => s + b.quantity, 0);
    const supply = asks.filter((a) => a.limit <= p).reduce((s, a) => s + a.quantity, 0);
    return { p, volume: Math.min(demand, supply), imbalance: Math.abs(demand - supply), pressure: Math.sign(demand - supply) };
  });
  const volume = Math.max(...rows.map((r) => r.volume));
  if (volume === 0) return { price: null, volume: 0 };
  const most = rows.filter((r) => r.volume === volume);
  const imbalance = Math.min(...most.map((r) => r.imbalance));
  const range = most.filter((r) => r.imbalance === imbalance);
  const lo = range[0].p;
  const hi = range[range.length - 1].p;
  // The range is contiguous: the fast path relies on it.
  expect(range.length).toBe(hi - lo + 1);
  const pressures = new Set(range.map((r) => r.pressure));
  const only = pressures.size === 1 ? [...pressures][0] : 0;
  return { price: only > 0 ? hi : only < 0 ? lo : Math.floor((lo + hi) / 2), volume };
}

/** Asks and limit bids; market bids at a collar, or at any price (MAX_TICK). */
const id = (prefix: string) => fc.nat(1_000_000).map((n) => `${prefix}${n}`);
const quantity = fc.integer({ min: 1, max: 20 });
const limitOrder = (prefix: string) => fc.record({ id: id(prefix), limit: fc.integer({ min: 0, max: 40 }), quantity });
const marketBid = fc.record({
  id: id('m'),
  limit: fc.oneof(fc.integer({ min: 0, max: 40 }), fc.constant(MAX_TICK)),
  quantity,
  market: fc.constant(true),
});
const book = fc.record({
  bids: fc.uniqueArray(fc.oneof({ weight: 4, arbitrary: limitOrder('b') }, marketBid), { maxLength: 25, selector: (o) => o.id }),
  asks: fc.uniqueArray(limitOrder('a'), { maxLength: 25, selector: (o) => o.id }),
});
const sum = (m: Map<string, number>) => [...m.values()].reduce((s, q) => s + q, 0);

const o = (id: string, limit: number, quantity: number): Order => ({ id, limit, quantity });

describe('clearing', () => {
  it('agrees with the tick-by-tick reference on 5,000 random books', () => {
    fc.assert(
      fc.property(book, ({ bids, asks }) => {
        expect(clearingPrice(bids, asks)).toEqual(reference(bids, asks));
      }),
      { numRuns: 5000, seed: 11 },
    );
  });

  it('fills exactly the volume on each side, within the limits, by price then order', () => {
    fc.assert(
      fc.property(book, ({ bids, asks }) => {
        const c = clear(bids, asks);
        expect(sum(c.bids)).toBe(c.volume);
        expect(sum(c.asks)).toBe(c.volume);
        if (c.price === null) return;
        const price = c.price;
        for (const [side, orders, fills, better] of [
          ['bid', bids, c.bids, (x: Order, y: Order) => x.limit > y.limit],
          ['ask', asks, c.asks, (x: Order, y: Order) => x.limit < y.limit],
        ] as const) {
          for (const [id, q] of fills) {
            const o = orders.find((x) => x.id === id) as Order;
            expect(q).toBeLessThanOrEqual(o.quantity);
            expect(side === 'bid' ? o.limit >= price : o.limit <= price).toBe(true);
          }
          // Nobody with a better limit, or the same limit and earlier, waits while a worse one trades.
          const partial = orders.filter((o) => (fills.get(o.id) ?? 0) < o.quantity);
          for (const [id] of fills) {
            const filled = orders.find((x) => x.id === id) as Order;
            const i = orders.indexOf(filled);
            const skipped = partial.filter(
              (o) => o !== filled && (better(o, filled) || (o.limit === filled.limit && orders.indexOf(o) < i)),
            );
            expect(skipped.filter((o) => (side === 'bid' ? o.limit >= price : o.limit <= price))).toEqual([]);
          }
        }
      }),
      { numRuns: 2000, seed: 12 },
    );
  });

  it('trades the most that any price could, so no surplus is left on the table', () => {
    fc.assert(
      fc.property(book, ({ bids, asks }) => {
        // The competitive quantity: units whose bid is at least the ask they meet, best first.
        const units = (orders: readonly Order[], dir: 1 | -1) =>
          orders.flatMap((o) => Array<number>(o.quantity).fill(o.limit)).sort((x, y) => dir * (x - y));
        const b = units(bids, -1);
        const a = units(asks, 1);
        let q = 0;
        while (q < b.length && q < a.length && b[q] >= a[q]) q++;
        expect(clearingPrice(bids, asks).volume).toBe(q);
      }),
      { numRuns: 2000, seed: 13 },
    );
  });

  it('settles ties and flat segments by the documented rule', () => {
    // Empty sides and no cross.
    expect(clearingPrice([], [])).toEqual({ price: null, volume: 0 });
    expect(clearingPrice([o('b', 10, 5)], [])).toEqual({ price: null, volume: 0 });
    expect(clearingPrice([o('b', 9, 5)], [o('a', 10, 5)])).toEqual({ price: null, volume: 0 });
    // Balanced over a flat stretch: the midpoint, rounded down.
    expect(clearingPrice([o('b', 15, 5)], [o('a', 10, 5)])).toEqual({ price: 12, volume: 5 });
    // Supply left over: the lowest price of the stretch; demand left over: the highest.
    expect(clearingPrice([o('b', 15, 3)], [o('a', 10, 5)])).toEqual({ price: 10, volume: 3 });
    expect(clearingPrice([o('b', 15, 5)], [o('a', 10, 3)])).toEqual({ price: 15, volume: 3 });
    // A market bid alone never sets the price: the ask does …
    const market = (id: string, limit: number, quantity: number): Order => ({ id, limit, quantity, market: true });
    expect(clearingPrice([market('m', MAX_TICK, 8)], [o('a', 10, 3)])).toEqual({ price: 10, volume: 3 });
    // … nor its collar (the most it pays; as a limit bid's, it would be the price here, 15), nor an
    // ask over it: a free key asking a fortune for a sliver had set what every market order paid (1,000) …
    const cheap = o('honest', 10, 100);
    expect(clearingPrice([market('m', MAX_TICK, 500)], [cheap, o('key', 1000, 1)])).toEqual({ price: 1000, volume: 101 });
    expect(clearingPrice([market('m', 15, 500)], [cheap, o('key', 1000, 1)])).toEqual({ price: 10, volume: 100 });
    expect(clearingPrice([market('m', 15, 500)], [cheap, o('key', 16, 1)])).toEqual({ price: 10, volume: 100 });
    // … while an ask within it trades, and sets the price as any ask does: a band over the named price at most.
    expect(clearingPrice([market('m', 15, 500)], [cheap, o('key', 15, 1)])).toEqual({ price: 15, volume: 101 });
    // A limit bid over the collar still names its price where demand is left over.
    expect(clearingPrice([market('m', 15, 500), o('b', 30, 200)], [cheap])).toEqual({ price: 30, volume: 100 });
    // Same limits: the earlier order first, the last one partly.
    const c = clear([o('b1', 12, 4), o('b2', 12, 4)], [o('a', 12, 6)]);
    expect(c).toMatchObject({ price: 12, volume: 6 });
    expect([...c.bids]).toEqual([
      ['b1', 4],
      ['b2', 2],
    ]);
  });
});
