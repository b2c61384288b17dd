/** Job records: creation, status views, listing by owner, cancellation, deletion. */
import { fromTicks } from '../../shared/market.ts';
import { fromMicros } from '../../shared/money.ts';
import { DEFAULT_PRIORITY, type JobState, type JobStatus, type JobSummary } from '../../shared/protocol.ts';
import { toRu } from '../../shared/render-units.ts';
import type { SlotRank } from '../market/priority.ts';
import { planJob } from '../planner.ts';
import { announce } from './events.ts';
import { keys } from './keys.ts';
import { runScript } from './lua/scripts.ts';
import type { FarmRedis } from './redis.ts';

export interface JobRecord {
  id: string;
  owner: string;
  name: string;
  state: JobState;
  createdAt: number;
  finishedAt: number | null;
  /** The scene's manifest, and the assets it names (shared/assets.ts). */
  scene: string;
  assets: string[];
  /** Its owner holds its tiles not yet handed out (job-pause.lua). */
  paused: boolean;
  width: number;
  height: number;
  spp: number;
  tileSize: number;
  replicas: number;
  maxReplicas: number;
  verification: 'credibility' | 'quorum';
  epsilon: number;
  onTimeout: 'accept' | 'fail';
  timeoutMs: number;
  /** When a running job times out (its timeout restarts when backtracking reopens it). */
  deadlineAt: number;
  tilesBelowThreshold: number;
  frames: number[];
  tilesPerFrame: number;
  tilesTotal: number;
  tilesVerified: number;
  raysVerified: number;
  replicasIssued: number;
  replicasRendered: number;
  framesDone: number;
  animation: string | null;
  /** A small WebP of the first frame (assembly.ts), for lists. */
  thumbnail: string | null;
  error: string | null;
  /** Ticks per RU it pays at most; null: a market order. */
  bid: number | null;
  /** Which of jobs at the same price goes first (market/priority.ts); it may change while it runs. */
  priority: number;
  /**
   * µc (includes/escrow.lua): what its owner has in it, held or paid out of its escrow (raised with
   * setBudget, lowered by what comes back when it ends); held for it now, of which committed to
   * replicas out; paid (by its escrow or a forward window's pot), fees among it.
   */
  budget: number;
  escrow: number;
  committed: number;
  spent: number;
  fees: number;
  /** Rays of the replicas it paid for. */
  raysPaid: number;
}

/** What job-budget.lua answers: the budget (µc) it has now or already had, and the balance (µc) short of a raise, or the state it ended in. */
export type BudgetChangeResult =
  | { outcome: 'ok' | 'same' | 'lower'; values: [budget: string] }
  | { outcome: 'funds'; values: [budget: string, balance: string] }
  | { outcome: 'ended'; values: [state: string] }
  | { outcome: 'missing' | 'owner'; values: [] };

type NewJob = Omit<
  JobRecord,
  | 'state'
  | 'finishedAt'
  | 'tilesVerified'
  | 'raysVerified'
  | 'replicasIssued'
  | 'replicasRendered'
  | 'framesDone'
  | 'animation'
  | 'thumbnail'
  | 'error'
  | 'tilesBelowThreshold'
  | 'deadlineAt'
  | 'budget'
  | 'escrow'
  | 'committed'
  | 'spent'
  | 'fees'
  | 'raysPaid'
  | 'paused'
>;

const NUMERIC = [
  'createdAt',
  'width',
  'height',
  'spp',
  'tileSize',
  'replicas',
  'maxReplicas',
  'tilesPerFrame',
  'tilesTotal',
  'tilesVerified',
  'raysVerified',
  'replicasIssued',
  'replicasRendered',
  'framesDone',
  'epsilon',
  'timeoutMs',
  'deadlineAt',
  'tilesBelowThreshold',
  'budget',
  'escrow',
  'committed',
  'spent',
  'fees',
  'raysPaid',
] as const;

/** The parts of a job that never change after submission. */
export type JobPlan = Pick<
  JobRecord,
  | 'id'
  | 'scene'
  | 'assets'
  | 'width'
  | 'height'
  | 'spp'
  | 'tileSize'
  | 'replicas'
  | 'maxReplicas'
  | 'frames'
  | 'tilesPerFrame'
  | 'tilesTotal'
  | 'verification'
  | 'epsilon'
  | 'onTimeout'
  | 'createdAt'
  | 'timeoutMs'
  | 'bid'
  | 'owner'
