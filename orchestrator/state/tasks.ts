/** Task and replica records: creation, binding slots to workers, results, verdicts. */
import type { ReplicaView, TaskView } from '../../shared/protocol.ts';
import type { Rect } from '../../shared/tile.ts';
import { type PlannedTask, parseSlotId, parseTaskId } from '../planner.ts';
import { announce } from './events.ts';
import { keys } from './keys.ts';
import type { FarmRedis } from './redis.ts';

export interface ReplicaRecord {
  replica: string;
  worker: string;
  state: ReplicaView['state'];
  cid?: string;
  assignedAt: number;
  submittedAt?: number;
  deadline: number;
  queue: string;
  /** Earlier holders of this slot that timed out or handed it back. */
  previous?: ReplicaRecord[];
  /** A spot check: a replica of an already verified tile, judged against its known hash. */
  spot?: boolean;
}

export interface TaskRecord {
  id: string;
  job: string;
  frame: number;
  tile: number;
  rect: Rect;
  class: string;
  state: 'pending' | 'verified' | 'failed';
  cid: string | null;
  issued: number;
  outstanding: number;
  version: number;
  credibility: number | null;
  belowThreshold: boolean;
}

export type BindResult =
  | { status: 'bound' | 'again'; replica: ReplicaRecord; frame: number; rect: Rect; scene: string }
  | { status: 'missing' | 'unknown' | 'obsolete' | 'wrongclass' | 'resolved' | 'ineligible' | 'nostake' };

/** What a verdict changes, in the terms of the SETTLE script. */
export type Settlement =
  | {
      kind: 'verified';
      cid: string;
      agree: string[];
      disagree: string[];
      credibility?: number;
      below?: boolean;
      /** Fault counts of the workers whose credibility the verdict used (checked at settle). */
      basis?: Record<string, number>;
    }
  | { kind: 'late'; agree: string[]; disagree: string[] }
  | { kind: 'issue'; issue: number }
  | { kind: 'exhausted'; message: string };

export type SubmitResult =
  | { status: 'submitted'; task: TaskRecord; replicas: ReplicaRecord[] }
  | { status: 'spot'; expected: string }
  | { status: 'notassigned' | 'expired' | 'duplicate' | 'conflict' };

/** The economy's settings, as the scripts need them (cents). */
export interface Economy {
  rewardCents: number;
  stakePerTaskCents: number;
  slashShare: number;
  deadlinePenaltyCents: number;
  probationTasks: number;
}

export class Tasks {
  constructor(
    private readonly redis: FarmRedis,
    private readonly economy: Economy,
  ) {}

  /** Idempotent: re-planning after a crash leaves existing tasks as they are. */
  async create(tasks: readonly PlannedTask[], replicas: number): Promise<void> {
    for (let i = 0; i < tasks.length; i += 500) {
      const m = this.redis.multi();
      for (const t of tasks.slice(i, i + 500)) {
        const k = keys.task(t.id);
        m.hsetnx(k, 'job', parseTaskId(t.id)?.job ?? '');
        m.hsetnx(k, 'frame', t.frame);
        m.hsetnx(k, 'tile', t.tile);
        m.hsetnx(k, 'rect', JSON.stringify(t.rect));
        m.hsetnx(k, 'class', '');
        m.hsetnx(k, 'state', 'pending');
        m.hsetnx(k, 'issued', replicas);
        m.hsetnx(k, 'outstanding', replicas);
        m.hsetnx(k, 'version', 0);
      }
      await m.exec();
    }
  }

  /** One round trip: a slot's current binding and its task's rectangle. */
  async slot(task: string, n: number): Promise<{ replica?: ReplicaRecord; rect?: Rect }> {
    const replies = (await this.redis.multi().hget(keys.taskReplicas(task), String(n)).hget(keys.task(task), 'rect').exec()) as [
      unknown,
      string | null,
    ][];
    const [replica, rect] = replies.map(([, v]) => v);
    return { replica: replica ? JSON.parse(replica) : undefined, rect: rect ? JSON.parse(rect) : undefined };
  }

  async get(id: string): Promise<TaskRecord | undefined> {
    const h = await this.redis.hgetall(keys.task(id));
    return h.job ? toTask(id, h) : undefined;
  }

