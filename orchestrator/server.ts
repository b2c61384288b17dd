/**
 * The orchestrator process: wires Redis state, BullMQ queues (planning, replica slots, frame
 * assembly), the blob store and the HTTP API, repairs what a crash may have left, and shuts down
 * within a deadline of its own (BullMQ's close() has none).
 */
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { assembleFrameJob } from './assembly.ts';
import { backtrack } from './backtrack.ts';
import { FsBlobStore } from './blobstore.ts';
import { ChangeFeed } from './change-feed.ts';
import type { OrchestratorConfig } from './config.ts';
import { Dispatcher } from './dispatch.ts';
import { queueBoard } from './http/admin.ts';
import { createApp } from './http/app.ts';
import { Metrics } from './metrics.ts';
import { planJobTasks } from './planning.ts';
import { recover } from './recovery.ts';
import type { ResultDeps } from './results.ts';
import { Jobs } from './state/jobs.ts';
import { Ledger } from './state/ledger.ts';
import { connectRedis } from './state/redis.ts';
import { Tasks } from './state/tasks.ts';
import { Tokens } from './state/tokens.ts';
import { Workers } from './state/workers.ts';
import { settleTimedOutJobs } from './timeouts.ts';

const SHUTDOWN_DEADLINE_MS = 10_000;
const TIMEOUT_SWEEP_MS = 2000;
const KEEP = { removeOnComplete: { age: 24 * 3600 }, removeOnFail: { age: 7 * 24 * 3600 } };

export interface RunningOrchestrator {
  url: string;
  token: string;
  close(): Promise<void>;
}

export async function startOrchestrator(config: OrchestratorConfig): Promise<RunningOrchestrator> {
  const log = pino({ level: config.logLevel, base: { process: 'orchestrator' } });
  const redis = connectRedis(config.redisUrl);
  redis.on('error', (err) => log.warn({ err: err.message }, 'redis connection error'));
  const bull = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
  bull.on('error', () => undefined);
  await warnAboutEviction(redis, log);

  const jobs = new Jobs(redis);
  const tasks = new Tasks(redis, config);
  const ledger = new Ledger(redis);
  const workers = new Workers(redis, 2 * config.leaseMs, config.saboteurFraction);
  const tokens = new Tokens(redis);
  const blobs = new FsBlobStore(config.dataDir);
  const plans = new Queue('plans', { connection: bull, streams: { events: { maxLen: 1000 } } });
  const frames = new Queue('frames', { connection: bull, streams: { events: { maxLen: 1000 } } });
  for (const q of [plans, frames]) q.on('error', (err) => log.warn({ err: err.message, queue: q.name }, 'queue error'));
  const queues = new Set([plans, frames]);
  const metrics = new Metrics({
    tileCounts: () => jobs.tileCounts(),
    connectedWorkers: async () => (await workers.list()).filter((w) => workers.isOnline(w)).length,
    queues: () => queues,
  });
  const dispatch = new Dispatcher(
    bull,
    tasks,
    { leaseMs: config.leaseMs, taskTimeoutMs: config.taskTimeoutMs, pollMs: config.pollMs, spotCheckRate: config.spotCheckRate },
    log,
    metrics,
  );
  const board = queueBoard([plans, frames]);
  dispatch.eachQueue((queue) => {
    queues.add(queue);
    board.add(queue);
  });
  const subscriber = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
  subscriber.on('error', () => undefined);
  const feed = new ChangeFeed(subscriber);
  const enqueuePlan = async (job: string) =>
    void (await plans.add('plan', { job }, { jobId: `plan.${job}`, attempts: 5, backoff: { type: 'exponential', delay: 500 }, ...KEEP }));
  // Each completion of a frame (a reopened frame completes again) is its own stitch job.
  const enqueueStitch = async (job: string, frame: number, completion: number | string) => {
    await frames.add(
      'stitch',
      { job, frame, completion },
      { jobId: `stitch.${job}.f${frame}.c${completion}`, attempts: 5, backoff: { type: 'exponential', delay: 500 }, ...KEEP },
    );
  };

  const planner = new Worker('plans', async (j) => planJobTasks({ jobs, tasks, dispatch }, j.data.job), {
    connection: bull,
    concurrency: 2,
  });
  const assembler = new Worker(
    'frames',
    async (j) => assembleFrameJob({ jobs, tasks, blobs }, j.data.job, j.data.frame, j.data.completion),
    {
      connection: bull,
      concurrency: 2,
    },
  );
  for (const w of [planner, assembler]) {
    w.on('error', (err) => log.warn({ err: err.message }, 'queue worker error'));
    w.on('failed', (j, err) => log.error({ job: j?.data?.job, frame: j?.data?.frame, err: err.message }, `${w.name} job failed`));
  }
  assembler.on('completed', (j) => log.info({ job: j.data.job, frame: j.data.frame }, 'frame stitched'));

  const token = config.token ?? `farm_${randomBytes(24).toString('base64url')}`;
  await tokens.add(token, 'operator', 'operator');
  const startedAt = Date.now();
  await recover({
    jobs,
    tasks,
    dispatch,
    replan: enqueuePlan,
    restitch: (job, frame) => enqueueStitch(job, frame, `recovered${startedAt}`),
    log,
  });

  const resultDeps: ResultDeps = {
    tasks,
    jobs,
    workers,
    blobs,
    dispatch,
    log,
    metrics,
    onFrameVerified: enqueueStitch,
    saboteurFraction: config.saboteurFraction,
    backtrack: async (worker) => void (await backtrack(resultDeps, worker)),
  };
  const app = createApp({
    ...resultDeps,
    redis,
    tokens,
    ledger,
    enqueuePlan,
    feed,
    board,
    scenesDir: config.scenesDir,
    dashboardDir: config.dashboardDir,
    maxSceneBytes: config.maxSceneBytes,
    maxResultBytes: config.maxResultBytes,
    heartbeatMs: Math.max(100, Math.floor(config.leaseMs / 3)),
  });
  const sweeper = setInterval(() => {
    settleTimedOutJobs({ jobs, tasks, workers, onFrameVerified: enqueueStitch, log }).catch((err) =>
      log.warn({ err: err.message }, 'timeout sweep failed'),
    );
  }, TIMEOUT_SWEEP_MS);

  const server: Server = await new Promise((resolve) => {
    const s = app.listen(config.port, config.host, () => resolve(s));
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const url = `http://${config.host}:${port}`;
  log.info({ url, dataDir: config.dataDir }, 'orchestrator listening');

  return {
    url,
    token,
    async close() {
      const deadline = new Promise<void>((resolve) => setTimeout(resolve, SHUTDOWN_DEADLINE_MS).unref());
      clearInterval(sweeper);
      const closing = (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await dispatch.close();
        await feed.close();
        await Promise.all([planner.close(), assembler.close(), plans.close(), frames.close()]);
        await Promise.all([redis.quit(), bull.quit()]).catch(() => undefined);
      })();
      await Promise.race([closing, deadline]);
    },
  };
}

/** BullMQ and the farm's state need `maxmemory-policy noeviction`: say so loudly when it is not. */
async function warnAboutEviction(redis: Redis, log: pino.Logger): Promise<void> {
  try {
    const [, policy] = (await redis.config('GET', 'maxmemory-policy')) as string[];
    if (policy !== 'noeviction') log.warn({ policy }, 'Redis maxmemory-policy should be noeviction, or queued work may be evicted');
  } catch {
    // CONFIG may be disabled on managed Redis; nothing to check then.
  }
}
