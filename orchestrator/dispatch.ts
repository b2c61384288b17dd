/**
 * Replica delivery through BullMQ. BullMQ cannot route a job to a chosen worker, and our workers
 * are untrusted HTTP clients that never touch Redis, so:
 * - every replica slot of a task is a BullMQ job (id `<task>.r<n>`, which deduplicates re-issues);
 * - new tasks' slots wait in the shared queue `slots`; once a task's first replica fixes its
 *   determinism class, further slots go to that class's queue `slots-<class hash>`;
 * - a worker's long-poll makes the orchestrator fetch jobs for it (manual `getNextJob`, the
 *   worker's id as lock token) from its class queue, then the shared queue, and bind the first
 *   slot it is eligible for (a distinct worker of the task's class); slots it may not take go
 *   back to the head of their queue;
 * - the BullMQ lock is the worker's lease: heartbeats extend it until the replica's deadline. A
 *   dead or late worker's lease lapses, BullMQ's stalled check puts the slot back in its queue,
 *   and the next eligible worker takes it over (the old holder is counted as timed out).
 */
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { type Job, Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Assignment } from '../shared/protocol.ts';
import type { Metrics } from './metrics.ts';
import { parseSlotId, parseTaskId, slotId, slotLogIds } from './planner.ts';
import type { ReplicaRecord, Tasks } from './state/tasks.ts';
import type { WorkerRecord } from './state/workers.ts';

export const SHARED_QUEUE = 'slots';
/** Slots a poll may hold while looking for one its worker is eligible for. */
const SCAN_LIMIT = 16;
/** Finished slot jobs are kept this long so that a re-issue with the same id is a no-op. */
const KEEP_FINISHED = { age: 24 * 3600 };

export interface DispatchOptions {
  leaseMs: number;
  taskTimeoutMs: number;
  /** How long a worker's poll waits for work before answering "nothing". */
  pollMs: number;
  /** Fraction q of polls answered with a spot check (a tile whose hash is known). */
  spotCheckRate: number;
}

interface Lane {
  queue: Queue;
  fetcher: Worker;
}

export const classQueueName = (deviceClass: string): string =>
  `slots-${createHash('sha256').update(deviceClass).digest('hex').slice(0, 12)}`;

export class Dispatcher {
  private readonly lanes = new Map<string, Lane>();
  private readonly wake = new EventEmitter().setMaxListeners(0);
  private readonly queueListeners: ((queue: Queue) => void)[] = [];
  private closed = false;

  constructor(
    private readonly connection: Redis,
    private readonly tasks: Tasks,
    private readonly opts: DispatchOptions,
    private readonly log: Logger,
    private readonly metrics: Metrics,
  ) {}

  /** Calls `listener` with each slot queue, now and as class queues open (bull-board, metrics). */
  eachQueue(listener: (queue: Queue) => void): void {
    this.lane(SHARED_QUEUE);
    this.queueListeners.push(listener);
    for (const lane of this.lanes.values()) listener(lane.queue);
  }

  /** Adds replica slots `ns` of a task, to its class queue once it has a class. */
  async issue(task: string, ns: readonly number[], deviceClass = ''): Promise<void> {
    if (ns.length === 0) return;
    await this.lane(deviceClass ? classQueueName(deviceClass) : SHARED_QUEUE).queue.addBulk(
      ns.map((n) => ({
        name: 'replica',
        data: { task },
        opts: { jobId: slotId(task, n), removeOnComplete: KEEP_FINISHED, removeOnFail: KEEP_FINISHED },
      })),
    );
    this.wake.emit('work');
  }

  /** Slots for many new tasks at once (planning). */
  async issueNew(tasks: readonly string[], replicas: number): Promise<void> {
    const lane = this.lane(SHARED_QUEUE);
    for (let i = 0; i < tasks.length; i += 1000) {
      await lane.queue.addBulk(
        tasks.slice(i, i + 1000).flatMap((task) =>
          Array.from({ length: replicas }, (_, n) => ({
            name: 'replica',
            data: { task },
            opts: { jobId: slotId(task, n), removeOnComplete: KEEP_FINISHED, removeOnFail: KEEP_FINISHED },
          })),
        ),
      );
    }
    this.wake.emit('work');
  }

  /** Long-poll: the next replica this worker may render, or undefined after pollMs. */
  async next(worker: WorkerRecord, signal?: AbortSignal): Promise<Assignment | undefined> {
    const until = Date.now() + this.opts.pollMs;
    if (!worker.trusted && Math.random() < this.opts.spotCheckRate) {
      const spot = await this.tasks.spot(worker.id, worker.class, Date.now(), Date.now() + this.opts.taskTimeoutMs);
      if (spot) {
        this.metrics.replicaIssued(worker.class, true);
        return {
          replica: spot.slot,
          task: spot.task,
          job: parseTaskId(spot.task)?.job as string,
          scene: spot.scene,
          frame: spot.frame,
          tile: spot.rect,
          deadline: spot.deadline,
        };
      }
    }
    while (!this.closed && !signal?.aborted) {
      const found = await this.scan(worker);
      if (found) return found;
      const left = until - Date.now();
      if (left <= 0) return undefined;
      await this.waitForWork(Math.min(left, 1000), signal);
    }
    return undefined;
  }