>;
const PLAN_CACHE = 1000;
/** Where a job's blobs are served (http/jobs.ts). */
export interface JobUrls {
  animation: (id: string) => string;
  thumbnail: (id: string) => string;
}
/** Jobs stored before priorities existed have the default. */
const priorityOf = (stored: string | null | undefined): number => (stored ? Number(stored) : DEFAULT_PRIORITY);
/** A job that ended before it was done: its tiles with replicas out drain (includes/jobs.lua endedEarly, the same test). */
export const endedEarly = (state: string | undefined): boolean => state === 'cancelled' || state === 'failed';

/** Tasks deleted per script call (job-purge.lua). */
const PURGE_BATCH = 200;

export class Jobs {
  private readonly plans = new Map<string, JobPlan>();

  /** `replicaTimeoutMs`: the task timeout, the longest a replica bound before a job ended may still answer. */
  constructor(
    private readonly redis: FarmRedis,
    private readonly replicaTimeoutMs: number,
  ) {}

  /** A job's immutable plan, cached: the hot path (every result) needs it. */
  async plan(id: string): Promise<JobPlan | undefined> {
    let plan = this.plans.get(id);
    if (!plan) {
      plan = await this.get(id);
      if (!plan) return undefined;
      if (this.plans.size >= PLAN_CACHE) this.plans.delete(this.plans.keys().next().value as string);
      this.plans.set(id, plan);
    }
    return plan;
  }

  /**
   * Creates the job, holding `escrow` (µc) from its owner's balance, unless its owner's quotas
   * forbid it: returns 'ok', the quota it would exceed (tasks or replicas in flight over the
   * owner's active jobs), or 'funds' (the balance cannot cover the escrow).
   */
  async create(
    job: NewJob,
    initialReplicas: number,
    quota: { tasks: number; replicas: number },
    escrow: number,
  ): Promise<'ok' | 'tasks' | 'replicas' | 'funds'> {
    const record = {
      ...job,
      frames: JSON.stringify(job.frames),
      assets: JSON.stringify(job.assets),
      state: 'queued',
      tilesVerified: 0,
      replicasIssued: job.tilesTotal * initialReplicas,
      quotaReplicas: job.tilesTotal * initialReplicas,
      replicasRendered: 0,
      framesDone: 0,
      // A market order has no limit ('': job-create.lua writes every field, and JSON null is not a value).
      bid: job.bid ?? '',
    };
    return (await runScript(
      this.redis,
      'job-create',
      [keys.job(job.id), keys.jobsAll, keys.jobsOf(job.owner)],
      [job.id, JSON.stringify(record), job.createdAt, quota.tasks, quota.replicas, escrow],
    )) as 'ok' | 'tasks' | 'replicas' | 'funds';
  }

  async get(id: string): Promise<JobRecord | undefined> {
    const h = await this.redis.hgetall(keys.job(id));
    if (!h.id) return undefined;
    const record: Record<string, unknown> = {
      ...h,
      frames: JSON.parse(h.frames),
      // Jobs stored before assets existed have none.
      assets: h.assets ? JSON.parse(h.assets) : [],
      paused: h.paused === '1',
      finishedAt: h.finishedAt ? Number(h.finishedAt) : null,
    };
    for (const k of NUMERIC) record[k] = Number(h[k] ?? 0);
    // Jobs submitted before budgets could be raised kept no total (job-budget.lua counts it so too).
    if (h.budget === undefined) record.budget = (record.escrow as number) + (record.spent as number);
    record.animation = h.animation || null;
    record.thumbnail = h.thumbnail || null;
    record.bid = h.bid ? Number(h.bid) : null;
    record.priority = priorityOf(h.priority);
    record.error = h.error || null;
    return record as unknown as JobRecord;
  }

  /** Newest first; `owner` undefined lists every job (operator). */
  async list(owner: string | undefined, offset: number, limit: number): Promise<string[]> {
    return this.redis.zrevrange(owner ? keys.jobsOf(owner) : keys.jobsAll, offset, offset + limit - 1);
  }

  /** Cancelled or failed jobs still being wound down. */
  closing(): Promise<string[]> {
    return this.redis.smembers(keys.jobsClosing);
  }

  active(): Promise<string[]> {
    return this.redis.smembers(keys.jobsActive);
  }

  /** Tiles of queued and running jobs, by state (metrics). */
  async tileCounts(): Promise<{ pending: number; verified: number }> {
    const ids = await this.active();
    const m = this.redis.multi();
    for (const id of ids) m.hmget(keys.job(id), 'tilesTotal', 'tilesVerified');
    const rows = ((await m.exec()) ?? []) as [unknown, (string | null)[]][];
    let total = 0;
    let verified = 0;
    for (const [, [t, v]] of rows) {
      total += Number(t ?? 0);
      verified += Number(v ?? 0);
    }
    return { pending: total - verified, verified };
  }

