/**
 * Task and replica records: creation, binding slots to workers, spot checks, results, verdicts,
 * leases, reopening. Every change is one Lua script (state/lua/); this class only names the keys
 * and decodes the answers.
 */
import { randomInt } from 'node:crypto';
import { fromTicks } from '../../shared/market.ts';
import { fromMicros } from '../../shared/money.ts';
import { type ReplicaState, type ReplicaView, type TaskView, TileWait } from '../../shared/protocol.ts';
import { maxRaysPerSample } from '../../shared/render-units.ts';
import { LIMITS } from '../../shared/scene.ts';
import type { TileOutcome } from '../../shared/throughput.ts';
import type { Rect } from '../../shared/tile.ts';
import type { Prices } from '../dispatch.ts';
import { type PlannedTask, parseTaskId } from '../planner.ts';
import type { Decision } from '../verdict/decide.ts';
import { announce } from './events.ts';
import type { DeliveringWindow } from './forwards.ts';
import { keys } from './keys.ts';
import { runScript } from './lua/scripts.ts';
import { type FarmRedis, fieldsOf } from './redis.ts';

export interface ReplicaRecord {
  /** Opaque id the worker knows the replica by. */
  rid: string;
  /** Slot number within the task. */
  n: number;
  worker: string;
  state: ReplicaState;
  cid?: string;
  /** Rays its result's render traced (the metered work; part of the CID). */
  rays?: number;
  assignedAt: number;
  submittedAt?: number;
  deadline: number;
  /**
   * When its lease ends unless a heartbeat renews it (ms; never past the deadline), a real
   * replica's and a spot check's alike: past it the replica is no longer held, whenever the sweep
   * or BullMQ's stalled check gets to it (lease-terms.ts `lapsed`). Absent on records written
   * before leases were recorded.
   */
  leaseUntil?: number;
  /** The BullMQ queue the slot came from ('' for a spot check). */
  queue: string;
  scene: string;
  /** Stake (µc) locked behind this replica until its verdict. */
  locked: number;
  /** The job it was bound for (absent on records written before the market). */
  job?: string;
  /** Who pays for it (includes/escrow.lua) and from which pot, at what price (ticks per RU), what is still committed to it and was paid (µc). */
  payer?: 'job' | 'forward' | 'treasury';
  pot?: string;
  price?: number;
  /** µc as decimal strings (cjson keeps 14 digits): what is still committed to it, what its verdict paid, the fee among that, what restitution took back (includes/escrow.lua). */
  commit?: string;
  paid?: string;
  fee?: string;
  clawedBack?: string;
  /** A forward window whose owing provider took this other work (its buyers had none): its time is excused. */
  excuse?: string;
  excuseEnd?: number;
  spot?: boolean;
  /** A spot check handed to a provisional class's worker: judged within the published tolerance. */
  provisional?: boolean;
  arbiter?: boolean;
  /** Counted in its job's replicas out from its bind (bind.lua): taken off when it is let go or answered. */
  countedOut?: boolean;
  /** The render error its worker reported (state 'failed'). */
  error?: string;
  /** Earlier holders of this slot that timed out or handed it back. */
  previous?: ReplicaRecord[];
}

export interface TaskRecord {
  id: string;
  job: string;
  frame: number;
  tile: number;
  rect: Rect;
  class: string;
  /** Classes set aside for the tile, starved in each (reclass.lua): their workers may not take it. */
  excluded: string[];
  state: 'pending' | 'verified' | 'failed' | 'closed';
  cid: string | null;
  /** Rays of the verified result (0 until verified). */
  rays: number;
  /** Real replicas issued (the verdict's budget), since its class was last set aside (reclass.lua). */
  issued: number;
  /** The next slot number (real replicas and spot checks share the numbering). */
  nextSlot: number;
  outstanding: number;
  version: number;
  credibility: number | null;
  below: boolean;
  anchored: boolean;
  suspect: boolean;
  /** The slot issued to the trusted workers only, if any. */
  arbiterSlot: number | null;
  /** An audit replica was issued. */
  audited: boolean;
  auditRoll: number;
  auditSkipped: boolean;
  progressAt: number;
  decidedAt: number | null;
  waiting: TileWait | null;
  /** A cancelled or failed job's tile with replicas out when it ended, judged on them before it closes (includes/drain.lua). */
  draining: boolean;
}

