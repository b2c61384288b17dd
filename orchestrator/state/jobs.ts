/** Job records: creation, status views, listing by owner, cancellation. */
import type { JobState, JobStatus } from '../../shared/protocol.ts';
import { initialReplicas } from '../planner.ts';
import { announce } from './events.ts';
import { keys } from './keys.ts';
import type { FarmRedis } from './redis.ts';

export interface JobRecord {
  id: string;
  owner: string;
  name: string;
  state: JobState;
  createdAt: number;
  finishedAt: number | null;
  scene: string;
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
  tilesBelowThreshold: number;
  frames: number[];
  tilesPerFrame: number;
  tilesTotal: number;
  tilesVerified: number;
  replicasIssued: number;
  replicasRendered: number;
  framesDone: number;
  animation: string | null;
  error: string | null;
}

type NewJob = Omit<
  JobRecord,
  | 'state'
  | 'finishedAt'
  | 'tilesVerified'
  | 'replicasIssued'
  | 'replicasRendered'
  | 'framesDone'
  | 'animation'
  | 'error'
  | 'tilesBelowThreshold'
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
  'replicasIssued',
  'replicasRendered',
  'framesDone',
  'epsilon',
  'timeoutMs',
  'tilesBelowThreshold',
] as const;

/** The parts of a job that never change after submission. */
export type JobPlan = Pick<
  JobRecord,
  | 'id'
  | 'scene'
  | 'width'
  | 'height'
  | 'tileSize'
  | 'replicas'
  | 'maxReplicas'
  | 'frames'
  | 'tilesPerFrame'
  | 'verification'
  | 'epsilon'
  | 'onTimeout'
  | 'createdAt'
  | 'timeoutMs'
>;
const PLAN_CACHE = 1000;

export class Jobs {
  private readonly plans = new Map<string, JobPlan>();

  constructor(private readonly redis: FarmRedis) {}

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

  async create(job: NewJob): Promise<void> {
    await this.redis
      .multi()
      .hset(keys.job(job.id), {
        ...job,
        frames: JSON.stringify(job.frames),
        state: 'queued',
        tilesVerified: 0,
        replicasIssued: job.tilesTotal * initialReplicas(job),
        replicasRendered: 0,
        framesDone: 0,
      })
      .zadd(keys.jobsAll, job.createdAt, job.id)
      .zadd(keys.jobsOf(job.owner), job.createdAt, job.id)
      .sadd(keys.jobsActive, job.id)
      .exec();
  }

  async get(id: string): Promise<JobRecord | undefined> {
    const h = await this.redis.hgetall(keys.job(id));
    if (!h.id) return undefined;
    const record: Record<string, unknown> = { ...h, frames: JSON.parse(h.frames), finishedAt: h.finishedAt ? Number(h.finishedAt) : null };
    for (const k of NUMERIC) record[k] = Number(h[k] ?? 0);
    record.animation = h.animation || null;
    record.error = h.error || null;
    return record as unknown as JobRecord;
  }

  /** Newest first; `owner` undefined lists every job (operator). */
  async list(owner: string | undefined, offset: number, limit: number): Promise<string[]> {
    return this.redis.zrevrange(owner ? keys.jobsOf(owner) : keys.jobsAll, offset, offset + limit - 1);
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

  async cancel(id: string): Promise<void> {
    await this.redis.multi().hset(keys.job(id), { state: 'cancelled', finishedAt: Date.now() }).srem(keys.jobsActive, id).exec();
    announce(this.redis, id);
  }

  /**
   * running → done, only while every frame is still stitched: a tile reopened by backtracking
   * in the meantime keeps the job running.
   */
  async finish(job: JobRecord, animation?: string): Promise<boolean> {
    const done = await this.redis.eval(
      `if redis.call('HGET', KEYS[1], 'state') ~= 'running' or tonumber(redis.call('HGET', KEYS[1], 'framesDone')) ~= tonumber(ARGV[1]) then return 0 end
       redis.call('HSET', KEYS[1], 'state', 'done', 'finishedAt', ARGV[2], 'animation', ARGV[3])
       redis.call('SREM', KEYS[2], ARGV[4])
       return 1`,
      2,
      keys.job(job.id),
      keys.jobsActive,
      job.frames.length,
      Date.now(),
      animation ?? '',
      job.id,
    );
    if (done === 1) announce(this.redis, job.id);
    return done === 1;
  }

  /** Moves queued → running; false if the job is no longer queued (e.g. cancelled). */
  async start(id: string): Promise<boolean> {
    const started = await this.redis.eval(
      `if redis.call('HGET', KEYS[1], 'state') == 'queued' then redis.call('HSET', KEYS[1], 'state', 'running') return 1 end
       return redis.call('HGET', KEYS[1], 'state') == 'running' and 1 or 0`,
      1,
      keys.job(id),
    );
    announce(this.redis, id);
    return started === 1;
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
    const r = await this.redis.farmFrameDone(
      keys.job(job.id),
      keys.jobFrameCids(job.id),
      keys.jobFrames(job.id),
      keys.jobFrameGen(job.id),
      frame,
      cid,
      job.frames.length,
      Date.now(),
      job.tilesPerFrame,
      completion,
    );
    announce(this.redis, job.id);
    return r === 1 ? 'last' : r === 0 ? 'recorded' : 'stale';
  }

  async status(job: JobRecord, animationUrl: (id: string) => string): Promise<JobStatus> {
    const [progress, cids] = await Promise.all([this.frameProgress(job.id), this.frameCids(job.id)]);
    return {
      id: job.id,
      name: job.name,
      state: job.state,
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
      frames: job.frames.map((frame) => ({
        frame,
        tilesVerified: progress[frame] ?? 0,
        tilesTotal: job.tilesPerFrame,
        done: cids[frame] !== undefined,
      })),
      tilesVerified: job.tilesVerified,
      tilesTotal: job.tilesTotal,
      replicasRendered: job.replicasRendered,
      replicasIssued: job.replicasIssued,
      framesDone: job.framesDone,
      animation: job.animation ? animationUrl(job.id) : null,
      error: job.error,
    };
  }
}