  /** A new priority for a queued or running job; false when it had already ended. */
  async setPriority(id: string, priority: number): Promise<boolean> {
    const set = (await runScript(this.redis, 'job-priority', [keys.job(id)], [priority])) === 1;
    if (set) announce(this.redis, id);
    return set;
  }

  /** What orders the job's slots now (its priority may have changed since it was planned). */
  async rank(id: string): Promise<SlotRank | undefined> {
    const [state, bid, priority] = await this.redis.hmget(keys.job(id), 'state', 'bid', 'priority');
    return state === null ? undefined : { bid: bid ? Number(bid) : null, priority: priorityOf(priority) };
  }

  /**
   * Raises the job's budget to `budget` µc, holding the difference from `owner`'s balance (only the
   * job's owner funds it): 'ok', 'same' (it has that budget already: a request sent again), or why
   * not: 'lower' (with the budget it has), 'funds' (with the budget it has and the balance short of
   * the difference), 'missing', 'owner', 'ended' (with its state).
   */
  async setBudget(id: string, owner: string, budget: number): Promise<BudgetChangeResult> {
    const [outcome, ...values] = (await runScript(this.redis, 'job-budget', [keys.job(id)], [id, owner, budget, Date.now()])) as [
      BudgetChangeResult['outcome'],
      ...string[],
    ];
    if (outcome === 'ok') announce(this.redis, id);
    return { outcome, values } as BudgetChangeResult;
  }

  /** Holds (or releases) the job's tiles not yet handed out; false when it had already ended. */
  async setPaused(id: string, paused: boolean): Promise<boolean> {
    const set = (await runScript(this.redis, 'job-pause', [keys.job(id)], [paused ? '1' : '0', id, Date.now()])) === 1;
    if (set) announce(this.redis, id);
    return set;
  }

  /** queued or running → cancelled; false when it had already ended. */
  async cancel(id: string): Promise<boolean> {
    const cancelled = (await runScript(this.redis, 'job-cancel', [keys.job(id)], [id, Date.now()])) === 1;
    if (cancelled) announce(this.redis, id);
    return cancelled;
  }

  /**
   * running → done, only while every frame is still stitched: a tile reopened by backtracking
   * in the meantime keeps the job running.
   */
  /** Records the thumbnail of the job's first frame (made again when that frame is stitched again). */
  async setThumbnail(id: string, cid: string): Promise<void> {
    await this.redis.hset(keys.job(id), 'thumbnail', cid);
  }

  async finish(job: JobRecord, animation?: string): Promise<boolean> {
    const done =
      (await runScript(this.redis, 'job-finish', [keys.job(job.id)], [job.id, job.frames.length, Date.now(), animation ?? ''])) === 1;
    if (done) announce(this.redis, job.id);
    return done;
  }

  /** Ended jobs due deletion: those that ended before `before`, and those asked to be deleted. */
  dueForDeletion(before: number, limit: number): Promise<string[]> {
    return this.redis.zrangebyscore(keys.jobsEnded, '-inf', before, 'LIMIT', 0, limit);
  }

  /** Asks for an ended (or just cancelled) job to be deleted as soon as it is wound down. */
  async requestDeletion(id: string): Promise<void> {
    await this.redis.zadd(keys.jobsEnded, 0, id);
  }

  /**
   * Deletes an ended job, its tasks and replicas (job-purge.lua, a batch of tasks per call; a crash
   * halfway leaves it due, and the next pass finishes it). 'active' while it has not ended or is
   * still being wound down, answered before its tasks are listed: such a job is asked again each pass.
   */
  async purge(id: string): Promise<'deleted' | 'active'> {
    const purge = (last: boolean, batch: readonly string[]) =>
      runScript(this.redis, 'job-purge', [keys.job(id)], [id, Date.now(), last ? 1 : 0, this.replicaTimeoutMs, ...batch]);
    const first = await purge(false, []);
    if (first === 'active') return 'active';
    if (first !== 'gone') {
      const job = await this.get(id);
      const taskIds = job ? planJob(id, job.frames, job.width, job.height, job.tileSize).map((t) => t.id) : [];
      for (let i = 0; ; i += PURGE_BATCH) {
        const last = i + PURGE_BATCH >= taskIds.length;
        const result = await purge(last, taskIds.slice(i, i + PURGE_BATCH));
        if (result === 'active') return 'active';
        if (result === 'gone' || last) break;
      }
    }
    this.plans.delete(id);
    announce(this.redis, id);
    return 'deleted';
  }

