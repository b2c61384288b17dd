/**
 * `npm run bench:market`: the real clearing code (orchestrator/market/clearing.ts) on simulated
 * populations — 1,000 providers (asks around 1 credit per RU, capacities of 1–100 RU an interval)
 * and 200 requesters (bids around the same, 5 % of them market orders for urgent jobs, 10–2,000 RU
 * each), with
 * arrivals and departures every interval. Per interval it measures allocative efficiency (realised
 * surplus ÷ the most any allocation could realise, at the orders' true worth) and the price's
 * distance in ticks from the competitive (Walrasian) range of the orders as submitted; then the price's response to a supply
 * shock (half the providers leave) and a demand shock (demand doubles); and the time to clear
 * 10,000 orders against a baseline measured in the same run (sorting their limits once).
 * Writes bench/results/market.json ([{scenario, efficiency, priceError, clearMs}]) and a chart of
 * the price per interval, bench/results/market.svg.
 */
import { writeFileSync } from 'node:fs';
import { clear, MAX_TICK, type Order, priceCap } from '../orchestrator/market/clearing.ts';
import { median, seededRandom, table, writeResult } from './support.ts';

/** 1 credit per RU, in ticks of 0.001 credit. */
const PAR = 1000;
const INTERVALS = 100;
const SHOCK_AT = 50;
const random = seededRandom(2026);

interface Trader extends Order {
  /** What a unit is truly worth to it (a market bid's limit says nothing). */
  value: number;
}

/** Around PAR, log-normally (σ = 0.25), as integer ticks. */
const nearPar = (bias = 1) => Math.max(1, Math.round(PAR * bias * Math.exp(0.25 * gaussian())));
function gaussian(): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}
let nextId = 0;
const provider = (): Trader => {
  const value = nearPar(0.9);
  return { id: `a${nextId++}`, limit: value, value, quantity: 1 + Math.floor(random() * 100) };
};
/** A market order stands for an urgent job: worth three times par to its owner, whatever the price. */
const requester = (scale = 1): Trader => {
  const market = random() < 0.05;
  const value = market ? 3 * PAR : nearPar(1.1);
  const quantity = Math.round(scale * (10 + Math.floor(random() * 1990)));
  return market ? { id: `b${nextId++}`, limit: MAX_TICK, value, quantity, market } : { id: `b${nextId++}`, limit: value, value, quantity };
};

/** Each unit's worth (`value`) or price (`limit`), best first: bids highest first, asks lowest first. */
function units(orders: readonly Trader[], key: 'value' | 'limit', dir: 1 | -1): number[] {
  return orders.flatMap((o) => Array<number>(o.quantity).fill(o[key])).sort((x, y) => dir * (x - y));
}

/** Units that trade when the best bids meet the best asks. */
function crossing(b: number[], a: number[]): number {
  let q = 0;
  while (q < b.length && q < a.length && b[q] >= a[q]) q++;
  return q;
}

/** The most surplus any allocation realises, at the orders' true worth. */
function bestSurplus(bids: readonly Trader[], asks: readonly Trader[]): number {
  const b = units(bids, 'value', -1);
  const a = units(asks, 'value', 1);
  let surplus = 0;
  for (let i = 0, q = crossing(b, a); i < q; i++) surplus += b[i] - a[i];
  return surplus;
}

/**
 * The competitive (Walrasian) price range of the orders as submitted: any price in it has exactly
 * the crossing quantity wanted and offered. Within the prices orders name (market bids name none).
 */
function walrasian(bids: readonly Trader[], asks: readonly Trader[]): { lo: number; hi: number } {
  const b = units(bids, 'limit', -1);
  const a = units(asks, 'limit', 1);
  const q = crossing(b, a);
  const cap = priceCap(bids, asks);
  if (q === 0) return { lo: 0, hi: cap };
  return { lo: Math.min(cap, Math.max(a[q - 1], b[q] ?? 0)), hi: Math.min(cap, b[q - 1], a[q] ?? MAX_TICK) };
}

function interval(bids: readonly Trader[], asks: readonly Trader[]) {
  const t0 = performance.now();
  const c = clear(bids, asks);
  const clearMs = performance.now() - t0;
  const surplus = bestSurplus(bids, asks);
  const { lo, hi } = walrasian(bids, asks);
  const worth = new Map([...bids, ...asks].map((o) => [o.id, o.value]));
  let realised = 0;
  for (const [id, q] of c.bids) realised += (worth.get(id) as number) * q;
  for (const [id, q] of c.asks) realised -= (worth.get(id) as number) * q;
  const price = c.price ?? 0;
  return {
    price,
    efficiency: surplus === 0 ? 1 : realised / surplus,
    priceError: c.price === null ? 0 : price < lo ? lo - price : price > hi ? price - hi : 0,
    clearMs,
  };
}

