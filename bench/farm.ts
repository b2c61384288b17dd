/**
 * `npm run bench:farm`:
 * 1. Dispatch throughput: 5,000 tasks × 2 replicas through the whole farm path (slot queue →
 *    batched long-poll → one signed upload per batch → hash check → verdict → stitch) with no-op
 *    workers, for one orchestrator process and for three on the same Redis, next to bare BullMQ
 *    no-op jobs on that Redis at the same concurrency (workers × replicas each holds). Also the
 *    latency of each replica from its assignment to its task's verdict (p50, p99), and the CPU
 *    each part (orchestrators, workers, Redis; the bench process for bare BullMQ) spent per bare
 *    job or verified task: on a machine of few cores, throughput is its inverse.
 * 2. What a request costs an orchestrator: a worker's signed request that does nothing (GET
 *    /api/work/calibration) against an unsigned one that does nothing (GET /api/farm), in CPU
 *    per request — what a swarm's polls and heartbeats spend before any work.
 * 3. Stitching a 3840×2160 frame from 64-px tiles, against one memcpy + one PNG encode, and
 *    against sharp's composite().
 * 4. Planning the biggest job a farm takes by default (FARM_MAX_TASKS_PER_JOB): from its
 *    submission to every replica slot in its queue (a 3200×1600 frame in 16-px tiles: 20,000
 *    tasks, 40,000 slots), against bare BullMQ adding as many prioritised jobs, a thousand at a
 *    time as planning does.
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
import { assembleFrame } from '../orchestrator/stitcher.ts';
import { encodePng } from '../shared/png.ts';
import type { TaskView } from '../shared/protocol.ts';
import { loadPrivateKey, newKeyPair, workerIdOf } from '../shared/signing.ts';
import { tileGrid } from '../shared/tile.ts';
import { WorkerClient } from '../worker/client.ts';
import { BENCH_TOKEN, startOrchestratorProcess, stopProcess } from './orchestrator-process.ts';
import { median, percentile, processCpuSeconds, redisCpuSeconds, table, timed, writeResult } from './support.ts';

const TASKS = Number(process.env.TASKS ?? 5000);
const WORKERS = Number(process.env.WORKERS ?? 4);
/** Replicas each no-op worker takes per poll (one upload carries them all). */
const CAPACITY = Number(process.env.CAPACITY ?? 8);
const dir = mkdtempSync(join(tmpdir(), 'farm-bench-'));
const redis = await startRedisServer({ dir: join(dir, 'redis') });

/** CPU milliseconds each part of a run used per unit of work (a bare job, or a verified task). */
interface CpuPer {
  redis: number;
  /** The bench process itself (bare BullMQ's queue and workers run in it). */
  bench?: number;
  orchestrators?: number;
  workers?: number;
  total: number;
}

/** Measures the CPU that `run` costs the bench process, Redis and `pids`, per `units` (ms). */
async function cpuOf<T>(
  admin: Redis,
  pids: { orchestrators?: number[]; workers?: number },
  units: number,
  run: () => Promise<T>,
): Promise<{ value: T; cpu: CpuPer }> {
  const read = async () => ({
    redis: await redisCpuSeconds(admin),
    bench: process.cpuUsage(),
    orchestrators: (pids.orchestrators ?? []).reduce((n, pid) => n + processCpuSeconds(pid), 0),
    workers: pids.workers === undefined ? 0 : processCpuSeconds(pids.workers),
  });
  const before = await read();
  const value = await run();
  const after = await read();
  const ms = (seconds: number) => (seconds * 1000) / units;
  const bench = process.cpuUsage(before.bench);
  const cpu: CpuPer = { redis: ms(after.redis - before.redis), total: 0 };
  if (pids.orchestrators) {
    cpu.orchestrators = ms(after.orchestrators - before.orchestrators);
    cpu.workers = ms(after.workers - before.workers);
  } else cpu.bench = ms((bench.user + bench.system) / 1e6);
  cpu.total = cpu.redis + (cpu.bench ?? 0) + (cpu.orchestrators ?? 0) + (cpu.workers ?? 0);
  return { value, cpu };
}

