/**
 * The Lua scripts' bookkeeping on a real Redis, where a slip would leave a tile waiting forever:
 * slots dropped by a settled task stop counting as outstanding, a worker that handed a replica
 * back cannot take the tile again, a tile every replica of which was let go is open to every class
 * again, a known answer serves a few workers once each, a verdict with
 * nothing to do leaves a look another change scheduled, and a reopened task asks for a fresh
 * arbitration and audit.
 * Planning creates a batch of tasks in one script and leaves a task that exists as it is; a timed-out
 * job goes to one sweep at a time, and again later while it runs.
 * Change notices for live views leave in one message per job and turn of the event loop. A stocking
 * audit's reservation goes when its task is cancelled or purged. A script carries only the key
 * names it uses.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PrivateRedis, startRedisServer } from '../cli/redis-server.ts';
import { ChangeFeed } from '../orchestrator/change-feed.ts';
import type { Prices } from '../orchestrator/dispatch.ts';
import { planJob } from '../orchestrator/planner.ts';
import { announce, JOB_SUBJECT } from '../orchestrator/state/events.ts';
import { Jobs } from '../orchestrator/state/jobs.ts';
import { keys, luaKeyTable } from '../orchestrator/state/keys.ts';
import { KnownAnswers } from '../orchestrator/state/known-answers.ts';
import { connectRedis, type FarmRedis } from '../orchestrator/state/redis.ts';
import { type TaskRecord, Tasks } from '../orchestrator/state/tasks.ts';
import { recentResults } from '../shared/throughput.ts';
import { waitFor } from './support/farm.ts';

let server: PrivateRedis;
let redis: FarmRedis;
let tasks: Tasks;
const JOB = 'j00000000000000000001';

beforeAll(async () => {
  server = await startRedisServer({ dir: join(mkdtempSync(join(tmpdir(), 'farm-state-')), 'redis') });
  redis = connectRedis(server.url);
  tasks = new Tasks(
    redis,
    {
      feePpm: 20_000,
      stakePerReplicaMicros: 1000,
      slashShare: 1,
      deadlinePenaltyMicros: 50,
      maxHeldReplicas: 4,
      minStakeMicros: 0,
      freeHandBacksPerHour: 2,
    },
    30_000,
  );
  await runningJob(JOB);
  await redis.hset(keys.worker('w1'), { id: 'w1', class: 'c1', classState: 'established', trusted: 1 });
  await tasks.create(JOB, planJob(JOB, [0], 16, 16, 16), 2);
});
/** No market has cleared: replicas trade at no price. */
const NO_PRICES = { spot: null, traded: null, marketLimit: null };

/** A one-tile job's record, as job-create.lua writes it (no escrow: its replicas trade at no price). */
const runningJob = (id: string) =>
  redis.hset(keys.job(id), { id, state: 'running', scene: 'bafkreiscene', owner: 'o', tilesTotal: 1, timeoutMs: 60_000, spp: 1 });

afterAll(async () => {
  redis.disconnect();
  await server.stop();
});

describe("a script's key table", () => {
  it('names keys as keys.ts does, holds only the entries the script uses, and refuses a name keys.ts lacks', async () => {
    const body = "return {K.workerActive('w1'), K.tasksIdle, type(K['job'])}";
    expect(await redis.eval(luaKeyTable(body) + body, 0)).toEqual([keys.workerActive('w1'), keys.tasksIdle, 'nil']);
    expect(() => luaKeyTable('K.workerActiv(w)')).toThrow(/K\.workerActiv\b/);
  });
});