  /** Moves queued → running; false if the job may no longer run (e.g. cancelled). */
  async start(id: string): Promise<boolean> {
    const started = (await runScript(this.redis, 'job-start', [keys.job(id)], [id, Date.now()])) === 1;
    announce(this.redis, id);
    return started;
  }

  /** What may change while a job runs and every verdict needs: its state and when it times out. */
  async progress(id: string): Promise<{ state: JobState | undefined; deadlineAt: number }> {
    const [state, deadlineAt] = await this.redis.hmget(keys.job(id), 'state', 'deadlineAt');
    return { state: (state ?? undefined) as JobState | undefined, deadlineAt: Number(deadlineAt ?? Number.POSITIVE_INFINITY) };
  }

  /**
   * Running jobs whose timeout has passed, each to one sweep at a time and again `retryMs` later
   * while it runs (timeouts-take.lua): a sweep that dies part-way leaves it to a later one.
   */
  async takeTimedOut(now: number, retryMs: number): Promise<string[]> {
    return (await runScript(this.redis, 'timeouts-take', [keys.jobDeadlines], [now, retryMs, 100])) as string[];
  }

  frameCids(id: string): Promise<Record<string, string>> {
    return this.redis.hgetall(keys.jobFrameCids(id));
  }

  async frameProgress(id: string): Promise<Record<string, number>> {
    const h = await this.redis.hgetall(keys.jobFrames(id));
    return Object.fromEntries(Object.entries(h).map(([k, v]) => [k, Number(v)]));
  }

  /** Records a stitched frame: 'last' when it completes the job, 'stale' when it lost a race with a reopen. */
  async frameDone(job: JobRecord, frame: number, cid: string, completion: number | string): Promise<'last' | 'recorded' | 'stale'> {
    const r = await runScript(
      this.redis,
      'frame-done',
      [keys.job(job.id), keys.jobFrameCids(job.id), keys.jobFrames(job.id), keys.jobFrameGen(job.id)],
      [frame, cid, job.frames.length, job.tilesPerFrame, completion],
    );
    announce(this.redis, job.id);
    return r === 1 ? 'last' : r === 0 ? 'recorded' : 'stale';
  }

  /** With each frame's progress (summary: the rest). */
  async status(job: JobRecord, urls: JobUrls, heldUp: string | null): Promise<JobStatus> {
    const [progress, cids] = await Promise.all([this.frameProgress(job.id), this.frameCids(job.id)]);
    return {
      ...this.summary(job, urls, heldUp),
      frames: job.frames.map((frame) => ({
        frame,
        tilesVerified: progress[frame] ?? 0,
        tilesTotal: job.tilesPerFrame,
        done: cids[frame] !== undefined,
      })),
    };
  }

  /** What the job record says of it; `heldUp`: what holds the farm's unfinished jobs up, if anything (shown on those only). */
  summary(job: JobRecord, urls: JobUrls, heldUp: string | null): JobSummary {
    return {
      id: job.id,
      name: job.name,
      state: job.state,
      owner: job.owner,
      priority: job.priority,
      paused: job.paused,
      createdAt: job.createdAt,
      finishedAt: job.finishedAt,
      width: job.width,
      height: job.height,
      spp: job.spp,
      tileSize: job.tileSize,
      replicas: job.replicas,
      verification: job.verification,
      epsilon: job.epsilon,
      onTimeout: job.onTimeout,
      tilesBelowThreshold: job.tilesBelowThreshold,
      frameCount: job.frames.length,
      tilesVerified: job.tilesVerified,
      tilesTotal: job.tilesTotal,
      raysVerified: job.raysVerified,
      replicasRendered: job.replicasRendered,
      replicasIssued: job.replicasIssued,
      framesDone: job.framesDone,
      animation: job.animation ? urls.animation(job.id) : null,
      thumbnail: job.thumbnail ? urls.thumbnail(job.id) : null,
      error: job.error,
      heldUp:
        job.state !== 'queued' && job.state !== 'running'
          ? null
          : job.paused
            ? 'paused: no new tiles are handed out until it is resumed'
            : heldUp,
      cost: {
        maxPrice: job.bid === null ? null : fromTicks(job.bid),
        budget: fromMicros(job.budget),
        held: fromMicros(job.escrow),
        committed: fromMicros(job.committed),
        spent: fromMicros(job.spent),
        fees: fromMicros(job.fees),
        ru: toRu(job.raysPaid),
      },
    };
  }
}