/** Runs INTERVALS intervals with churn; `shock` changes the population at SHOCK_AT. */
function simulate(shock: (providers: Trader[], requesters: Trader[]) => void) {
  const providers = Array.from({ length: 1000 }, provider);
  let requesters = Array.from({ length: 200 }, () => requester());
  let demandScale = 1;
  const rows = [];
  for (let i = 0; i < INTERVALS; i++) {
    if (i === SHOCK_AT) {
      shock(providers, requesters);
      demandScale = requesters.length > 200 ? 2 : 1;
    }
    // Arrivals and departures: 5 % of providers and 10 % of requesters are replaced.
    for (let k = 0; k < providers.length; k++) if (random() < 0.05) providers[k] = provider();
    requesters = requesters.map((r) => (random() < 0.1 ? requester(demandScale) : r));
    rows.push(interval(requesters, providers));
  }
  return rows;
}

function summary(scenario: string, rows: ReturnType<typeof simulate>) {
  const before = median(rows.slice(0, SHOCK_AT).map((r) => r.price));
  const after = median(rows.slice(SHOCK_AT + 5).map((r) => r.price));
  return {
    scenario,
    efficiency: Math.min(...rows.map((r) => r.efficiency)),
    priceError: Math.max(...rows.map((r) => r.priceError)),
    clearMs: Number(median(rows.map((r) => r.clearMs)).toFixed(3)),
    priceBefore: before / PAR,
    priceAfter: after / PAR,
  };
}

const steady = simulate(() => undefined);
const supplyShock = simulate((providers) => void providers.splice(0, providers.length / 2));
const demandShock = simulate((_, requesters) => void requesters.push(...Array.from({ length: 200 }, () => requester())));

// Clearing time for 10,000 orders (8,000 asks, 2,000 bids), against sorting their limits once.
const asks = Array.from({ length: 8000 }, provider);
const bids = Array.from({ length: 2000 }, () => requester());
const clearTimes: number[] = [];
const sortTimes: number[] = [];
for (let i = 0; i < 21; i++) {
  let t0 = performance.now();
  clear(bids, asks);
  clearTimes.push(performance.now() - t0);
  t0 = performance.now();
  [...bids, ...asks].map((o) => o.limit).sort((x, y) => x - y);
  sortTimes.push(performance.now() - t0);
}
const big = interval(bids, asks);

const results = [
  summary('steady (1,000 providers, 200 requesters, churn)', steady),
  summary('supply shock (half the providers leave)', supplyShock),
  summary('demand shock (demand doubles)', demandShock),
  {
    scenario: 'clear 10,000 orders',
    efficiency: big.efficiency,
    priceError: big.priceError,
    clearMs: Number(median(clearTimes).toFixed(3)),
    priceBefore: big.price / PAR,
    priceAfter: big.price / PAR,
    baselineSortMs: Number(median(sortTimes).toFixed(3)),
  },
];
console.log(
  table(results.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'number' ? Number(v.toFixed(4)) : v])))),
);
console.log(
  `clearing 10,000 orders: ${median(clearTimes).toFixed(2)} ms, ${(median(clearTimes) / median(sortTimes)).toFixed(1)}× one sort of their limits (${median(sortTimes).toFixed(2)} ms, the baseline)`,
);
const goals = {
  efficiency: results.every((r) => r.efficiency >= 0.99),
  priceWithinOneTick: results.every((r) => r.priceError <= 1),
  clear10kUnder50ms: median(clearTimes) <= 50,
};
console.log(`goals: ${JSON.stringify(goals)}`);
console.log(`results: ${writeResult('market', results)}`);
writeFileSync(
  new URL('./results/market.svg', import.meta.url),
  chart([
    ['steady', '#4c78a8', steady.map((r) => r.price / PAR)],
    ['supply shock', '#e45756', supplyShock.map((r) => r.price / PAR)],
    ['demand shock', '#54a24b', demandShock.map((r) => r.price / PAR)],
  ]),
);

/** The clearing price per interval, one line per scenario, as a small SVG for the README. */
function chart(series: [name: string, colour: string, values: number[]][]): string {
  const w = 640;
  const h = 240;
  const pad = 40;
  const all = series.flatMap(([, , v]) => v);
  const [min, max] = [Math.min(...all) * 0.95, Math.max(...all) * 1.05];
  const x = (i: number) => pad + (i / (INTERVALS - 1)) * (w - 2 * pad);
  const y = (v: number) => h - pad - ((v - min) / (max - min)) * (h - 2 * pad);
  const lines = series.map(
    ([name, colour, values], k) =>
      `<polyline fill="none" stroke="${colour}" stroke-width="1.5" points="${values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ')}"/>` +
      `<text x="${pad + 10 + k * 150}" y="20" fill="${colour}" font-size="12">${name}</text>`,
  );
  const ticks = [min, (min + max) / 2, max].map((v) => `<text x="4" y="${y(v).toFixed(1)}" font-size="10">${v.toFixed(2)}</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif">
<rect width="${w}" height="${h}" fill="white"/>
<line x1="${x(SHOCK_AT)}" y1="${pad}" x2="${x(SHOCK_AT)}" y2="${h - pad}" stroke="#bbb" stroke-dasharray="4"/>
<text x="${x(SHOCK_AT) + 4}" y="${h - pad - 4}" font-size="10" fill="#888">shock</text>
<text x="${w / 2 - 80}" y="${h - 10}" font-size="11">clearing price (credits / RU) per interval</text>
${ticks.join('\n')}
${lines.join('\n')}
</svg>
`;
}
