/**
 * Frame assembly: once every tile of a frame is verified, a `frames` BullMQ job stitches the
 * verified tiles (one raw RGBA buffer, one PNG encode); the job's first frame also gives its
 * thumbnail (from the raw pixels: no decode); the last frame of a multi-frame job also produces
 * the animated WebP and finishes the job.
 */

import sharp from 'sharp';
import { pixelsOf } from '../shared/image.ts';
import { encodePng } from '../shared/png.ts';
import type { ContentStore } from './content/store.ts';
import { crashPoint } from './crash-points.ts';
import { planJob } from './planner.ts';
import type { JobRecord, Jobs } from './state/jobs.ts';
import type { Tasks } from './state/tasks.ts';
import { assembleFrame } from './stitcher.ts';

export interface AssemblyDeps {
  jobs: Jobs;
  tasks: Tasks;
  blobs: ContentStore;
}

/** The frame's pixels, or undefined if a tile is no longer verified (reopened by backtracking). */
export async function stitchFrame(deps: AssemblyDeps, job: JobRecord, frame: number): Promise<Uint8Array | undefined> {
  const planned = planJob(job.id, [frame], job.width, job.height, job.tileSize);
  const records = await Promise.all(planned.map((t) => deps.tasks.get(t.id)));
  if (records.some((task) => task?.state !== 'verified' || !task.cid)) return undefined;
  const tiles = await Promise.all(
    planned.map(async (t, i) => {
      const task = records[i] as { cid: string };
      const bytes = await deps.blobs.get(task.cid);
      if (!bytes) throw new Error(`verified tile ${t.id} is missing from the blob store (${task.cid})`);
      return { rect: t.rect, rgba: pixelsOf(bytes, t.rect.width, t.rect.height) };
    }),
  );
  return assembleFrame(job.width, job.height, tiles);
}

/** Stitches one frame; finishes the job when it was the last. Idempotent. */
export async function assembleFrameJob(deps: AssemblyDeps, jobId: string, frame: number, completion: number | string): Promise<void> {
  const job = await deps.jobs.get(jobId);
  if (job?.state !== 'running') return;
  const rgba = await stitchFrame(deps, job, frame);
  if (!rgba) return; // a reopened tile: its next verdict queues a new stitch
  const cid = await deps.blobs.put(await encodePng({ width: job.width, height: job.height, rgba }));
  if (frame === job.frames[0]) await deps.jobs.setThumbnail(job.id, await deps.blobs.put(await thumbnailOf(job, rgba)));
  // Stitched, not yet recorded: the frame job's short lock must bring it back (test/crash.test.ts).
  crashPoint('during-stitch');
  if ((await deps.jobs.frameDone(job, frame, cid, completion)) !== 'last') return;
  if (job.frames.length > 1) {
    const frames = await deps.jobs.frameCids(job.id);
    const pngs = await Promise.all(
      job.frames.map(async (f) => {
        const png = await deps.blobs.get(frames[f]);
        if (!png) throw new Error(`stitched frame ${f} is missing from the blob store (${frames[f]})`);
        return Buffer.from(png);
      }),
    );
    const fps = await sceneFps(deps.blobs, job.scene);
    // One delay per frame: a single number sets the first frame's only (sharp), and the rest play at 100 ms.
    const webp = await sharp(pngs, { join: { animated: true } })
      .webp({ loop: 0, delay: pngs.map(() => Math.round(1000 / fps)), lossless: true })
      .toBuffer();
    await deps.jobs.finish(job, await deps.blobs.put(webp));
  } else {
    await deps.jobs.finish(job);
  }
}

/** Thumbnails fit in this many pixels a side. */
const THUMBNAIL_PX = 160;

function thumbnailOf(job: JobRecord, rgba: Uint8Array): Promise<Buffer> {
  return sharp(rgba, { raw: { width: job.width, height: job.height, channels: 4 } })
    .resize({ width: THUMBNAIL_PX, height: THUMBNAIL_PX, fit: 'inside' })
    .webp()
    .toBuffer();
}

async function sceneFps(blobs: ContentStore, sceneCid: string): Promise<number> {
  const bytes = await blobs.get(sceneCid);
  const scene = bytes ? JSON.parse(new TextDecoder().decode(bytes)) : {};
  return scene.animation?.fps ?? 24;
}
