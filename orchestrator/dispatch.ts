/**
 * Replica delivery through BullMQ. BullMQ cannot route a job to a chosen worker, and our workers
 * are untrusted HTTP clients that never touch Redis, so:
 * - every replica slot of a task is a BullMQ job (id `<task>.r<n>`, which deduplicates re-issues);
 * - slots are prioritised by their job's bid, the highest first, then by its priority
 *   (market/priority.ts); a job's new priority moves its waiting slots (slot-refresh.ts);
 * - a paused job's slot is parked (delayed) as it comes up, and promoted again at resume;
 * - new tasks' slots wait in the shared queue `slots`; once a task's first replica fixes its
 *   determinism class, further slots go to that class's queue, and slots only the operator's
 *   trusted workers may take (arbitration, audits) to the class's arbiter queue. Queues exist only
 *   for classes the trusted workers established (measured by calibration, never declared);
 * - a worker's long-poll makes the orchestrator fetch jobs for it (manual `getNextJob`, the
 *   worker's id as lock token) and bind the first slot it is eligible for; slots it may not take
 *   go back to the head of their queue;
 * - the BullMQ lock is the worker's lease: a first lease one heartbeat interval longer than what a
 *   heartbeat renews (lease-terms.ts), then heartbeats extend it until the replica's deadline. A
 *   dead or late worker's lease lapses, BullMQ's stalled check puts the slot back in its queue,
 *   and its holder is recorded as timed out;
 * - untrusted workers also get spot checks (tasks.spot): only in place of a slot they could take,
 *   so they arrive when a replica would, with an opaque id like any replica, from that slot's
 *   frame where it has a known answer, paid what that slot would have traded at. A provisional
 *   class's workers get nothing else.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { Job, Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Assignment } from '../shared/protocol.ts';
import type { Rect } from '../shared/tile.ts';
import { type SlotRank, slotPriority } from './market/priority.ts';
import type { Metrics } from './metrics.ts';
import { parseSlotId, slotId, slotLogIds } from './planner.ts';
import type { Classes } from './state/classes.ts';
import type { DeliveringWindow } from './state/forwards.ts';
import type { JobPlan, Jobs } from './state/jobs.ts';
import type { BindResult, LetGo, ReplicaRecord, SlotRange, Tasks } from './state/tasks.ts';
import type { WorkerRecord, Workers } from './state/workers.ts';

/**
 * How long a paused job's slot is parked before it is looked at again. Resuming promotes the
 * job's parked slots at once (slot-refresh.ts), so this only bounds how often a long pause costs
 * each slot a look.
 */
const HELD_PARK_MS = 10 * 60_000;

export const SHARED_QUEUE = 'slots';
export const classQueue = (deviceClass: string): string => `slots-${deviceClass}`;
export const arbiterQueue = (deviceClass: string): string => `arbiter-${deviceClass}`;
/** The queue a task's slot waits in: the shared one until the task has a class. */
const laneOf = (deviceClass: string, arbiter: boolean): string =>
  !deviceClass ? SHARED_QUEUE : arbiter ? arbiterQueue(deviceClass) : classQueue(deviceClass);
/**
 * Slots a poll may hold in each of its queues while looking for one its worker is eligible for
 * (each queue its own: slots it may not take at the head of one — tiles it already answered —
 * must not keep it from the next) …
 */
const SCAN_LIMIT = 16;
/** … and, for a provider that owes a forward window, for one of its buyers'. */
const BUYER_SCAN_LIMIT = 64;
/**
 * A buyer's slot is work for a provider owing the window when it was given it, or kept from it by
 * its own doing: its holdings, its stake, its ask, a fault on the job, a replica of the tile it let
 * go, its share of the job spent in part on replicas it let go (a share never shrinks when a
 * replica is let go). Not a tile it answered, another class's, its share spent on work it did
 * ('sharedone'), or the buyer's own limits: no work it failed to do — nor a tile the buyer's
 * prepaid share does not cover that the spot market keeps from it (`uncovered`).
 */
const BUYER_WORK_FOR_IT = new Set<BindResult['status']>([
  'bound',
  'again',
  'busy',
  'nostake',
  'pricedout',
  'blacklisted',
  'letgo',
  'share',
]);
/**
 * A lane a look found empty is not looked in again for this long, unless this process adds to it
 * first: fetching from an empty queue is a script call, and a trusted worker's look would make two
 * of them (arbiter and class queue) for every slot it takes from the shared one. Another
 * orchestrator's additions are seen by the first look after this long: a waiting poll wakes every
 * second, and looks unless its lanes were found empty, or are being looked in, within it. Only for
 * the look at any work: a look for a forward window's buyers sees every lane, since what it finds
 * excuses a provider's idle time.
 */