describe('the price a replica binds at (bind.lua)', () => {
  it('is the clearing price; the ask where the interval did not cross; never above its collar for a market order', async () => {
    const job = 'j00000000000000000010';
    await runningJob(job);
    await redis.hset(keys.job(job), 'escrow', 10 ** 12);
    const limit = 'j00000000000000000011';
    await runningJob(limit);
    await redis.hset(keys.job(limit), { escrow: 10 ** 12, bid: 3000 });
    await tasks.create(job, planJob(job, [0], 16, 16, 16), 2);
    await tasks.create(limit, planJob(limit, [0], 16, 16, 16), 2);
    await redis.hset(keys.worker('dear'), { id: 'dear', class: 'c1', classState: 'established', trusted: 1, ask: 2000 });
    await redis.hset(keys.worker('cheap'), { id: 'cheap', class: 'c1', classState: 'established', trusted: 1, ask: 800 });
    /** `collar`: the most a market order pays, as the last clearing set it. */
    const at = (task: string, worker: string, spot: number | null, traded: number | null, collar = traded) =>
      tasks.bind(
        `${task}.f0.t0`,
        0,
        worker,
        'rdry',
        Date.now() + 1000,
        'slots',
        false,
        64,
        { spot, traded, marketLimit: collar },
        undefined,
        true,
      );
    // Before any trade: at the ask.
    expect(await at(job, 'dear', null, null)).toEqual({ status: 'eligible', price: 2000 });
    // An interval that cleared: at its price, and no ask above it…
    expect(await at(job, 'cheap', 1500, 1000, 1500)).toEqual({ status: 'eligible', price: 1500 });
    expect(await at(job, 'dear', 1500, 1000, 1500)).toEqual({ status: 'pricedout', uncovered: false });
    // … a market order at no price over its collar, a limit order up to its limit.
    expect(await at(job, 'cheap', 1500, 1000, 1490)).toEqual({ status: 'paused', uncovered: false });
    expect(await at(limit, 'cheap', 1500, 1000, 1490)).toEqual({ status: 'eligible', price: 1500 });
    // The treasury's own work on a market order's tile (a trusted worker's stocking audit) is not the
    // job's to pay: its collar does not hold it up (at no more than the last trade, as ever).
    await redis.hset(keys.task(`${job}.f0.t0`), 'stockSlot', '0');
    expect(await at(job, 'cheap', 1500, 1000, 1490)).toEqual({ status: 'eligible', price: 1000 });
    await redis.hdel(keys.task(`${job}.f0.t0`), 'stockSlot');
    // One that did not cross: a market order pays an ask up to its collar, none above it…
    expect(await at(job, 'cheap', null, 1000)).toEqual({ status: 'eligible', price: 800 });
    expect(await at(job, 'dear', null, 1000)).toEqual({ status: 'pricedout', uncovered: false });
    expect(await at(job, 'dear', null, 1000, 2000)).toEqual({ status: 'eligible', price: 2000 });
    // … and a limit order any ask its bid reaches (the pairwise rule).
    expect(await at(limit, 'dear', null, 1000)).toEqual({ status: 'eligible', price: 2000 });
  });
});

describe('what a provider was paid, which the median ask weighs (settle.lua)', () => {
  it('counts what requesters paid for each result that the fee was charged on, checked or not, at any price; not what the treasury paid, nor work handed out before a catch', async () => {
    const job = 'j00000000000000000020';
    await runningJob(job);
    await redis.hset(keys.job(job), { escrow: 10 ** 12, spp: 1000 });
    await tasks.create(job, planJob(job, [0], 96, 16, 16), 2);
    // Their own class: the tiles they back are known answers, which other tests here count in c1's.
    const provider = (id: string, ask: number) =>
      redis.hset(keys.worker(id), { id, class: 'c9', classState: 'established', trusted: 1, ask });
    await provider('p1', 500);
    await provider('p2', 500);
    await provider('free', 0);
    const paid = async (worker: string) =>
      recentResults(await redis.hgetall(keys.workerRecentPaid(worker)), Date.now()).reduce((s, n) => s + n, 0);
    const cleared = (spot: number) => ({ spot, traded: 1000, marketLimit: 1500 });
    /** Binds slot n of tile t to the worker and uploads a result of 10^6 rays. */
    const bound = async (t: number, n: number, worker: string, prices: Prices) => {
      const task = `${job}.f0.t${t}`;
      const b = await tasks.bind(task, n, worker, `r${t}${n}`, Date.now() + 60_000, 'slots', false, 64, prices);
      expect(b.status).toBe('bound');
      expect(await tasks.submit([{ task, n, rid: `r${t}${n}`, worker, cid: 'bafkreitile', rays: 1e6 }])).toEqual([{ status: 'submitted' }]);
    };
    /** Accepts tile t's results in slots `agree` as one verdict. */
    const settle = async (t: number, agree: number[], anchored: boolean) => {
      const task = (await tasks.get(`${job}.f0.t${t}`)) as TaskRecord;
      const verdict = { kind: 'accept' as const, cid: 'bafkreitile', credibility: 1, below: false, anchored, agree, disagree: [] };
      const settled = await tasks.settle(task, { ...verdict, faulty: anchored, checked: [], auditSkipped: false, basis: {} }, 5, false);
      expect(settled.status).toBe('verified');
    };
    // At a clearing's price, unchecked: each paid replica counts what it was paid (10^6 rays at
    // 1,000 ticks per RU: 1,000 µc).
    await bound(0, 0, 'p1', cleared(1000));
    await bound(0, 1, 'p2', cleared(1000));
    await settle(0, [0, 1], false);
    expect([await paid('p1'), await paid('p2')]).toEqual([1000, 1000]);
    // At the worker's own ask (the interval did not cross), checked: what it was paid, no more (a
    // dispute that has a tile checked buys no weight); its speed is measured.
    await bound(1, 0, 'p1', NO_PRICES);
    await settle(1, [0], true);
    expect(await paid('p1')).toBe(1500);
    expect(await redis.hget(keys.worker('p1'), 'raysDone')).toBe('1000000');
    // At 0, nothing; at a tick, a µc whose fee rounds down to nothing: nothing either (a forward
    // window an attacker priced at a tick had bought weight in rays for nothing, and replicas of a
    // few µc would buy it without a fee).
    await bound(2, 0, 'free', cleared(0));
    await settle(2, [0], false);
    await bound(4, 0, 'free', cleared(1));
    await settle(4, [0], false);
    expect(await paid('free')).toBe(0);
    // The treasury's own work (a stocking audit): the farm's, not a requester's purchase.
    await redis.hset(keys.task(`${job}.f0.t3`), 'stockSlot', '0');
    await bound(3, 0, 'p1', cleared(1000));
    await settle(3, [0], true);
    expect(await paid('p1')).toBe(1500);
    // Handed out before its worker was caught, judged after: no weight, as the catch wiped it.
    await bound(5, 0, 'p2', cleared(1000));
    await redis.hset(keys.worker('p2'), 'caughtAt', Date.now());
    await settle(5, [0], false);
    expect(await paid('p2')).toBe(1000);
  });
});

