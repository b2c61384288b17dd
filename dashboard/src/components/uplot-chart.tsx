/**
 * A uPlot chart as wide as its container, following it as it resizes (a phone turned, a window
 * narrowed). uPlot and its stylesheet load with the first chart shown, in the chunk the market
 * page shares: pages without charts stay small.
 */
import type { JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type uPlot from 'uplot';

let loading: Promise<typeof uPlot> | undefined;
// A failed load (a network blip) is not kept: the next chart tries again.
const loadUplot = () =>
  (loading ??= import('../uplot.ts').then(
    (m) => m.default,
    (e) => {
      loading = undefined;
      throw e;
    },
  ));

/** The page's dark theme (style.css), for axes. */
export const AXIS = { stroke: '#c9d1d9', grid: { stroke: '#2a2f37' }, ticks: { stroke: '#2a2f37' } };

/** Room on the right for the last time label, which is centred on the chart's edge. */
export const PADDING: uPlot.Padding = [null, 40, null, null];

/** An x axis of local times (x in seconds), `space` px apart at least, without uPlot's second line of dates: it crowds a phone. */
export const timeAxis = (format: Intl.DateTimeFormatOptions, space: number): uPlot.Axis => ({
  ...AXIS,
  space,
  values: (_u, splits) => splits.map((s) => new Date(s * 1000).toLocaleString([], format)),
});

export interface UplotChartProps extends Omit<JSX.HTMLAttributes<HTMLDivElement>, 'data'> {
  /** The chart's options at a width in px; the chart is built anew when `shape` changes, and only redrawn when `data` does. */
  options: (U: typeof uPlot, width: number) => uPlot.Options;
  shape: string;
  data: uPlot.AlignedData;
}

export function UplotChart({ options, shape, data, ...attributes }: UplotChartProps) {
  const ref = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot>();
  const latest = useRef({ options, data });
  latest.current = { options, data };
  const [error, setError] = useState<string>();

  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    let stopped = false;
    let observer: ResizeObserver | undefined;
    loadUplot().then(
      (U) => {
        if (stopped) return;
        const p = new U(latest.current.options(U, el.clientWidth), latest.current.data, el);
        plot.current = p;
        observer = new ResizeObserver(() => {
          if (el.clientWidth !== p.width) p.setSize({ width: el.clientWidth, height: p.height });
        });
        observer.observe(el);
      },
      (e) => setError(String(e)),
    );
    return () => {
      stopped = true;
      observer?.disconnect();
      plot.current?.destroy();
      plot.current = undefined;
    };
  }, [shape]);

  useEffect(() => plot.current?.setData(data), [data]);

  return (
    <>
      <div ref={ref} {...attributes} />
      {error && <p class="error">{error}</p>}
    </>
  );
}