/** What a verdict changes, in the terms of settle.lua (decide.ts's decisions that write). */
export type Settlement = Extract<Decision, { kind: 'accept' | 'late' | 'issue' | 'wait' | 'fail' }>;

export type BindResult =
  | { status: 'bound' | 'again'; replica: ReplicaRecord; frame: number; rect: Rect; scene: string }
  | {
      status:
        | 'missing'
        | 'unknown'
        | 'obsolete'
        | 'resolved'
        | 'ineligible'
        | 'letgo'
        | 'blacklisted'
        | 'nostake'
        | 'busy'
        | 'share'
        | 'sharedone'
        | 'held';
    }
  /**
   * The market keeps the trade from happening; `uncovered`: the slot was a buyer's of the window
   * the worker owes, that the buyer's prepaid share does not cover.
   */
  | { status: 'paused' | 'pricedout' | 'unfunded'; uncovered: boolean }
  /** The tile has another class (the one its first replica's worker is in; '' none): its slot belongs in that class's queue. */
  | { status: 'wrongclass'; class: string }
  /** A copy of a slot whose holder's lease is live until `until` (ms). */
  | { status: 'leased'; until: number }
  /** A dry run: it could take the slot, at this price (ticks per RU). */
  | { status: 'eligible'; price: number };

/** A task's slots `from` up to `to`, less those in `keep`. */
export type SlotRange = [task: string, from: number, to: number, keep?: number[]];

/** A let-go replica's tile that no longer has a class (holders.lua unpinClass): the class it had, or ''. */
export interface LetGo {
  unpinned: string;
}

const uniform = () => randomInt(2 ** 32) / 2 ** 32;

/** The job of a task id the farm's own records hold (one that does not parse is a bug, not input). */
function jobOf(task: string): string {
  const job = parseTaskId(task)?.job;
  if (!job) throw new Error(`not a task id: ${task}`);
  return job;
}

/** A replica's slot as replica-locate.lua finds it. */
export interface Located {
  task: string;
  n: number;
  /** The slot's current record: another replica's, if it was reassigned. */
  replica?: ReplicaRecord;
  rect?: Rect;
}

/** A worker's result for a replica it holds, checked and stored, to be recorded. */
export interface ResultToRecord {
  task: string;
  n: number;
  rid: string;
  worker: string;
  cid: string;
  rays: number;
}

export interface SubmitResult {
  status: 'submitted' | 'spot' | 'duplicate' | 'expired' | 'obsolete' | 'notassigned' | 'conflict';
  /** A spot check's: when its verdict is due (ms). */
  due?: number;
}

/** The economy's settings, as the scripts need them (µc). */
export interface Economy {
  /** The operator's fee on a job's payments, in parts per million. */
  feePpm: number;
  stakePerReplicaMicros: number;
  /** Share of a caught worker's whole stake that a fault loses. */
  slashShare: number;
  deadlinePenaltyMicros: number;
  /** Most replicas an untrusted worker may hold at once. */
  maxHeldReplicas: number;
  /** Least stake an untrusted worker must hold to take work: what an identity costs. */
  minStakeMicros: number;
  /** Hand-backs an untrusted worker makes in an hour for nothing (config.ts). */
  freeHandBacksPerHour: number;
}

export class Tasks {
  constructor(
    private readonly redis: FarmRedis,
    private readonly economy: Economy,
    /** How long a tile that cannot progress waits before it is decided with what it has. */
    private readonly graceMs: number,
  ) {}

  /** Idempotent: re-planning after a crash leaves existing tasks as they are. */
  async create(job: string, tasks: readonly PlannedTask[], replicas: number): Promise<void> {
    const now = Date.now();
    for (let i = 0; i < tasks.length; i += 500) {
      const batch = tasks.slice(i, i + 500);
      await runScript(
        this.redis,
        'task-create',
        [keys.jobPending(job), ...batch.map((t) => keys.task(t.id))],
        [job, replicas, now, ...batch.flatMap((t) => [t.id, t.frame, t.tile, JSON.stringify(t.rect), Math.random()])],
      );
    }
  }