describe('a job’s replicas held, which its bid leaves out (market/book.ts remainingRays)', () => {
  it('count from the bind until the result or the let-go', async () => {
    const job = 'j00000000000000000040';
    await runningJob(job);
    await redis.hset(keys.job(job), 'escrow', 10 ** 12);
    await tasks.create(job, planJob(job, [0], 32, 16, 16), 2);
    await redis.hset(keys.worker('holder'), { id: 'holder', class: 'c9', classState: 'established', trusted: 1 });
    const out = async () => Number(await redis.hget(keys.job(job), 'replicasOut'));
    const bind = async (t: number) => {
      const b = await tasks.bind(`${job}.f0.t${t}`, 0, 'holder', `h${t}`, Date.now() + 60_000, 'slots', false, 64, NO_PRICES);
      expect(b.status).toBe('bound');
    };
    await bind(0);
    await bind(1);
    expect(await out()).toBe(2);
    await tasks.submit([{ task: `${job}.f0.t0`, n: 0, rid: 'h0', worker: 'holder', cid: 'bafkreitile', rays: 1 }]);
    expect(await out()).toBe(1);
    await tasks.release(`${job}.f0.t1`, 0, 'h1', 'holder');
    expect(await out()).toBe(0);
    // One bound before the count was kept (unmarked) is never taken off it.
    await tasks.create(job, planJob(job, [1], 32, 16, 16), 2);
    const task = `${job}.f1.t0`;
    expect((await tasks.bind(task, 0, 'holder', 'old', Date.now() + 60_000, 'slots', false, 64, NO_PRICES)).status).toBe('bound');
    const slot = JSON.parse((await redis.hget(keys.taskReplicas(task), '0')) as string);
    await redis.hset(keys.taskReplicas(task), '0', JSON.stringify({ ...slot, countedOut: undefined }));
    await redis.hset(keys.job(job), 'replicasOut', 0);
    await tasks.release(task, 0, 'old', 'holder');
    expect(await out()).toBe(0);
  });
});

describe('when a bid stands (includes/jobs.lua bidAnew)', () => {
  it('from when its job starts, is released or gets a bigger budget; not while it is held', async () => {
    const jobs = new Jobs(redis, 60_000);
    const job = 'j00000000000000000030';
    const owner = '00000000000000aa';
    await redis.hset(keys.job(job), { id: job, state: 'queued', owner, budget: 1000, escrow: 1000, spent: 0, timeoutMs: 60_000 });
    await redis.hset(keys.owner(owner), 'balance', 10_000);
    const since = async () => Number(await redis.hget(keys.job(job), 'bidSince'));
    const movesIt = async (change: () => Promise<unknown>) => {
      const before = Date.now();
      await new Promise((resolve) => setTimeout(resolve, 2));
      await change();
      return (await since()) > before;
    };
    expect(await movesIt(() => jobs.start(job))).toBe(true);
    expect(await movesIt(() => jobs.setPaused(job, true))).toBe(false);
    expect(await movesIt(() => jobs.setPaused(job, false))).toBe(true);
    expect(await movesIt(() => jobs.setPaused(job, false))).toBe(false);
    expect(await movesIt(() => jobs.setBudget(job, owner, 2000))).toBe(true);
    expect(await movesIt(() => jobs.setBudget(job, owner, 2000))).toBe(false);
  });
});