async function bareBullmq(): Promise<{ jobsPerSecond: number; cpu: CpuPer }> {
  const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
  const queue = new Queue('bare', { connection });
  await queue.addBulk(Array.from({ length: TASKS * 2 }, (_, i) => ({ name: 'noop', data: { i }, opts: { removeOnComplete: true } })));
  let done = 0;
  let allDone: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => {
    allDone = resolve;
  });
  const workers = Array.from({ length: WORKERS }, () => {
    const w = new Worker('bare', async () => undefined, { connection, concurrency: CAPACITY });
    w.on('completed', () => {
      if (++done === TASKS * 2) allDone();
    });
    return w;
  });
  const {
    value: { seconds },
    cpu,
  } = await cpuOf(connection, {}, TASKS * 2, () => timed(() => finished));
  await Promise.all(workers.map((w) => w.close()));
  await queue.obliterate({ force: true });
  await queue.close();
  connection.disconnect();
  return { jobsPerSecond: (TASKS * 2) / seconds, cpu };
}

interface FarmRun {
  tasksPerSecond: number;
  /** Each replica's time from its assignment to its task's verdict, ms. */
  latencyMs: { p50: number; p99: number };
  /** CPU per verified task, by process (ms). */
  cpu: CpuPer;
}

/** One orchestrator on the local directory, or several, each with its own IPFS node (as the README deploys them). */
async function farmThroughput(orchestrators: number): Promise<FarmRun> {
  const admin = new Redis(redis.url);
  await admin.flushall();
  const farms = await Promise.all(
    Array.from({ length: orchestrators }, (_, i) =>
      startOrchestratorProcess(redis.url, join(dir, `data-${i}`), orchestrators === 1 ? 'fs' : 'ipfs'),
    ),
  );
  const urls = farms.map((f) => f.url);
  const workers = spawn(
    process.execPath,
    ['--import', 'tsx', new URL('./noop-workers.ts', import.meta.url).pathname, urls.join(','), String(WORKERS), String(CAPACITY)],
    { stdio: 'inherit', env: { ...process.env, FARM_OPERATOR_TOKEN: BENCH_TOKEN } },
  );
  const client = new RequesterClient(urls[0], BENCH_TOKEN);
  // 5,000 tiles of 8×8: an 800×400 frame.
  const scene = {
    version: 1,
    render: { width: 8 * 100, height: 8 * Math.ceil(TASKS / 100), spp: 1 },
    camera: { position: [0, 0, 5], lookAt: [0, 0, 0], fov: 40 },
    materials: [{ name: 'm', type: 'diffuse', albedo: [1, 1, 1] }],
    objects: [{ type: 'sphere', center: [0, 0, 0], radius: 1, material: 'm' }],
  };
  await new Promise((r) => setTimeout(r, 3000)); // let the workers register and calibrate
  const { id } = await client.submit({ scene, tileSize: 8, replicas: 2, verification: 'quorum' });
  const pids = { orchestrators: farms.map((f) => f.proc.pid as number), workers: workers.pid as number };
  const {
    value: { seconds },
    cpu,
  } = await cpuOf(admin, pids, TASKS, () =>
    timed(async () => {
      for (let polls = 0; ; polls++) {
        const s = await client.status(id);
        if (s.state === 'done') return;
        if (s.state !== 'running' && s.state !== 'queued') throw new Error(`bench job ${s.state}`);
        if (polls % 40 === 0) process.stderr.write(`  ${orchestrators} orchestrator(s): ${s.tilesVerified}/${s.tilesTotal} tiles\r`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }),
  );
  admin.disconnect();
  const { tasks } = (await (await client.call('GET', `/api/jobs/${id}/tasks?frame=0`)).json()) as { tasks: TaskView[] };
  const latencies = tasks.flatMap((t) => {
    const verdictAt = Math.max(...t.replicas.map((r) => r.submittedAt ?? 0));
    return t.replicas.filter((r) => r.state === 'valid').map((r) => verdictAt - r.assignedAt);
  });
  await stopProcess(workers);
  await Promise.all(farms.map((f) => stopProcess(f.proc)));
  return { tasksPerSecond: TASKS / seconds, latencyMs: { p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99) }, cpu };
}

const REQUESTS = Number(process.env.REQUESTS ?? 4000);

/**
 * Orchestrator CPU ms per request, unsigned and signed, from 8 clients at a time (each kind warmed
 * up first). What the orchestrator's own timers (sweeps, duties) spend meanwhile is counted too.
 */
async function requestCost(): Promise<{ unsigned: number; signed: number }> {
  const admin = new Redis(redis.url);
  await admin.flushall();
  admin.disconnect();
  const farm = await startOrchestratorProcess(redis.url, join(dir, 'data-requests'), 'fs');
  try {
    const clients = await Promise.all(
      Array.from({ length: 8 }, async () => {
        const { privateKeyPem, publicKeyDer } = newKeyPair();
        const client = new WorkerClient(farm.url, { id: workerIdOf(publicKeyDer), key: loadPrivateKey(privateKeyPem).key, publicKeyDer });
        await client.register('bench', 'farm-noop/1+bench', BENCH_TOKEN);
        return client;
      }),
    );
    /** Sends `perClient` requests from each client; resolves to how many were sent in all. */
    const each = async (perClient: number, send: (c: WorkerClient) => Promise<unknown>) => {
      await Promise.all(
        clients.map(async (c) => {
          for (let i = 0; i < perClient; i++) await send(c);
        }),
      );
      return perClient * clients.length;
    };
    const perRequest = async (send: (c: WorkerClient) => Promise<unknown>) => {
      await each(Math.ceil(REQUESTS / 4 / clients.length), send);
      const before = processCpuSeconds(farm.proc.pid as number);
      const sent = await each(Math.ceil(REQUESTS / clients.length), send);
      return ((processCpuSeconds(farm.proc.pid as number) - before) * 1000) / sent;
    };
    const unsigned = await perRequest(() => fetch(`${farm.url}/api/farm`).then((r) => r.json()));
    const signed = await perRequest((c) => c.calibration());
    return { unsigned, signed };
  } finally {
    await stopProcess(farm.proc);
  }
}

const PLAN = { width: 3200, height: 1600, tileSize: 16, replicas: 2 };
const PLAN_TASKS = (PLAN.width / PLAN.tileSize) * Math.ceil(PLAN.height / PLAN.tileSize);

interface PlanRun {
  seconds: number;
  /** CPU per task (ms), by process. */
  cpu: CpuPer;
}

/** Bare BullMQ: the slots' count of prioritised jobs, added a thousand at a time. */
async function barePlanning(): Promise<PlanRun> {
  const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
  await connection.flushall();
  const queue = new Queue('bare-plan', { connection });
  const slots = PLAN_TASKS * PLAN.replicas;
  const { value, cpu } = await cpuOf(connection, {}, PLAN_TASKS, () =>
    timed(async () => {
      for (let i = 0; i < slots; i += 1000)
        await queue.addBulk(
          Array.from({ length: Math.min(1000, slots - i) }, (_, j) => ({
            name: 'replica',
            data: { task: `t${i + j}` },
            opts: { jobId: `t${i + j}.r0`, priority: 1 + ((i + j) % 100) },
          })),
        );
    }),
  );
  await queue.obliterate({ force: true });
  await queue.close();
  connection.disconnect();
  return { seconds: value.seconds, cpu };
}

/** The farm: one orchestrator plans a submitted job; done when its queue holds every slot. */
async function farmPlanning(): Promise<PlanRun> {
  const admin = new Redis(redis.url, { maxRetriesPerRequest: null });
  await admin.flushall();
  const farm = await startOrchestratorProcess(redis.url, join(dir, 'data-plan'), 'fs');
  const slots = new Queue('slots', { connection: admin });
  const client = new RequesterClient(farm.url, BENCH_TOKEN);
  const scene = {
    version: 1,
    render: { width: PLAN.width, height: PLAN.height, spp: 1 },
    camera: { position: [0, 0, 5], lookAt: [0, 0, 0], fov: 40 },
    materials: [{ name: 'm', type: 'diffuse', albedo: [1, 1, 1] }],
    objects: [{ type: 'sphere', center: [0, 0, 0], radius: 1, material: 'm' }],
  };
  try {
    const { value, cpu } = await cpuOf(admin, { orchestrators: [farm.proc.pid as number] }, PLAN_TASKS, () =>
      timed(async () => {
        await client.submit({ scene, tileSize: PLAN.tileSize, replicas: PLAN.replicas, verification: 'quorum' });
        while ((await slots.getPrioritizedCount()) < PLAN_TASKS * PLAN.replicas) await new Promise((r) => setTimeout(r, 20));
      }),
    );
    return { seconds: value.seconds, cpu };
  } finally {
    await slots.close();
    admin.disconnect();
    await stopProcess(farm.proc);
  }
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

const { jobsPerSecond: bare, cpu: bareCpu } = await bareBullmq();
const one = await farmThroughput(1);
const three = await farmThroughput(3);
const requests = await requestCost();
const stitch = await stitching();
const barePlan = await barePlanning();
const farmPlan = await farmPlanning();
await redis.stop();

const GOAL = 0.25;
console.log(
  `\ndispatch: ${TASKS} tasks × 2 replicas, ${WORKERS} workers × ${CAPACITY} replicas per batch (concurrency ${WORKERS * CAPACITY})\n`,
);
const farmRow = (path: string, run: FarmRun) => ({
  path,
  'per second': Math.round(run.tasksPerSecond).toLocaleString('en'),
  unit: 'tasks',
  'ratio vs bare': (run.tasksPerSecond / bare).toFixed(3),
  'p50 ms': String(run.latencyMs.p50),
  'p99 ms': String(run.latencyMs.p99),
});
console.log(
  table([
    {
      path: 'bare BullMQ, no-op jobs',
      'per second': Math.round(bare).toLocaleString('en'),
      unit: 'jobs',
      'ratio vs bare': '1.000',
      'p50 ms': '',
      'p99 ms': '',
    },
    farmRow('farm, 1 orchestrator (local dir): verified tasks', one),
    farmRow('farm, 3 orchestrators (IPFS): verified tasks', three),
  ]),
);
console.log(`goal: 1 orchestrator ≥ ${GOAL} × bare: ${one.tasksPerSecond / bare >= GOAL ? 'met' : 'not met'}`);
// Where the time goes: on a machine of few cores, throughput is the inverse of this.
const ms = (x: number | undefined) => (x === undefined ? '' : x.toFixed(3));
const cpuRow = (path: string, cpu: CpuPer) => ({
  path,
  orchestrators: ms(cpu.orchestrators),
  workers: ms(cpu.workers),
  'bench process': ms(cpu.bench),
  Redis: ms(cpu.redis),
  total: ms(cpu.total),
});
console.log('\nCPU ms per bare job or verified task (2 replicas), by process\n');
console.log(
  table([
    cpuRow('bare BullMQ, per job', bareCpu),
    cpuRow('farm, 1 orchestrator, per task', one.cpu),
    cpuRow('farm, 3 orchestrators, per task', three.cpu),
  ]),
);
console.log(`\norchestrator CPU per request (${REQUESTS.toLocaleString('en')} of each, 8 clients at a time)\n`);
console.log(
  table([
    { request: 'unsigned: GET /api/farm (baseline)', 'CPU ms': requests.unsigned.toFixed(2), 'ratio vs baseline': '1.00' },
    {
      request: "a worker's, signed: GET /api/work/calibration",
      'CPU ms': requests.signed.toFixed(2),
      'ratio vs baseline': (requests.signed / requests.unsigned).toFixed(2),
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
  `\nplanning a ${PLAN.width}×${PLAN.height} frame in ${PLAN.tileSize}-px tiles: ${PLAN_TASKS.toLocaleString('en')} tasks, ${(PLAN_TASKS * PLAN.replicas).toLocaleString('en')} slots\n`,
);
const planRow = (path: string, run: PlanRun) => ({
  path,
  seconds: run.seconds.toFixed(2),
  'ratio vs bare': (run.seconds / barePlan.seconds).toFixed(2),
  'CPU µs a task: orchestrator': run.cpu.orchestrators === undefined ? '' : (run.cpu.orchestrators * 1000).toFixed(0),
  'bench process': run.cpu.bench === undefined ? '' : (run.cpu.bench * 1000).toFixed(0),
  Redis: (run.cpu.redis * 1000).toFixed(0),
});
console.log(
  table([
    planRow('bare BullMQ: addBulk of the slots, 1,000 at a time (baseline)', barePlan),
    planRow('farm: submission to every slot queued', farmPlan),
  ]),
);
console.log(
  `results: ${writeResult('farm', {
    tasks: TASKS,
    workers: WORKERS,
    capacity: CAPACITY,
    bareJobsPerSecond: bare,
    bareCpuMsPerJob: bareCpu,
    oneOrchestrator: { ...one, ratio: one.tasksPerSecond / bare },
    threeOrchestrators: { ...three, ratio: three.tasksPerSecond / bare },
    goal: { ratio: GOAL, met: one.tasksPerSecond / bare >= GOAL },
    requestCpuMs: requests,
    stitch,
    planning: { tasks: PLAN_TASKS, slots: PLAN_TASKS * PLAN.replicas, bare: barePlan, farm: farmPlan },
  })}`,
);
process.exit(0);