const EMPTY_LANE_MS = 250;
/** Finished slot jobs are kept this long so that a re-issue with the same id is a no-op. */
const KEEP_FINISHED = { age: 24 * 3600 };

export interface DispatchOptions {
  /** What a heartbeat renews a replica's lease for (lease-terms.ts). */
  leaseMs: number;
  /** A bound replica's lease before its first heartbeat: an interval longer (lease-terms.ts). */
  firstLeaseMs: number;
  taskTimeoutMs: number;
  /** How long a worker's poll waits for work before answering "nothing". */
  pollMs: number;
  /** Least fraction q of an untrusted worker's replicas that are spot checks. */
  spotCheckRate: number;
  spotCheckUses: number;
  /** Share of a job's tiles one untrusted worker may take, and the least number it may always take. */
  jobShare: number;
  jobShareFloor: number;
  /** What an untrusted worker's stake must allow for one more replica (the bind script checks it again). */
  stakePerReplicaMicros: number;
  maxHeldReplicas: number;
  minStakeMicros: number;
  /** A paused job's slot waits this long (a market interval) before it is looked at again. */
  marketIntervalMs: number;
}

/**
 * Ticks per RU: the last spot clearing's price (null: nothing crossed), the last that traded (null:
 * none ever), and the most a market order pays, as that clearing collared it (null: any price).
 */
export interface Prices {
  spot: number | null;
  traded: number | null;
  marketLimit: number | null;
}

/** What binding needs of the market, read at most a few times an interval. */
export interface MarketReader {
  prices(): Promise<Prices>;
  /** The forward window delivering now, if it cleared at a price. */
  delivering(): Promise<DeliveringWindow | undefined>;
  /** A provider that owes the window asked for work from `from` to `to` (ms) and no buyer had any. */
  recordIdle(window: DeliveringWindow, worker: string, from: number, to: number): Promise<void>;
}

/** The market terms a scan binds under: the prices, and the window the worker owes, if any. */
interface Terms {
  prices: Prices;
  owed?: DeliveringWindow;
  /** The worker owes a window and looked through every slot it may take: none was its buyers'. */
  buyersHadNone?: boolean;
}

/** One look through a worker's queues: what it found, and whether it counts as idle for a forward window it owes. */
interface Look {
  found?: Assignment;
  idle: boolean;
  /** The lane it found a slot in (a spot check stands in for one: the slot went back). */
  lane?: string;
}

interface Lane {
  queue: Queue;
  fetcher: Worker;
}

/** A long-poll as a waiter on its lanes: `wake` ends its wait while it waits (not while it looks). */
interface Waiter {
  wake?: () => void;
  lanes: Set<string>;
}

/** A new opaque replica id: it names no job, task or slot. */
export const newReplicaId = (): string => `r${randomBytes(16).toString('hex')}`;

/** Up to `count` distinct integers under n, uniformly drawn. */
function distinctBelow(n: number, count: number): number[] {
  const drawn = new Set<number>();
  while (drawn.size < Math.min(n, count)) drawn.add(randomInt(n));
  return [...drawn];
}

/**
 * What the treasury pays a spot check at: the price of the slot it stands in for, so that its pay
 * looks like that slot's would have, but never more than the last price that traded (an ask a
 * key set alone, or a window's price it dealt with itself, would drain the treasury); nothing
 * before any price traded.
 */
export const checkPrice = (slotPrice: number, traded: number | null): number | null =>
  traded === null ? null : Math.min(slotPrice, traded);

/**
 * The chance that a replica handed to an untrusted worker with k checks passed is a spot check:
 * certain for a newcomer (its results would weigh nothing, so it gets known answers while there
 * are any for it), high while k is small, at least q for everyone; q = 0 turns spot checks off.
 */
export const spotCheckChance = (q: number, k: number): number => (q === 0 ? 0 : k === 0 ? 1 : Math.max(q, 1 / (k + 2)));

/** What every slot's BullMQ job keeps until it finishes. */
const SLOT_JOB_OPTS = { removeOnComplete: KEEP_FINISHED, removeOnFail: KEEP_FINISHED };
/** The states of a slot that nobody holds: one in them may move to another queue. */
const UNHELD = ['waiting', 'prioritized', 'delayed'];

/** A replica slot as a BullMQ job, placed in its queue by its job's bid and priority. */
const slotJob = (task: string, n: number, rank: SlotRank) => ({
  name: 'replica',
  data: { task },
  opts: { ...SLOT_JOB_OPTS, jobId: slotId(task, n), priority: slotPriority(rank) },
});