describe('timed-out jobs (timeouts-take.lua)', () => {
  it('go to one sweep at a time, and again a retry period later while they run', async () => {
    const jobs = new Jobs(redis, 60_000);
    const now = 1_000_000;
    await redis.zadd(keys.jobDeadlines, now - 1, 'jlate', now + 5000, 'jlater');
    expect(await jobs.takeTimedOut(now, 60_000)).toEqual(['jlate']);
    // Another sweep meanwhile takes nothing: the first may still be judging its tiles.
    expect(await jobs.takeTimedOut(now + 1000, 60_000)).toEqual([]);
    // One that died part-way leaves it to the sweep after the retry period (with the job timed out since).
    expect(await jobs.takeTimedOut(now + 60_000, 60_000)).toEqual(['jlater', 'jlate']);
    // A job that ends leaves the index itself.
    await redis.zrem(keys.jobDeadlines, 'jlate', 'jlater');
    expect(await jobs.takeTimedOut(now + 200_000, 60_000)).toEqual([]);
  });
});

describe('planning a batch of tasks (task-create.lua)', () => {
  it('creates each pending with its replicas issued, leaves one that exists as it is, and lists all as pending', async () => {
    const job = 'j00000000000000000009';
    const planned = planJob(job, [0, 1], 64 * 30, 64 * 20, 64); // 1,200 tasks: three batches
    await tasks.create(job, planned, 2);
    const first = await tasks.get(planned[700].id);
    expect(first).toMatchObject({ job, frame: planned[700].frame, tile: planned[700].tile, rect: planned[700].rect, state: 'pending' });
    expect(first).toMatchObject({ class: '', issued: 2, nextSlot: 2, outstanding: 2, version: 0 });
    expect(first?.auditRoll).toBeGreaterThanOrEqual(0);
    expect(first?.auditRoll).toBeLessThan(1);
    // Planning again after a crash: a task that moved on keeps what it has.
    await redis.hset(keys.task(planned[0].id), 'state', 'verified', 'issued', 3);
    await tasks.create(job, planned, 5);
    expect(await tasks.get(planned[0].id)).toMatchObject({ state: 'verified', issued: 3, outstanding: 2 });
    expect((await tasks.get(planned[1199].id))?.issued).toBe(2);
    expect(await redis.scard(keys.jobPending(job))).toBe(1200);
  });
});

