/**
 * The market, as the API publishes it (public): the spot price and the last clearing, the price
 * index, candles and volume (TradingView's lightweight-charts), the last clearing's supply and
 * demand curves (uPlot: its x axis is a price, not a time) and the forward curve; and, signed in,
 * the requester's reservations. Refreshed every market interval.
 */
import {
  CandlestickSeries,
  createChart,
  HistogramSeries,
  type IChartApi,
  LineSeries,
  type Time,
  type UTCTimestamp,
} from 'lightweight-charts';
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { CandleInterval, ForwardCurve, MarketHistory, MarketIndex, MarketView } from '../../../shared/market.ts';
import { api } from '../api.ts';
import { Fact } from '../components/fact.tsx';
import { Reservations } from '../components/reservations.tsx';
import { dateTime } from '../format.ts';

interface Snapshot {
  view: MarketView;
  index: MarketIndex;
  history: MarketHistory;
  forwards: ForwardCurve;
}

const price = (p: number | null) => (p === null ? '—' : p.toFixed(3));
const seconds = (ms: number) => (ms / 1000) as UTCTimestamp;
const CHART_HEIGHT = 280;

export function MarketPage({ requester }: { requester: boolean }) {
  const [interval, setInterval_] = useState<CandleInterval>('1m');
  const [snap, setSnap] = useState<Snapshot>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async () => {
      try {
        const [view, index, history, forwards] = await Promise.all([
          api<MarketView>('/api/market'),
          api<MarketIndex>('/api/market/index'),
          api<MarketHistory>(`/api/market/history?interval=${interval}`),
          api<ForwardCurve>('/api/market/forwards'),
        ]);
        if (stopped) return;
        setSnap({ view, index, history, forwards });
        setError(undefined);
        timer = setTimeout(load, Math.max(1000, view.intervalMs));
      } catch (e) {
        if (stopped) return;
        setError(String(e));
        timer = setTimeout(load, 5000);
      }
    };
    load();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [interval]);

  if (!snap) return error ? <p class="error">{error}</p> : <p class="muted">Loading…</p>;
  const { view, index, history, forwards } = snap;
  return (
    <>
      <section class="card">
        <h1>Market</h1>
        <p class="muted">
          Render time at one price per interval (a uniform-price auction every {view.intervalMs / 1000} s), in credits per RU (10^9 rays).{' '}
          {view.at !== null && <>Last clearing {dateTime(view.at)}.</>}
        </p>
        <dl class="facts" data-testid="market-facts">
          <Fact label="Spot price" value={price(view.price)} field="spot" />
          <Fact label="Volume (RU, last interval)" value={String(view.volume)} />
          <Fact label="Best bid / best ask" value={`${price(view.bestBid)} / ${price(view.bestAsk)}`} />
          <Fact label="Spread" value={price(view.spread)} />
          <Fact label="Bids / asks" value={`${view.bids} / ${view.asks}`} />
          <Fact
            label="Index (volume-weighted median, last hour)"
            value={`${price(index.price)}${index.thin ? ` · thin: under ${index.floor} RU traded` : ''}`}
            field="index"
          />
          <Fact
            label="Traded (what the farm pays its own work at most) / most a market order pays"
            value={`${price(view.traded)} / ${view.marketOrderLimit === null ? 'any price' : price(view.marketOrderLimit)}`}
            field="market-order-limit"
          />
        </dl>
        {error && <p class="error">{error}</p>}
      </section>
      <section class="card">
        <h2>
          Price and volume{' '}
          {(['1m', '1h', '1d'] as const).map((i) => (
            <button key={i} type="button" class={i === interval ? 'link active' : 'link'} onClick={() => setInterval_(i)}>
              {i}
            </button>
          ))}
        </h2>
        {history.candles.length === 0 ? <p class="muted">No interval has traded yet.</p> : <Candles history={history} />}
      </section>
      <section class="card">
        <h2>Supply and demand at the last clearing</h2>
        {view.levels.length === 0 ? (
          <p class="muted">No bids or asks named a price.</p>
        ) : (
          <>
            <p class="muted">
              RU wanted at or above each price (demand) and offered at or below it (supply); they cross at the clearing price,{' '}
              {price(view.price)}.
            </p>
            <Curves view={view} />
          </>
        )}
      </section>
      <section class="card">
        <h2>Forward curve</h2>
        <p class="muted">
          Capacity sold ahead in {forwards.windowMs / 60_000}-minute windows, each cleared {forwards.gateMs / 60_000} min before it starts;
          providers lock {forwards.collateralShare * 100} % of what they offer as collateral. Open windows show the price their book would
          clear at now (indicative, dashed).
        </p>
        <ForwardChart forwards={forwards} spot={view.price} />
        <table data-testid="forwards">
          <thead>
            <tr>
              <th>Window</th>
              <th>State</th>
              <th>Price</th>
              <th>RU</th>
              <th>Bids / offers</th>
            </tr>
          </thead>
          <tbody>
            {forwards.windows
              .filter((w) => w.bids + w.asks > 0)
              .map((w) => (
                <tr key={w.start}>
                  <td>{dateTime(w.start)}</td>
                  <td>{w.state}</td>
                  <td class="num">
                    {price(w.price)}
                    {w.indicative && w.price !== null ? ' (indicative)' : ''}
                  </td>
                  <td class="num">{w.volume}</td>
                  <td class="num">
                    {w.bids} / {w.asks}
                  </td>
                </tr>
              ))}
          </tbody>
        </table>
      </section>
      {requester && <Reservations forwards={forwards} />}
    </>
  );
}