/** Ignores BullMQ's refusal for a slot that finished or moved since it was read (its message names it); rethrows the rest. */
const movedMeanwhile = (slot: string) => (e: Error) => {
  if (!e.message.includes(slot)) throw e;
};

/** A worker as binding a replica or a spot check leaves it: one more in flight, and an untrusted one's stake locked for it. */
const holdingOneMore = (w: WorkerRecord, stakePerReplica: number): WorkerRecord => ({
  ...w,
  inFlight: w.inFlight + 1,
  locked: w.trusted ? w.locked : w.locked + stakePerReplica,
});

/** Most tiles of a job one untrusted worker may take. */
export const shareCap = (tilesTotal: number, share: number, floor: number): number => Math.max(floor, Math.ceil(tilesTotal * share));

export class Dispatcher {
  private readonly lanes = new Map<string, Lane>();
  /** Polls waiting for work, by the lanes they take from, in the order they began to wait: a wake-up goes to the longest wait. */
  private readonly waiting = new Map<string, Set<Waiter>>();
  /**
   * When a look last found each lane empty, or began to look in one found empty before
   * (EMPTY_LANE_MS; performance.now(), which no clock step moves).
   */
  private readonly emptyAt = new Map<string, number>();
  private readonly queueListeners: ((queue: Queue) => void)[] = [];
  private closed = false;

  constructor(
    private readonly connection: Redis,
    private readonly tasks: Tasks,
    private readonly jobs: Jobs,
    private readonly classes: Classes,
    private readonly workers: Workers,
    private readonly opts: DispatchOptions,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    private readonly market: MarketReader,
  ) {}

  /** Calls `listener` with each slot queue, now and as class queues open (bull-board, metrics). */
  eachQueue(listener: (queue: Queue) => void): void {
    this.lane(SHARED_QUEUE);
    this.queueListeners.push(listener);
    for (const lane of this.lanes.values()) listener(lane.queue);
  }

  /**
   * Adds replica slots `ns` of a task, ranked by its job's bid and priority (market/priority.ts):
   * to its class's queue (or arbiter queue) once it has a class.
   */
  async issue(task: string, ns: readonly number[], deviceClass: string, rank: SlotRank, arbiter = false): Promise<void> {
    if (ns.length === 0) return;
    const name = laneOf(deviceClass, arbiter);
    await this.lane(name).queue.addBulk(ns.map((n) => slotJob(task, n, rank)));
    this.workArrived(name, ns.length);
  }

  /** Slots 0..replicas−1 of new tasks of a job, in the shared queue (planning issues them in batches). */
  async issueNew(tasks: readonly string[], replicas: number, rank: SlotRank): Promise<void> {
    await this.lane(SHARED_QUEUE).queue.addBulk(
      tasks.flatMap((task) => Array.from({ length: replicas }, (_, n) => slotJob(task, n, rank))),
    );
    this.workArrived(SHARED_QUEUE, tasks.length * replicas);
  }

  /**
   * Gives a task's slots 0..`to`−1 its job's rank now (a waiting slot moves at once; a slot out
   * takes it when it comes back to its queue: BullMQ keeps it on the job) and, `release`, sends
   * slots parked while the job was paused back to their queues.
   */
  async refresh(task: string, to: number, deviceClass: string, rank: SlotRank, release: boolean): Promise<void> {
    const priority = slotPriority(rank);
    const names = deviceClass ? [SHARED_QUEUE, classQueue(deviceClass), arbiterQueue(deviceClass)] : [SHARED_QUEUE];
    const released = new Map<string, number>();
    await Promise.all(
      names.flatMap((name) =>
        Array.from({ length: to }, async (_, n) => {
          const id = slotId(task, n);
          const job = await this.lane(name).queue.getJob(id);
          if (!job) return;
          if (job.priority !== priority) await job.changePriority({ priority }).catch(movedMeanwhile(id));
          if (release && (await job.isDelayed())) {
            await job.promote().catch(movedMeanwhile(id));
            released.set(name, (released.get(name) ?? 0) + 1);
          }
        }),
      ),
    );
    // A new rank is no new work; a released slot is.
    for (const [name, count] of released) this.workArrived(name, count);
  }

