/** Worker records: registration by public key, class, heartbeats, counters and the leaderboard. */
import type { ChainableCommander } from 'ioredis';
import { fromTicks } from '../../shared/market.ts';
import { fromMicros } from '../../shared/money.ts';
import type { ClassState, WorkerView } from '../../shared/protocol.ts';
import { toRu } from '../../shared/render-units.ts';
import { recentResults } from '../../shared/throughput.ts';
import { TRUSTED_CREDIBILITY, workerCredibility } from '../verdict/credibility.ts';
import { keys } from './keys.ts';
import { runScript } from './lua/scripts.ts';
import type { FarmRedis } from './redis.ts';

export interface WorkerRecord {
  id: string;
  name: string;
  publicKey: string;
  /** What it says it runs on (never trusted). */
  device: string;
  /** Measured determinism class ('' until calibrated). */
  class: string;
  classState: ClassState;
  /** CIDs of its calibration answers. */
  calibration: string[];
  registeredAt: number;
  lastSeen: number;
  /** When it was last recorded as taking work in its class (keys.ts classWorking). */
  workingAt: number;
  valid: number;
  invalid: number;
  timedOut: number;
  rejected: number;
  inFlight: number;
  /** Checks against ground truth passed since the last fault, in its class (Sarmenta's k). */
  passed: number;
  faults: number;
  /** Credits in µc (shared/money.ts). */
  balance: number;
  stake: number;
  locked: number;
  unbonding: number;
  collateral: number;
  /** µc it earned for valid replicas, fees deducted. */
  earned: number;
  /**
   * Rays of its valid replicas, spot checks alike: the work its `earned` is for. (Its measured
   * speed, `raysDone`, counts only verdicts ground truth backed and is the market's, not shown:
   * a passed check, which measures none, would show as `passed` rising with no work.)
   */
  raysPaid: number;
  /** Its ask in ticks per RU; null: none (any price). */
  ask: number | null;
  /** Registered by the operator as its own: ground truth. */
  trusted: boolean;
}

const NUMERIC = [
  'registeredAt',
  'lastSeen',
  'workingAt',
  'valid',
  'invalid',
  'timedOut',
  'rejected',
  'inFlight',
  'passed',
  'faults',
  'balance',
  'stake',
  'locked',
  'unbonding',
  'collateral',
  'earned',
  'raysPaid',
] as const;

/** Orders the public leaderboard offers, each a sorted-set index kept by the scripts. */
export const LEADERBOARD_ORDERS = [
  'credibility',
  'valid',
  'invalid',
  'timedOut',
  'rejected',
  'passed',
  'faults',
  'lastSeen',
  'registeredAt',
] as const;
export type LeaderboardOrder = (typeof LEADERBOARD_ORDERS)[number];

export class Workers {
  constructor(
    private readonly redis: FarmRedis,
    /** A worker unseen for longer than this is shown offline. */
    private readonly onlineWindowMs: number,
    /** Assumed saboteur fraction f of the credibility model. */
    private readonly f: number,
  ) {}

  /** Sarmenta's CrW for this worker in its class; the operator's own workers are ground truth. */
  credibility(w: WorkerRecord): number {
    return w.trusted ? TRUSTED_CREDIBILITY : workerCredibility(this.f, w.passed);
  }

  /** Each worker's record, one lookup per distinct worker, side by side (no need to read them at one instant). */
  async getMany(ids: Iterable<string>): Promise<Map<string, WorkerRecord>> {
    return this.fromFields(await Promise.all([...new Set(ids)].map((id) => this.redis.hgetall(keys.worker(id)))));
  }

  /** Records by id from their hashes as Redis returned them (a script's read, task-snapshot.lua); an empty hash is no worker. */
  fromFields(hashes: readonly Record<string, string>[]): Map<string, WorkerRecord> {
    const out = new Map<string, WorkerRecord>();
    for (const h of hashes) if (h.id) out.set(h.id, toWorker(h));
    return out;
  }