  /**
   * What opaque replica ids stand for, in one round trip however many: each one's task, slot,
   * the slot's current record (whoever holds it now) and the task's rectangle; undefined for an
   * id that names no slot.
   */
  async locate(rids: readonly string[]): Promise<(Located | undefined)[]> {
    if (rids.length === 0) return [];
    const found = (await runScript(this.redis, 'replica-locate', rids.map(keys.replica), [])) as (
      | []
      | [string, string, string | null, string | null]
    )[];
    return found.map((f) => {
      // An index entry that names no task of this farm's form names nothing.
      if (f.length === 0 || !parseTaskId(f[0])) return undefined;
      const [task, n, replica, rect] = f;
      return { task, n: Number(n), replica: replica ? JSON.parse(replica) : undefined, rect: rect ? JSON.parse(rect) : undefined };
    });
  }

  /** A slot's current record and its task's rectangle (which never changes: no need to read both at one instant). */
  async slot(task: string, n: number): Promise<{ replica?: ReplicaRecord; rect?: Rect }> {
    const [replica, rect] = await Promise.all([
      this.redis.hget(keys.taskReplicas(task), String(n)),
      this.redis.hget(keys.task(task), 'rect'),
    ]);
    return { replica: replica ? JSON.parse(replica) : undefined, rect: rect ? JSON.parse(rect) : undefined };
  }

  async get(id: string): Promise<TaskRecord | undefined> {
    const h = await this.redis.hgetall(keys.task(id));
    return h.job ? toTask(id, h) : undefined;
  }

  async replicas(id: string): Promise<ReplicaRecord[]> {
    return toReplicas(await this.redis.hgetall(keys.taskReplicas(id)));
  }

  /**
   * Everything a verdict reads, in one round trip: the task, its replicas, its job's state and
   * timeout, the fields of the workers it weighs (task-snapshot.lua says which), and when the
   * task's next look is scheduled.
   */
  async snapshot(id: string): Promise<
    | {
        task: TaskRecord;
        replicas: ReplicaRecord[];
        jobState: string;
        deadlineAt: number;
        workerFields: Record<string, string>[];
        /** When its next look is scheduled (its score among the tasks due a look, as Redis wrote it); null: none. */
        lookAt: string | null;
      }
    | undefined
  > {
    const job = parseTaskId(id)?.job;
    if (!job) return undefined;
    const [taskFields, replicaFields, progress, workerFields, lookAt] = (await runScript(
      this.redis,
      'task-snapshot',
      [keys.task(id), keys.taskReplicas(id), keys.job(job)],
      [id],
    )) as [string[], string[], (string | null)[], string[][], string | false | null];
    const task = fieldsOf(taskFields);
    if (!task.job) return undefined;
    return {
      task: toTask(id, task),
      replicas: toReplicas(fieldsOf(replicaFields)),
      jobState: progress[0] ?? '',
      deadlineAt: Number(progress[1] ?? Number.POSITIVE_INFINITY),
      workerFields: workerFields.map(fieldsOf),
      lookAt: typeof lookAt === 'string' ? lookAt : null,
    };
  }

  async bind(
    task: string,
    n: number,
    worker: string,
    rid: string,
    deadline: number,
    queue: string,
    arbiterOnly: boolean,
    shareCap: number,
    /** The spot price (the last clearing's, null when nothing crossed), the last that traded, a market order's collar. */
    prices: Prices,
    /**
     * The forward window delivering now, when the worker owes it, and whether its buyers had no
     * slot it could take (its time on other work is then excused).
     */
    forward?: DeliveringWindow & { buyersHadNone: boolean },
    /** Only whether the worker could take it ('eligible'); nothing changes. */
    dryRun = false,
    /**
     * When its holder's lease began: the BullMQ fetch of the slot, which set its lock. The
     * replica's assignedAt, so that a stall, a lease after the fetch, is never earlier than a
     * lease after the bind (expire.lua's test for whose lease lapsed).
     */
    at = Date.now(),
    /** Its first lease (lease-terms.ts), from `at`: recorded as `leaseUntil`; none when absent. */
    firstLeaseMs?: number,
  ): Promise<BindResult> {
    const job = parseTaskId(task)?.job;
    if (!job) return { status: 'missing' };
    const reply = (await runScript(
      this.redis,
      'bind',
      [keys.task(task), keys.taskReplicas(task), keys.worker(worker), keys.job(job)],
      [
        task,
        n,
        worker,
        rid,
        at,
        deadline,
        queue,
        arbiterOnly ? 1 : 0,
        this.economy.stakePerReplicaMicros,
        this.economy.maxHeldReplicas,
        shareCap,
        this.economy.deadlinePenaltyMicros,
        this.economy.minStakeMicros,
        dryRun ? 1 : 0,
        prices.spot ?? '',
        maxRaysPerSample(LIMITS.maxBounces),
        forward?.start ?? '',
        forward?.price ?? '',
        forward?.end ?? '',
        prices.traded ?? '',
        forward?.buyersHadNone ? 1 : 0,
        firstLeaseMs === undefined ? '' : Math.min(deadline, at + firstLeaseMs),
        prices.marketLimit ?? '',
      ],
    )) as string[];
    const [status, record, frame, rect, scene] = reply;
    if (status === 'eligible') return { status, price: Number(record) };
    if (status === 'wrongclass') return { status, class: record };
    if (status === 'leased') return { status, until: Number(record) };
    if (status === 'paused' || status === 'pricedout' || status === 'unfunded') return { status, uncovered: Number(record) === 1 };
    if (status !== 'bound' && status !== 'again') return { status } as BindResult;
    this.changed(task);
    return { status, replica: JSON.parse(record), frame: Number(frame), rect: JSON.parse(rect), scene };
  }

