/**
 * PoC (review of the money path): who pays a suspect tile's slots, and what one caught key makes
 * the treasury pay with no trusted worker online. Real Redis, real Lua scripts, real decide() and
 * VerdictRunner, real AvailabilityReader; only the BullMQ dispatcher is a stub (slots are bound by
 * hand, as the attacker's keys would poll them) and the known-answers stocking is off.
 * Copy to test/zz-money-poc.test.ts and run alone.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PrivateRedis, startRedisServer } from '../cli/redis-server.ts';
import type { Dispatcher } from '../orchestrator/dispatch.ts';
import type { Metrics } from '../orchestrator/metrics.ts';
import { planJob } from '../orchestrator/planner.ts';
import { AvailabilityReader } from '../orchestrator/state/availability.ts';
import { Jobs } from '../orchestrator/state/jobs.ts';
import { keys } from '../orchestrator/state/keys.ts';
import { connectRedis, type FarmRedis } from '../orchestrator/state/redis.ts';
import { Tasks } from '../orchestrator/state/tasks.ts';
import { Workers } from '../orchestrator/state/workers.ts';
import { VerdictRunner } from '../orchestrator/verdict/runner.ts';

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

/** Binds every issued, unbound (or given-up) non-arbiter slot to the next key `pick` names, and uploads `cid`. */
async function drive(task: string, pick: (voted: Set<string>) => string, cid: string): Promise<void> {
  for (let round = 0; round < 64; round++) {
    await runner.judge(task);
    const t = await tasks.get(task);
    if (!t || t.state !== 'pending') return;
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
  server = await startRedisServer({ dir: join(mkdtempSync(join(tmpdir(), 'farm-money-poc-')), 'redis') });
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

describe('who pays a suspect tile’s slots (bind.lua:97-98,147)', () => {
  it('a leftover slot issued before a reopen and bound after it is the treasury’s; one bound before stays the job’s', async () => {
    await redis.hset(keys.treasury, 'balance', 1000 * C);
    const owner = hex(8);
    await redis.hset(keys.owner(owner), 'balance', 100 * C);
    const a = await worker(`w${hex(10)}`, 10);
    const b = await worker(`w${hex(10)}`, 10);
    const fresh = await worker(`w${hex(10)}`, 0);
    const late = await worker(`w${hex(10)}`, 0);
    const other = await worker(`w${hex(10)}`, 0);
    const id = await job(owner, 2, 50 * C);
    const bindTo = async (task: string, n: number, w: string) => {
      const r = await tasks.bind(task, n, w, rid(), Date.now() + 600_000, 'slots', false, 64, PRICES);
      if (r.status !== 'bound') throw new Error(`${task} ${n}: ${r.status}`);
      return r.replica;
    };
    const answer = async (task: string, r: { n: number; rid: string; worker: string }) =>
      (await tasks.submit([{ task, n: r.n, rid: r.rid, worker: r.worker, cid: 'bafyA', rays: RAYS }]))[0].status;
    const payerOf = async (task: string, n: number) => (await tasks.replicas(task)).find((r) => r.n === n);
    for (const t of [0, 1]) {
      const task = `${id}.f0.t${t}`;
      // Slot 0 to an unchecked key: it weighs nothing, so the verdict issues three at once (slots 1-3).
      await answer(task, await bindTo(task, 0, fresh));
      await runner.judge(task);
      expect((await tasks.get(task))?.nextSlot).toBe(4);
      // Tile 1: slot 3 is taken before the verdict and held; tile 0: slot 3 stays in its queue.
      if (t === 1) await bindTo(task, 3, late);
      await answer(task, await bindTo(task, 1, a));
      await answer(task, await bindTo(task, 2, b));
      await runner.judge(task);
      expect((await tasks.get(task))?.state).toBe('verified');
      // A dispute or a re-run reopens it as suspect (runner.ts:101 and rerun.ts:66 make this same call).
      expect(await tasks.reopen((await tasks.get(task))!, '')).toBe(true);
      await runner.judge(task);
    }
    const spentBefore = await num(keys.job(id), 'spent');
    const treasuryBefore = await treasury();
    // Tile 0's leftover slot, bound after the reopen, and tile 1's held slot, answered after it.
    const leftover = await bindTo(`${id}.f0.t0`, 3, other);
    await answer(`${id}.f0.t0`, leftover);
    await runner.judge(`${id}.f0.t0`);
    await answer(`${id}.f0.t1`, (await payerOf(`${id}.f0.t1`, 3))!);
    await runner.judge(`${id}.f0.t1`);
    const l = (await payerOf(`${id}.f0.t0`, 3))!;
    const h = (await payerOf(`${id}.f0.t1`, 3))!;
    console.log('WHO PAYS', JSON.stringify({
      leftoverBoundAfterReopen: { payer: l.payer, state: l.state, paid: Number(l.paid) / C },
      heldBeforeReopen: { payer: h.payer, state: h.state, paid: Number(h.paid) / C },
      jobSpentDelta: (await num(keys.job(id), 'spent') - spentBefore) / C,
      treasuryDelta: ((await treasury()) - treasuryBefore) / C,
    }));
    expect(l.payer).toBe('treasury');
    expect(h.payer).toBe('job');
  });
});

describe('one caught key, no trusted worker online (backtracking: runner.ts:120-158)', () => {
  it('makes the treasury pay many replicas on every tile it vouched for, past RECHECK_MOST and the hour', async () => {
    const TILES = 40; // > RECHECK_MOST (32)
    await redis.hset(keys.treasury, 'balance', 1000 * C);
    const attacker = hex(8); // the requester account the attacker holds
    await redis.hset(keys.owner(attacker), 'balance', 200 * C);
    const caught = await worker(`w${hex(10)}`, 10); // k = 10 (earned on checks before)
    const partner = await worker(`w${hex(10)}`, 10);
    // Fresh keys, each with the minimum stake; unchecked (k = 0).
    const fresh: string[] = [];
    for (let i = 0; i < 20; i++) fresh.push(await worker(`w${hex(10)}`, 0));
    const attackerKeys = [caught, partner, ...fresh];
    const holdings = async () => {
      let sum = 0;
      for (const w of attackerKeys) sum += (await num(keys.worker(w), 'balance')) + (await num(keys.worker(w), 'stake'));
      sum += (await num(keys.owner(attacker), 'balance')) + (await num(keys.owner(attacker), 'held'));
      return sum;
    };
    const start = { treasury: await treasury(), attacker: await holdings() };

    // 1. The attacker's own job: each tile carried by the caught key and its partner (garbage both agree on).
    const id = await job(attacker, TILES, 150 * C);
    const order = [caught, partner, ...fresh];
    const first = (voted: Set<string>) => order.find((w) => !voted.has(w)) as string;
    for (let t = 0; t < TILES; t++) await drive(`${id}.f0.t${t}`, first, `bafy-garbage-${t}`);
    const afterJob = { treasury: await treasury(), attacker: await holdings(), spent: await num(keys.job(id), 'spent') };
    console.log('after the job:', { spentByJob: afterJob.spent / C, treasuryFees: (afterJob.treasury - start.treasury) / C });
    // Every verdict is older than the hour that RECHECK_MS bounds.
    for (let t = 0; t < TILES; t++) await redis.hset(keys.task(`${id}.f0.t${t}`), 'decidedAt', Date.now() - 2 * 3_600_000);

    // 2. The caught key fails a spot check (its whole stake goes to the treasury), and the farm backtracks
    //    (uploads.ts:184-187). A known answer for it: a tile a trusted worker verified earlier.
    const trusted = await worker(`w${hex(10)}`, 0, true);
    const poolOwner = hex(8);
    await redis.hset(keys.owner(poolOwner), 'balance', 10 * C);
    const pool = await job(poolOwner, 1, 5 * C);
    await drive(`${pool}.f0.t0`, () => trusted, 'bafy-truth');
    expect(await redis.zscore(keys.spotPool(CLASS), `${pool}.f0.t0`)).not.toBeNull();
    const beforeCatch = { treasury: await treasury(), attacker: await holdings() };
    const check = await tasks.spot(CLASS, caught, rid(), Date.now() + 600_000, 600_000, 64, 1000);
    if (!check) throw new Error('no spot check');
    const [rec] = await tasks.submit([
      { task: check.task, n: check.n, rid: (await tasks.slot(check.task, check.n)).replica!.rid, worker: caught, cid: 'bafy-lie', rays: RAYS },
    ]);
    expect(rec.status).toBe('spot');
    await redis.zadd(keys.spotDue, 0, (await tasks.slot(check.task, check.n)).replica!.rid);
    expect(await tasks.spotVerdict(check.task, check.n, false)).toBe(true);
    const reopened = await runner.backtrack(caught);
    const afterCatch = { treasury: await treasury(), attacker: await holdings() };
    console.log('caught:', { reopened, stakeLost: (beforeCatch.attacker - afterCatch.attacker) / C });

    // 3. The attacker's fresh keys take the reopened tiles' slots and upload the blob they already have.
    const freshFirst = (voted: Set<string>) => fresh.find((w) => !voted.has(w)) as string;
    for (let t = 0; t < TILES; t++) await drive(`${id}.f0.t${t}`, freshFirst, `bafy-garbage-${t}`);
    let treasuryPaid = 0;
    let treasuryReplicas = 0;
    for (let t = 0; t < TILES; t++) {
      for (const r of await tasks.replicas(`${id}.f0.t${t}`)) {
        if (r.payer === 'treasury' && r.state === 'valid') {
          treasuryReplicas++;
          treasuryPaid += Number(r.paid ?? 0);
        }
      }
    }
    const end = { treasury: await treasury(), attacker: await holdings(), spent: await num(keys.job(id), 'spent') };
    const summary = {
      tiles: TILES,
      reopened,
      treasuryPaidReplicas: treasuryReplicas,
      perTile: treasuryReplicas / TILES,
      treasuryPaidCredits: treasuryPaid / C,
      jobSpentAgain: (end.spent - afterJob.spent) / C,
      attackerNetOverall: (end.attacker - start.attacker) / C,
      treasuryNetOverall: (end.treasury - start.treasury) / C,
      tilesBelowThreshold: await num(keys.job(id), 'tilesBelowThreshold'),
    };
    console.log('SUMMARY', JSON.stringify(summary));
    expect(reopened).toBe(TILES);
    expect(summary.perTile).toBeGreaterThan(1); // the README / decide.ts:268 say "one replica"
    expect(summary.attackerNetOverall).toBeGreaterThan(0);
    expect(summary.treasuryNetOverall).toBeLessThan(0);
  });
});
