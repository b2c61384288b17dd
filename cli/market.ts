/** `farm market`: the spot price, the price index, the forward curve and recent candles, as the API publishes them. */
import { ForwardCurve, MarketHistory, MarketIndex, MarketView } from '../shared/market.ts';

const credits = (v: number | null) => (v === null ? '—' : v.toFixed(3));

export async function marketCommand(flags: { orchestrator: string; interval: string }): Promise<void> {
  const base = flags.orchestrator.replace(/\/$/, '');
  const get = async (path: string) => {
    const res = await fetch(`${base}${path}`);
    if (!res.ok) throw new Error(`GET ${path}: ${res.status}`);
    return res.json();
  };
  const [view, index, history, forwards] = await Promise.all([
    get('/api/market').then((b) => MarketView.parse(b)),
    get('/api/market/index').then((b) => MarketIndex.parse(b)),
    get(`/api/market/history?interval=${encodeURIComponent(flags.interval)}`).then((b) => MarketHistory.parse(b)),
    get('/api/market/forwards').then((b) => ForwardCurve.parse(b)),
  ]);
  const traded = forwards.windows.filter((w) => w.bids + w.asks > 0);
  const lines = [
    `spot   ${credits(view.price)} credits/RU  volume ${view.volume} RU  bids ${view.bids}  asks ${view.asks}  best bid ${credits(view.bestBid)}  best ask ${credits(view.bestAsk)}  spread ${credits(view.spread)}`,
    `index  ${credits(index.price)} credits/RU  (volume-weighted median of the last hour, ${index.volume} RU traded${index.thin ? `; thin: under ${index.floor} RU` : ''})`,
    `traded ${credits(view.traded)} credits/RU  (what the farm pays its own work at most)  market orders pay at most ${view.marketOrderLimit === null ? 'any price' : `${credits(view.marketOrderLimit)} credits/RU`}`,
    '',
    `forward windows with orders (${traded.length} of ${forwards.windows.length} open to the horizon): start, state, price (* indicative), volume (RU), bids, asks`,
    ...traded.map((w) =>
      [
        new Date(w.start).toISOString(),
        w.state,
        `${credits(w.price)}${w.indicative ? '*' : ''}`,
        String(w.volume),
        String(w.bids),
        String(w.asks),
      ].join('  '),
    ),
    '',
    `${history.interval} candles: time, open, high, low, close, volume (RU)`,
    ...history.candles
      .slice(-20)
      .map((c) =>
        [new Date(c.t).toISOString(), credits(c.open), credits(c.high), credits(c.low), credits(c.close), String(c.volume)].join('  '),
      ),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