  /** Marks the slot's BullMQ job done once its result is recorded. */
  async complete(replica: ReplicaRecord, worker: string): Promise<void> {
    const job = await this.lane(replica.queue).queue.getJob(replica.replica);
    // The lease may have lapsed and the slot gone to someone else: then that holder completes it.
    await job?.moveToCompleted('done', worker, false).catch(() => undefined);
  }

  /** Gives a held slot back to its queue (graceful drain): another worker will take it. */
  async handBack(replica: ReplicaRecord, worker: string): Promise<void> {
    const job = await this.lane(replica.queue).queue.getJob(replica.replica);
    await job?.moveToWait(worker).catch(() => undefined);
    this.wake.emit('work');
  }

  /** Heartbeat: renews the leases of the worker's replicas that are still within their deadline. */
  async extendLeases(worker: string, held: readonly ReplicaRecord[]): Promise<void> {
    const now = Date.now();
    await Promise.all(
      held
        .filter((r) => r.state === 'assigned' && r.deadline > now)
        .map(async (r) => {
          const job = await this.lane(r.queue).queue.getJob(r.replica);
          await job?.extendLock(worker, this.opts.leaseMs).catch(() => undefined);
        }),
    );
  }

  /** Removes the waiting slots of a cancelled job's unfinished tasks. */
  async withdraw(slots: readonly { replica: string; queue: string }[]): Promise<void> {
    await Promise.all(
      slots.map((s) =>
        this.lane(s.queue)
          .queue.remove(s.replica)
          .catch(() => 0),
      ),
    );
  }

  /** Whether a slot still has its BullMQ job (recovery re-issues the ones that do not). */
  async exists(queue: string, slot: string): Promise<boolean> {
    return (await this.lane(queue).queue.getJob(slot)) !== undefined;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wake.emit('work');
    await Promise.all([...this.lanes.values()].flatMap((l) => [l.fetcher.close(true), l.queue.close()]));
  }

  private async scan(worker: WorkerRecord): Promise<Assignment | undefined> {
    const held: Job[] = [];
    const lanes = [this.lane(classQueueName(worker.class)), this.lane(SHARED_QUEUE)];
    let found: Assignment | undefined;
    try {
      for (const lane of lanes) {
        while (!found && held.length < SCAN_LIMIT) {
          const job = await lane.fetcher.getNextJob(worker.id, { block: false });
          if (!job?.id) break;
          found = await this.tryBind(job, lane, worker, held);
        }
        if (found) break;
      }
    } finally {
      if (held.length) {
        await Promise.all(held.map((j) => j.moveToWait(worker.id).catch(() => undefined)));
        this.wake.emit('work');
      }
    }
    return found;
  }

  private async tryBind(job: Job, lane: Lane, worker: WorkerRecord, held: Job[]): Promise<Assignment | undefined> {
    const slot = job.id as string;
    const now = Date.now();
    const bound = await this.tasks.bind(slot, worker.id, now, now + this.opts.taskTimeoutMs, lane.queue.name);
    switch (bound.status) {
      case 'bound':
      case 'again': {
        const { replica, frame, rect, scene } = bound;
        const task = parseSlotId(slot)?.task as string;
        this.log.debug({ ...slotLogIds(slot), worker: replica.worker }, 'replica assigned');
        this.metrics.replicaIssued(worker.class, false);
        return { replica: slot, task, job: parseTaskId(task)?.job as string, scene, frame, tile: rect, deadline: replica.deadline };
      }
      case 'obsolete':
      case 'resolved':
      case 'missing':
        // Task settled, job cancelled or never planned: the slot has nothing left to do.
        await job.moveToCompleted('obsolete', worker.id, false).catch(() => undefined);
        return undefined;
      default:
        held.push(job);
        return undefined;
    }
  }

  private waitForWork(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake.off('work', done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake.once('work', done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  private lane(name: string): Lane {
    let lane = this.lanes.get(name);
    if (!lane) {
      const queue = new Queue(name, { connection: this.connection, streams: { events: { maxLen: 1000 } } });
      const fetcher = new Worker(name, null, {
        connection: this.connection,
        autorun: false,
        lockDuration: this.opts.leaseMs,
        stalledInterval: Math.max(500, Math.floor(this.opts.leaseMs / 2)),
        // A stalled slot always goes back to its queue for another worker; it never fails.
        maxStalledCount: Number.MAX_SAFE_INTEGER,
      });
      fetcher.on('error', (err) => this.log.warn({ err, queue: name }, 'slot queue error'));
      queue.on('error', (err) => this.log.warn({ err, queue: name }, 'slot queue error'));
      fetcher.on('stalled', (slot) => {
        this.log.info({ ...slotLogIds(slot), queue: name }, 'lease lapsed; slot back in queue');
        this.wake.emit('work');
      });
      void fetcher.startStalledCheckTimer();
      lane = { queue, fetcher };
      this.lanes.set(name, lane);
      for (const listener of this.queueListeners) listener(queue);
    }
    return lane;
  }
}
