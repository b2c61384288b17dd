/**
 * Who pays to re-render a tile reopened as suspect, against an attacker holding a requester
 * account and many worker keys: a caught key's re-renders are paid out of what its slashes
 * brought the treasury, and a dispute's by the job, so one caught key cannot have the treasury
 * pay its partners for re-rendering its own job's tiles (a review's PoC: 40 tiles reopened, 560
 * treasury-paid replicas, +447 credits to the attacker for one 100-credit stake). Real Redis, the
 * real Lua scripts, decide() and the VerdictRunner; slots are bound and answered as the attacker's
 * keys would poll them (the runner's dispatcher only enqueues what settle.lua issued, and is not
 * part of who pays).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PrivateRedis, startRedisServer } from '../../cli/redis-server.ts';
import type { Dispatcher } from '../../orchestrator/dispatch.ts';
import type { Metrics } from '../../orchestrator/metrics.ts';
import { planJob } from '../../orchestrator/planner.ts';
import { AvailabilityReader } from '../../orchestrator/state/availability.ts';
import { Jobs } from '../../orchestrator/state/jobs.ts';
import { keys } from '../../orchestrator/state/keys.ts';
import { connectRedis, type FarmRedis } from '../../orchestrator/state/redis.ts';
import { type ReplicaRecord, type TaskRecord, Tasks } from '../../orchestrator/state/tasks.ts';
import { Workers } from '../../orchestrator/state/workers.ts';
import { VerdictRunner } from '../../orchestrator/verdict/runner.ts';

const C = 1_000_000; // µc per credit
const ECONOMY = {
  feePpm: 20_000,
  stakePerReplicaMicros: 10 * C,
  slashShare: 1,
  deadlinePenaltyMicros: 0,
  maxHeldReplicas: 4,
  minStakeMicros: 100 * C,
};
/** One interval cleared and traded at 1 credit/RU (1000 ticks). */
const PRICES = { spot: 1000, traded: 1000 };
/** 64×64 tiles at 4096 spp: one replica claims 10^9 rays (1 RU, 1 credit); the cap is 1.12·10^9. */
const RAYS = 1_000_000_000;
const CLASS = 'c1';

let server: PrivateRedis;
let redis: FarmRedis;
let tasks: Tasks;
let jobs: Jobs;
let runner: VerdictRunner;

const hex = (n: number) => randomBytes(n).toString('hex');
const newJobId = () => `j${hex(10)}`;
const rid = () => hex(16);
const num = async (key: string, field: string) => Number((await redis.hget(key, field)) ?? 0);
const treasury = () => num(keys.treasury, 'balance');

async function worker(id: string, passed: number, trusted = false): Promise<string> {
  await redis.hset(keys.worker(id), {
    id,
    class: CLASS,
    classState: 'established',
    trusted: trusted ? 1 : 0,
    stake: trusted ? 0 : 100 * C,
    passed,
    inFlight: 0,
  });
  // Seen now (online); only untrusted keys: no trusted worker of the class is online.
  if (!trusted) await redis.zadd(keys.classSeen(CLASS), Date.now() + 3_600_000, id);
  return id;
}

async function job(owner: string, tiles: number, escrow: number): Promise<string> {
  const id = newJobId();
  const created = await jobs.create(
    {
      id,
      owner,
      name: 'poc',
      createdAt: Date.now(),
      scene: 'bafkreiscene',
      assets: [],
      width: 64 * tiles,
      height: 64,
      spp: 4096,
      tileSize: 64,
      replicas: 2,
      maxReplicas: 16,
      verification: 'credibility',
      epsilon: 1e-4,
      onTimeout: 'accept',
      timeoutMs: 3_600_000,
      frames: [0],
      tilesPerFrame: tiles,
      tilesTotal: tiles,
      bid: null,
      priority: 0,
    },
    1,
    { tasks: 1e6, replicas: 1e6 },
    escrow,
  );
  expect(created).toBe('ok');
  await tasks.create(id, planJob(id, [0], 64 * tiles, 64, 64), 1);
  await jobs.start(id);
  // The per-task audit draw is random: no audits, so the counts below do not depend on it.
  for (let t = 0; t < tiles; t++) await redis.hset(keys.task(`${id}.f0.t${t}`), 'auditRoll', 0.999);
  return id;
}

