/** `farm submit`: uploads a job; with --wait shows progress and downloads the stitched frames. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ASSET_MIN_BYTES, assetUses, packAssets, useBytes } from '../shared/assets.ts';
import { farmLimitIssues, inRequest } from '../shared/farm-limits.ts';
import { parseFrameRange } from '../shared/frames.ts';
import { formatCredits as credits } from '../shared/money.ts';
import type { JobEstimate, JobStatus } from '../shared/protocol.ts';
import { frameCount, type Scene, withOverrides } from '../shared/scene.ts';
import { progressBar } from './progress.ts';
import { RequesterClient, RequestFailed } from './requester.ts';
import { parseSize, readSceneFile } from './scene-file.ts';

export interface SubmitFlags {
  orchestrator: string;
  token?: string;
  frames?: string;
  tile: string;
  size?: string;
  spp?: string;
  sky?: string;
  camera?: string;
  verification: 'credibility' | 'quorum';
  epsilon: string;
  replicas: string;
  maxPrice?: string;
  budget?: string;
  priority: string;
  estimate?: boolean;
  wait?: boolean;
  out: string;
}

export async function submitCommand(scenePath: string, flags: SubmitFlags): Promise<void> {
  const client = RequesterClient.fromFlags(flags);
  const { raw, scene } = await readSceneFile(scenePath, { sky: flags.sky, camera: flags.camera });
  const { manifest, assets } = await packAssets(raw, ASSET_MIN_BYTES);
  const optional = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  const request = {
    scene: manifest,
    frames: flags.frames,
    tileSize: Number(flags.tile),
    verification: flags.verification,
    epsilon: Number(flags.epsilon),
    replicas: Number(flags.replicas),
    maxPrice: optional(flags.maxPrice),
    budget: optional(flags.budget),
    priority: Number(flags.priority),
    spp: optional(flags.spp),
    ...(flags.size ? parseSize(flags.size) : {}),
  };
  await refuseOverFarmLimits(
    client,
    scene,
    useBytes(assetUses(manifest), (cid) => assets.get(cid)?.length),
    request,
  );
  const upload = await client.uploadAssets(assets);
  if (assets.size > 0)
    process.stdout.write(
      `assets: ${assets.size} (${megabytes(upload.bytes + upload.storedBytes)} MB), ${upload.sent} uploaded, ${assets.size - upload.sent} already stored\n`,
    );
  const quote = (await (await client.call('POST', '/api/jobs/estimate', request)).json()) as JobEstimate;
  process.stdout.write(`${describeEstimate(quote)}\n`);
  if (flags.estimate) return;
  const job = await client.submit(request);
  process.stdout.write(`job ${job.id}: ${job.frames.length} frame(s), ${job.tilesTotal} tiles\n`);
  if (!flags.wait) return;
  const status = await waitForJob(client, job.id);
  const { spent, fees, ru } = status.cost;
  process.stdout.write(
    `cost: ${credits(spent)} credits for ${ru.toPrecision(3)} RU${ru > 0 ? ` (${(spent / ru).toFixed(3)} credits/RU on average)` : ''}, fees ${credits(fees)} included\n`,
  );
  const files = await downloadOutputs(client, status, flags.out);
  process.stdout.write(`${files.map((f) => `wrote ${f}`).join('\n')}\n`);
}

const megabytes = (bytes: number) => (bytes / 1e6).toFixed(1);

/**
 * The farm's own limits (GET /api/limits), checked here so an over-limit scene uploads nothing. A
 * farm older than the route has none to publish: it still checks the scene when the job arrives.
 */
async function refuseOverFarmLimits(
  client: RequesterClient,
  scene: Scene,
  /** Its asset bytes, each asset counted at every use (as the farm counts them). */
  assetBytes: number,
  request: { frames?: string; width?: number; height?: number; spp?: number },
): Promise<void> {
  const limits = await client.limits().catch((e: unknown) => {
    if (e instanceof RequestFailed && e.status === 404) return undefined;
    throw e;
  });
  if (!limits) return;
  const sized = withOverrides(scene, { width: request.width, height: request.height, spp: request.spp });
  const frames = request.frames === undefined ? frameCount(sized) : parseFrameRange(request.frames, frameCount(sized)).length;
  const over = inRequest(farmLimitIssues(sized, limits, { frames, assetBytes }), request);
  if (over.length > 0)
    throw new Error(
      `this farm's limits refuse the scene (nothing was uploaded):\n${over.map((i) => `  ${i.path}: ${i.message}`).join('\n')}`,
    );
}

export function describeEstimate(q: JobEstimate): string {
  const price = q.price === null ? 'no market price yet' : `${q.price} credits/RU`;
  const basis = q.basis === 'budget' ? 'its budget' : q.basis === 'bid' ? 'at your limit' : 'at the market price';
  return (
    `estimate: ${q.tasks} tiles, at most ${q.maxRu.toPrecision(3)} RU per replica × ${q.redundancy} replicas expected, ${price}; ` +
    `holds ${credits(q.hold)} credits in escrow (${basis}; what it does not spend comes back), your balance ${credits(q.balance)}`
  );
}

/** Pause before re-opening a dropped event stream (orchestrator restart, network). */
const RECONNECT_MS = 1000;

/**
 * Follows the job's live events, showing tiles verified / total with an ETA, until it finishes;
 * a dropped stream is re-opened (it starts with the current status, so nothing is missed). What
 * holds it up (its limit under the price, an escrow that cannot pay for a tile, a full store) is
 * said on stderr each time it changes: a bar that stands still says nothing.
 */
export async function waitForJob(client: RequesterClient, id: string): Promise<JobStatus> {
  const bar = progressBar(`job ${id.slice(0, 9)}`);
  let heldUp: string | null = null;
  try {
    for (;;) {
      try {
        for await (const s of client.statusStream(id)) {
          if (s.heldUp !== heldUp && s.heldUp) process.stderr.write(`job ${id} held up: ${s.heldUp}\n`);
          heldUp = s.heldUp;
          bar.update(
            s.tilesVerified,
            s.tilesTotal,
            `tiles verified, ${s.framesDone}/${s.frames.length} frames, ${s.replicasRendered} replicas`,
          );
          if (s.state === 'done') return s;
          if (s.state === 'failed' || s.state === 'cancelled') throw new JobEnded(`job ${id} ${s.state}${s.error ? `: ${s.error}` : ''}`);
        }
      } catch (e) {
        // Only a lost connection or a server error is worth another try.
        if (e instanceof JobEnded || (e instanceof RequestFailed && e.status < 500)) throw e;
      }
      await new Promise((r) => setTimeout(r, RECONNECT_MS));
    }
  } finally {
    bar.stop();
  }
}

class JobEnded extends Error {
  override name = 'JobEnded';
}

export async function downloadOutputs(client: RequesterClient, status: JobStatus, dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const files: string[] = [];
  for (const { frame } of status.frames) {
    const file = join(dir, `frame-${String(frame).padStart(4, '0')}.png`);
    await writeFile(file, await client.download(`/api/jobs/${status.id}/frames/${frame}`));
    files.push(file);
  }
  if (status.animation) {
    const file = join(dir, 'animation.webp');
    await writeFile(file, await client.download(status.animation));
    files.push(file);
  }
  return files;
}
