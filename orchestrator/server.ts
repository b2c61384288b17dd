/**
 * The orchestrator process: wires Redis state, BullMQ queues (planning, replica slots, frame
 * assembly, closing jobs), the blob store, the verdict runner and the HTTP API, repairs what a
 * crash may have left, and shuts down within a deadline of its own (BullMQ's close() has none).
 */

import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { MIB } from '../shared/bytes.ts';
import { FarmLimits } from '../shared/farm-limits.ts';
import { toBookUnits, toTicks } from '../shared/market.ts';
import { Afterwards } from './afterwards.ts';
import { assembleFrameJob } from './assembly.ts';
import { ByteLru } from './byte-lru.ts';
import { calibrationSpec } from './calibration.ts';
import { ChangeFeed } from './change-feed.ts';
import { economyOf, type OrchestratorConfig } from './config.ts';
import { openContentStore } from './content/open.ts';
import { Dispatcher } from './dispatch.ts';
import { type Duty, schedule } from './duties.ts';
import { enqueueOnce } from './enqueue-once.ts';
import { queueBoard } from './http/admin.ts';
import { createApp } from './http/app.ts';
import { createLimits } from './http/limits.ts';
import { leaseTerms } from './lease-terms.ts';
import { collarOf } from './market/book.ts';
import { runForwardDuty } from './market/forward-duty.ts';
import { type ForwardSettings, windowAt } from './market/forwards.ts';
import { clearMarketInterval, type IntervalDeps } from './market/interval.ts';
import { Metrics } from './metrics.ts';
import { planJobTasks } from './planning.ts';
import { readAtMostEvery } from './read-cache.ts';
import { recover } from './recovery.ts';
import { type RerunDeps, rerunMarked } from './rerun.ts';
import { collectBlobs, deleteDueJobs, type RetentionDeps, trimLedgers } from './retention/duty.ts';
import { refreshSlots } from './slot-refresh.ts';
import { AssetIndex } from './state/assets.ts';
import { AvailabilityReader } from './state/availability.ts';
import { Classes } from './state/classes.ts';
import { farmId } from './state/farm-id.ts';
import { Forwards } from './state/forwards.ts';
import { Jobs } from './state/jobs.ts';
import { KnownAnswers } from './state/known-answers.ts';
import { Ledger } from './state/ledger.ts';
import { Market } from './state/market.ts';
import { Orchestrators } from './state/orchestrators.ts';
import { connectRedis } from './state/redis.ts';
import { Tasks } from './state/tasks.ts';
import { Tokens } from './state/tokens.ts';
import { Webhooks } from './state/webhooks.ts';
import { Workers } from './state/workers.ts';
import { StorageMonitor } from './storage.ts';
import { sweep } from './sweeper.ts';
import { judgeSpotCheck, type UploadDeps } from './uploads.ts';
import { VerdictRunner } from './verdict/runner.ts';
import { startWebhooks } from './webhooks/service.ts';

const SHUTDOWN_DEADLINE_MS = 10_000;
const SWEEP_MS = 1000;
/**
 * An orchestrator says it is alive this often; one silent for ALIVE_WITHIN_MS is taken for dead,
 * and the farm recovers what it left (state/orchestrators.ts), looking every RECOVERY_LOOK_MS.
 */
const ALIVE_EVERY_MS = 2000;
const ALIVE_WITHIN_MS = 15_000;
const RECOVERY_LOOK_MS = 5000;
/** How often, and how many at a time, marked tiles are looked at for a trusted worker to re-run them. */
const RERUN_MARKED_MS = 10_000;
const RERUN_MARKED_AT_ONCE = 64;
/** Pending tasks of a closed job wound down per script call. */
const CLOSE_BATCH = 200;
/** How much longer than a worker's heartbeat interval an idle connection is kept open. */
const KEEP_ALIVE_MARGIN_MS = 5000;
const KEEP = { removeOnComplete: { age: 24 * 3600 }, removeOnFail: { age: 7 * 24 * 3600 } };
const RETRIED = { attempts: 5, backoff: { type: 'exponential', delay: 500 }, ...KEEP };

export interface RunningOrchestrator {
  url: string;
  token: string;
  /** Resolves once the verdicts its answers to uploads started are in (afterwards.ts). */
  idle(): Promise<void>;
  close(): Promise<void>;
}