  /**
   * A spot check for the worker from a pool of known answers (each serving `uses` workers), if one
   * fits. `price`: what the treasury pays the check at (ticks per RU; null: nothing, no price ever
   * traded); `standsFor`: the slot's task it stands in for, and tiles of that task's frame to try
   * first.
   */
  async spot(
    pool: string,
    worker: string,
    rid: string,
    deadline: number,
    leaseMs: number,
    uses: number,
    price: number | null,
    standsFor?: { task: string; tiles: readonly number[]; window?: number },
  ) {
    const now = Date.now();
    const picked = (await runScript(
      this.redis,
      'spot',
      [keys.spotPool(pool), keys.worker(worker)],
      [
        worker,
        rid,
        now,
        deadline,
        Math.min(deadline, now + leaseMs),
        this.economy.stakePerReplicaMicros,
        this.economy.maxHeldReplicas,
        this.economy.minStakeMicros,
        uses,
        price ?? '',
        standsFor?.task ?? '',
        standsFor?.tiles.join(',') ?? '',
        standsFor?.window ?? '',
      ],
    )) as [string, number, string, string, string] | null;
    if (!picked) return undefined;
    const [task, n, frame, rect, scene] = picked;
    this.changed(task);
    return { task, n: Number(n), frame: Number(frame), rect: JSON.parse(rect) as Rect, scene };
  }

  /** Records results for replicas their workers hold, a batch in one script, each as if alone. */
  async submit(results: readonly ResultToRecord[]): Promise<SubmitResult[]> {
    if (results.length === 0) return [];
    const now = Date.now();
    const answers = (await runScript(
      this.redis,
      'submit',
      results.flatMap(({ task }) => [keys.task(task), keys.taskReplicas(task), keys.job(jobOf(task))]),
      [
        // Unpredictable, so that no one can tell when a spot check's verdict will come.
        ...results.flatMap((r) => [r.n, r.rid, r.worker, r.cid, now + this.graceMs, r.task, r.rays, uniform(), uniform()]),
        now,
      ],
    )) as [SubmitResult['status'], number?][];
    return answers.map(([status, due], i) => {
      if (status === 'spot' || status === 'submitted' || status === 'obsolete') this.changed(results[i].task);
      return { status, due };
    });
  }

  /**
   * Closes an ended job's draining tile whose results do not stand without more work
   * (task-close.lua), judged on `task.version`; false when it changed meanwhile (judge again).
   */
  async closeDrained(task: TaskRecord): Promise<boolean> {
    return (await runScript(this.redis, 'task-close', [keys.task(task.id)], [task.id, task.version, Date.now(), task.job])) === 1;
  }

  /**
   * Applies a decision judged on `task.version`. Returns 'stale' when something changed the
   * task first (judge again), or what changed.
   */
  async settle(task: TaskRecord, settlement: Settlement, tilesPerFrame: number, vouch: boolean) {
    const now = Date.now();
    const [status, value, caught] = (await runScript(
      this.redis,
      'settle',
      [
        keys.task(task.id),
        keys.taskReplicas(task.id),
        keys.job(task.job),
        keys.jobFrames(task.job),
        keys.jobPending(task.job),
        keys.jobFrameGen(task.job),
      ],
      [
        task.id,
        task.job,
        task.version,
        JSON.stringify(settlement),
        now,
        tilesPerFrame,
        this.economy.feePpm,
        this.economy.slashShare,
        vouch ? 1 : 0,
        now + this.graceMs,
        this.economy.deadlinePenaltyMicros,
        this.economy.freeHandBacksPerHour,
      ],
    )) as [string, number, string];
    if (status !== 'stale' && status !== 'waiting') this.changed(task.id);
    const parsed: unknown = JSON.parse(caught || '[]');
    return {
      status: status as 'stale' | 'verified' | 'issued' | 'late' | 'waiting' | 'failed',
      value: Number(value),
      caught: Array.isArray(parsed) ? (parsed as string[]) : [],
    };
  }