  async replicas(id: string): Promise<ReplicaRecord[]> {
    const h = await this.redis.hgetall(keys.taskReplicas(id));
    return Object.keys(h)
      .sort((a, b) => Number(a) - Number(b))
      .map((n) => JSON.parse(h[n]));
  }

  async bind(slot: string, worker: string, now: number, deadline: number, queue: string): Promise<BindResult> {
    const parsed = slotKeys(slot, worker);
    if (!parsed) return { status: 'missing' };
    const [status, detail, frame, rect, scene] = await this.redis.farmBind(
      ...parsed.keys,
      parsed.n,
      slot,
      worker,
      now,
      deadline,
      queue,
      this.economy.deadlinePenaltyCents,
      this.economy.stakePerTaskCents,
      this.economy.probationTasks,
    );
    if (status === 'bound' || status === 'again') {
      this.changed(parsed.task);
      return {
        status,
        replica: JSON.parse(detail),
        frame: Number(frame),
        rect: JSON.parse(rect),
        scene,
      };
    }
    return { status } as BindResult;
  }

  async submit(slot: string, worker: string, cid: string, now: number): Promise<SubmitResult> {
    const parsed = slotKeys(slot, worker);
    if (!parsed) return { status: 'notassigned' };
    const [status, task, ...replicas] = await this.redis.farmSubmit(...parsed.keys, parsed.n, slot, worker, cid, now);
    if (status === 'spot' || status === 'submitted') this.changed(parsed.task);
    if (status === 'spot') return { status, expected: task };
    if (status !== 'submitted') return { status } as SubmitResult;
    const flat: string[] = JSON.parse(task);
    const h: Record<string, string> = {};
    for (let i = 0; i < flat.length; i += 2) h[flat[i]] = flat[i + 1];
    return { status, task: toTask(parsed.task, h), replicas: replicas.map((r) => JSON.parse(r)) };
  }

  /**
   * Applies a settlement judged on `task.version`. Returns 'stale' when another submission got
   * in first (judge again), or what changed.
   */
  async settle(task: TaskRecord, settlement: Settlement, tilesPerFrame: number, vouch = false) {
    const slotNumbers = (replicas: readonly string[]) => JSON.stringify(replicas.map((r) => String(parseSlotId(r)?.n)));
    const s = settlement;
    const [status, value, caught] = await this.redis.farmSettle(
      keys.task(task.id),
      keys.taskReplicas(task.id),
      keys.job(task.job),
      keys.jobFrames(task.job),
      task.version,
      s.kind,
      s.kind === 'verified' ? s.cid : '',
      s.kind === 'issue' ? s.issue : 0,
      Date.now(),
      s.kind === 'exhausted' ? s.message : '',
      slotNumbers(s.kind === 'verified' || s.kind === 'late' ? s.agree : []),
      slotNumbers(s.kind === 'verified' || s.kind === 'late' ? s.disagree : []),
      tilesPerFrame,
      (s.kind === 'verified' || s.kind === 'late') && s.agree.length + s.disagree.length > 1 ? 1 : 0,
      s.kind === 'verified' && s.credibility !== undefined ? s.credibility : '',
      s.kind === 'verified' && s.below ? 1 : 0,
      this.economy.rewardCents,
      Math.round(this.economy.stakePerTaskCents * this.economy.slashShare),
      vouch ? 1 : 0,
      JSON.stringify(s.kind === 'verified' && s.basis && Object.keys(s.basis).length ? s.basis : {}),
    );
    if (status !== 'stale') this.changed(task.id);
    const parsed: unknown = caught ? JSON.parse(caught) : [];
    return {
      status: status as 'stale' | 'verified' | 'issued' | 'failed' | 'late',
      value: Number(value),
      caught: Array.isArray(parsed) ? (parsed as string[]) : [],
    };
  }

  /**
   * Decides once per task whether a result accepted alone gets audited (probability p); later
   * judgements of the same task see the same decision.
   */
  async rollAudit(task: string, p: number): Promise<boolean> {
    await this.redis.hsetnx(keys.task(task), 'audit', Math.random() < p ? 1 : 0);
    return (await this.redis.hget(keys.task(task), 'audit')) === '1';
  }

