/**
 * Several orchestrator processes, one farm (real Redis, real worker processes): any of them
 * serves any request (a job's live events too), workers fail over between them, a kill -9 of one mid-job loses nothing, and
 * periodic duties run once per period across them. Each keeps its own data directory and an
 * embedded IPFS node: scenes and results one takes in are served and stitched by the others.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { RequesterClient } from '../cli/requester.ts';
import { keys } from '../orchestrator/state/keys.ts';
import { decodeRgba } from '../shared/png.ts';
import type { JobStatus, TaskView } from '../shared/protocol.ts';
import { TestFarm, TOKEN, waitFor } from './support/farm.ts';
import { renderWithCli } from './support/render-cli.ts';
import { ROOT, shippedRaw } from './support/scenes.ts';
import { serverSentEvents } from './support/server-sent-events.ts';

const SIZE = { width: 64, height: 48, spp: 4 };
const JOB = { scene: shippedRaw('bounce'), frames: '0-1', ...SIZE, tileSize: 16, verification: 'quorum' };

let farm: TestFarm | undefined;
afterEach(async () => {
  await farm?.stop();
  farm = undefined;
});

describe('several orchestrators', () => {
  it('renders a job submitted to one through the others after a kill -9, workers failing over, its live view on a third, frames bit-identical, duties once per period', async () => {
    farm = await TestFarm.start({ contentStore: 'ipfs' });
    const peer = await farm.startPeer();
    const third = await farm.startPeer();
    const viaPeer = new RequesterClient(peer.url, TOKEN);
    const redis = new Redis(farm.redis.url);
    const sweeps = async () => Number((await redis.hget(keys.dutyRuns, 'sweep')) ?? 0);
    const [sweptBefore, from] = [await sweeps(), Date.now()];
    // Each worker knows every orchestrator, and starts with a different one; none polls the third.
    // One takes batches of three replicas (one poll, one upload), the other one at a time.
    const a = await farm.startWorker('a', 'honest', { orchestrators: [farm.url, peer.url], capacity: 3 });
    await farm.startWorker('b', 'honest', { orchestrators: [peer.url, farm.url] });
    const { id } = await farm.client.submit(JOB);
    // The job's live view, from the orchestrator no worker talks to: every change reaches it.
    const viaThird = new RequesterClient(third.url, TOKEN);
    const live = serverSentEvents(await viaThird.call('GET', `/api/jobs/${id}/events`));
    await waitFor(async () => (await viaPeer.status(id)).tilesVerified >= 4, 60_000, 'some verified tiles');

    await farm.killOrchestrator();
    const killedAt = Date.now();
    let status: JobStatus | undefined;
    await waitFor(
      async () => {
        status = await viaPeer.status(id);
        return status.state === 'done';
      },
      90_000,
      'the job to finish through the other orchestrator',
    );
    expect(status?.tilesVerified).toBe(status?.tilesTotal);
    // The worker that started on the killed orchestrator carried on through the other.
    const replicas = [];
    for (const frame of [0, 1])
      for (const t of ((await (await viaPeer.call('GET', `/api/jobs/${id}/tasks?frame=${frame}`)).json()) as { tasks: TaskView[] }).tasks)
        replicas.push(...t.replicas);
    expect(replicas.some((r) => r.worker === a.id && r.state === 'valid' && r.assignedAt > killedAt)).toBe(true);
    const streamed: JobStatus = await live.nextWhere('job', (s: JobStatus) => s.state === 'done');
    expect(streamed.tilesVerified).toBe(status?.tilesTotal);
    await live.close();
    // The frames, from the orchestrator nobody talked to.
    for (const frame of [0, 1]) {
      const stitched = await decodeRgba(await viaThird.download(`/api/jobs/${id}/frames/${frame}`));
      const local = await renderWithCli(`${ROOT}scenes/bounce.json`, frame, `${SIZE.width}x${SIZE.height}`, SIZE.spp);
      expect(Buffer.from(stitched.rgba).equals(Buffer.from(local))).toBe(true);
    }
    // Three orchestrators, the one-second sweep once a second across them all.
    const seconds = (Date.now() - from) / 1000;
    expect(await sweeps()).toBeLessThanOrEqual(sweptBefore + Math.ceil(seconds) + 1);
    expect(await sweeps()).toBeGreaterThanOrEqual(sweptBefore + Math.floor(seconds * 0.8));
    // Nothing was shared on disk: each orchestrator's blocks are its own.
    for (const port of [farm.port, new URL(peer.url).port, new URL(third.url).port].map(Number))
      expect(existsSync(join(farm.dataDir(port), 'ipfs', 'blocks.level'))).toBe(true);
    expect(existsSync(join(farm.dataDir(), 'blobs'))).toBe(false);
    redis.disconnect();
  });
});
