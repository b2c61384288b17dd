/**
 * The frame as it fills in: verified tiles' pixels painted into a canvas at their place (raw
 * RGBA from the orchestrator, byte for byte what the stitcher uses), under a grid of tile
 * buttons coloured by state, with a mark where replicas disagreed. A tile reopened by
 * backtracking is cleared until its new verdict.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { TaskView } from '../../../shared/protocol.ts';
import { TILE_STATE_LABELS, tileLook } from '../../../shared/tile-state.ts';
import { pixels } from '../api.ts';
import { shortCid } from '../format.ts';

interface Props {
  job: string;
  width: number;
  height: number;
  tiles: ReadonlyMap<string, TaskView>;
  selected?: string;
  onSelect: (task: string) => void;
}

export const pixelsUrl = (job: string, task: string, cid: string) =>
  `/api/jobs/${encodeURIComponent(job)}/tasks/${encodeURIComponent(task)}/pixels/${encodeURIComponent(cid)}`;

export function TileCanvas({ job, width, height, tiles, selected, onSelect }: Props) {
  const canvas = useRef<HTMLCanvasElement>(null);
  // The CID each tile's place should show, and the tiles whose pixels are on the canvas.
  const wanted = useRef(new Map<string, string>());
  const shown = useRef(new Set<string>());
  const [paintedCount, setPaintedCount] = useState(0);

  useEffect(() => {
    const ctx = canvas.current?.getContext('2d');
    if (!ctx) return;
    for (const t of tiles.values()) {
      const want = t.state === 'verified' ? t.cid : null;
      if ((wanted.current.get(t.task) ?? null) === want) continue;
      const { x, y, width: w, height: h } = t.rect;
      shown.current.delete(t.task);
      setPaintedCount(shown.current.size);
      if (!want) {
        ctx.clearRect(x, y, w, h);
        wanted.current.delete(t.task);
        continue;
      }
      wanted.current.set(t.task, want);
      pixels(pixelsUrl(job, t.task, want), w, h).then(
        (image) => {
          if (wanted.current.get(t.task) !== want) return; // superseded while loading
          ctx.putImageData(image, x, y);
          shown.current.add(t.task);
          setPaintedCount(shown.current.size);
        },
        () => {
          // Not shown (the page left the job, or its session changed): tried again at the tile's next change.
          if (wanted.current.get(t.task) === want) wanted.current.delete(t.task);
        },
      );
    }
  }, [job, tiles]);

  const pct = (v: number, of: number) => `${(100 * v) / of}%`;
  return (
    <div class="frame-view" style={{ maxWidth: `${Math.max(width, 640)}px` }}>
      <canvas ref={canvas} width={width} height={height} class={width < 640 ? 'pixelated' : ''} data-painted={paintedCount} />
      <div class="tile-grid">
        {[...tiles.values()].map((t) => {
          const look = tileLook(t);
          return (
            <button
              type="button"
              key={t.task}
              class={`tile s-${look.state}${look.disputed ? ' disputed' : ''}${selected === t.task ? ' selected' : ''}`}
              data-state={look.state}
              data-task={t.task}
              style={{
                left: pct(t.rect.x, width),
                top: pct(t.rect.y, height),
                width: pct(t.rect.width, width),
                height: pct(t.rect.height, height),
              }}
              title={`tile ${t.tile}: ${TILE_STATE_LABELS[look.state]}${look.disputed ? ' (replicas disagreed)' : ''} ${shortCid(t.cid)}`}
              onClick={() => onSelect(t.task)}
            >
              {look.disputed && <span class="mark">!</span>}
            </button>
          );
        })}
      </div>
    </div>
  );
}