  /** Judges a spot check whose verdict is due; false when it was judged already or is not due. */
  async spotVerdict(task: string, n: number, pass: boolean): Promise<boolean> {
    const judged =
      (await runScript(
        this.redis,
        'spot-verdict',
        [keys.taskReplicas(task)],
        [n, pass ? 1 : 0, Date.now(), this.economy.slashShare, task, this.economy.feePpm],
      )) === 1;
    if (judged) this.changed(task);
    return judged;
  }

  /**
   * The holder of replica `rid`, or of slot n if it was bound at or before `boundBefore`, lost
   * its lease: it timed out. Undefined when nobody did.
   */
  async expire(task: string, n: number, rid: string, boundBefore = Date.now()): Promise<LetGo | undefined> {
    const now = Date.now();
    const [expired, unpinned] = (await runScript(
      this.redis,
      'expire',
      [keys.task(task), keys.taskReplicas(task)],
      [n, rid, now, this.economy.deadlinePenaltyMicros, now + this.graceMs, task, boundBefore],
    )) as [number, string];
    if (expired !== 1) return undefined;
    this.changed(task);
    return { unpinned };
  }

  /**
   * A heartbeat renews the leases of these replicas of the worker's that it still holds and whose
   * lease has not lapsed (renew.lua): each one renewed, with its new lease end.
   */
  async renew(worker: string, held: readonly { task: string; n: number; rid: string }[], leaseMs: number): Promise<Map<string, number>> {
    if (held.length === 0) return new Map();
    const flat = (await runScript(
      this.redis,
      'renew',
      held.map((h) => keys.taskReplicas(h.task)),
      [worker, Date.now(), leaseMs, ...held.map((h) => h.n), ...held.map((h) => h.rid)],
    )) as (string | number)[];
    const renewed = new Map<string, number>();
    for (let i = 0; i < flat.length; i += 2) renewed.set(String(flat[i]), Number(flat[i + 1]));
    return renewed;
  }

  async forgetSpotLease(rid: string): Promise<void> {
    await this.redis.zrem(keys.spotLeases, rid);
  }

  /** Spot checks whose lease lapsed. */
  lapsedSpotChecks(now: number): Promise<string[]> {
    return this.redis.zrangebyscore(keys.spotLeases, '-inf', now, 'LIMIT', 0, 500);
  }

  /** Spot checks answered whose verdict is due. */
  dueSpotChecks(now: number): Promise<string[]> {
    return this.redis.zrangebyscore(keys.spotDue, '-inf', now, 'LIMIT', 0, 500);
  }

  async forgetSpotDue(rid: string): Promise<void> {
    await this.redis.zrem(keys.spotDue, rid);
  }

  /**
   * Hands a held replica back, or gives it up with the render error its worker reports; undefined
   * if not held. `byWorker`: the worker's own doing, counted against its free hand-backs
   * (release.lua); not when a poll's worker hung up before it was told what it found.
   */
  async release(task: string, n: number, rid: string, worker: string, error = '', byWorker = true): Promise<LetGo | undefined> {
    const now = Date.now();
    const unpinned = (await runScript(
      this.redis,
      'release',
      [keys.task(task), keys.taskReplicas(task)],
      [
        n,
        rid,
        worker,
        now,
        now + this.graceMs,
        task,
        error,
        byWorker ? this.economy.freeHandBacksPerHour : '',
        this.economy.deadlinePenaltyMicros,
      ],
    )) as string | null;
    if (unpinned === null) return undefined;
    this.changed(task);
    return { unpinned };
  }

  /**
   * The tasks whose unanchored verdicts rested on a worker's word, and when it was caught (null:
   * no backtracking is due for it), read together.
   */
  async vouched(worker: string): Promise<{ tasks: string[]; caughtAt: string | null }> {
    const [[, caughtAt], [, tasks]] = (await this.redis
      .multi()
      .zscore(keys.backtracksDue, worker)
      .smembers(keys.workerVouched(worker))
      .exec()) as [[unknown, string | null], [unknown, string[]]];
    return { tasks, caughtAt };
  }

