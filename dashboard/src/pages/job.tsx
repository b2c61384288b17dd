/**
 * One job, live: overall and per-frame progress, the shown frame's tile grid filling in with
 * verified pixels, the tile inspector, and the outputs (frames, animated WebP) once stitched.
 */
import { useMemo, useRef, useState } from 'preact/hooks';
import type { JobStatus, TaskView } from '../../../shared/protocol.ts';
import { TILE_STATE_LABELS, TILE_STATES, type TileState, tileLook } from '../../../shared/tile-state.ts';
import { FrameStrip, frameUrl } from '../components/frame-strip.tsx';
import { JobControls, RerunButton } from '../components/job-controls.tsx';
import { ProgressBar } from '../components/progress-bar.tsx';
import { ThroughputCard } from '../components/throughput-chart.tsx';
import { TileCanvas } from '../components/tile-canvas.tsx';
import { TileInspector } from '../components/tile-inspector.tsx';
import { credits, dateTime, duration, renderUnits } from '../format.ts';
import { useJobLive } from '../live.ts';
import { useWorkerNames } from '../worker-names.ts';

export function JobPage({ id }: { id: string }) {
  // Until the user picks a frame, the view follows the render: the first frame not yet stitched.
  const [picked, setPicked] = useState<number>();
  const [selected, setSelected] = useState<string>();
  const live = useJobLive(id, (status) => picked ?? followedFrame(status));
  const { status, frame, tiles } = live;
  const names = useWorkerNames(useMemo(() => [...tiles.values()].flatMap((t) => t.replicas.map((r) => r.worker)), [tiles]));
  const eta = useEta(status);

  if (!status) return <p class="muted">{live.error ?? 'Connecting…'}</p>;
  const shown = status.frames.find((f) => f.frame === frame);
  // The canvas may already paint a tile verified after the last status came: never say fewer.
  const verifiedHere = Math.max(shown?.tilesVerified ?? 0, [...tiles.values()].filter((t) => t.state === 'verified').length);
  const view = selected ? tiles.get(selected) : undefined;
  return (
    <>
      <section class="card job-head">
        <h1>
          {status.name}{' '}
          <span class={`badge job-${status.state}`} data-testid="job-state">
            {status.state}
          </span>
          <span class={`live ${live.connected ? 'on' : 'off'}`} title="live updates (server-sent events)">
            {live.connected ? 'live' : 'reconnecting'}
          </span>
        </h1>
        <p class="muted">
          <code>{status.id}</code> · {status.width}×{status.height}, {status.spp} spp, tiles of {status.tileSize} px · {status.verification}
          {status.verification === 'credibility' ? ` ε = ${status.epsilon}` : ` R = ${status.replicas}`} · priority {status.priority} ·
          submitted {dateTime(status.createdAt)}
          {status.finishedAt !== null && <span data-testid="took"> · took {duration(status.finishedAt - status.createdAt)}</span>}
        </p>
        <ProgressBar
          done={status.tilesVerified}
          total={status.tilesTotal}
          label={`${status.tilesVerified} / ${status.tilesTotal} tiles verified`}
        />
        <p class="stats">
          {status.framesDone}/{status.frames.length} frames stitched · {status.replicasRendered} replicas rendered of{' '}
          {status.replicasIssued} issued · {renderUnits(status.raysVerified)} of work verified
          {status.tilesBelowThreshold > 0 && <> · {status.tilesBelowThreshold} tiles accepted below θ</>}
          {eta !== undefined && status.state === 'running' && <> · about {duration(eta)} left</>}
          {status.error && <span class="error"> · {status.error}</span>}
          {status.heldUp && <span class="error"> · held up: {status.heldUp}</span>}
        </p>
        <p class="stats" data-testid="cost">
          Cost so far: <strong>{credits(status.cost.spent)}</strong> credits for {status.cost.ru.toPrecision(3)} RU
          {status.cost.ru > 0 && <> (on average {(status.cost.spent / status.cost.ru).toFixed(3)} credits/RU)</>}, fees{' '}
          {credits(status.cost.fees)} included · limit{' '}
          {status.cost.maxPrice === null ? 'none (a market order)' : `${status.cost.maxPrice} credits/RU`} · budget{' '}
          {credits(status.cost.budget)}, {credits(status.cost.held)} of it in escrow
          {status.cost.committed > 0 && <>, {credits(status.cost.committed)} of it backing replicas out</>}
        </p>
        <JobControls status={status} />
      </section>

      {status.frames.length > 1 && <FrameStrip status={status} current={frame} onPick={setPicked} />}

      <div class="job-body">
        <section class="card">
          <h2>
            Frame {frame}{' '}
            {shown?.done ? (
              <>
                <span class="badge s-verified" data-testid="frame-state">
                  verified and stitched
                </span>{' '}
                <RerunButton key={frame} job={id} frame={frame} label="Re-run frame" />
              </>
            ) : (
              <span class="badge" data-testid="frame-state">
                {verifiedHere} / {shown?.tilesTotal ?? 0} tiles verified
              </span>
            )}
          </h2>
          <Legend tiles={tiles} />
          {frame !== undefined && (
            <TileCanvas
              key={`${id}:${frame}`}
              job={id}
              width={status.width}
              height={status.height}
              tiles={tiles}
              selected={selected}
              onSelect={setSelected}
            />
          )}
        </section>
        {view && <TileInspector job={id} view={view} names={names} />}
      </div>

      <ThroughputCard status={status} />
      <Outputs status={status} />
    </>
  );
}