  /**
   * Long-poll: the next replica this worker may render, or undefined after `waitMs` (0: after one
   * look). A provider that owes the forward window delivering now, could take work, found none of
   * its buyers' it could take in any look of the poll and holds none of theirs has the poll's time
   * recorded as idle: what excuses it from a shortfall the buyers caused (market/forwards.ts).
   */
  private async next(worker: WorkerRecord, waitMs: number, signal?: AbortSignal): Promise<Look | undefined> {
    const started = Date.now();
    const until = started + waitMs;
    let current = worker;
    let owed: DeliveringWindow | undefined;
    let idle = worker.classState !== 'provisional';
    let quiet = false;
    const waiter: Waiter = { lanes: new Set() };
    try {
      while (!this.closed && !signal?.aborted) {
        if (!quiet) {
          const look = await this.look(current);
          owed = look.owed ?? owed;
          idle &&= look.idle;
          if (look.found) return look;
        }
        const left = until - Date.now();
        if (left <= 0) return undefined;
        // Only a poll that could take a slot waits in its lanes' lines: a wake-up spent on one that
        // cannot (a provisional worker's, one without free stake) would leave the slot to the timers.
        const mine = this.lanesOf(current);
        const eligible = current.classState !== 'provisional' && this.mayTakeWork(current);
        const woken = await this.waitForWork(waiter, eligible ? mine : [], Math.min(left, 1000), signal);
        if (this.closed || signal?.aborted) break;
        // Nothing new for it: no work arrived here, and every lane it takes from was found empty
        // moments ago, or is being looked in (by any poll of this process), so its look would read
        // its record and find nothing. Thousands of idle workers' polls would each cost that read
        // every second.
        quiet = !woken && !owed && current.classState !== 'provisional' && mine.every((l) => this.knownEmpty(l));
        // Its stake and holdings change while it waits (verdicts unlock stake).
        if (!quiet) current = (await this.workers.get(worker.id)) ?? current;
      }
      return undefined;
    } finally {
      for (const name of waiter.lanes) this.waiting.get(name)?.delete(waiter);
      if (owed && idle) await this.market.recordIdle(owed, worker.id, started, Date.now()).catch(() => undefined);
    }
  }

  /**
   * A batched long-poll: up to `max` replicas, the first as next() finds it, the rest from looks
   * that do not wait (each under the worker's stake and holdings as the last bind left them, each
   * with its own chance of being a spot check). Empty after pollMs when there is nothing; at once
   * when `wait` is false (a worker's upload asking for more).
   */
  async nextBatch(worker: WorkerRecord, max: number, signal?: AbortSignal, wait = true): Promise<Assignment[]> {
    let last = await this.next(worker, wait ? this.opts.pollMs : 0, signal);
    if (!last?.found) return [];
    const found = [last.found];
    try {
      // Read once after the wait; then as each bind leaves it, without reading it back: this only
      // spares looks that would fail (bind.lua checks the worker's stake and holdings itself).
      let current = max > 1 ? await this.workers.get(worker.id) : undefined;
      while (current && found.length < max && !this.closed && !signal?.aborted) {
        const more = await this.look(current);
        if (!more.found) return found;
        found.push(more.found);
        last = more;
        current = holdingOneMore(current, this.opts.stakePerReplicaMicros);
      }
    } catch (err) {
      // What is bound is the worker's: it hears of it, or its lease would lapse as its fault.
      this.log.warn({ err, worker: worker.id, replicas: found.length }, 'a look for more replicas failed');
      return found;
    }
    // It has all it asked for and its last look still found a slot: there may be more (another
    // orchestrator's, which no wake-up here announced). The next poll waiting on that lane looks
    // too, and passes it on in turn.
    if (found.length === max && last.lane) this.workArrived(last.lane, 1);
    return found;
  }

  /** One look, without waiting: a provisional worker's spot check, or a scan of the worker's queues. */
  private async look(worker: WorkerRecord): Promise<Look & { owed?: DeliveringWindow }> {
    const terms = await this.terms(worker);
    if (worker.classState !== 'provisional') return { ...(await this.scan(worker, terms)), owed: terms.owed };
    const near = (await this.classes.get(worker.class))?.near;
    return { found: near ? await this.spot(worker, near, terms.prices.traded) : undefined, idle: false, owed: terms.owed };
  }

  private async terms(worker: WorkerRecord): Promise<Terms> {
    const [prices, window] = await Promise.all([this.market.prices(), this.market.delivering()]);
    return { prices, owed: window?.owing.has(worker.id) ? window : undefined };
  }

  /** Marks the slot's BullMQ job done once its result is recorded. */
  async complete(task: string, replica: ReplicaRecord): Promise<void> {
    if (replica.spot) return;
    // The lease may have lapsed and the slot gone to someone else: then that holder completes it.
    await this.heldSlot(task, replica)
      .moveToCompleted('done', replica.worker, false)
      .catch(() => undefined);
  }

  /** Gives a held slot back to its queue (graceful drain): another worker will take it. */
  async handBack(task: string, replica: ReplicaRecord, { unpinned }: LetGo): Promise<void> {
    if (replica.spot) return;
    await this.heldSlot(task, replica)
      .moveToWait(replica.worker)
      .catch(() => undefined);
    this.workArrived(replica.queue, 1);
    await this.unpinned(task, unpinned);
  }

