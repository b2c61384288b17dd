/**
 * A job's live view (GET /api/jobs/:id/events) sends each frame's progress once and then only the
 * frames that changed: a job of 10,000 frames is 600 KB of frames, and each tile verified changes
 * its counts, so a view had been sent the whole at every flush.
 */
import type { FrameStatus, JobStatus } from './protocol.ts';

/** The frames of `now` that differ from `before` (the same job's frames, in the same order). */
export function framesChanged(before: readonly FrameStatus[], now: readonly FrameStatus[]): FrameStatus[] {
  if (before.length !== now.length) return [...now];
  return now.filter((f, i) => {
    const b = before[i];
    return b.frame !== f.frame || b.tilesVerified !== f.tilesVerified || b.tilesTotal !== f.tilesTotal || b.done !== f.done;
  });
}

/**
 * The job's status after a `job` event of its live view: the event's counts, its frames laid over
 * the status before (a stream's first event lists every frame, so it replaces them all).
 */
export function applyJobUpdate(previous: JobStatus | undefined, update: JobStatus): JobStatus {
  if (!previous || previous.id !== update.id) return update;
  const changed = new Map(update.frames.map((f) => [f.frame, f]));
  return { ...update, frames: previous.frames.map((f) => changed.get(f.frame) ?? f) };
}
