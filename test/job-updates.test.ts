/** A live view's job events carry the frames that changed (shared/job-updates.ts). */
import { describe, expect, it } from 'vitest';
import { applyJobUpdate, framesChanged } from '../shared/job-updates.ts';
import type { FrameStatus, JobStatus } from '../shared/protocol.ts';

const frame = (n: number, tilesVerified = 0): FrameStatus => ({ frame: n, tilesVerified, tilesTotal: 4, done: tilesVerified === 4 });
const status = (id: string, frames: FrameStatus[], tilesVerified = 0) => ({ id, tilesVerified, frames }) as unknown as JobStatus;

describe('live job updates', () => {
  it('lists the frames whose progress moved, all of them when the frames are not the same', () => {
    const before = [frame(0), frame(1), frame(2)];
    expect(framesChanged(before, [frame(0), frame(1, 2), frame(2)])).toEqual([frame(1, 2)]);
    expect(framesChanged(before, [frame(0, 4), frame(1), frame(2)])).toEqual([frame(0, 4)]);
    expect(framesChanged(before, before)).toEqual([]);
    expect(framesChanged(before.slice(0, 2), before)).toEqual(before);
    expect(framesChanged(before, [frame(5), frame(1), frame(2)])).toEqual([frame(5)]);
  });

  it('lays the changed frames over the status before, with the update’s counts; a first or another job’s update is taken whole', () => {
    const first = status('j1', [frame(0), frame(1), frame(2)]);
    expect(applyJobUpdate(undefined, first)).toBe(first);
    const next = applyJobUpdate(first, status('j1', [frame(2, 3)], 3));
    expect(next.tilesVerified).toBe(3);
    expect(next.frames).toEqual([frame(0), frame(1), frame(2, 3)]);
    expect(applyJobUpdate(next, status('j1', [], 3)).frames).toEqual(next.frames);
    const other = status('j2', [frame(7)]);
    expect(applyJobUpdate(next, other)).toBe(other);
  });
});
