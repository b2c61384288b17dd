/**
 * One tile's story: its state and verdict, and every replica — which worker rendered it, the
 * hash it returned, when, how long it took, and how it was judged. A replica's own pixels can be
 * shown beside the verdict's, which makes a disagreement visible.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { ReplicaView, TaskView } from '../../../shared/protocol.ts';
import { TILE_STATE_LABELS, tileLook } from '../../../shared/tile-state.ts';
import { pixels } from '../api.ts';
import { clock, credits, duration, shortCid } from '../format.ts';
import { href } from '../router.ts';
import { RerunButton } from './job-controls.tsx';
import { pixelsUrl } from './tile-canvas.tsx';

const VERDICTS: Record<ReplicaView['state'], string> = {
  assigned: 'rendering',
  submitted: 'awaiting verdict',
  valid: 'agreed',
  invalid: 'disagreed with ground truth',
  overruled: 'disagreed (no fault)',
  timedout: 'timed out',
  handedback: 'handed back',
  failed: 'render failed',
  cancelled: 'cancelled',
};

export function TileInspector({ job, view, names }: { job: string; view: TaskView; names: ReadonlyMap<string, string> }) {
  const [preview, setPreview] = useState<string>();
  useEffect(() => setPreview(undefined), [view.task]);
  const look = tileLook(view);
  return (
    <aside class="card inspector" data-testid="inspector">
      <h3>
        Tile {view.tile} <span class={`badge s-${look.state}`}>{TILE_STATE_LABELS[look.state]}</span>
        {look.disputed && <span class="badge s-disputed">replicas disagreed</span>}
      </h3>
      <p class="muted">
        {view.rect.width}×{view.rect.height} at ({view.rect.x}, {view.rect.y}) · frame {view.frame}
        {view.credibility !== null && <> · credibility {view.credibility.toFixed(5)}</>}
        {view.anchored && <> · backed by a trusted worker</>}
        {view.belowThreshold && view.decidedAt && <> · accepted below threshold at {clock(view.decidedAt)}</>}
        {view.auditSkipped && <> · audit skipped: no other worker</>}
      </p>
      {view.waiting && (
        <p data-testid="waiting">
          Waiting: {view.waiting.message}
          {view.waiting.decideAt && <> (decided at {clock(view.waiting.decideAt)} if nothing changes)</>}
        </p>
      )}
      <p>
        Verified result: <code title={view.cid ?? ''}>{shortCid(view.cid)}</code>{' '}
        {view.state === 'verified' && !view.anchored && <RerunButton key={view.task} job={job} task={view.task} label="Re-run tile" />}
      </p>
      <table class="replicas">
        <thead>
          <tr>
            <th>Replica</th>
            <th>Worker</th>
            <th>Result</th>
            <th>Assigned</th>
            <th>Took</th>
            <th title="credits per RU it traded at, and what it was paid">Price · paid</th>
            <th>Verdict</th>
          </tr>
        </thead>
        <tbody>
          {view.replicas.map((r) => (
            <tr key={`${r.replica}.${r.worker}.${r.assignedAt}`} data-worker={r.worker}>
              <td>
                <code title={r.replica}>{r.replica.slice(0, 7)}</code>
                {r.spot && (
                  <span class="badge" title="a spot check: a replica of a tile already verified">
                    spot
                  </span>
                )}
                {r.arbiter && (
                  <span class="badge" title="issued to the operator's trusted workers: arbitration or audit">
                    arbiter
                  </span>
                )}
              </td>
              <td>
                <a href={href.worker(r.worker)}>{names.get(r.worker) ?? shortCid(r.worker)}</a>
              </td>
              <td>
                {r.cid ? (
                  <button type="button" class="link" title={`${r.cid} — show these pixels`} onClick={() => setPreview(r.cid ?? undefined)}>
                    {shortCid(r.cid)}
                  </button>
                ) : (
                  '—'
                )}
              </td>
              <td>{clock(r.assignedAt)}</td>
              <td>{r.submittedAt ? duration(r.submittedAt - r.assignedAt) : '—'}</td>
              <td class="num">
                {r.price === null ? '—' : r.price}
                {r.paid !== null && <> · {credits(r.paid)}</>}
              </td>
              <td>
                <span class={`verdict v-${r.state}`} title={r.error ?? undefined}>
                  {VERDICTS[r.state]}
                </span>
                {r.error && <div class="error">{r.error}</div>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {preview && (
        <div class="previews">
          <Pixels job={job} view={view} cid={preview} label={`replica ${shortCid(preview)}`} />
          {view.cid && view.cid !== preview && <Pixels job={job} view={view} cid={view.cid} label="verified" />}
        </div>
      )}
    </aside>
  );
}

function Pixels({ job, view, cid, label }: { job: string; view: TaskView; cid: string; label: string }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  // Why they are not shown: a requester reads a tile's results once its verdict has paid for them.
  const [refused, setRefused] = useState<string | null>(null);
  useEffect(() => {
    const { width, height } = view.rect;
    setRefused(null);
    pixels(pixelsUrl(job, view.task, cid), width, height).then(
      (image) => canvas.current?.getContext('2d')?.putImageData(image, 0, 0),
      (err: Error) => setRefused(err.message),
    );
  }, [job, view.task, view.rect, cid]);
  return (
    <figure>
      <canvas ref={canvas} width={view.rect.width} height={view.rect.height} class="pixelated" />
      <figcaption>{label}</figcaption>
      {refused && <div class="error">{refused}</div>}
    </figure>
  );
}
