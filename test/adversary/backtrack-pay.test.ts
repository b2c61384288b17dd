/**
 * Who pays to render again a tile reopened as suspect, against an attacker holding a requester
 * account and many worker keys. The treasury pays only the operator's trusted workers for it; a
 * key's replica of it is its job's, as any a dispute needs: the treasury had paid every one, and
 * a review's attacker — its own job carried by a key it then got caught and a partner — had its
 * fresh keys answer the 40 reopened tiles again with the blob they held: 560 replicas the treasury
 * paid, +447 credits for a 100-credit stake. A finished job, whose escrow went back, cannot pay
 * keys: with no trusted worker online backtracking marks its tiles below θ instead of reopening
 * them (a first fix, paying keys out of the caught key's slash, let the attacker's own job soak
 * the slash back up, and left an honest finished job unable to pay, then failed at its timeout).
 * Real Redis, the real Lua scripts, decide() and the VerdictRunner; slots are bound and answered
 * as the attacker's keys would poll them (the runner's dispatcher only enqueues what settle.lua
 * issued, and is not part of who pays), and a frame is "stitched" by recording it as assembly does.
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
import { type RerunDeps, rerunMarked } from '../../orchestrator/rerun.ts';
import { AvailabilityReader } from '../../orchestrator/state/availability.ts';
import { Classes } from '../../orchestrator/state/classes.ts';
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
  freeHandBacksPerHour: 16,
};
/** One interval cleared and traded at 1 credit/RU (1000 ticks). */
const PRICES = { spot: 1000, traded: 1000, marketLimit: null };
/** 64×64 tiles at 4096 spp: one replica claims 10^9 rays (1 RU, 1 credit); the cap is 1.12·10^9. */
const RAYS = 1_000_000_000;
const CLASS = 'c1';

let server: PrivateRedis;
let redis: FarmRedis;
let tasks: Tasks;
let jobs: Jobs;
let runner: VerdictRunner;
let reruns: RerunDeps;

const hex = (n: number) => randomBytes(n).toString('hex');
const newJobId = () => `j${hex(10)}`;
const rid = () => hex(16);
const num = async (key: string, field: string) => Number((await redis.hget(key, field)) ?? 0);
const treasury = () => num(keys.treasury, 'balance');

/** A worker established in the class; online (taking work now) unless told otherwise, the operator's trusted ones only when told. */
async function worker(id: string, passed: number, trusted = false, online = !trusted): Promise<string> {
  await redis.hset(keys.worker(id), {
    id,
    class: CLASS,
    classState: 'established',
    trusted: trusted ? 1 : 0,
    stake: trusted ? 0 : 100 * C,
    passed,
    inFlight: 0,
  });
  if (online) await redis.zadd(trusted ? keys.classTrusted(CLASS) : keys.classWorking(CLASS), Date.now() + 3_600_000, id);
  return id;
}

async function job(owner: string, tiles: number, escrow: number, onTimeout: 'accept' | 'fail' = 'accept'): Promise<string> {
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
      onTimeout,
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
  server = await startRedisServer({ dir: join(mkdtempSync(join(tmpdir(), 'farm-backtrack-pay-')), 'redis') });
  redis = connectRedis(server.url);
  tasks = new Tasks(redis, ECONOMY, 30_000);
  jobs = new Jobs(redis, 60_000);
  const workers = new Workers(redis, 60_000, 0.2);
  const availability = new AvailabilityReader(
    redis,
    new Classes(redis),
    60_000,
    ECONOMY.stakePerReplicaMicros,
    ECONOMY.minStakeMicros,
    async () => PRICES,
  );
  runner = new VerdictRunner({
    tasks,
    jobs,
    workers,
    dispatch: { issue: async () => undefined } as unknown as Dispatcher,
    availability,
    knownAnswers: { short: async () => false, reserve: async () => false },
    saboteurFraction: 0.2,
    graceMs: 30_000,
    renderAttempts: 3,
    jobShare: 0.5,
    jobShareFloor: 64,
    // What assembly does once it has stitched a frame, without the pixels.
    onFrameVerified: async (id, frame, completion) => {
      const record = await jobs.get(id);
      if (record && (await jobs.frameDone(record, frame, 'bafkreiframe', completion)) === 'last') await jobs.finish(record);
    },
    onJobFailed: async () => undefined,
    metrics: { verdict: () => undefined } as unknown as Metrics,
    log: pino({ level: 'silent' }),
  });
  reruns = { jobs, tasks, runner, availability, jobShare: 0.5, jobShareFloor: 64 };
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
      expect(await tasks.reopen((await tasks.get(task)) as TaskRecord, '')).toBe('reopened');
    }
    // The slot left in the queue from before, bound after the reopen by a key, and by a trusted worker.
    expect((await bindTo(`${id}.f0.t0`, 3, other)).payer).toBe('job');
    expect((await bindTo(`${id}.f0.t1`, 3, arbiter)).payer).toBe('treasury');
  });
});