  /**
   * A tile no longer has a class (holders.lua unpinClass, reclass.lua): its slots waiting in that
   * class's queue go back to the shared one, which every class takes from.
   */
  async unpinned(task: string, deviceClass: string): Promise<void> {
    if (!deviceClass) return;
    const from = this.lane(classQueue(deviceClass));
    const to = (await this.tasks.get(task))?.nextSlot ?? 0;
    for (let n = 0; n < to; n++) {
      const slot = await from.queue.getJob(slotId(task, n));
      if (slot && UNHELD.includes(await slot.getState())) await this.moveSlot(slot, from, SHARED_QUEUE);
    }
  }

  /**
   * Moves a slot not held by anyone to another queue, once: a slot is in one queue at a time (a
   * second copy only waits for its holder's lease: bind.lua 'leased'). One taken from `from`
   * meanwhile stays; a crash between the two leaves it in none, and recovery issues it again.
   */
  private async moveSlot(slot: Job, from: Lane, to: string): Promise<void> {
    if ((await from.queue.remove(slot.id as string).catch(() => 0)) !== 1) return;
    await this.lane(to).queue.add(slot.name, slot.data, { ...SLOT_JOB_OPTS, jobId: slot.id, priority: slot.priority });
    this.workArrived(to, 1);
  }

  /**
   * Heartbeat: renews the leases of the worker's replicas that it still holds, whose lease has not
   * lapsed, for a lease and never past their deadline, by one rule for real replicas and spot
   * checks (renew.lua); resolves to what makes a real replica's BullMQ lock follow its lease.
   */
  async extendLeases(worker: string, held: readonly { task: string; replica: ReplicaRecord }[]): Promise<() => Promise<void>> {
    const renewed = await this.tasks.renew(
      worker,
      held.map(({ task, replica }) => ({ task, n: replica.n, rid: replica.rid })),
      this.opts.leaseMs,
    );
    // Only a real replica's lock follows: the caller answers first (work.ts).
    return async () => {
      const now = Date.now();
      await Promise.all(
        held.map(async ({ task, replica }) => {
          const until = renewed.get(replica.rid);
          if (replica.spot || until === undefined || until <= now) return;
          await this.heldSlot(task, replica)
            .extendLock(worker, until - now)
            .catch(() => undefined);
        }),
      );
    };
  }

  /**
   * The BullMQ job of a slot a worker holds, to complete, hand back or extend under the worker's
   * lock: made from what every slot's job holds, not read back (a round trip a replica less). When
   * the job is gone or its lock is another's, BullMQ's script refuses, as before.
   */
  private heldSlot(task: string, replica: ReplicaRecord): Job {
    return new Job(this.lane(replica.queue).queue, 'replica', { task }, SLOT_JOB_OPTS, slotId(task, replica.n));
  }

  /** Removes a closed job's waiting slots from whichever of the task's queues holds them. */
  async withdraw(slots: readonly SlotRange[], deviceClasses: readonly string[]): Promise<void> {
    const names = [SHARED_QUEUE, ...deviceClasses.flatMap((c) => [classQueue(c), arbiterQueue(c)])];
    const ids = slots.flatMap(([task, from, to, keep = []]) =>
      Array.from({ length: to - from }, (_, i) => from + i)
        .filter((n) => !keep.includes(n))
        .map((n) => slotId(task, n)),
    );
    for (let i = 0; i < ids.length; i += 500) {
      await Promise.all(
        names.flatMap((name) =>
          ids.slice(i, i + 500).map((id) =>
            this.lane(name)
              .queue.remove(id)
              .catch(() => 0),
          ),
        ),
      );
    }
  }

  /**
   * The queue that holds a slot's BullMQ job, of the task's queues (for a tile with no class, of
   * every class's too), or undefined: recovery issues it again.
   */
  async queueOf(slot: string, deviceClass: string): Promise<string | undefined> {
    const classes = deviceClass ? [deviceClass] : (await this.classes.all()).filter((c) => c.established).map((c) => c.id);
    for (const name of [SHARED_QUEUE, ...classes.flatMap((c) => [classQueue(c), arbiterQueue(c)])])
      if (await this.lane(name).queue.getJob(slot)) return name;
    return undefined;
  }

  /**
   * Moves a classless tile's slot waiting in class queue `from` to the shared one, where a crash
   * between the tile losing its class and `unpinned` had left it for a poll of that class alone.
   */
  async unstrand(slot: string, from: string): Promise<void> {
    const lane = this.lane(from);
    const found = await lane.queue.getJob(slot);
    if (found && UNHELD.includes(await found.getState())) await this.moveSlot(found, lane, SHARED_QUEUE);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.workArrived();
    await Promise.all([...this.lanes.values()].flatMap((l) => [l.fetcher.close(true), l.queue.close()]));
  }