describe('task bookkeeping in Lua', () => {
  const id = `${JOB}.f0.t0`;

  it('stops counting a slot a settled task drops as outstanding', async () => {
    await redis.hset(keys.task(id), 'state', 'verified');
    expect((await tasks.get(id))?.outstanding).toBe(2);
    expect((await tasks.bind(id, 1, 'w1', 'r1', Date.now() + 1000, 'slots', false, 64, NO_PRICES)).status).toBe('obsolete');
    expect((await tasks.get(id))?.outstanding).toBe(1);
  });

  it('never lets a worker take a tile again after handing back or dropping its replica', async () => {
    const job = 'j00000000000000000002';
    const task = `${job}.f0.t0`;
    await runningJob(job);
    await tasks.create(job, planJob(job, [0], 16, 16, 16), 3);
    const deadline = Date.now() + 10_000;
    expect((await tasks.bind(task, 0, 'w1', 'r2', deadline, 'slots', false, 64, NO_PRICES)).status).toBe('bound');
    expect(await tasks.release(task, 0, 'r2', 'w1')).toEqual({ unpinned: 'c1' });
    // Handing back and taking another slot would let a worker pick which replicas it renders.
    expect((await tasks.bind(task, 0, 'w1', 'r3', deadline, 'slots', false, 64, NO_PRICES)).status).toBe('letgo');
    expect((await tasks.bind(task, 1, 'w1', 'r4', deadline, 'slots', false, 64, NO_PRICES)).status).toBe('letgo');
    // Letting a replica time out is the same for an untrusted key; the operator's own workers may
    // take the tile again after a stall (a one-worker farm must finish).
    await redis.hset(keys.worker('u1'), { id: 'u1', class: 'c1', classState: 'established', trusted: 0, stake: 100_000 });
    await redis.hset(keys.worker('w2'), { id: 'w2', class: 'c1', classState: 'established', trusted: 1 });
    for (const [worker, n, again] of [
      ['u1', 1, 'letgo'],
      ['w2', 2, 'bound'],
    ] as const) {
      expect((await tasks.bind(task, n, worker, `r${worker}`, deadline, 'slots', false, 64, NO_PRICES)).status).toBe('bound');
      expect(await tasks.expire(task, n, `r${worker}`)).toBeDefined();
      expect((await tasks.bind(task, n, worker, `r${worker}-again`, deadline, 'slots', false, 64, NO_PRICES)).status).toBe(again);
    }
  });

  it("unpins a tile's class once every replica of it is let go without a result", async () => {
    // Keys of a rare class taking each tile and handing it back had kept it from the common class.
    const job = 'j00000000000000000007';
    const task = `${job}.f0.t0`;
    await runningJob(job);
    await tasks.create(job, planJob(job, [0], 16, 16, 16), 2);
    for (const [id, cls] of [
      ['rare1', 'rare'],
      ['rare2', 'rare'],
      ['common1', 'c1'],
    ])
      await redis.hset(keys.worker(id), { id, class: cls, classState: 'established', trusted: 0, stake: 100_000 });
    const bind = async (worker: string, n: number) =>
      (await tasks.bind(task, n, worker, `r-${worker}`, Date.now() + 10_000, 'slots', false, 64, NO_PRICES)).status;
    const pinned = async () => (await tasks.get(task))?.class;
    expect(await bind('rare1', 0)).toBe('bound');
    expect(await pinned()).toBe('rare');
    expect(await bind('common1', 1)).toBe('wrongclass');
    // The class it had is named, for its slots waiting in that class's queue to go back (dispatch.ts).
    expect(await tasks.release(task, 0, 'r-rare1', 'rare1')).toEqual({ unpinned: 'rare' });
    expect(await pinned()).toBe('');
    expect(await bind('common1', 1)).toBe('bound');
    // A replica held keeps the class; one timing out unpins it as a hand-back does.
    expect(await bind('rare2', 0)).toBe('wrongclass');
    expect(await tasks.expire(task, 1, 'r-common1')).toEqual({ unpinned: 'c1' });
    expect(await pinned()).toBe('');
    expect(await bind('rare2', 0)).toBe('bound');
    expect(await pinned()).toBe('rare');
  });

  it('charges a key’s hand-backs past its free ones an hour, and its render errors on tiles rendered after all, as missed deadlines; not the operator’s, nor one it never saw', async () => {
    // A hand-back is a look at whether the replica was real (a real slot comes back to its queue
    // for a sibling to be given; a spot check's tile never does).
    const job = 'j00000000000000000008';
    await runningJob(job);
    await tasks.create(job, planJob(job, [0], 112, 16, 16), 1);
    for (const [id, trusted] of [
      ['prober', 0],
      ['operator-machine', 1],
    ] as const)
      await redis.hset(keys.worker(id), { id, class: 'c1', classState: 'established', trusted, stake: 100_000 });
    const stake = async (id: string) => Number(await redis.hget(keys.worker(id), 'stake'));
    const letGo = async (worker: string, t: number, how: 'back' | 'fail' | 'unseen') => {
      const task = `${job}.f0.t${t}`;
      const rid = `hb-${worker}-${t}`;
      expect((await tasks.bind(task, 0, worker, rid, Date.now() + 10_000, 'slots', false, 64, NO_PRICES)).status).toBe('bound');
      expect(await tasks.release(task, 0, rid, worker, how === 'fail' ? 'out of memory' : '', how !== 'unseen')).toBeDefined();
    };
    // Two hand-backs an hour free (this farm's economy), a poll's handed back for a worker that
    // hung up not counted, nor a render error (a requester's broken scene would cost every provider).
    await letGo('prober', 0, 'back');
    await letGo('prober', 1, 'unseen');
    await letGo('prober', 2, 'fail');
    await letGo('prober', 3, 'back');
    expect(await stake('prober')).toBe(100_000);
    // Past them, each costs the missed-deadline penalty (50 µc here); a render error counts as one
    // once its own class renders its tile after all (settle.lua), once.
    await letGo('prober', 4, 'back');
    expect(await stake('prober')).toBe(99_950);
    await letGo('prober', 5, 'fail');
    expect(await stake('prober')).toBe(99_950);
    const accept = {
      kind: 'accept' as const,
      cid: 'bafkreitile',
      credibility: null,
      below: false,
      anchored: false,
      agree: [0],
      disagree: [],
    };
    const verdict = { ...accept, faulty: false, checked: [], auditSkipped: false, basis: {} };
    const t5 = `${job}.f0.t5`;
    // Another class's key fails on it first: counted for nobody (its class did not render it).
    await redis.hset(keys.worker('elsewhere'), { id: 'elsewhere', class: 'c2', classState: 'established', trusted: 0, stake: 100_000 });
    expect((await tasks.bind(t5, 1, 'elsewhere', 'e5', Date.now() + 10_000, 'slots', false, 64, NO_PRICES)).status).toBe('bound');
    await tasks.release(t5, 1, 'e5', 'elsewhere', 'unsupported');
    expect((await tasks.bind(t5, 0, 'operator-machine', 'om5', Date.now() + 10_000, 'slots', false, 64, NO_PRICES)).status).toBe('bound');
    await tasks.submit([{ task: t5, n: 0, rid: 'om5', worker: 'operator-machine', cid: 'bafkreitile', rays: 1 }]);
    for (let i = 0; i < 2; i++) {
      const task = (await tasks.get(t5)) as TaskRecord;
      await tasks.settle(task, verdict, 7, false);
      expect([await stake('prober'), await stake('elsewhere')]).toEqual([99_900, 100_000]);
    }
    await redis.set(keys.workerHandBacks('operator-machine'), 100);
    await letGo('operator-machine', 6, 'back');
    expect(await stake('operator-machine')).toBe(100_000);
  });

  it('never times out a holder whose lease is live for a second copy of its slot, and sends a slot of a tile with no class to the shared queue', async () => {
    // A crash between a tile losing its class and its slots' move could leave a slot in two queues
    // (an attacker's review: the copy's fetch timed out a worker that beat, lease after lease).
    const job = 'j00000000000000000015';
    const task = `${job}.f0.t0`;
    await runningJob(job);
    await tasks.create(job, planJob(job, [0], 16, 16, 16), 2);
    for (const id of ['beating', 'copier'])
      await redis.hset(keys.worker(id), { id, class: 'c1', classState: 'established', trusted: 0, stake: 100_000 });
    const deadline = Date.now() + 600_000;
    const bind = (worker: string, rid: string, queue: string, at = Date.now()) =>
      tasks.bind(task, 0, worker, rid, deadline, queue, false, 64, NO_PRICES, undefined, false, at, 60_000);
    expect((await bind('beating', 'live', 'slots')).status).toBe('bound');
    const copy = await bind('copier', 'copy', 'slots');
    expect(copy).toMatchObject({ status: 'leased' });
    expect(await tasks.expire(task, 0, '')).toBeUndefined();
    // Its job cancelled and the tile draining, the same (a review: it had been timed out and fined).
    await redis.hset(keys.job(job), 'state', 'cancelled');
    await redis.hset(keys.task(task), 'draining', 1);
    expect(await bind('copier', 'copy', 'slots')).toMatchObject({ status: 'leased' });
    expect((await tasks.slot(task, 0)).replica).toMatchObject({ worker: 'beating', state: 'assigned' });
    await redis.hset(keys.job(job), 'state', 'running');
    await redis.hdel(keys.task(task), 'draining');
    // Once the lease has lapsed, the holder timed out as before.
    expect((await bind('copier', 'copy', 'slots', Date.now() + 120_000)).status).toBe('bound');
    // Slot 1, left in the class's queue with the tile's class gone: to the shared queue.
    await redis.hset(keys.task(task), 'class', '');
    expect(await tasks.bind(task, 1, 'beating', 'other', deadline, 'slots-c1', false, 64, NO_PRICES)).toEqual({
      status: 'wrongclass',
      class: '',
    });
  });

  it('hands a known answer to a few workers only, once each, never to one that rendered it, nor from a job being deleted', async () => {
    const job = 'j00000000000000000003';
    const task = `${job}.f0.t0`;
    await redis.hset(keys.job(job), { id: job, state: 'done', scene: 'bafkreiscene', owner: 'o', tilesTotal: 1, timeoutMs: 60_000 });
    await tasks.create(job, planJob(job, [0], 16, 16, 16), 1);
    await redis.hset(keys.task(task), { state: 'verified', class: 'c1' });
    await redis.hset(keys.taskReplicas(task), 0, JSON.stringify({ rid: 'r0', n: 0, worker: 'renderer', state: 'valid' }));
    await redis.zadd(keys.spotPool('c1'), Date.now(), task);
    const deadline = Date.now() + 10_000;
    const spot = (worker: string) => tasks.spot('c1', worker, `r-${worker}-${Math.random()}`, deadline, 1000, 2, 1500);
    for (const w of ['renderer', 's1', 's2', 's3']) await redis.hset(keys.worker(w), { id: w, trusted: 0, stake: 100_000, ask: 9_000_000 });
    expect(await spot('renderer')).toBeUndefined();
    expect((await spot('s1'))?.task).toBe(task);
    // The treasury pays a check at the last price that traded, whatever the worker asks.
    const checked = Object.values(await redis.hgetall(keys.taskReplicas(task))).map(
      (r) => JSON.parse(r) as { worker: string; price: number },
    );
    expect(checked.find((r) => r.worker === 's1')?.price).toBe(1500);
    expect(await spot('s1')).toBeUndefined();
    expect((await spot('s2'))?.task).toBe(task);
    // Two uses: the tile has left the pool.
    expect(await redis.zscore(keys.spotPool('c1'), task)).toBeNull();
    expect(await spot('s3')).toBeUndefined();
    // None from a job whose deletion is asked for, or under way (its deletion would wait for the
    // check's verdict): its tile leaves the pool, where it had taken the place of one that could serve.
    for (const [deleting, mark] of [
      ['j00000000000000000050', () => redis.zadd(keys.jobsEnded, 0, 'j00000000000000000050')],
      ['j00000000000000000051', () => redis.hset(keys.job('j00000000000000000051'), 'purging', Date.now())],
    ] as const) {
      const fields = { id: deleting, state: 'done', scene: 'bafkreiscene', owner: 'o', tilesTotal: 1, timeoutMs: 60_000 };
      await redis.hset(keys.job(deleting), fields);
      await tasks.create(deleting, planJob(deleting, [0], 16, 16, 16), 1);
      await redis.hset(keys.task(`${deleting}.f0.t0`), { state: 'verified', class: 'c1' });
      await redis.zadd(keys.spotPool('c1'), Date.now(), `${deleting}.f0.t0`);
      await redis.zadd(keys.jobsEnded, Date.now(), deleting);
      await mark();
      expect(await spot('s3')).toBeUndefined();
      expect(await redis.zscore(keys.spotPool('c1'), `${deleting}.f0.t0`)).toBeNull();
    }
  });

  it("tells a verdict when the task's next look is, and takes it out only if no change moved it since", async () => {
    const job = 'j00000000000000000004';
    const task = `${job}.f0.t0`;
    await runningJob(job);
    await tasks.create(job, planJob(job, [0], 16, 16, 16), 2);
    await redis.zadd(keys.tasksIdle, 1000, task);
    const read = (await tasks.snapshot(task))?.lookAt;
    expect(read).toBe('1000');
    // A hand-back schedules a new look after the verdict read: that one stands.
    await redis.zadd(keys.tasksIdle, 2000, task);
    await tasks.forgetIdle(task, read as string);
    expect(await redis.zscore(keys.tasksIdle, task)).toBe('2000');
    await tasks.forgetIdle(task, (await tasks.snapshot(task))?.lookAt as string);
    expect(await redis.zscore(keys.tasksIdle, task)).toBeNull();
    expect((await tasks.snapshot(task))?.lookAt).toBeNull();
  });

  it('clears the arbiter and audit marks when it reopens a task', async () => {
    await redis.hset(keys.task(id), { arbiter: 4, audited: 1 });
    expect(await tasks.reopen((await tasks.get(id)) as NonNullable<Awaited<ReturnType<Tasks['get']>>>, '')).toBe('reopened');
    expect(await tasks.get(id)).toMatchObject({ state: 'pending', suspect: true, arbiterSlot: null, audited: false });
  });
});