/** A lightweight-charts chart in a div, made once and removed with the component. */
function useChart(): [preact.RefObject<HTMLDivElement>, IChartApi | undefined] {
  const ref = useRef<HTMLDivElement>(null);
  const [chart, setChart] = useState<IChartApi>();
  useEffect(() => {
    if (!ref.current) return;
    const c = createChart(ref.current, {
      height: CHART_HEIGHT,
      autoSize: true,
      // The page's dark theme (style.css).
      layout: { background: { color: 'transparent' }, textColor: '#c9d1d9' },
      grid: { vertLines: { color: '#2a2f37' }, horzLines: { color: '#2a2f37' } },
      timeScale: { timeVisible: true, secondsVisible: false },
    });
    setChart(c);
    return () => c.remove();
  }, []);
  return [ref, chart];
}

function Candles({ history }: { history: MarketHistory }) {
  const [ref, chart] = useChart();
  const series = useRef<{ candles: ReturnType<IChartApi['addSeries']>; volume: ReturnType<IChartApi['addSeries']> }>();
  useEffect(() => {
    if (!chart) return;
    if (!series.current) {
      const volume = chart.addSeries(HistogramSeries, { priceScaleId: 'volume', priceFormat: { type: 'volume' }, color: '#9db4d0' });
      chart.priceScale('volume').applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
      series.current = {
        candles: chart.addSeries(CandlestickSeries, { priceFormat: { type: 'price', precision: 3, minMove: 0.001 } }),
        volume,
      };
    }
    series.current.candles.setData(
      history.candles.map((c) => ({ time: seconds(c.t), open: c.open, high: c.high, low: c.low, close: c.close })),
    );
    series.current.volume.setData(history.candles.map((c) => ({ time: seconds(c.t), value: c.volume })));
  }, [chart, history]);
  return <div ref={ref} class="chart sized" data-testid="candles" />;
}

function ForwardChart({ forwards, spot }: { forwards: ForwardCurve; spot: number | null }) {
  const [ref, chart] = useChart();
  const series = useRef<{
    final: ReturnType<IChartApi['addSeries']>;
    indicative: ReturnType<IChartApi['addSeries']>;
    spot?: ReturnType<ReturnType<IChartApi['addSeries']>['createPriceLine']>;
  }>();
  useEffect(() => {
    if (!chart) return;
    if (!series.current) {
      const format = { type: 'price' as const, precision: 3, minMove: 0.001 };
      series.current = {
        final: chart.addSeries(LineSeries, { color: '#2962ff', pointMarkersVisible: true, priceFormat: format }),
        indicative: chart.addSeries(LineSeries, { color: '#2962ff', lineStyle: 2, pointMarkersVisible: true, priceFormat: format }),
      };
    }
    const priced = forwards.windows.filter((w) => w.price !== null);
    const points = (indicative: boolean) =>
      priced.filter((w) => w.indicative === indicative).map((w) => ({ time: seconds(w.start) as Time, value: w.price as number }));
    series.current.final.setData(points(false));
    series.current.indicative.setData(points(true));
    if (series.current.spot) series.current.final.removePriceLine(series.current.spot);
    series.current.spot =
      spot === null ? undefined : series.current.final.createPriceLine({ price: spot, color: '#888', lineStyle: 3, title: 'spot' });
  }, [chart, forwards, spot]);
  return <div ref={ref} class="chart sized" data-testid="forward-curve" />;
}

/**
 * The last clearing's curves: demand steps down at each bid's limit, supply up at each ask's. The
 * plot is made once and given each clearing's data: made again every interval, it flickered and
 * moved what is below it on the page.
 */
function Curves({ view }: { view: MarketView }) {
  const ref = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot>();
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    plot.current = new uPlot(
      {
        width: el.clientWidth || 600,
        height: CHART_HEIGHT,
        scales: { x: { time: false } },
        axes: [
          { label: 'credits per RU', stroke: '#c9d1d9', grid: { stroke: '#2a2f37' } },
          // RU traded in an interval are small numbers: three significant digits, not rounded to 0.
          {
            label: 'RU',
            stroke: '#c9d1d9',
            grid: { stroke: '#2a2f37' },
            size: 70,
            values: (_u, vals) => vals.map((v) => v.toPrecision(3)),
          },
        ],
        series: [
          { label: 'price', value: (_u, v) => price(v) },
          // Demand at a price between two named ones is that of the next one up; supply, of the one below.
          { label: 'demand', stroke: '#d9480f', width: 2, paths: uPlot.paths.stepped?.({ align: -1 }) },
          { label: 'supply', stroke: '#2b8a3e', width: 2, paths: uPlot.paths.stepped?.({ align: 1 }) },
        ],
      },
      [[], [], []],
      el,
    );
    return () => plot.current?.destroy();
  }, []);
  useEffect(() => {
    plot.current?.setData([view.levels.map((l) => l.price), view.levels.map((l) => l.demand), view.levels.map((l) => l.supply)]);
  }, [view]);
  return <div ref={ref} class="chart" data-testid="curves" />;
}