  /**
   * A spot check, paid by the treasury at `price` (ticks per RU; null: nothing), from the frame
   * of the slot it stands in for where that frame has a known answer (8 of its tiles tried).
   */
  private async spot(
    worker: WorkerRecord,
    pool: string,
    price: number | null,
    standsFor?: { task: string; tilesPerFrame: number; window?: number },
  ): Promise<Assignment | undefined> {
    const deadline = Date.now() + this.opts.taskTimeoutMs;
    const rid = newReplicaId();
    const tried = standsFor && { task: standsFor.task, tiles: distinctBelow(standsFor.tilesPerFrame, 8), window: standsFor.window };
    const spot = await this.tasks.spot(pool, worker.id, rid, deadline, this.opts.firstLeaseMs, this.opts.spotCheckUses, price, tried);
    if (!spot) return undefined;
    this.metrics.replicaIssued(worker.class, true);
    return assignment(rid, spot.scene, spot.frame, spot.rect, deadline);
  }

  /** The queues a worker takes real slots from, most specific first. */
  private lanesOf(worker: WorkerRecord): Lane[] {
    const own = [this.lane(classQueue(worker.class)), this.lane(SHARED_QUEUE)];
    return worker.trusted ? [this.lane(arbiterQueue(worker.class)), ...own] : own;
  }

  /**
   * Looks through the worker's queues for a slot it may take. With probability q(k) an untrusted
   * worker gets a spot check instead — decided only once a slot it could have taken is found, so
   * a spot check arrives exactly when real work would have (the slot goes back to its queue). A
   * provider that owes the forward window delivering now looks for its buyers' slots first.
   */
  private async scan(worker: WorkerRecord, terms: Terms): Promise<Look> {
    if (!this.mayTakeWork(worker)) return { idle: false };
    const wantSpot = !worker.trusted && Math.random() < spotCheckChance(this.opts.spotCheckRate, worker.passed);
    const { owed } = terms;
    let idle = false;
    let buyersHadNone = false;
    if (owed) {
      const first = await this.pass(worker, terms, wantSpot, BUYER_SCAN_LIMIT, (plan) => owed.buyers.has(plan.owner));
      if (first.found) return { found: first.found, idle: false, lane: first.lane };
      // Excused only when it saw every slot: a buyer's may wait behind more than the scan holds.
      buyersHadNone = !first.sawWanted && first.exhausted;
      idle = buyersHadNone;
    }
    const { found, lane } = await this.pass(worker, { ...terms, buyersHadNone }, wantSpot, SCAN_LIMIT);
    // One that looks for work could take a tile starved in its class (availability.lua), unless it
    // asks more than the market's price, which no spot work pays: keys asking a fortune, looking
    // every second, had crowded the workers that take work out of availability's reads (a review).
    // Without a price, what it takes depends on the job: it is recorded. A failed record must not
    // fail the poll.
    const { spot } = terms.prices;
    if (spot === null || worker.ask === null || worker.ask <= spot)
      await this.workers.looked(worker).catch((err) => this.log.warn({ err, worker: worker.id }, 'could not record a look'));
    return { found, idle, lane };
  }

  /**
   * One look through the worker's queues, binding the first slot it may take (of a job `wanted`,
   * when given: other slots are passed over), and whether it saw a wanted slot at all.
   */
  private async pass(
    worker: WorkerRecord,
    terms: Terms,
    wantSpot: boolean,
    limit: number,
    wanted?: (plan: JobPlan) => boolean,
  ): Promise<{ found?: Assignment; lane?: string; sawWanted: boolean; exhausted: boolean }> {
    const held: Job[] = [];
    const look = { found: undefined as Assignment | undefined, sawWanted: false, lane: undefined as string | undefined };
    let full = false;
    try {
      for (const lane of this.lanesOf(worker)) {
        const before = held.length;
        const name = lane.queue.name;
        if (!wanted && this.knownEmpty(lane)) continue;
        // A lane found empty a while ago is probably empty still: one look at a time finds out,
        // the others taking it as empty meanwhile (a thousand waiting polls would each fetch).
        if (this.emptyAt.has(name)) this.emptyAt.set(name, performance.now());
        while (!look.found) {
          if (held.length - before >= limit) {
            full = true;
            break;
          }
          const fetchedAt = Date.now();
          const job = await lane.fetcher.getNextJob(worker.id, { block: false });
          if (!job?.id) {
            if (held.length === before) this.emptyAt.set(name, performance.now());
            break;
          }
          this.emptyAt.delete(name);
          look.found = await this.tryBind(job, fetchedAt, lane, worker, held, wantSpot, terms, wanted, look);
        }
        if (look.found) {
          look.lane = name;
          break;
        }
      }
    } finally {
      // Put back what it may not take, without waking other pollers (they would spin on it).
      if (held.length) await Promise.all(held.map((j) => j.moveToWait(worker.id).catch(() => undefined)));
      for (const j of held) this.emptyAt.delete(j.queueName);
    }
    // Found nothing and no lane held its limit: every lane ran out of slots.
    return { ...look, exhausted: !look.found && !full };
  }

