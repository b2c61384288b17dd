/**
 * Workers' accepted results per minute over the last hour (uPlot lines, one a worker: the
 * MAX_SERIES busiest), from the `recent` counts GET /api/workers and GET /api/workers/:id carry.
 */
import { useMemo } from 'preact/hooks';
import type uPlot from 'uplot';
import type { WorkerWithRecent } from '../../../shared/protocol.ts';
import { AXIS, PADDING, timeAxis, UplotChart } from './uplot-chart.tsx';

const MAX_SERIES = 8;
const COLORS = ['#5aa2ff', '#3fb56f', '#d9a23a', '#e0524d', '#b07cf2', '#3cc7c7', '#f28cb8', '#a3b1c2'];

/** Its accepted results in the last hour. */
export const lastHour = (w: WorkerWithRecent): number => w.recent.reduce((a, b) => a + b, 0);

export function RecentThroughput({ workers }: { workers: readonly WorkerWithRecent[] }) {
  const shown = useMemo(
    () =>
      workers
        .filter((w) => lastHour(w) > 0)
        .sort((a, b) => lastHour(b) - lastHour(a))
        .slice(0, MAX_SERIES),
    [workers],
  );
  const data = useMemo((): uPlot.AlignedData => {
    const minutes = shown[0]?.recent.length ?? 0;
    const current = Math.floor(Date.now() / 60_000);
    return [Array.from({ length: minutes }, (_, i) => (current - minutes + 1 + i) * 60), ...shown.map((w) => w.recent)];
  }, [shown]);
  const more = workers.filter((w) => lastHour(w) > 0).length - shown.length;
  return (
    <div class="recent" data-testid="recent-throughput">
      <h2>Results accepted per minute, last hour</h2>
      {shown.length === 0 ? (
        <p class="muted">No result accepted in the last hour.</p>
      ) : (
        <>
          {more > 0 && (
            <p class="muted">
              The {MAX_SERIES} busiest of {shown.length + more}.
            </p>
          )}
          <UplotChart
            class="series-chart"
            data-testid="recent-chart"
            data-series={shown.length}
            shape={shown.map((w) => w.id).join(',')}
            data={data}
            options={(_U, width) => ({
              width,
              height: 200,
              padding: PADDING,
              axes: [timeAxis({ hour: '2-digit', minute: '2-digit' }, 70), { ...AXIS, label: 'results / min', size: 56 }],
              series: [{}, ...shown.map((w, i) => ({ label: w.name, stroke: COLORS[i], width: 2, points: { show: false } }))],
            })}
          />
        </>
      )}
    </div>
  );
}