  /** Backtracking weighed these of the worker's vouched tasks again (backtracked.lua). */
  async backtracked(worker: string, tasks: readonly string[], caughtAt: string | null): Promise<void> {
    await runScript(this.redis, 'backtracked', [keys.workerVouched(worker), keys.backtracksDue], [worker, caughtAt ?? '', ...tasks]);
  }

  /** Workers caught before `before` whose backtracking has not finished (a crash stopped it), oldest first. */
  /** The finished jobs' tiles backtracking marked below θ that were looked at least lately (reopen.lua). */
  marked(limit: number): Promise<string[]> {
    return this.redis.zrange(keys.tasksMarked, 0, limit - 1);
  }

  /** A marked tile looked at (`now`: it waits its turn again), or done with (no `now`). */
  async lookedAtMarked(task: string, now?: number): Promise<void> {
    if (now === undefined) await this.redis.zrem(keys.tasksMarked, task);
    else await this.redis.zadd(keys.tasksMarked, 'XX', now, task);
  }

  backtracksDue(before: number, limit: number): Promise<string[]> {
    return this.redis.zrangebyscore(keys.backtracksDue, '-inf', before, 'LIMIT', 0, limit);
  }

  /**
   * Back to pending, suspect; `caught` ('' for a dispute) loses its place in the accepted group.
   * A finished job's tile that backtracking reopens with no trusted worker online (`trustedOnline`
   * false) is marked accepted below θ instead (reopen.lua); null: neither (it changed meanwhile).
   */
  async reopen(task: TaskRecord, caught: string, trustedOnline = true): Promise<'reopened' | 'marked' | null> {
    const outcome = (await runScript(
      this.redis,
      'reopen',
      [
        keys.task(task.id),
        keys.taskReplicas(task.id),
        keys.job(task.job),
        keys.jobFrames(task.job),
        keys.jobFrameCids(task.job),
        keys.jobPending(task.job),
      ],
      [task.id, task.job, caught, Date.now(), trustedOnline ? 0 : 1],
    )) as number;
    if (outcome > 0) this.changed(task.id);
    return outcome === 1 ? 'reopened' : outcome === 2 ? 'marked' : null;
  }

  /**
   * Opens a tile starved in class `task.class` to the others (reclass.lua), judged on
   * `task.version`; false when the task changed or a replica of it was taken meanwhile (judge again).
   */
  async reclass(task: TaskRecord): Promise<boolean> {
    const opened = (await runScript(
      this.redis,
      'reclass',
      [keys.task(task.id), keys.taskReplicas(task.id)],
      [task.id, task.version, task.class, Date.now()],
    )) as number;
    if (opened === 1) this.changed(task.id);
    return opened === 1;
  }

  /**
   * The verified ones of these tasks: when each was decided and whose real replicas it accepted
   * (spot checks are the operator's, not the job's), read 500 tasks a round trip.
   */
  async outcomes(ids: readonly string[]): Promise<TileOutcome[]> {
    const out: TileOutcome[] = [];
    for (let i = 0; i < ids.length; i += 500) {
      const m = this.redis.multi();
      for (const id of ids.slice(i, i + 500)) m.hmget(keys.task(id), 'state', 'decidedAt').hgetall(keys.taskReplicas(id));
      const rows = ((await m.exec()) ?? []).map(([, value]) => value);
      for (let j = 0; j < rows.length; j += 2) {
        const [state, decidedAt] = rows[j] as (string | null)[];
        if (state !== 'verified') continue;
        const workers = toReplicas(rows[j + 1] as Record<string, string>)
          .filter((r) => r.state === 'valid' && !r.spot)
          .map((r) => r.worker);
        out.push({ decidedAt: Number(decidedAt), workers });
      }
    }
    return out;
  }

  /** Pending tasks of a job, a page at a time (timeouts, recovery). */
  async pendingOf(job: string, cursor: string): Promise<[string, string[]]> {
    return this.redis.sscan(keys.jobPending(job), cursor, 'COUNT', 500);
  }