describe('a finished job whose deletion was asked for (reopen.lua)', () => {
  it('is not run again: a dispute reopens nothing, and a caught worker’s tile is marked below θ, its result invalid', async () => {
    const job = 'j00000000000000000016';
    const task = `${job}.f0.t0`;
    await runningJob(job);
    await tasks.create(job, planJob(job, [0], 16, 16, 16), 1);
    await redis.hset(keys.task(task), { state: 'verified', cid: 'bafkreiwrong' });
    await redis.hset(keys.taskReplicas(task), 0, JSON.stringify({ rid: 'r0', n: 0, worker: 'liar', state: 'valid' }));
    await redis.hset(keys.job(job), { state: 'done', finishedAt: Date.now() });
    await new Jobs(redis, 60_000).requestDeletion(job);
    const record = async () => (await tasks.get(task)) as NonNullable<Awaited<ReturnType<Tasks['get']>>>;
    // A reopen had made it run again, and the deletion asked for was forgotten (an attacker's review).
    expect(await tasks.reopen(await record(), '')).toBeNull();
    expect(await tasks.reopen(await record(), 'liar')).toBe('marked');
    expect(await redis.hget(keys.job(job), 'state')).toBe('done');
    expect(await redis.zscore(keys.jobsEnded, job)).toBe('0');
    expect(await record()).toMatchObject({ state: 'verified', below: true });
    expect(JSON.parse((await redis.hget(keys.taskReplicas(task), '0')) as string)).toMatchObject({ state: 'invalid' });
    expect(await tasks.marked(64)).not.toContain(task);
  });
});