  /**
   * Registers a key, or refreshes its name. Every registration (a worker registers when it
   * starts) calibrates again before work, so new hardware or a new driver is measured, whatever
   * the worker says; counters are kept, and credibility is per class (set-class.lua).
   */
  /** `ask`: ticks per RU it offers its time at; null offers nothing on the market. */
  async register(id: string, publicKey: string, name: string, device: string, trusted: boolean, ask: number | null): Promise<WorkerRecord> {
    const now = Date.now();
    const k = keys.worker(id);
    const before = await this.get(id);
    const m = this.redis.multi().hsetnx(k, 'registeredAt', now).hset(k, { id, name, publicKey, device, lastSeen: now });
    for (const counter of ['valid', 'invalid', 'timedOut', 'rejected', 'inFlight', 'passed', 'faults', 'trusted', 'class'] as const)
      m.hsetnx(k, counter, counter === 'class' ? '' : 0);
    if (trusted) m.hset(k, 'trusted', 1);
    if (ask === null) m.hdel(k, 'ask');
    else m.hset(k, 'ask', ask);
    m.hset(k, { classState: 'calibrating', calibration: '[]' });
    m.zadd(keys.workersAll, before?.registeredAt ?? now, id)
      .zadd(keys.workersBy('registeredAt'), before?.registeredAt ?? now, id)
      .zadd(keys.workersBy('lastSeen'), now, id)
      .zadd(keys.workersBy('credibility'), trusted || before?.trusted ? 1e15 : (before?.passed ?? 0), id);
    for (const counter of ['valid', 'invalid', 'timedOut', 'rejected', 'passed', 'faults'] as const)
      m.zadd(keys.workersBy(counter), 'NX', 0, id);
    await m.exec();
    return (await this.get(id)) as WorkerRecord;
  }

  async get(id: string): Promise<WorkerRecord | undefined> {
    const h = await this.redis.hgetall(keys.worker(id));
    return h.id ? toWorker(h) : undefined;
  }

  /**
   * Seen now (a heartbeat, a poll): the online window (at most once a second), and, while it holds
   * a replica, its class's set of workers taking work; the operator's, in its class's sets at once.
   */
  async touch(w: WorkerRecord): Promise<void> {
    const now = Date.now();
    if (now - w.lastSeen < 1000) return;
    const m = this.redis.multi().hset(keys.worker(w.id), 'lastSeen', now).zadd(keys.workersBy('lastSeen'), now, w.id);
    if (w.trusted && inClass(w)) m.zadd(keys.classWorking(w.class), now, w.id).zadd(keys.classTrusted(w.class), now, w.id);
    else if (w.inFlight > 0) this.working(m, w, now);
    await m.exec();
  }

  /** It looked through its queues for work, at a price it could take: it takes work in its class. */
  async looked(w: WorkerRecord): Promise<void> {
    const m = this.redis.multi();
    if (this.working(m, w, Date.now())) await m.exec();
  }

  /**
   * Records an untrusted worker as taking work in its class, at most once a quarter of the online
   * window: availability.lua reads the few recorded last, and a key recorded every second would
   * rank above every worker polling every 20 s (a review). False when it is not due.
   */
  private working(m: ChainableCommander, w: WorkerRecord, now: number): boolean {
    if (!inClass(w) || now - w.workingAt < this.onlineWindowMs / 4) return false;
    m.hset(keys.worker(w.id), 'workingAt', now).zadd(keys.classWorking(w.class), now, w.id);
    // The request's record goes on to its look (a poll's): not recorded twice.
    w.workingAt = now;
    return true;
  }

  /** Puts the worker in its measured class (credibility is per class: set-class.lua). */
  async setClass(id: string, deviceClass: string | null, state: ClassState, calibration?: readonly string[]): Promise<void> {
    if (calibration) await this.redis.hset(keys.worker(id), 'calibration', JSON.stringify(calibration));
    await runScript(this.redis, 'set-class', [keys.worker(id), keys.workerClasses(id)], [id, deviceClass ?? '', state, Date.now()]);
  }