function Legend({ tiles }: { tiles: ReadonlyMap<string, TaskView> }) {
  const counts = new Map<TileState, number>(TILE_STATES.map((s) => [s, 0]));
  let disputed = 0;
  for (const t of tiles.values()) {
    const look = tileLook(t);
    counts.set(look.state, (counts.get(look.state) ?? 0) + 1);
    if (look.disputed) disputed++;
  }
  return (
    <ul class="legend" data-testid="legend">
      {TILE_STATES.map((s) => (
        <li key={s} data-state={s} data-count={counts.get(s)}>
          <span class={`swatch s-${s}`} /> {TILE_STATE_LABELS[s]} <strong>{counts.get(s)}</strong>
        </li>
      ))}
      <li data-state="marked" data-count={disputed}>
        <span class="swatch mark-swatch">!</span> had a disagreement <strong>{disputed}</strong>
      </li>
    </ul>
  );
}

function Outputs({ status }: { status: JobStatus }) {
  const done = status.frames.filter((f) => f.done);
  if (done.length === 0) return null;
  return (
    <section class="card outputs">
      <h2>Outputs</h2>
      {status.animation && (
        <figure>
          <img
            src={status.animation}
            alt="the rendered animation"
            class={`animation${status.width < 480 ? ' pixelated' : ''}`}
            style={{ width: `${Math.max(status.width, 480)}px` }}
            data-testid="animation"
          />
          <figcaption>
            Animation (lossless WebP) ·{' '}
            <a href={status.animation} download={`${status.id}.webp`}>
              download
            </a>
          </figcaption>
        </figure>
      )}
      <p>
        Frames:{' '}
        {done.map((f) => (
          <a
            key={f.frame}
            href={frameUrl(status.id, f.frame)}
            download={`${status.id}-frame-${String(f.frame).padStart(4, '0')}.png`}
            class="download"
          >
            #{f.frame}.png
          </a>
        ))}
      </p>
    </section>
  );
}

function followedFrame(status: JobStatus): number | undefined {
  const frames = status.frames;
  return status.state === 'done' ? frames[0]?.frame : (frames.find((f) => !f.done) ?? frames[frames.length - 1])?.frame;
}

/** Time left at the rate tiles were verified since the page opened. */
function useEta(status: JobStatus | undefined): number | undefined {
  const first = useRef<{ at: number; verified: number }>();
  if (!status) return undefined;
  const now = Date.now();
  first.current ??= { at: now, verified: status.tilesVerified };
  const rate = (status.tilesVerified - first.current.verified) / (now - first.current.at);
  return rate > 0 ? (status.tilesTotal - status.tilesVerified) / rate : undefined;
}