describe('a cancelled job’s tiles with replicas out (includes/drain.lua)', () => {
  it('drain once, whether an answer or the closer’s batch comes first, and keep their held slots queued', async () => {
    const job = 'j00000000000000000014';
    await runningJob(job);
    await tasks.create(job, planJob(job, [0], 48, 16, 16), 1);
    await redis.hset(keys.worker('drainer'), { id: 'drainer', class: 'c1', classState: 'established', trusted: 0, stake: 100_000 });
    const bind = (t: number) => tasks.bind(`${job}.f0.t${t}`, 0, 'drainer', `d${t}`, Date.now() + 60_000, 'slots', false, 64, NO_PRICES);
    for (const t of [0, 1]) expect((await bind(t)).status).toBe('bound');
    await redis.hset(keys.job(job), 'state', 'cancelled');
    // An answer before the closer's batch came to its tile is taken, not refused as obsolete (an
    // attacker's review: a spot check's was taken meanwhile, a real replica's refused, unpaid).
    expect(await tasks.submit([{ task: `${job}.f0.t0`, n: 0, rid: 'd0', worker: 'drainer', cid: 'bafkreitile', rays: 1 }])).toEqual([
      { status: 'submitted' },
    ]);
    expect(await redis.hget(keys.job(job), 'draining')).toBe('1');
    // The batch drains the held one too, keeping its slot in its queue (the stalled check times
    // its holder out), and closes the one nobody took; the answered one drains once.
    const { slots } = await tasks.close(job, 10);
    expect(slots.sort((a, b) => a[0].localeCompare(b[0]))).toEqual([
      [`${job}.f0.t0`, 0, 1],
      [`${job}.f0.t1`, 0, 1, [0]],
      [`${job}.f0.t2`, 0, 1],
    ]);
    expect(await redis.hget(keys.job(job), 'draining')).toBe('2');
    expect((await tasks.get(`${job}.f0.t2`))?.state).toBe('closed');
  });
});

