/** The farm end to end: real Redis, orchestrator and worker processes, real HTTP. */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeRgba } from '../shared/png.ts';
import { Renderer } from '../worker/render/renderer.ts';
import { distinctVoters, TestFarm, TOKEN } from './support/farm.ts';
import { renderWithCli } from './support/render-cli.ts';
import { ROOT, shipped, shippedRaw } from './support/scenes.ts';

const BOUNCE = `${ROOT}scenes/bounce.json`;
const JOB = { scene: shippedRaw('bounce'), frames: '0-1', width: 64, height: 48, spp: 4, tileSize: 24, verification: 'quorum' };

let farm: TestFarm | undefined;
afterEach(async () => {
  await farm?.stop();
  farm = undefined;
});

async function expectFramesMatchLocalRender(f: TestFarm, id: string, frames: number[]): Promise<void> {
  for (const frame of frames) {
    const stitched = await decodeRgba(await f.client.download(`/api/jobs/${id}/frames/${frame}`));
    expect(stitched.width).toBe(64);
    const local = await renderWithCli(BOUNCE, frame, '64x48', 4);
    expect(Buffer.from(stitched.rgba).equals(Buffer.from(local))).toBe(true);
  }
}

describe('farm', () => {
  it('renders a 2-frame job on 3 workers, bit-identical to farm render', async () => {
    farm = await TestFarm.start();
    const workers = await Promise.all(['a', 'b', 'c'].map((n) => (farm as TestFarm).startWorker(n)));
    const { id, tilesTotal } = await farm.client.submit(JOB);
    expect(tilesTotal).toBe(12);
    const status = await farm.waitForJob(id);
    expect(status).toMatchObject({ state: 'done', tilesVerified: 12, tilesTotal: 12, framesDone: 2 });
    expect(status.frames.every((f) => f.done && f.tilesVerified === 6)).toBe(true);
    expect(status.replicasRendered).toBeGreaterThanOrEqual(24);
    await expectFramesMatchLocalRender(farm, id, [0, 1]);

    const webp = await farm.client.download(`/api/jobs/${id}/animation`);
    const animation = await decodeRgba(webp);
    expect(animation.width).toBe(64);
    // Every frame plays at the scene's 24 fps, not only the first.
    expect((await sharp(webp).metadata()).delay).toEqual([42, 42]);
    const renderer = await Renderer.open('webasm');
    let rays = 0;
    for (const frame of [0, 1]) {
      // The metered work of a tile is the same on every replica, and the tiles add up to the frame.
      const full = await renderer.render(shipped('bounce', { width: 64, height: 48, spp: 4 }), frame);
      let frameRays = 0;
      for (const task of await farm.tasks(id, frame)) {
        expect(task.state).toBe('verified');
        const agreeing = task.replicas.filter((r) => r.state === 'valid');
        expect(agreeing.length).toBeGreaterThanOrEqual(2);
        expect(distinctVoters(task)).toBe(true);
        expect(agreeing.every((r) => r.rays === task.rays)).toBe(true);
        frameRays += task.rays ?? 0;
      }
      expect(frameRays).toBe(full.rays);
      rays += frameRays;
    }
    renderer.close();
    expect((await farm.client.status(id)).raysVerified).toBe(rays);
    const counts = await Promise.all(workers.map((w) => (farm as TestFarm).worker(w.id)));
    expect(counts.reduce((n, w) => n + (w?.valid ?? 0), 0)).toBe(status.replicasRendered);
    expect(counts.every((w) => w?.invalid === 0 && w.online)).toBe(true);
  });

  it('farm submit --wait follows the job and downloads its frames and animation', async () => {
    farm = await TestFarm.start();
    await Promise.all(['a', 'b'].map((n) => (farm as TestFarm).startWorker(n)));
    const out = join(farm.dir, 'out');
    const flags = ['--frames', '0-1', '--size', '64x48', '--spp', '4', '--tile', '24', '--verification', 'quorum', '--wait', '--out', out];
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [join(ROOT, 'bin/farm.js'), 'submit', BOUNCE, '--orchestrator', farm.url, ...flags],
      {
        env: { ...process.env, FARM_TOKEN: TOKEN },
      },
    );
    const id = /^job (j[0-9a-f]+): 2 frame\(s\), 12 tiles$/m.exec(stdout)?.[1];
    expect(id).toBeDefined();
    expect(stdout).toContain(`wrote ${join(out, 'animation.webp')}`);
    await expectFramesMatchLocalRender(farm, id as string, [0, 1]);
    for (const frame of [0, 1]) {
      const file = await decodeRgba(await readFile(join(out, `frame-000${frame}.png`)));
      expect(
        Buffer.from(file.rgba).equals(Buffer.from((await decodeRgba(await farm.client.download(`/api/jobs/${id}/frames/${frame}`))).rgba)),
      ).toBe(true);
    }
  });

  it('rejects a rogue worker’s pixels and still finishes correctly', async () => {
    farm = await TestFarm.start();
    await farm.startWorker('honest-1');
    await farm.startWorker('honest-2');
    const rogue = await farm.startWorker('rogue', 'rogue');
    const { id } = await farm.client.submit(JOB);
    await farm.waitForJob(id);
    await expectFramesMatchLocalRender(farm, id, [0, 1]);
    const r = await farm.worker(rogue.id);
    expect(r?.invalid).toBeGreaterThan(0);
    expect(r?.valid).toBe(0);
    for (const task of await farm.tasks(id, 0)) {
      const rogueReplica = task.replicas.find((x) => x.worker === rogue.id && x.cid);
      if (rogueReplica) expect(rogueReplica.state).toBe('invalid');
      expect(task.cid).not.toBe(rogueReplica?.cid);
    }
  });

  it('never gives two replicas of a task to one worker, even when it is much faster', async () => {
    farm = await TestFarm.start();
    const fast = await farm.startWorker('fast');
    await farm.startWorker('slow-1', 'slow', { env: { FARM_TEST_DELAY_MS: '700' } });
    await farm.startWorker('slow-2', 'slow', { env: { FARM_TEST_DELAY_MS: '700' } });
    const { id } = await farm.client.submit({ ...JOB, frames: '0' });
    await farm.waitForJob(id);
    const tasks = await farm.tasks(id, 0);
    for (const task of tasks) expect(distinctVoters(task)).toBe(true);
    const fastReplicas = tasks.filter((t) => t.replicas.some((r) => r.worker === fast.id)).length;
    // The fast worker takes a replica of (nearly) every task, but only one each.
    expect(fastReplicas).toBeGreaterThanOrEqual(tasks.length - 1);
  });
});
