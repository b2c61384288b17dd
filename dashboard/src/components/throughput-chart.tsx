/**
 * The job page's pictures, from GET /api/jobs/:id/throughput: tiles verified per minute over the
 * job's life (uPlot bars, one a bucket) and each worker's share of the accepted results (a bar
 * list). The page's live status (its server-sent events) says when tiles were verified; the
 * picture is read again then, at most every REFRESH_MS.
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { JobStatus } from '../../../shared/protocol.ts';
import type { JobThroughput } from '../../../shared/throughput.ts';
import { api } from '../api.ts';
import { duration, shortId } from '../format.ts';
import { href } from '../router.ts';
import { useWorkerNames } from '../worker-names.ts';
import { AXIS, PADDING, timeAxis, UplotChart } from './uplot-chart.tsx';

const REFRESH_MS = 2000;
const HEIGHT = 200;

export function ThroughputCard({ status }: { status: JobStatus }) {
  const picture = usePicture(status.id, `${status.tilesVerified} ${status.state}`);
  const names = useWorkerNames(useMemo(() => picture?.shares.map((s) => s.worker) ?? [], [picture]));
  if (!picture) return null;
  const verified = picture.tiles.reduce((a, b) => a + b, 0);
  return (
    <section class="card throughput" data-testid="throughput">
      <h2>Throughput</h2>
      {verified === 0 ? (
        <p class="muted">No tile verified yet.</p>
      ) : (
        <>
          <p class="muted">
            Tiles verified per minute since the job was submitted, in {duration(picture.stepMs)} steps ({verified} tiles).
          </p>
          <TilesChart picture={picture} />
          <h3>Share of the accepted results</h3>
          <ul class="shares" data-testid="shares">
            {picture.shares.map((s) => (
              <li key={s.worker} data-worker={s.worker} data-percent={s.percent}>
                <a href={href.worker(s.worker)}>{names.get(s.worker) ?? shortId(s.worker)}</a>
                <span class="share-bar">
                  <span style={{ width: `${s.percent}%` }} />
                </span>
                <span class="num">
                  {s.percent.toFixed(1)} % · {s.replicas}
                </span>
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}

/** The job's picture, read again when `version` changes: at once, or REFRESH_MS after the last read. */
function usePicture(id: string, version: string): JobThroughput | undefined {
  const [read, setRead] = useState<{ id: string; picture: JobThroughput }>();
  const last = useRef({ id, at: 0, asked: 0 });
  if (last.current.id !== id) last.current = { id, at: 0, asked: 0 };
  useEffect(() => {
    const timer = setTimeout(
      () => {
        const mine = last.current;
        const asked = ++mine.asked;
        mine.at = Date.now();
        // A later read, or another job, supersedes this one; a failed one is tried again at the job's next change.
        api<JobThroughput>(`/api/jobs/${encodeURIComponent(id)}/throughput`).then(
          (picture) => last.current === mine && asked === mine.asked && setRead({ id, picture }),
          () => undefined,
        );
      },
      Math.max(0, last.current.at + REFRESH_MS - Date.now()),
    );
    return () => clearTimeout(timer);
  }, [id, version]);
  return read?.id === id ? read.picture : undefined;
}

/** Ticks as fine as the buckets: seconds under a minute, the day once they are hours. */
function tickFormat(stepMs: number): Intl.DateTimeFormatOptions {
  if (stepMs < 60_000) return { hour: '2-digit', minute: '2-digit', second: '2-digit' };
  if (stepMs < 3_600_000) return { hour: '2-digit', minute: '2-digit' };
  return { month: 'short', day: 'numeric', hour: '2-digit' };
}

function TilesChart({ picture }: { picture: JobThroughput }) {
  const { start, stepMs, tiles } = picture;
  const data = useMemo(
    (): [number[], number[]] => [tiles.map((_, i) => (start + i * stepMs) / 1000), tiles.map((n) => (n * 60_000) / stepMs)],
    [start, stepMs, tiles],
  );
  return (
    <UplotChart
      class="series-chart"
      data-testid="throughput-chart"
      data-points={tiles.length}
      data-tiles={tiles.reduce((a, b) => a + b, 0)}
      shape={String(stepMs)}
      data={data}
      options={(U, width) => ({
        width,
        height: HEIGHT,
        padding: PADDING,
        legend: { show: false },
        // Each bar covers its bucket: from its start to the next one's.
        scales: { x: { time: true, range: (_u, min, max) => [min, max + stepMs / 1000] } },
        axes: [timeAxis(tickFormat(stepMs), 90), { ...AXIS, label: 'tiles / min', size: 56 }],
        series: [
          {},
          {
            label: 'tiles / min',
            fill: '#3fb56f',
            stroke: '#3fb56f',
            points: { show: false },
            paths: U.paths.bars?.({ size: [0.9, 64], align: 1 }),
          },
        ],
      })}
    />
  );
}