  /** Replica ids the worker holds and has not answered. */
  active(id: string): Promise<string[]> {
    return this.redis.smembers(keys.workerActive(id));
  }

  /** Latest first: disagreements the worker lost (`outvoted`, `disagreed`) or won (`outvoted-others`). */
  async evidence(id: string): Promise<unknown[]> {
    return (await this.redis.lrange(keys.workerEvidence(id), 0, 49)).map((e) => JSON.parse(e));
  }

  /** Each worker's accepted results per minute over the last hour, in one round trip. */
  async recent(ids: readonly string[], now = Date.now()): Promise<number[][]> {
    const m = this.redis.multi();
    for (const id of ids) m.hgetall(keys.workerRecent(id));
    const rows = ((await m.exec()) ?? []) as [unknown, Record<string, string>][];
    return rows.map(([, ring]) => recentResults(ring ?? {}, now));
  }

  async reject(id: string): Promise<void> {
    const value = await this.redis.hincrby(keys.worker(id), 'rejected', 1);
    await this.redis.zadd(keys.workersBy('rejected'), value, id);
  }

  /** Seen within the online window (two leases). */
  isOnline(w: WorkerRecord): boolean {
    return Date.now() - w.lastSeen < this.onlineWindowMs;
  }

  /** Workers seen within the online window, from the last-seen index. */
  countOnline(): Promise<number> {
    return this.redis.zcount(keys.workersBy('lastSeen'), Date.now() - this.onlineWindowMs, '+inf');
  }

  /** One page of the leaderboard, read from its index: never a scan of every worker. */
  async leaderboard(
    order: LeaderboardOrder,
    descending: boolean,
    offset: number,
    limit: number,
  ): Promise<{ total: number; workers: WorkerRecord[] }> {
    const index = keys.workersBy(order);
    const [total, ids] = await Promise.all([
      this.redis.zcard(index),
      descending ? this.redis.zrevrange(index, offset, offset + limit - 1) : this.redis.zrange(index, offset, offset + limit - 1),
    ]);
    const records = await this.getMany(ids);
    return { total, workers: ids.map((id) => records.get(id)).filter((w): w is WorkerRecord => w !== undefined) };
  }

  view(w: WorkerRecord): WorkerView {
    return {
      id: w.id,
      name: w.name,
      device: w.device,
      class: w.class || null,
      classState: w.classState,
      registeredAt: w.registeredAt,
      lastSeen: w.lastSeen,
      online: this.isOnline(w),
      valid: w.valid,
      invalid: w.invalid,
      timedOut: w.timedOut,
      rejected: w.rejected,
      inFlight: w.inFlight,
      credibility: this.credibility(w),
      passed: w.passed,
      faults: w.faults,
      trusted: w.trusted,
      balance: fromMicros(w.balance),
      stake: fromMicros(w.stake),
      locked: fromMicros(w.locked),
      unbonding: fromMicros(w.unbonding),
      collateral: fromMicros(w.collateral),
      ask: w.ask === null ? null : fromTicks(w.ask),
      earned: fromMicros(w.earned),
      ru: toRu(w.raysPaid),
    };
  }
}

const inClass = (w: WorkerRecord): boolean => w.class !== '' && (w.classState === 'established' || w.classState === 'provisional');

function toWorker(h: Record<string, string>): WorkerRecord {
  const record: Record<string, unknown> = { ...h };
  for (const f of NUMERIC) record[f] = Number(h[f] ?? 0);
  record.trusted = h.trusted === '1';
  record.ask = h.ask ? Number(h.ask) : null;
  record.class = h.class ?? '';
  record.classState = h.classState ?? 'calibrating';
  record.calibration = h.calibration ? JSON.parse(h.calibration) : [];
  return record as unknown as WorkerRecord;
}