  /** Whether an untrusted worker's stake and holdings allow one more replica (trusted: always). */
  private mayTakeWork(w: WorkerRecord): boolean {
    const { stakePerReplicaMicros, maxHeldReplicas, minStakeMicros } = this.opts;
    return (
      w.trusted || (w.inFlight < maxHeldReplicas && w.stake - w.locked - w.unbonding >= stakePerReplicaMicros && w.stake >= minStakeMicros)
    );
  }

  private async tryBind(
    job: Job,
    fetchedAt: number,
    lane: Lane,
    worker: WorkerRecord,
    held: Job[],
    wantSpot: boolean,
    terms: Terms,
    wanted: ((plan: JobPlan) => boolean) | undefined,
    look: { sawWanted: boolean },
  ): Promise<Assignment | undefined> {
    const slot = parseSlotId(job.id as string);
    const plan = slot && (await this.jobs.plan(slot.job));
    if (!slot || !plan) {
      await job.moveToCompleted('obsolete', worker.id, false).catch(() => undefined);
      return undefined;
    }
    if (wanted && !wanted(plan)) {
      held.push(job);
      return undefined;
    }
    const { prices, owed, buyersHadNone } = terms;
    const deadline = Date.now() + this.opts.taskTimeoutMs;
    const bind = (dryRun: boolean) =>
      this.tasks.bind(
        slot.task,
        slot.n,
        worker.id,
        newReplicaId(),
        deadline,
        lane.queue.name,
        lane.queue.name === arbiterQueue(worker.class),
        shareCap(plan.tilesTotal, this.opts.jobShare, this.opts.jobShareFloor),
        prices,
        owed && { ...owed, buyersHadNone: buyersHadNone === true },
        dryRun,
        fetchedAt,
        this.opts.firstLeaseMs,
      );
    let bound = await bind(wantSpot);
    if (bound.status === 'eligible') {
      const spot = await this.spot(worker, worker.class, checkPrice(bound.price, prices.traded), {
        task: slot.task,
        tilesPerFrame: plan.tilesPerFrame,
        // A check in a buyer's slot stands for it in the window the provider owes (spot.lua).
        window: wanted && owed ? owed.start : undefined,
      });
      if (spot) {
        held.push(job);
        return spot;
      }
      bound = await bind(false);
    }
    if (wanted && BUYER_WORK_FOR_IT.has(bound.status) && !('uncovered' in bound && bound.uncovered)) look.sawWanted = true;
    switch (bound.status) {
      case 'bound':
      case 'again': {
        const { replica, frame, rect, scene } = bound;
        this.log.debug({ ...slotLogIds(job.id as string), worker: worker.id }, 'replica assigned');
        this.metrics.replicaIssued(worker.class, false);
        return assignment(replica.rid, scene, frame, rect, replica.deadline);
      }
      case 'obsolete':
      case 'resolved':
      case 'missing':
        // Task settled, job cancelled or never planned: the slot has nothing left to do.
        await job.moveToCompleted('obsolete', worker.id, false).catch(() => undefined);
        return undefined;
      case 'wrongclass':
        // Another class took the tile first: its slot waits in that class's queue. Put back at the
        // head of the shared one it came back at every look, and 16 such (a rare class's keys
        // answering a few tiles of their own quorum job) hid every newer slot from every other
        // class (an attacker's review). Put back in a class queue, it had hidden from every class
        // a tile unpinned since (holders.lua unpinClass) and taken by another.
        await job.moveToWait(worker.id).catch(() => undefined);
        await this.moveSlot(job, lane, laneOf(bound.class, false));
        return undefined;
      case 'leased':
        // A second copy of a slot another worker holds: it comes back when that lease would end.
        await job.moveToDelayed(bound.until + 1, worker.id).catch(() => undefined);
        return undefined;
      case 'held':
        // Its owner paused the job: the slot is parked until the job is resumed (slot-refresh.ts).
        await job.moveToDelayed(Date.now() + HELD_PARK_MS, worker.id).catch(() => undefined);
        return undefined;
      case 'paused':
      case 'unfunded':
        // The job's bid is under the market, or its escrow cannot pay a tile at it: its slot steps
        // aside until the next clearing, so the jobs behind it in the queue are not held up.
        await job.moveToDelayed(Date.now() + this.opts.marketIntervalMs, worker.id).catch(() => undefined);
        return undefined;
      default:
        held.push(job);
        return undefined;
    }
  }