/** Binds every issued, unbound (or given-up) non-arbiter slot to the next key `pick` names and uploads `cid`, until the tile is judged or its job cannot pay. */
async function drive(task: string, pick: (voted: Set<string>) => string, cid: string): Promise<void> {
  for (let round = 0; round < 64; round++) {
    await runner.judge(task);
    const t = await tasks.get(task);
    if (t?.state !== 'pending') return;
    const reps = await tasks.replicas(task);
    const voted = new Set(reps.flatMap((r) => [r, ...(r.previous ?? [])]).map((r) => r.worker));
    let bound = 0;
    for (let n = 0; n < t.nextSlot; n++) {
      const r = reps.find((x) => x.n === n);
      if (r && !['timedout', 'handedback', 'failed'].includes(r.state)) continue;
      if (t.arbiterSlot === n) continue;
      const w = pick(voted);
      voted.add(w);
      const b = await tasks.bind(task, n, w, rid(), Date.now() + 600_000, 'slots', false, 64, PRICES);
      // The job's escrow spent: the tile waits for its owner to pay more.
      if (b.status === 'unfunded') return;
      if (b.status !== 'bound') throw new Error(`bind ${task} slot ${n} to ${w}: ${b.status}`);
      const [s] = await tasks.submit([{ task, n, rid: b.replica.rid, worker: w, cid, rays: RAYS }]);
      expect(s.status).toBe('submitted');
      bound++;
    }
    if (bound === 0) throw new Error(`${task} stalls: ${JSON.stringify(t.waiting)}`);
  }
  throw new Error(`${task} never settled`);
}

beforeAll(async () => {
  server = await startRedisServer({ dir: join(mkdtempSync(join(tmpdir(), 'farm-backtrack-funds-')), 'redis') });
  redis = connectRedis(server.url);
  tasks = new Tasks(redis, ECONOMY, 30_000);
  jobs = new Jobs(redis);
  const workers = new Workers(redis, 60_000, 0.2);
  runner = new VerdictRunner({
    tasks,
    jobs,
    workers,
    dispatch: { issue: async () => undefined } as unknown as Dispatcher,
    availability: new AvailabilityReader(redis, 60_000, ECONOMY.stakePerReplicaMicros, ECONOMY.minStakeMicros),
    knownAnswers: { short: async () => false, reserve: async () => false },
    saboteurFraction: 0.2,
    graceMs: 30_000,
    renderAttempts: 3,
    jobShare: 0.5,
    jobShareFloor: 64,
    onFrameVerified: async () => undefined,
    onJobFailed: async () => undefined,
    metrics: { verdict: () => undefined } as unknown as Metrics,
    log: pino({ level: 'silent' }),
  });
});

afterAll(async () => {
  redis.disconnect();
  await server.stop();
});

describe('who pays for the re-render of a tile reopened as suspect', () => {
  it('a dispute’s: the job, for a key; the treasury, for a trusted worker (the operator’s)', async () => {
    await redis.hset(keys.treasury, 'balance', 1000 * C);
    const owner = hex(8);
    await redis.hset(keys.owner(owner), 'balance', 100 * C);
    const [a, b, fresh, other] = [
      await worker(`w${hex(10)}`, 10),
      await worker(`w${hex(10)}`, 10),
      await worker(`w${hex(10)}`, 0),
      await worker(`w${hex(10)}`, 0),
    ];
    const arbiter = await worker(`w${hex(10)}`, 0, true);
    const id = await job(owner, 2, 50 * C);
    const bindTo = async (task: string, n: number, w: string) => {
      const r = await tasks.bind(task, n, w, rid(), Date.now() + 600_000, 'slots', false, 64, PRICES);
      if (r.status !== 'bound') throw new Error(`${task} ${n}: ${r.status}`);
      return r.replica;
    };
    const answer = async (task: string, r: { n: number; rid: string; worker: string }) =>
      (await tasks.submit([{ task, n: r.n, rid: r.rid, worker: r.worker, cid: 'bafyA', rays: RAYS }]))[0].status;
    for (const t of [0, 1]) {
      const task = `${id}.f0.t${t}`;
      // An unchecked key's result weighs nothing: the verdict issues three more (slots 1-3).
      await answer(task, await bindTo(task, 0, fresh));
      await runner.judge(task);
      await answer(task, await bindTo(task, 1, a));
      await answer(task, await bindTo(task, 2, b));
      await runner.judge(task);
      expect((await tasks.get(task))?.state).toBe('verified');
      // A late dissent (or a re-run) reopens it, caught by no one.
      expect(await tasks.reopen((await tasks.get(task)) as TaskRecord, '')).toBe(true);
    }
    // The slot left in the queue from before, bound after the reopen by a key, and by a trusted worker.
    expect((await bindTo(`${id}.f0.t0`, 3, other)).payer).toBe('job');
    expect((await bindTo(`${id}.f0.t1`, 3, arbiter)).payer).toBe('treasury');
  });
});