  /** A spot check for the worker from its class's pool of verified tiles, if one fits. */
  async spot(worker: string, deviceClass: string, now: number, deadline: number) {
    const picked = await this.redis.farmSpot(`farm:spot:${deviceClass}`, keys.worker(worker), worker, now, deadline);
    if (!picked) return undefined;
    const [task, n, frame, rect, scene] = picked;
    return { task, slot: `${task}.r${n}`, frame: Number(frame), rect: JSON.parse(rect) as Rect, scene, deadline };
  }

  async spotVerdict(slot: string, worker: string, pass: boolean): Promise<void> {
    const parsed = parseSlotId(slot);
    if (!parsed) return;
    await this.redis.farmSpotVerdict(
      keys.taskReplicas(parsed.task),
      keys.worker(worker),
      parsed.n,
      pass ? 1 : 0,
      Date.now(),
      Math.round(this.economy.stakePerTaskCents * this.economy.slashShare),
      parsed.task,
    );
    this.changed(parsed.task);
  }

  /** Takes (and forgets) the tasks a worker's word helped verify. */
  async takeVouched(worker: string): Promise<string[]> {
    const [[, tasks]] = (await this.redis.multi().smembers(keys.workerVouched(worker)).del(keys.workerVouched(worker)).exec()) as [
      unknown,
      string[],
    ][];
    return tasks;
  }

  async reopen(task: TaskRecord, caught: string): Promise<boolean> {
    const reopened =
      (await this.redis.farmReopen(
        keys.task(task.id),
        keys.taskReplicas(task.id),
        keys.job(task.job),
        keys.jobFrames(task.job),
        keys.jobFrameCids(task.job),
        caught,
        Date.now(),
      )) === 1;
    if (reopened) this.changed(task.id);
    return reopened;
  }

  async release(slot: string, worker: string): Promise<boolean> {
    const parsed = parseSlotId(slot);
    if (!parsed) return false;
    const released =
      (await this.redis.farmRelease(
        keys.taskReplicas(parsed.task),
        keys.worker(worker),
        keys.workerActive(worker),
        parsed.n,
        slot,
        worker,
      )) === 1;
    if (released) this.changed(parsed.task);
    return released;
  }

  /** Tells the task's watchers (live views) that it changed. */
  private changed(task: string): void {
    const job = parseTaskId(task)?.job;
    if (job) announce(this.redis, job, task);
  }

  async view(id: string): Promise<TaskView | undefined> {
    const [task, replicas] = await Promise.all([this.get(id), this.replicas(id)]);
    if (!task) return undefined;
    return {
      task: id,
      frame: task.frame,
      tile: task.tile,
      rect: task.rect,
      state: task.state === 'verified' ? 'verified' : 'pending',
      cid: task.cid,
      credibility: task.credibility,
      belowThreshold: task.belowThreshold,
      replicas: replicas
        .flatMap((r) => [...(r.previous ?? []), r])
        .map((r) => ({
          spot: r.spot === true,
          replica: r.replica,
          worker: r.worker,
          state: r.state,
          cid: r.cid ?? null,
          assignedAt: r.assignedAt,
          submittedAt: r.submittedAt ?? null,
        })),
    };
  }
}

/** The keys the BIND and SUBMIT scripts take: task, its replicas, worker, its active set, job. */
function slotKeys(slot: string, worker: string): { task: string; n: number; keys: string[] } | undefined {
  const parsed = parseSlotId(slot);
  const job = parsed && parseTaskId(parsed.task)?.job;
  if (!parsed || !job) return undefined;
  return {
    ...parsed,
    keys: [keys.task(parsed.task), keys.taskReplicas(parsed.task), keys.worker(worker), keys.workerActive(worker), keys.job(job)],
  };
}

function toTask(id: string, h: Record<string, string>): TaskRecord {
  return {
    id,
    job: h.job,
    frame: Number(h.frame),
    tile: Number(h.tile),
    rect: JSON.parse(h.rect),
    class: h.class ?? '',
    state: h.state as TaskRecord['state'],
    cid: h.cid || null,
    issued: Number(h.issued),
    outstanding: Number(h.outstanding),
    version: Number(h.version),
    credibility: h.credibility ? Number(h.credibility) : null,
    belowThreshold: h.below === '1',
  };
}