/** Has `key` fail a spot check (its whole stake to the treasury) and the farm backtrack; what the treasury gained and the tiles reopened. */
async function caughtBySpotCheck(key: string): Promise<{ slashed: number; reopened: number }> {
  const truth = await worker(`w${hex(10)}`, 0, true);
  const poolOwner = hex(8);
  await redis.hset(keys.owner(poolOwner), 'balance', 10 * C);
  const pool = await job(poolOwner, 1, 5 * C);
  await drive(`${pool}.f0.t0`, () => truth, 'bafy-truth');
  const before = await treasury();
  const check = await tasks.spot(CLASS, key, rid(), Date.now() + 600_000, 600_000, 64, 1000);
  if (!check) throw new Error('no spot check');
  const slot = async () => (await tasks.slot(check.task, check.n)).replica as ReplicaRecord;
  const [rec] = await tasks.submit([{ task: check.task, n: check.n, rid: (await slot()).rid, worker: key, cid: 'bafy-lie', rays: RAYS }]);
  expect(rec.status).toBe('spot');
  await redis.zadd(keys.spotDue, 0, (await slot()).rid);
  expect(await tasks.spotVerdict(check.task, check.n, false)).toBe(true);
  const slashed = (await treasury()) - before;
  return { slashed, reopened: await runner.backtrack(key) };
}

describe('who pays for a stocking audit', () => {
  it('the treasury, for the trusted worker it is for; the job, for a key that got its slot (re-issued to the class’s queue)', async () => {
    const owner = hex(8);
    await redis.hset(keys.owner(owner), 'balance', 100 * C);
    const id = await job(owner, 2, 50 * C);
    for (const t of [0, 1]) await redis.hset(keys.task(`${id}.f0.t${t}`), 'stockSlot', 0);
    const bindTo = async (task: string, w: string) => {
      const r = await tasks.bind(task, 0, w, rid(), Date.now() + 600_000, 'slots', false, 64, PRICES);
      if (r.status !== 'bound') throw new Error(`${task}: ${r.status}`);
      return r.replica.payer;
    };
    expect(await bindTo(`${id}.f0.t0`, await worker(`w${hex(10)}`, 10))).toBe('job');
    expect(await bindTo(`${id}.f0.t1`, await worker(`w${hex(10)}`, 0, true))).toBe('treasury');
  });
});