describe('one caught key with no trusted worker online, its partners answering what it vouched for again', () => {
  it.each([0, 1])(
    'cost the treasury at most what the catch brought it, the attacker what it lost (fresh keys with k = %i)',
    async (freshK) => {
      const TILES = 40;
      await redis.hset(keys.treasury, 'balance', 1000 * C);
      const attacker = hex(8);
      await redis.hset(keys.owner(attacker), 'balance', 400 * C);
      const caught = await worker(`w${hex(10)}`, 10);
      const partner = await worker(`w${hex(10)}`, 10);
      const fresh: string[] = [];
      for (let i = 0; i < 20; i++) fresh.push(await worker(`w${hex(10)}`, freshK));
      const attackerKeys = [caught, partner, ...fresh];
      const holdings = async () => {
        let sum = 0;
        for (const w of attackerKeys) sum += (await num(keys.worker(w), 'balance')) + (await num(keys.worker(w), 'stake'));
        return sum + (await num(keys.owner(attacker), 'balance')) + (await num(keys.owner(attacker), 'held'));
      };
      const start = { treasury: await treasury(), attacker: await holdings() };

      // The attacker's own job, each tile carried by the caught key and its partner agreeing on garbage.
      const id = await job(attacker, TILES, 350 * C);
      const order = [caught, partner, ...fresh];
      for (let t = 0; t < TILES; t++)
        await drive(`${id}.f0.t${t}`, (voted) => order.find((w) => !voted.has(w)) as string, `bafy-garbage-${t}`);
      for (let t = 0; t < TILES; t++) await redis.hset(keys.task(`${id}.f0.t${t}`), 'decidedAt', Date.now() - 2 * 3_600_000);

      // The caught key fails a spot check (its stake goes to the treasury) and the farm backtracks.
      const trusted = await worker(`w${hex(10)}`, 0, true);
      const poolOwner = hex(8);
      await redis.hset(keys.owner(poolOwner), 'balance', 10 * C);
      const pool = await job(poolOwner, 1, 5 * C);
      await drive(`${pool}.f0.t0`, () => trusted, 'bafy-truth');
      const before = await treasury();
      const check = await tasks.spot(CLASS, caught, rid(), Date.now() + 600_000, 600_000, 64, 1000);
      if (!check) throw new Error('no spot check');
      const slot = async () => (await tasks.slot(check.task, check.n)).replica as ReplicaRecord;
      const [rec] = await tasks.submit([
        { task: check.task, n: check.n, rid: (await slot()).rid, worker: caught, cid: 'bafy-lie', rays: RAYS },
      ]);
      expect(rec.status).toBe('spot');
      await redis.zadd(keys.spotDue, 0, (await slot()).rid);
      expect(await tasks.spotVerdict(check.task, check.n, false)).toBe(true);
      const slashed = (await treasury()) - before;
      expect(slashed).toBe(100 * C);
      expect(await runner.backtrack(caught)).toBe(TILES);

      // Its partners take the reopened tiles' slots and upload the blob they already have.
      for (let t = 0; t < TILES; t++)
        await drive(`${id}.f0.t${t}`, (voted) => fresh.find((w) => !voted.has(w)) as string, `bafy-garbage-${t}`);
      const paidBy = { fund: 0, job: 0, treasury: 0 };
      for (let t = 0; t < TILES; t++)
        for (const r of await tasks.replicas(`${id}.f0.t${t}`))
          if (r.state === 'valid' && r.assignedAt >= 0 && r.worker !== caught && r.worker !== partner)
            paidBy[r.payer as keyof typeof paidBy] += Number(r.paid ?? 0);
      // The catch's 100 credits paid for re-renders until spent; the attacker's own job paid for the rest.
      expect(paidBy.treasury).toBe(0);
      expect(paidBy.fund).toBeLessThanOrEqual(slashed);
      expect(paidBy.job).toBeGreaterThan(0);
      const fund = await redis.hgetall(keys.workerBacktrackFund(caught));
      expect(Number(fund.escrow)).toBeGreaterThanOrEqual(0);
      expect(Number(fund.committed ?? 0)).toBe(0);
      // Neither side gains: the treasury keeps at least its fees, the attacker is down at least its fees.
      expect((await treasury()) - start.treasury).toBeGreaterThanOrEqual(0);
      expect((await holdings()) - start.attacker).toBeLessThanOrEqual(0);
    },
  );
});
