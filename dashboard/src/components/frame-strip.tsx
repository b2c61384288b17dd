/** Every frame of the job with its progress; stitched frames show a thumbnail. Click to view. */
import type { JobStatus } from '../../../shared/protocol.ts';
import { ProgressBar } from './progress-bar.tsx';

export const frameUrl = (job: string, frame: number) => `/api/jobs/${encodeURIComponent(job)}/frames/${frame}`;

export function FrameStrip({ status, current, onPick }: { status: JobStatus; current?: number; onPick: (frame: number) => void }) {
  return (
    <ol class="frame-strip">
      {status.frames.map((f) => (
        <li key={f.frame}>
          <button
            type="button"
            class={`frame-card${f.frame === current ? ' current' : ''}${f.done ? ' done' : ''}`}
            data-frame={f.frame}
            data-done={f.done}
            onClick={() => onPick(f.frame)}
          >
            {f.done ? (
              // The query changes when the frame is re-stitched (a tile reopened and re-verified).
              <img src={`${frameUrl(status.id, f.frame)}?v=${status.replicasRendered}`} alt={`frame ${f.frame}`} loading="lazy" />
            ) : (
              <span class="thumb-placeholder" />
            )}
            <span class="frame-label">#{f.frame}</span>
            <ProgressBar done={f.tilesVerified} total={f.tilesTotal} />
          </button>
        </li>
      ))}
    </ol>
  );
}
