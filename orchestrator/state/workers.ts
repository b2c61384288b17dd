/** Worker records: registration by public key, heartbeats, counters. */
import type { WorkerView } from '../../shared/protocol.ts';
import { workerCredibility } from '../credibility.ts';
import { keys } from './keys.ts';

/** A trusted worker's result stands alone at any ε the API accepts. */
export const TRUSTED_CREDIBILITY = 1 - 1e-12;

import type { FarmRedis } from './redis.ts';

export interface WorkerRecord {
  id: string;
  name: string;
  publicKey: string;
  class: string;
  registeredAt: number;
  lastSeen: number;
  valid: number;
  invalid: number;
  timedOut: number;
  rejected: number;
  inFlight: number;
  /** Spot checks and replicated agreements passed since the last fault (Sarmenta's k). */
  passed: number;
  /** Consecutive valid replicated results (BOINC's CV): audits happen with probability 1/CV. */
  cv: number;
  faults: number;
  spotPassed: number;
  spotFailed: number;
  /** Credits in cents. */
  balance: number;
  stake: number;
  /** Registered by the operator as its own: credible from the start. */
  trusted: boolean;
}

const NUMERIC = [
  'registeredAt',
  'lastSeen',
  'valid',
  'invalid',
  'timedOut',
  'rejected',
  'inFlight',
  'passed',
  'cv',
  'faults',
  'balance',
  'stake',
  'spotPassed',
  'spotFailed',
] as const;

export class Workers {
  constructor(
    private readonly redis: FarmRedis,
    /** A worker unseen for longer than this is shown offline. */
    private readonly onlineWindowMs: number,
    /** Assumed saboteur fraction f of the credibility model. */
    private readonly f: number,
  ) {}

  /** Sarmenta's CrW for this worker; the operator's own workers are taken as fully credible. */
  credibility(w: WorkerRecord): number {
    return w.trusted ? TRUSTED_CREDIBILITY : workerCredibility(this.f, w.passed);
  }

  /** Each worker's record and credibility, one lookup per distinct worker. */
  async credibilities(ids: Iterable<string>): Promise<Map<string, { record: WorkerRecord; credibility: number }>> {
    const records = await Promise.all([...new Set(ids)].map((id) => this.get(id)));
    return new Map(records.filter((w) => w !== undefined).map((w) => [w.id, { record: w, credibility: this.credibility(w) }]));
  }

  /** Registers a key, or refreshes name and class of a known one (counters are kept). */
  async register(id: string, publicKey: string, name: string, deviceClass: string, trusted = false): Promise<WorkerRecord> {
    const now = Date.now();
    const k = keys.worker(id);
    const m = this.redis
      .multi()
      .hsetnx(k, 'registeredAt', now)
      .hset(k, { id, name, publicKey, class: deviceClass, lastSeen: now })
      .zadd(keys.workersAll, now, id);
    for (const counter of ['valid', 'invalid', 'timedOut', 'rejected', 'inFlight', 'passed', 'cv', 'faults', 'trusted'])
      m.hsetnx(k, counter, 0);
    if (trusted) m.hset(k, 'trusted', 1);
    await m.exec();
    return (await this.get(id)) as WorkerRecord;
  }

  async get(id: string): Promise<WorkerRecord | undefined> {
    const h = await this.redis.hgetall(keys.worker(id));
    if (!h.id) return undefined;
    const record: Record<string, unknown> = { ...h };
    for (const f of NUMERIC) record[f] = Number(h[f] ?? 0);
    record.trusted = h.trusted === '1';
    return record as unknown as WorkerRecord;
  }

  async list(): Promise<WorkerRecord[]> {
    const ids = await this.redis.zrange(keys.workersAll, 0, -1);
    return (await Promise.all(ids.map((id) => this.get(id)))).filter((w): w is WorkerRecord => w !== undefined);
  }

  async touch(id: string): Promise<void> {
    await this.redis.hset(keys.worker(id), 'lastSeen', Date.now());
  }

  /** Slots the worker holds and has not answered. */
  active(id: string): Promise<string[]> {
    return this.redis.smembers(keys.workerActive(id));
  }

  /** Latest evidence first: disagreements the worker lost (`outvoted`) or won (`outvoted-others`). */
  async evidence(id: string): Promise<unknown[]> {
    return (await this.redis.lrange(keys.workerEvidence(id), 0, 49)).map((e) => JSON.parse(e));
  }

  async reject(id: string): Promise<void> {
    await this.redis.hincrby(keys.worker(id), 'rejected', 1);
  }

  /** Seen within the online window (two leases). */
  isOnline(w: WorkerRecord): boolean {
    return Date.now() - w.lastSeen < this.onlineWindowMs;
  }

  view(w: WorkerRecord): WorkerView {
    return {
      id: w.id,
      name: w.name,
      deviceClass: w.class,
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
      consecutiveValid: w.cv,
      faults: w.faults,
      trusted: w.trusted,
      spotChecksPassed: w.spotPassed,
      spotChecksFailed: w.spotFailed,
      balance: w.balance / 100,
      stake: w.stake / 100,
    };
  }
}
