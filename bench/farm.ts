/**
 * `npm run bench:farm`:
 * 1. Dispatch throughput: 5,000 tasks × 2 replicas through the whole farm path (slot queue →
 *    long-poll → signed upload → hash check → verification → stitch) with no-op workers, next to
 *    bare BullMQ no-op jobs on the same Redis at the same worker concurrency.
 * 2. Stitching a 3840×2160 frame from 64-px tiles, against one memcpy + one PNG encode, and
 *    against sharp's composite().
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import sharp from 'sharp';
import { startRedisServer } from '../cli/redis-server.ts';
import { RequesterClient } from '../cli/requester.ts';
import { OrchestratorConfig } from '../orchestrator/config.ts';
import { startOrchestrator } from '../orchestrator/server.ts';
import { assembleFrame } from '../orchestrator/stitcher.ts';
import { encodePng } from '../shared/png.ts';
import { tileGrid } from '../shared/tile.ts';
import { median, table, timed, writeResult } from './support.ts';

const TASKS = Number(process.env.TASKS ?? 5000);
const WORKERS = Number(process.env.WORKERS ?? 4);
const dir = mkdtempSync(join(tmpdir(), 'farm-bench-'));
const redis = await startRedisServer({ dir: join(dir, 'redis') });

async function bareBullmq(): Promise<number> {
  const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
  const queue = new Queue('bare', { connection });
  await queue.addBulk(Array.from({ length: TASKS * 2 }, (_, i) => ({ name: 'noop', data: { i }, opts: { removeOnComplete: true } })));
  let done = 0;
  let allDone: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => {
    allDone = resolve;
  });
  const workers = Array.from({ length: WORKERS }, () => {
    const w = new Worker('bare', async () => undefined, { connection, concurrency: 1 });
    w.on('completed', () => {
      if (++done === TASKS * 2) allDone();
    });
    return w;
  });
  const { seconds } = await timed(() => finished);
  await Promise.all(workers.map((w) => w.close()));
  await queue.obliterate({ force: true });
  await queue.close();
  connection.disconnect();
  return (TASKS * 2) / seconds;
}

async function farmThroughput(): Promise<number> {
  const farm = await startOrchestrator(
    OrchestratorConfig.parse({
      port: 0,
      redisUrl: redis.url,
      dataDir: join(dir, 'data'),
      token: 'bench-token-123',
      // The no-op workers are the operator's own (no stake, no spot checks) and talk fast: only
      // the dispatch path is measured.
      spotCheckRate: 0,
      workerRequestsPerSecond: 100_000,
      workerRequestsPerAddressPerSecond: 100_000,
      logLevel: 'silent',
      pollMs: 2000,
    }),
  );
  const workers = spawn(
    process.execPath,
    ['--import', 'tsx', new URL('./noop-workers.ts', import.meta.url).pathname, farm.url, String(WORKERS)],
    { stdio: 'inherit', env: { ...process.env, FARM_OPERATOR_TOKEN: 'bench-token-123' } },
  );
  const client = new RequesterClient(farm.url, 'bench-token-123');
  // 5,000 tiles of 8×8: an 800×400 frame.
  const scene = {
    version: 1,
    render: { width: 8 * 100, height: 8 * Math.ceil(TASKS / 100), spp: 1 },
    camera: { position: [0, 0, 5], lookAt: [0, 0, 0], fov: 40 },
    materials: [{ name: 'm', type: 'diffuse', albedo: [1, 1, 1] }],
    objects: [{ type: 'sphere', center: [0, 0, 0], radius: 1, material: 'm' }],
  };
  await new Promise((r) => setTimeout(r, 1500)); // let the workers register
  const { value: seconds } = await timed(async () => {
    const started = performance.now();
    const { id } = await client.submit({ scene, tileSize: 8, replicas: 2, verification: 'quorum' });
    for (;;) {
      const s = await client.status(id);
      if (s.state === 'done') return (performance.now() - started) / 1000;
      if (s.state !== 'running' && s.state !== 'queued') throw new Error(`bench job ${s.state}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  });
  workers.kill('SIGTERM');
  await new Promise((r) => workers.once('exit', r));
  await farm.close();
  return TASKS / seconds;
}

async function stitching() {
  const W = 3840;
  const H = 2160;
  const tiles = tileGrid(W, H, 64).map((rect) => ({
    rect,
    rgba: new Uint8Array(rect.width * rect.height * 4).map((_, i) => (i * 31 + rect.x) & 255),
  }));
  const whole = Buffer.from(assembleFrame(W, H, tiles));
  const runs = { stitch: [] as number[], baseline: [] as number[], composite: [] as number[] };
  for (let i = 0; i < 7; i++) {
    runs.stitch.push((await timed(() => encodePng({ width: W, height: H, rgba: assembleFrame(W, H, tiles) }))).seconds);
    runs.baseline.push(
      (
        await timed(() => {
          const copy = Buffer.allocUnsafe(whole.length);
          whole.copy(copy);
          return encodePng({ width: W, height: H, rgba: copy });
        })
      ).seconds,
    );
  }
  const inputs = await Promise.all(
    tiles.map(async (t) => ({
      input: await sharp(t.rgba, { raw: { width: t.rect.width, height: t.rect.height, channels: 4 } })
        .png({ compressionLevel: 0 })
        .toBuffer(),
      left: t.rect.x,
      top: t.rect.y,
    })),
  );
  runs.composite.push(
    (
      await timed(() =>
        sharp({ create: { width: W, height: H, channels: 4, background: '#000' } })
          .composite(inputs)
          .png({ compressionLevel: 6 })
          .toBuffer(),
      )
    ).seconds,
  );
  return { tiles: tiles.length, stitch: median(runs.stitch), baseline: median(runs.baseline), composite: median(runs.composite) };
}

const bare = await bareBullmq();
const farm = await farmThroughput();
const stitch = await stitching();
await redis.stop();

console.log(`\ndispatch: ${TASKS} tasks × 2 replicas, ${WORKERS} workers at concurrency 1\n`);
console.log(
  table([
    { path: 'bare BullMQ, no-op jobs', 'per second': Math.round(bare).toLocaleString('en'), unit: 'jobs', 'ratio vs bare': '1.00' },
    {
      path: 'farm: verified tasks (2 replicas each)',
      'per second': Math.round(farm).toLocaleString('en'),
      unit: 'tasks',
      'ratio vs bare': (farm / bare).toFixed(2),
    },
    {
      path: 'farm: replicas through the full path',
      'per second': Math.round(farm * 2).toLocaleString('en'),
      unit: 'replicas',
      'ratio vs bare': ((farm * 2) / bare).toFixed(2),
    },
  ]),
);
console.log(`\nstitching 3840×2160 from ${stitch.tiles} tiles of 64 px (median of 7)\n`);
console.log(
  table([
    { method: 'memcpy + one PNG encode (baseline)', seconds: stitch.baseline.toFixed(3), 'ratio vs baseline': '1.00' },
    {
      method: 'row copies + one PNG encode (farm)',
      seconds: stitch.stitch.toFixed(3),
      'ratio vs baseline': (stitch.stitch / stitch.baseline).toFixed(2),
    },
    {
      method: 'sharp composite() + encode',
      seconds: stitch.composite.toFixed(3),
      'ratio vs baseline': (stitch.composite / stitch.baseline).toFixed(2),
    },
  ]),
);
console.log(
  `results: ${writeResult('farm', { tasks: TASKS, workers: WORKERS, bareJobsPerSecond: bare, farmTasksPerSecond: farm, ratio: farm / bare, stitch })}`,
);
process.exit(0);