  /**
   * Winds down a batch of a closed job's pending tasks; returns how many are left and the slots to
   * withdraw (a draining task's held ones kept: includes/drain.lua).
   */
  async close(job: string, batch: number): Promise<{ left: number; slots: SlotRange[] }> {
    const [left, slots] = (await runScript(this.redis, 'close-tasks', [keys.jobPending(job)], [Date.now(), batch, job])) as [
      number,
      string,
    ];
    const parsed: unknown = JSON.parse(slots);
    return { left: Number(left), slots: Array.isArray(parsed) ? (parsed as SlotRange[]) : [] };
  }

  /** Pending tasks due a look (small-farm grace), oldest first. */
  idle(now: number, limit: number): Promise<string[]> {
    return this.redis.zrangebyscore(keys.tasksIdle, '-inf', now, 'LIMIT', 0, limit);
  }

  /**
   * Takes the task out of those due a look; given `lookAt` (its score when a verdict read it),
   * only if its look is still that one: a look another change scheduled since then stands.
   */
  async forgetIdle(task: string, lookAt?: string): Promise<void> {
    if (lookAt === undefined) await this.redis.zrem(keys.tasksIdle, task);
    else await runScript(this.redis, 'idle-forget', [keys.tasksIdle], [task, lookAt]);
  }

  /** Tells the task's watchers (live views) that it changed. */
  private changed(task: string): void {
    const job = parseTaskId(task)?.job;
    if (job) announce(this.redis, job, task);
  }

  /**
   * The task as the API shows it. Spot checks of a tile are shown to the operator only: a
   * requester watching its own tile live could tell a colluding worker that its replica is one.
   */
  async view(id: string, withSpotChecks: boolean): Promise<TaskView | undefined> {
    const [task, replicas] = await Promise.all([this.get(id), this.replicas(id)]);
    if (!task) return undefined;
    return {
      task: id,
      frame: task.frame,
      tile: task.tile,
      rect: task.rect,
      state: task.state === 'verified' ? 'verified' : 'pending',
      cid: task.cid,
      rays: task.state === 'verified' ? task.rays : null,
      credibility: task.credibility,
      belowThreshold: task.below,
      anchored: task.anchored,
      decidedAt: task.decidedAt,
      auditSkipped: task.auditSkipped,
      waiting: task.state === 'pending' ? task.waiting : null,
      replicas: replicas
        .filter((r) => withSpotChecks || !r.spot)
        .flatMap((r) => [...(r.previous ?? []), r])
        .map(
          (r): ReplicaView => ({
            spot: r.spot === true,
            arbiter: r.arbiter === true,
            replica: r.rid,
            worker: r.worker,
            state: r.state,
            cid: r.cid ?? null,
            rays: r.rays ?? null,
            price: r.price === undefined ? null : fromTicks(r.price),
            paid: r.paid === undefined ? null : fromMicros(Number(r.paid) - Number(r.clawedBack ?? 0)),
            assignedAt: r.assignedAt,
            submittedAt: r.submittedAt ?? null,
            error: r.error ?? null,
          }),
        ),
    };
  }
}

function toReplicas(h: Record<string, string>): ReplicaRecord[] {
  return Object.keys(h)
    .sort((a, b) => Number(a) - Number(b))
    .map((n) => JSON.parse(h[n]));
}

function toTask(id: string, h: Record<string, string>): TaskRecord {
  const waiting = h.waiting ? TileWait.safeParse(JSON.parse(h.waiting)) : undefined;
  return {
    id,
    job: h.job,
    frame: Number(h.frame),
    tile: Number(h.tile),
    rect: JSON.parse(h.rect),
    class: h.class ?? '',
    excluded: h.excluded ? (JSON.parse(h.excluded) as string[]) : [],
    state: h.state as TaskRecord['state'],
    cid: h.cid || null,
    rays: Number(h.rays ?? 0),
    issued: Number(h.issued),
    nextSlot: Number(h.nextSlot ?? h.issued),
    outstanding: Number(h.outstanding),
    version: Number(h.version),
    credibility: h.credibility ? Number(h.credibility) : null,
    below: h.below === '1',
    anchored: h.anchored === '1',
    suspect: h.suspect === '1',
    arbiterSlot: h.arbiter ? Number(h.arbiter) : null,
    audited: h.audited === '1',
    auditRoll: Number(h.auditRoll ?? 0),
    auditSkipped: h.auditSkipped === '1',
    progressAt: Number(h.progressAt ?? 0),
    decidedAt: h.decidedAt ? Number(h.decidedAt) : null,
    waiting: waiting?.success ? waiting.data : null,
    draining: h.draining === '1',
  };
}