export async function startOrchestrator(config: OrchestratorConfig): Promise<RunningOrchestrator> {
  const log = pino({ level: config.logLevel, base: { process: 'orchestrator' } });
  const redis = connectRedis(config.redisUrl);
  redis.on('error', (err) => log.warn({ err: err.message }, 'redis connection error'));
  const bull = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
  bull.on('error', () => undefined);
  await warnAboutEviction(redis, log);

  const onlineWindowMs = 2 * config.leaseMs;
  const lease = leaseTerms(config.leaseMs);
  const tolerance = { levels: config.toleranceLevels, share: config.toleranceShare };
  const jobs = new Jobs(redis, config.taskTimeoutMs);
  const economy = economyOf(config);
  const tasks = new Tasks(redis, economy, config.graceMs);
  const ledger = new Ledger(redis, config.unbondingMs);
  const workers = new Workers(redis, onlineWindowMs, config.saboteurFraction);
  const classes = new Classes(redis);
  const tokens = new Tokens(redis);
  const webhooks = new Webhooks(redis);
  // A configured token is the farm's (the same on every orchestrator); a generated one is this data
  // directory's, beside those of other orchestrators that generated their own. First, so that one
  // refused leaves nothing running.
  const token = config.token ?? (await generatedOperatorToken(config.dataDir));
  const revoked = await tokens.setOperator(token, config.token !== undefined).catch((e: unknown) => {
    redis.disconnect();
    bull.disconnect();
    throw e;
  });
  for (const owner of revoked) await webhooks.removeAll(owner);
  if (revoked.length > 0)
    log.warn({ revoked }, 'operator tokens other than FARM_TOKEN revoked; the operator’s workers trusted again once they register with it');
  const tradedCeiling = config.marketTradedCeiling === undefined ? null : toTicks(config.marketTradedCeiling);
  const market = new Market(redis, tradedCeiling);
  const forwards = new Forwards(redis);
  const forwardSettings: ForwardSettings = {
    windowMs: config.forwardWindowMs,
    gateMs: config.forwardGateMs,
    horizonMs: config.forwardHorizonMs,
    collateralShare: config.collateralShare,
  };
  // The dispatcher reads the market at every poll; Redis answers five times an interval.
  const marketReadMs = Math.max(20, Math.floor(config.marketIntervalMs / 5));
  const marketOrderBandMilli = Math.round(config.marketOrderBand * 1000);
  const prices = readAtMostEvery(
    marketReadMs,
    async () => {
      const [last, traded] = await Promise.all([market.last(), market.lastTraded()]);
      // A clearing recorded without a collar (an older release's): a band over the price that traded.
      const marketLimit = last?.marketLimit === undefined ? collarOf(traded, marketOrderBandMilli) : last.marketLimit;
      return { spot: last?.price ?? null, traded, marketLimit };
    },
    { spot: null, traded: null, marketLimit: null },
  );
  await mkdir(config.dataDir, { recursive: true });
  const blobs = await openContentStore(config, redis, log);
  const storage = new StorageMonitor(config.dataDir, redis, config);
  const plans = new Queue('plans', { connection: bull, streams: { events: { maxLen: 1000 } } });
  const frames = new Queue('frames', { connection: bull, streams: { events: { maxLen: 1000 } } });
  const closing = new Queue('closing', { connection: bull, streams: { events: { maxLen: 1000 } } });
  const refreshes = new Queue('slot-refresh', { connection: bull, streams: { events: { maxLen: 1000 } } });
  const background = [plans, frames, closing, refreshes];
  for (const q of background) q.on('error', (err) => log.warn({ err: err.message, queue: q.name }, 'queue error'));
  const queues = new Set(background);
  const metrics = new Metrics({
    storage: () => storage.facts(),
    tileCounts: () => jobs.tileCounts(),
    connectedWorkers: () => workers.countOnline(),
    queues: () => queues,
  });
  const dispatch = new Dispatcher(
    bull,
    tasks,
    jobs,
    classes,
    workers,
    {
      leaseMs: lease.leaseMs,
      firstLeaseMs: lease.firstLeaseMs,
      taskTimeoutMs: config.taskTimeoutMs,
      pollMs: config.pollMs,
      spotCheckRate: config.spotCheckRate,
      spotCheckUses: config.spotCheckUses,
      jobShare: config.jobShare,
      jobShareFloor: config.jobShareFloor,
      stakePerReplicaMicros: economy.stakePerReplicaMicros,
      maxHeldReplicas: config.maxHeldReplicas,
      minStakeMicros: economy.minStakeMicros,
      marketIntervalMs: config.marketIntervalMs,
    },
    log,
    metrics,
    {
      prices,
      delivering: readAtMostEvery(
        marketReadMs,
        (now) => {
          const start = windowAt(now, forwardSettings);
          return forwards.delivering(start, start + forwardSettings.windowMs);
        },
        undefined,
        (now) => windowAt(now, forwardSettings),
      ),
      recordIdle: (window, worker, from, to) => forwards.recordIdle(window, worker, from, to),
    },
  );
  const board = queueBoard(background);
  dispatch.eachQueue((queue) => {
    queues.add(queue);
    board.add(queue);
  });
  const webhookDelivery = startWebhooks({ redis, bull, webhooks, metrics, log, settings: config });
  queues.add(webhookDelivery.queue);
  board.add(webhookDelivery.queue);
  const subscriber = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
  subscriber.on('error', () => undefined);
  const feed = new ChangeFeed(subscriber);
  const enqueuePlan = (job: string) => enqueueOnce(plans, 'plan', { job }, { jobId: `plan.${job}`, ...RETRIED });
  // Each completion of a frame (a reopened frame completes again) is its own stitch job.
  const enqueueStitch = (job: string, frame: number, completion: number | string) =>
    enqueueOnce(frames, 'stitch', { job, frame, completion }, { jobId: `stitch.${job}.f${frame}.c${completion}`, ...RETRIED });
  const enqueueClose = (job: string) => enqueueOnce(closing, 'close', { job }, { jobId: `close.${job}`, ...RETRIED });
  // Each run gives the slots the job as it stands then, so changes while one waits need no run of
  // their own: one waiting per job, and one more while one runs (it may have read the job before
  // the change). A burst of pauses and resumes had queued a walk of every pending task each.
  const enqueueRefresh = async (job: string) =>
    void (await refreshes.add(
      'refresh',
      { job },
      { ...RETRIED, removeOnComplete: true, deduplication: { id: job, keepLastIfActive: true } },
    ));

  const availability = new AvailabilityReader(
    redis,
    classes,
    onlineWindowMs,
    economy.stakePerReplicaMicros,
    economy.minStakeMicros,
    prices,
  );
  const runner = new VerdictRunner({
    tasks,
    jobs,
    workers,
    dispatch,
    availability,
    knownAnswers: new KnownAnswers(redis, config.knownAnswersTarget, config.taskTimeoutMs),
    saboteurFraction: config.saboteurFraction,
    graceMs: config.graceMs,
    renderAttempts: config.renderAttempts,
    jobShare: config.jobShare,
    jobShareFloor: config.jobShareFloor,
    onFrameVerified: enqueueStitch,
    onJobFailed: enqueueClose,
    metrics,
    log,
  });
  const reruns: RerunDeps = { jobs, tasks, runner, availability, jobShare: config.jobShare, jobShareFloor: config.jobShareFloor };

  // Planning, stitching and closing are idempotent and quick to resume: a short lock means one an
  // orchestrator died holding is taken up again within seconds, not after BullMQ's 30 s twice.
  const resumable = { connection: bull, lockDuration: 5000, stalledInterval: 5000, maxStalledCount: Number.MAX_SAFE_INTEGER };
  const planner = new Worker('plans', async (j) => planJobTasks({ jobs, tasks, dispatch }, j.data.job), { ...resumable, concurrency: 2 });
  const assembler = new Worker(
    'frames',
    async (j) => assembleFrameJob({ jobs, tasks, blobs }, j.data.job, j.data.frame, j.data.completion),
    { ...resumable, concurrency: 2 },
  );
  /** A cancelled or failed job: its pending tasks are closed in batches, their slots withdrawn. */
  const closer = new Worker(
    'closing',
    async (j) => {
      const established = (await classes.all()).filter((c) => c.established).map((c) => c.id);
      for (;;) {
        const { left, slots } = await tasks.close(j.data.job, CLOSE_BATCH);
        await dispatch.withdraw(slots, established);
        await j.updateProgress({ left });
        if (left === 0) return;
      }
    },
    { ...resumable, concurrency: 1 },
  );
  const refresher = new Worker('slot-refresh', async (j) => refreshSlots({ jobs, tasks, dispatch }, j.data.job), resumable);
  for (const w of [planner, assembler, closer, refresher]) {
    w.on('error', (err) => log.warn({ err: err.message }, 'queue worker error'));
    w.on('failed', (j, err) => log.error({ job: j?.data?.job, frame: j?.data?.frame, err: err.message }, `${w.name} job failed`));
  }
  assembler.on('completed', (j) => log.info({ job: j.data.job, frame: j.data.frame }, 'frame stitched'));

  const calibration = {
    spec: await calibrationSpec(blobs),
    blobs,
    classes,
    workers,
    tolerance,
    knownAnswers: new ByteLru<Uint8Array>(4 * MIB),
  };
  const orphans = await blobs.tidy();
  if (orphans) log.warn({ orphans }, 'removed temporary blob files a crash left behind');
  /** Puts back what a crash left between two steps (recovery.ts); `at` names this pass's stitches. */
  const recoverAll = (at: number) =>
    recover({
      jobs,
      tasks,
      dispatch,
      runner,
      replan: enqueuePlan,
      restitch: (job, frame) => enqueueStitch(job, frame, `recovered${at}`),
      close: enqueueClose,
      refresh: enqueueRefresh,
      log,
    });
  // This orchestrator, as duty leases and the liveness index name it: alive before it recovers, so
  // that no other takes it for dead meanwhile.
  const self = randomBytes(8).toString('hex');
  const orchestrators = new Orchestrators(redis);
  await orchestrators.alive(self);
  const saying = setInterval(
    () => void orchestrators.alive(self).catch((err) => log.warn({ err: err.message }, 'could not say this orchestrator is alive')),
    ALIVE_EVERY_MS,
  );
  await recoverAll(Date.now());

  const assets = new AssetIndex(redis);
  const retention: RetentionDeps = { redis, jobs, ledger, blobs, assets, metrics, log, pinned: [calibration.spec.scene], settings: config };
  const afterwards = new Afterwards(log);
  const uploadDeps: UploadDeps = { tasks, jobs, workers, blobs, dispatch, runner, tolerance, metrics, afterwards, log };
  const app = createApp({
    farmId: await farmId(redis),
    storage,
    tasks,
    jobs,
    workers,
    classes,
    blobs,
    assets,
    dispatch,
    runner,
    afterwards,
    ledger,
    market,
    forwards,
    forwardSettings,
    marketIntervalMs: config.marketIntervalMs,
    marketIndexFloorRu: config.marketIndexFloorRu,
    marketHistoryMs: config.marketHistoryMs,
    redis,
    tokens,
    webhooks,
    webhookAllowPrivate: config.webhookAllowPrivate,
    feed,
    board,
    log,
    metrics,
    tolerance,
    calibration,
    limits: createLimits(redis, config),
    quotas: config,
    enqueuePlan,
    enqueueClose,
    enqueueRefresh,
    reruns,
    stakePerReplicaMicros: economy.stakePerReplicaMicros,
    minStakeMicros: economy.minStakeMicros,
    scenesDir: config.scenesDir,
    dashboardDir: config.dashboardDir,
    maxSceneBytes: config.maxSceneBytes,
    maxAssetBytes: config.maxAssetBytes,
    farmLimits: FarmLimits.parse(config),
    maxResultBytes: config.maxResultBytes,
    workerBodiesPerAddress: config.workerBodiesPerAddress,
    gatewayCacheMiB: config.gatewayCacheMiB,
    gatewayInFlightMiB: config.gatewayInFlightMiB,
    lease,
    trustProxy: config.trustProxy,
  });
  // Periodic duties, each once per period across every orchestrator on the Redis (duties.ts).
  const marketIntervals: IntervalDeps = {
    market,
    intervalMs: config.marketIntervalMs,
    onlineWindowMs,
    historyMs: config.marketHistoryMs,
    tradedFloorUnits: toBookUnits(config.marketTradedFloorRu),
    tradedMinBuyers: config.marketTradedMinBuyers,
    marketOrderBandMilli,
    tradedCeiling,
    log,
  };
  const dutyDeps = { redis, log, metrics, self };
  const duties: Duty[] = [
    {
      name: 'sweep',
      periodMs: SWEEP_MS,
      run: () =>
        sweep({
          runner,
          tasks,
          jobs,
          ledger,
          log,
          judgeSpotCheck: (task, n) => judgeSpotCheck(uploadDeps, task, n),
          deleteDueJobs: (now) => deleteDueJobs(retention, now),
        }),
    },
    {
      // Another orchestrator died: what it left between two steps is recovered here, as its
      // restart would have (a frame complete but not stitched, a job created but not planned…).
      name: 'recovery',
      periodMs: RECOVERY_LOOK_MS,
      run: async (at) => {
        const silent = await orchestrators.takeSilent(Date.now() - ALIVE_WITHIN_MS);
        if (silent.length === 0) return;
        log.warn({ orchestrators: silent }, 'orchestrators fell silent: recovering what they left');
        await recoverAll(at);
      },
    },
    // Finished jobs' tiles marked below θ for want of a trusted worker: re-run once one is online.
    { name: 'rerun-marked', periodMs: RERUN_MARKED_MS, run: () => rerunMarked(reruns, RERUN_MARKED_AT_ONCE) },
    { name: 'ledgers', periodMs: config.collectIntervalMs, run: () => trimLedgers(retention) },
    // A store every orchestrator shares is collected once a period; each node's own, by each.
    {
      name: blobs.scope === 'farm' ? 'blobs' : `blobs:${blobs.scope}`,
      periodMs: config.collectIntervalMs,
      run: () => collectBlobs(retention),
    },
    { name: 'market', periodMs: config.marketIntervalMs, run: (at) => clearMarketInterval(marketIntervals, at) },
    {
      name: 'forwards',
      periodMs: config.marketIntervalMs,
      run: () =>
        runForwardDuty({
          forwards,
          settings: forwardSettings,
          collateralPpm: Math.round(config.collateralShare * 1_000_000),
          taskTimeoutMs: config.taskTimeoutMs,
          log,
        }),
    },
  ];
  const stopDuties = duties.map((duty) => schedule(dutyDeps, duty));

  const server: Server = await new Promise((resolve) => {
    const s = app.listen(config.port, config.host, () => resolve(s));
  });
  // A worker's connection outlives the gap between its requests (Node closes an idle one after 5 s,
  // and undici follows the server's Keep-Alive hint): a worker rendering for longer than that
  // opened a connection for every heartbeat, upload and poll, and a swarm reconnecting together
  // overran the listen backlog, each dropped handshake costing its client SYN-ACK retransmissions
  // of 1, 3, 7… s (bench:swarm's tail). A larger backlog was tried: past the farm's capacity it
  // admitted more than the orchestrators could serve (5,000 workers: 81 replicas/s against 207).
  server.keepAliveTimeout = lease.heartbeatMs + KEEP_ALIVE_MARGIN_MS;
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const url = `http://${config.host}:${port}`;
  log.info({ url, dataDir: config.dataDir }, 'orchestrator listening');

  return {
    url,
    token,
    idle: () => afterwards.idle(),
    async close() {
      const deadline = new Promise<void>((resolve) => setTimeout(resolve, SHUTDOWN_DEADLINE_MS).unref());
      for (const stop of stopDuties) stop();
      clearInterval(saying);
      const closingAll = (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await afterwards.close();
        await dispatch.close();
        await feed.close();
        await webhookDelivery.close();
        await Promise.all([planner, assembler, closer, refresher, ...background].map((q) => q.close()));
        await blobs.close().catch((err) => log.warn({ err: err.message }, 'content store did not close cleanly'));
        // Stopped cleanly, with nothing left between two steps: no recovery for it.
        await orchestrators.leave(self).catch(() => undefined);
        await Promise.all([redis.quit(), bull.quit()]).catch(() => undefined);
      })();
      await Promise.race([closingAll, deadline]);
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

/**
 * Without FARM_TOKEN, the operator token this data directory generated once (kept readable by its
 * owner only): a restart does not mint another, which would leave the old one valid for ever.
 */
async function generatedOperatorToken(dataDir: string): Promise<string> {
  const file = join(dataDir, 'operator-token');
  const kept = await readFile(file, 'utf8').catch(() => undefined);
  if (kept?.trim()) return kept.trim();
  const token = `farm_${randomBytes(24).toString('base64url')}`;
  await mkdir(dataDir, { recursive: true });
  await writeFile(file, `${token}\n`, { mode: 0o600 });
  return token;
}