describe('change notices', () => {
  it('go out once per job and turn of the event loop, and reach each watcher subject by subject', async () => {
    const raw = redis.duplicate();
    const feed = new ChangeFeed(redis.duplicate());
    try {
      const messages: string[] = [];
      raw.on('message', (_channel: string, message: string) => messages.push(message));
      await raw.subscribe(keys.jobEvents(JOB));
      const seen: string[] = [];
      const unwatch = await feed.watch(JOB, (subject) => seen.push(subject));
      announce(redis, JOB, `${JOB}.f0.t0`);
      announce(redis, JOB, `${JOB}.f0.t1`);
      announce(redis, JOB, `${JOB}.f0.t0`);
      announce(redis, JOB);
      await waitFor(async () => seen.length === 3, 2000, 'the notices');
      expect(seen).toEqual([`${JOB}.f0.t0`, `${JOB}.f0.t1`, JOB_SUBJECT]);
      expect(messages).toEqual([`${JOB}.f0.t0 ${JOB}.f0.t1 ${JOB_SUBJECT}`]);
      // The next turn's notices are the next message.
      announce(redis, JOB, `${JOB}.f0.t1`);
      await waitFor(async () => seen.length === 4, 2000, 'the next notice');
      expect(messages).toHaveLength(2);
      await unwatch();
    } finally {
      raw.disconnect();
      await feed.close();
    }
  });
});

describe('stocking reservations', () => {
  it('are given back when their task is closed by a cancel or deleted by a purge', async () => {
    const known = new KnownAnswers(redis, 10, 60_000);
    // Two tiles each, and three for the job that waits.
    const jobs = {
      cancelled: ['j00000000000000000011', 32],
      purged: ['j00000000000000000012', 32],
      later: ['j00000000000000000013', 48],
    } as const;
    const tasksOf = ([job, width]: readonly [string, number]) => planJob(job, [0], width, 16, 16).map((t) => t.id);
    for (const [job, width] of Object.values(jobs)) {
      await runningJob(job);
      await tasks.create(job, planJob(job, [0], width, 16, 16), 2);
    }
    const later = tasksOf(jobs.later);
    for (const id of [...tasksOf(jobs.cancelled), ...tasksOf(jobs.purged)]) expect(await known.reserve('c9', id)).toBe(true);
    // Four out at once: no fifth.
    expect(await known.reserve('c9', later[0])).toBe(false);
    // A cancel closes the job's pending tasks (close-tasks.lua): their two reservations go.
    await redis.hset(keys.job(jobs.cancelled[0]), 'state', 'cancelled');
    await tasks.close(jobs.cancelled[0], 100);
    expect(await known.reserve('c9', later[0])).toBe(true);
    expect(await known.reserve('c9', later[1])).toBe(true);
    expect(await known.reserve('c9', later[2])).toBe(false);
    // A purge deletes the tasks (job-purge.lua): theirs go too.
    await redis.del(...tasksOf(jobs.purged).map((id) => keys.task(id)));
    expect(await known.reserve('c9', later[2])).toBe(true);
    expect((await redis.zrange(keys.stocking('c9'), 0, -1)).sort()).toEqual([...later].sort());
  });
});