describe('one caught key with no trusted worker online', () => {
  it.each([0, 1])(
    'its partners answering its own job’s reopened tiles again are paid by that job, and cost the treasury nothing (fresh keys with k = %i)',
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
      // Its own job, each tile carried by the key it gets caught and a partner agreeing on garbage; one
      // tile left unrendered keeps it running (a finished job's tiles are not reopened: below).
      const id = await job(attacker, TILES + 1, 350 * C);
      const order = [caught, partner, ...fresh];
      for (let t = 0; t < TILES; t++)
        await drive(`${id}.f0.t${t}`, (voted) => order.find((w) => !voted.has(w)) as string, `bafy-garbage-${t}`);
      for (let t = 0; t < TILES; t++) await redis.hset(keys.task(`${id}.f0.t${t}`), 'decidedAt', Date.now() - 2 * 3_600_000);
      const start = { treasury: await treasury(), attacker: await holdings() };

      const { slashed, reopened } = await caughtBySpotCheck(caught);
      expect(slashed).toBe(100 * C);
      expect(reopened).toBe(TILES);
      for (let t = 0; t < TILES; t++)
        await drive(`${id}.f0.t${t}`, (voted) => fresh.find((w) => !voted.has(w)) as string, `bafy-garbage-${t}`);
      const payers = new Set<string | undefined>();
      for (let t = 0; t < TILES; t++)
        for (const r of await tasks.replicas(`${id}.f0.t${t}`)) if (fresh.includes(r.worker) && r.state === 'valid') payers.add(r.payer);
      expect([...payers]).toEqual(['job']);
      // The treasury keeps the whole slash (and the fees); the attacker is down at least its stake.
      expect((await treasury()) - start.treasury).toBeGreaterThanOrEqual(slashed);
      expect((await holdings()) - start.attacker).toBeLessThanOrEqual(-slashed);
    },
  );

  it('marks a finished job’s tiles it carried below θ rather than reopening them; with a trusted worker online, reopens them for it', async () => {
    await redis.hset(keys.treasury, 'balance', 1000 * C);
    const owner = hex(8);
    await redis.hset(keys.owner(owner), 'balance', 100 * C);
    const liar = await worker(`w${hex(10)}`, 10);
    const partner = await worker(`w${hex(10)}`, 10);
    const finished = async () => {
      const id = await job(owner, 2, 20 * C);
      for (let t = 0; t < 2; t++)
        await drive(`${id}.f0.t${t}`, (voted) => [liar, partner].find((w) => !voted.has(w)) as string, `bafy-wrong-${t}`);
      expect((await jobs.get(id))?.state).toBe('done');
      return id;
    };
    const first = await finished();
    expect((await caughtBySpotCheck(liar)).reopened).toBe(0);
    // Done, its tiles standing marked below θ, nothing issued for keys its job could not pay.
    expect(await redis.hmget(keys.job(first), 'state', 'tilesBelowThreshold', 'tilesVerified')).toEqual(['done', '2', '2']);
    for (let t = 0; t < 2; t++) expect(await tasks.get(`${first}.f0.t${t}`)).toMatchObject({ state: 'verified', below: true, issued: 2 });

    const liarToo = await worker(`w${hex(10)}`, 10);
    const id = await job(owner, 1, 20 * C);
    await drive(`${id}.f0.t0`, (voted) => [liarToo, partner].find((w) => !voted.has(w)) as string, 'bafy-wrong');
    expect((await jobs.get(id))?.state).toBe('done');
    const arbiter = await worker(`w${hex(10)}`, 0, true, true);
    expect((await caughtBySpotCheck(liarToo)).reopened).toBe(1);
    expect((await jobs.get(id))?.state).toBe('running');
    const task = (await tasks.get(`${id}.f0.t0`)) as TaskRecord;
    expect(task).toMatchObject({ state: 'pending', suspect: true });
    expect(task.arbiterSlot).not.toBeNull();
    const bound = await tasks.bind(task.id, task.arbiterSlot as number, arbiter, rid(), Date.now() + 600_000, 'arbiter', true, 64, PRICES);
    expect(bound.status === 'bound' && bound.replica.payer).toBe('treasury');

    // The first job's marked tiles, now that a trusted worker is online: re-run for it (the duty).
    expect((await tasks.marked(64)).sort()).toEqual([`${first}.f0.t0`, `${first}.f0.t1`]);
    expect(await rerunMarked(reruns, 64)).toBe(2);
    expect((await jobs.get(first))?.state).toBe('running');
    for (let t = 0; t < 2; t++)
      expect(await tasks.get(`${first}.f0.t${t}`)).toMatchObject({ state: 'pending', arbiterSlot: expect.any(Number) });
    expect(await tasks.marked(64)).toEqual([]);
  });

  /** A fresh requester's job (one tile, unless told) whose first tile a key and its partner carried with a wrong result. */
  async function carriedWrong(tiles = 1) {
    await redis.hset(keys.treasury, 'balance', 1000 * C);
    const owner = hex(8);
    await redis.hset(keys.owner(owner), 'balance', 100 * C);
    const [liar, partner] = [await worker(`w${hex(10)}`, 10), await worker(`w${hex(10)}`, 10)];
    const id = await job(owner, tiles, 20 * C);
    const task = `${id}.f0.t0`;
    await drive(task, (voted) => [liar, partner].find((w) => !voted.has(w)) as string, 'bafy-wrong');
    return { owner, liar, partner, id, task };
  }
  /** The trusted arbiter renders the reopened tile's true result, and the verdict runs. */
  async function arbitrate(task: string, arbiter: string) {
    const t = (await tasks.get(task)) as TaskRecord;
    const b = await tasks.bind(task, t.arbiterSlot as number, arbiter, rid(), Date.now() + 600_000, 'arbiter', true, 64, PRICES);
    if (b.status !== 'bound') throw new Error(b.status);
    await tasks.submit([{ task, n: b.replica.n, rid: b.replica.rid, worker: arbiter, cid: 'bafy-truth', rays: RAYS }]);
    await runner.judge(task);
  }

  it('gives the requester back what it paid for a wrong tile: from the caught key and from the partner the arbiter outvotes, after the slash, out of their balances', async () => {
    const { owner, liar, partner, id, task } = await carriedWrong();
    // Two replicas of 1 RU at 1 credit: 2 credits paid, 0.98 each earned, 0.02 each the fee.
    expect(await num(keys.owner(owner), 'balance')).toBe(98 * C);
    const earned = 0.98 * C;
    const before = { liar: await num(keys.worker(liar), 'balance'), partner: await num(keys.worker(partner), 'balance') };
    const arbiter = await worker(`w${hex(10)}`, 0, true, true);
    expect((await caughtBySpotCheck(liar)).reopened).toBe(1);
    // The caught key's earnings on it, and the fee, are the reopened job's escrow: they pay its render again.
    expect(await num(keys.worker(liar), 'balance')).toBe(before.liar - earned);
    expect(await redis.hmget(keys.job(id), 'state', 'escrow', 'spent')).toEqual(['running', String(C), String(C)]);
    expect((await tasks.replicas(task)).find((r) => r.worker === liar)).toMatchObject({ state: 'invalid', clawedBack: String(C) });
    // The trusted arbiter's render (the treasury's) outvotes the partner: its payment comes back too,
    // once, and the job, done again, returns all it holds.
    await arbitrate(task, arbiter);
    expect(await tasks.get(task)).toMatchObject({ state: 'verified', cid: 'bafy-truth' });
    expect(await num(keys.worker(partner), 'balance')).toBe(before.partner - earned);
    // Its whole stake slashed first (to the arbiter that caught it), none of it taken for restitution.
    expect(await num(keys.worker(partner), 'stake')).toBe(0);
    expect(await num(keys.worker(arbiter), 'balance')).toBeGreaterThanOrEqual(100 * C);
    expect(await redis.hmget(keys.job(id), 'state', 'escrow', 'spent', 'fees')).toEqual(['done', '0', '0', '0']);
    expect(await redis.hmget(keys.owner(owner), 'balance', 'held')).toEqual([String(100 * C), '0']);
    const entries = (await redis.lrange(keys.ledger(owner), 0, -1)).map((e) => JSON.parse(e) as { kind: string; amount: string });
    expect(entries.filter((e) => e.kind === 'clawback').map((e) => Number(e.amount))).toEqual([C, C]);
    // A replica's view shows what it was paid less what came back.
    expect((await tasks.view(task, true))?.replicas.find((r) => r.worker === partner)?.paid).toBe(0);
  });

  it('takes restitution only from a caught key’s balance: parked elsewhere, its earnings stay; its stake is slashed whole', async () => {
    const { owner, liar, partner, task } = await carriedWrong();
    // The partner parks what it earned (as a forward offer's collateral, say) before the arbiter comes.
    await redis.hset(keys.worker(partner), 'balance', 0);
    const arbiter = await worker(`w${hex(10)}`, 0, true, true);
    expect((await caughtBySpotCheck(liar)).reopened).toBe(1);
    await arbitrate(task, arbiter);
    // Its stake went to the slash, whole; of its payment only the fee came back (a colluding
    // requester had had its keys' stakes emptied into its own escrow ahead of the slash).
    expect(await redis.hmget(keys.worker(partner), 'stake', 'balance')).toEqual(['0', '0']);
    expect((await tasks.replicas(task)).find((r) => r.worker === partner)).toMatchObject({
      state: 'invalid',
      clawedBack: String(0.02 * C),
    });
    expect(await num(keys.owner(owner), 'balance')).toBe(100 * C - 0.98 * C);
  });

  it('gives back what a cancelled job paid a caught key for a tile it carried, marking the tile below θ, neither reopened nor re-run', async () => {
    // A second tile keeps the job running until the cancel.
    const { owner, liar, id, task } = await carriedWrong(2);
    expect(await jobs.cancel(id)).toBe(true);
    // Two replicas of 1 RU at 1 credit paid; the rest of the escrow came back at the cancel.
    expect(await num(keys.owner(owner), 'balance')).toBe(98 * C);
    const before = await num(keys.worker(liar), 'balance');
    // A trusted worker is online (the spot check's truth): the tile still is not reopened.
    expect((await caughtBySpotCheck(liar)).reopened).toBe(0);
    expect(await tasks.get(task)).toMatchObject({ state: 'verified', below: true });
    expect((await tasks.replicas(task)).find((r) => r.worker === liar)).toMatchObject({ state: 'invalid', clawedBack: String(C) });
    expect(await num(keys.worker(liar), 'balance')).toBe(before - 0.98 * C);
    expect(await redis.hmget(keys.owner(owner), 'balance', 'held')).toEqual([String(99 * C), '0']);
    expect(await redis.hmget(keys.job(id), 'state', 'tilesBelowThreshold')).toEqual(['cancelled', '1']);
    expect(await tasks.marked(64)).not.toContain(task);
  });

  it('does not fail a finished job whose reopened tile’s arbiter leaves: the tile stands below θ and the job is done again', async () => {
    const owner = hex(8);
    await redis.hset(keys.owner(owner), 'balance', 100 * C);
    const [liar, partner] = [await worker(`w${hex(10)}`, 10), await worker(`w${hex(10)}`, 10)];
    const id = await job(owner, 1, 20 * C, 'fail');
    const task = `${id}.f0.t0`;
    await drive(task, (voted) => [liar, partner].find((w) => !voted.has(w)) as string, 'bafy-wrong');
    const arbiter = await worker(`w${hex(10)}`, 0, true, true);
    expect((await caughtBySpotCheck(liar)).reopened).toBe(1);
    expect(await tasks.get(task)).toMatchObject({ state: 'pending', arbiterSlot: expect.any(Number) });
    // The trusted worker leaves before taking the arbiter's slot, and the job's (fresh) timeout
    // passes — keys could render it, but the job holds no escrow to pay them — under onTimeout 'fail'.
    await redis.zrem(keys.classTrusted(CLASS), arbiter);
    await redis.hset(keys.job(id), 'deadlineAt', Date.now() - 1);
    await runner.judge(task);
    expect(await tasks.get(task)).toMatchObject({ state: 'verified', below: true, cid: 'bafy-wrong' });
    expect((await jobs.get(id))?.state).toBe('done');
  });
});