  /**
   * Work this process added to `lane`, handed back, saw come back or found there (every lane:
   * none named): the lane is worth a look again, and its `count` longest-waiting polls are woken —
   * as many as there are new slots, not all of them (each woken poll that finds nothing is a
   * script call for Redis). One that cannot take what it finds leaves it for the polls that wake
   * within the second.
   */
  private workArrived(lane?: string, count = Number.POSITIVE_INFINITY): void {
    if (lane === undefined) this.emptyAt.clear();
    else this.emptyAt.delete(lane);
    const lanes = lane === undefined ? [...this.waiting.values()] : [this.waiting.get(lane) ?? new Set<Waiter>()];
    let woken = 0;
    for (const waiters of lanes)
      for (const waiter of waiters) {
        // One that is looking now, or was woken from another lane, will look anyway.
        if (!waiter.wake) continue;
        if (woken++ >= count) return;
        waiter.wake();
      }
  }

  /**
   * A look found the lane empty less than EMPTY_LANE_MS ago, or is looking in it after one did
   * (one look at a time), and this process added nothing to it since.
   */
  private knownEmpty(lane: Lane): boolean {
    const at = this.emptyAt.get(lane.queue.name);
    return at !== undefined && performance.now() - at < EMPTY_LANE_MS;
  }

  /**
   * Waits on the worker's lanes; true when work arrived on one (or the poll was aborted) before
   * `ms` ran out. The poll keeps its place in each lane's line from its first wait to its end
   * (next()'s finally), so the longest-waiting poll is woken first.
   */
  private waitForWork(waiter: Waiter, lanes: readonly Lane[], ms: number, signal?: AbortSignal): Promise<boolean> {
    if (this.closed || signal?.aborted) return Promise.resolve(true);
    const names = new Set(lanes.map((l) => l.queue.name));
    for (const name of waiter.lanes) if (!names.has(name)) this.waiting.get(name)?.delete(waiter);
    // Adding a member a Set has already leaves it where it is: its place in the line.
    for (const name of names) this.waiting.set(name, (this.waiting.get(name) ?? new Set()).add(waiter));
    waiter.lanes = names;
    return new Promise((resolve) => {
      const finish = (woken: boolean) => {
        clearTimeout(timer);
        waiter.wake = undefined;
        signal?.removeEventListener('abort', wake);
        resolve(woken);
      };
      const wake = () => finish(true);
      const timer = setTimeout(() => finish(false), ms);
      waiter.wake = wake;
      signal?.addEventListener('abort', wake, { once: true });
    });
  }

  private lane(name: string): Lane {
    let lane = this.lanes.get(name);
    if (!lane) {
      const queue = new Queue(name, { connection: this.connection, streams: { events: { maxLen: 1000 } } });
      const fetcher = new Worker(name, null, {
        connection: this.connection,
        autorun: false,
        lockDuration: this.opts.firstLeaseMs,
        stalledInterval: Math.max(500, Math.floor(this.opts.leaseMs / 2)),
        // A stalled slot always goes back to its queue for another worker; it never fails.
        maxStalledCount: Number.MAX_SAFE_INTEGER,
      });
      fetcher.on('error', (err) => this.log.warn({ err, queue: name }, 'slot queue error'));
      queue.on('error', (err) => this.log.warn({ err, queue: name }, 'slot queue error'));
      fetcher.on('stalled', (id) => {
        const slot = parseSlotId(id);
        this.log.info({ ...slotLogIds(id), queue: name }, 'lease lapsed; slot back in queue');
        // Only a holder bound a lease ago: another worker may already have taken the slot.
        if (slot)
          void this.tasks
            .expire(slot.task, slot.n, '', Date.now() - this.opts.leaseMs)
            .then((expired) => expired && this.unpinned(slot.task, expired.unpinned))
            .catch((err) => this.log.warn({ err: err.message }, 'could not time out a holder'));
        this.workArrived(name, 1);
      });
      void fetcher.startStalledCheckTimer();
      lane = { queue, fetcher };
      this.lanes.set(name, lane);
      for (const listener of this.queueListeners) listener(queue);
    }
    return lane;
  }
}

function assignment(replica: string, scene: string, frame: number, tile: Rect, deadline: number): Assignment {
  return { replica, scene, frame, tile, deadline };
}
