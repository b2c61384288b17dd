/**
 * Escrow and payment at the market price, through real verdicts (in-process orchestrator, real
 * Redis and HTTP, workers speaking the signed protocol with chosen pixels and ray counts): a job
 * pays exactly RU × price for each valid replica, fees included; what it does not spend comes
 * back to the micro-credit; a cancel bills the work it had out where its results stand; a requester can never spend what it does not hold, however many
 * submissions race; and every micro-credit stays accounted for.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { keys } from '../orchestrator/state/keys.ts';
import { VerdictRunner } from '../orchestrator/verdict/runner.ts';
import { costMicros, feeMicros, fromMicros, toMicros } from '../shared/money.ts';
import type { Assignment, JobEstimate, JobStatus, JobSummary, LedgerPage, TaskView } from '../shared/protocol.ts';
import {
  type ApiFarm,
  nextAssignment,
  OPERATOR_TOKEN,
  oneTileJob,
  renderAll,
  startApiFarm,
  type TestClient,
  uploadShade,
} from './support/orchestrator.ts';
import { problem } from './support/problem.ts';
import { ROOT } from './support/scenes.ts';

const run = promisify(execFile);

const FEE_PPM = 20_000;
let api: ApiFarm;
// A farm per test: providers left online by one test would be on the next one's market.
beforeEach(async () => {
  api = await startApiFarm({ marketIntervalMs: 200, pollMs: 100, feeShare: FEE_PPM / 1e6 });
});
afterEach(() => api.stop());

interface Requester {
  owner: string;
  token: string;
  call(path: string, init?: { method?: string; body?: unknown }): Promise<Response>;
}
/** A requester with its own token, granted `credits`. */
/**
 * A one-tile credibility job of `name`'s (2 credits, budget 1) that finished while a key still holds
 * a replica of its tile: a key's result weighs nothing, so more replicas go out at once; a second
 * key takes one, then a trusted worker's agreement accepts the tile.
 */
async function finishedWithReplicaHeld(name: string) {
  const buyer = await requester(name, 2);
  const [first, key, trusted] = await Promise.all([
    api.worker(`${name}-k1`, { stake: 10, ask: 25 }),
    api.worker(`${name}-k2`, { stake: 10, ask: 25 }),
    api.worker(`${name}-t`, { trusted: true, ask: 25 }),
  ]);
  const res = await buyer.call('/api/jobs', { body: { ...oneTileJob(1), verification: 'credibility', budget: 1 } });
  const { id } = (await res.json()) as { id: string };
  const a = (await first.client.next()) as Assignment;
  expect(await uploadShade(first.client, a, 40, raysOf(a))).toBe('accepted');
  const extra = (await key.client.next()) as Assignment;
  expect(extra.replica).not.toBe(a.replica);
  const b = (await trusted.client.next()) as Assignment;
  expect(await uploadShade(trusted.client, b, 40, raysOf(b))).toBe('accepted');
  await expect.poll(async () => (await statusOf(buyer, id)).state, { timeout: 10_000 }).toBe('done');
  return { buyer, id, a, key, extra };
}

async function requester(name: string, credits: number): Promise<Requester> {
  const { token, owner } = (await (await api.operator('/api/tokens', { name })).json()) as { token: string; owner: string };
  if (credits > 0) expect((await api.operator('/api/credits', { account: owner, amount: credits })).status).toBe(201);
  const call = (path: string, init: { method?: string; body?: unknown } = {}) =>
    fetch(`${api.farm.url}${path}`, {
      method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
  return { owner, token, call };
}
const accountOf = async (r: Requester) => (await (await r.call('/api/account')).json()) as LedgerPage;
const statusOf = async (r: Requester, id: string) => (await (await r.call(`/api/jobs/${id}`)).json()) as JobStatus;
const tasksOf = async (r: Requester, id: string) =>
  ((await (await r.call(`/api/jobs/${id}/tasks?frame=0`)).json()) as { tasks: TaskView[] }).tasks;
const workerBalance = async (w: TestClient) =>
  ((await (await fetch(`${api.farm.url}/api/workers/${w.id}/ledger`)).json()) as LedgerPage).balance;
const treasury = async () => ((await (await api.operator('/api/treasury')).json()) as LedgerPage).balance;

/** Rays each tile's result claims (replicas of one tile agree on them, as they are part of its CID). */
const raysOf = (a: Assignment) => 5_000 + a.tile.x * 31 + a.tile.y * 17;

describe('escrow', () => {
  it('pays each valid replica RU × the price it traded at, less the fee, and gives back the rest', async () => {
    const buyer = await requester('buyer', 5);
    // Two providers at one ask: a quorum of two needs both, whichever side of it the price clears.
    const workers = [await api.worker('e1', { trusted: true, ask: 0.5 }), await api.worker('e2', { trusted: true, ask: 0.5 })];
    const before = { workers: await Promise.all(workers.map(workerBalance)), treasury: await treasury() };
    const job = { ...oneTileJob(2), width: 48, height: 32, maxPrice: 0.9 };

    const quote = (await (await buyer.call('/api/jobs/estimate', { body: job })).json()) as JobEstimate;
    // Six 16 × 16 tiles at most 67 rays per pixel-sample, two replicas each, at the 0.9 limit.
    const hold = costMicros(48 * 32 * 67 * 2, 900, 'up');
    expect(quote).toMatchObject({ tasks: 6, redundancy: 2, price: 0.9, basis: 'bid', hold: fromMicros(hold), balance: 5 });
    const res = await buyer.call('/api/jobs', { body: job });
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as { id: string };
    expect(await accountOf(buyer)).toMatchObject({ balance: 5 - fromMicros(hold), held: fromMicros(hold) });

    await renderAll(workers, 120, raysOf);
    await expect.poll(async () => (await statusOf(buyer, id)).state, { timeout: 10_000 }).toBe('done');

    // Every valid replica is paid its own rays at its own price (the worker's ask before the market
    // has measured it, the clearing price after), and nothing else moves.
    const replicas = (await tasksOf(buyer, id)).flatMap((t) => t.replicas);
    expect(replicas).toHaveLength(12);
    let spent = 0;
    let fees = 0;
    const earned = new Map<string, number>();
    for (const r of replicas) {
      expect(r.state).toBe('valid');
      const price = toMicros(r.price as number) / 1000;
      expect(price).toBeLessThanOrEqual(900);
      const paid = costMicros(r.rays as number, price);
      expect(toMicros(r.paid as number)).toBe(paid);
      const fee = feeMicros(paid, FEE_PPM);
      spent += paid;
      fees += fee;
      earned.set(r.worker, (earned.get(r.worker) ?? 0) + paid - fee);
    }
    const status = await statusOf(buyer, id);
    expect(status.cost).toMatchObject({ maxPrice: 0.9, spent: fromMicros(spent), fees: fromMicros(fees), held: 0, committed: 0 });
    expect(status.cost.ru).toBe(replicas.reduce((s, r) => s + (r.rays as number), 0) / 1e9);
    for (const [i, w] of workers.entries())
      expect(toMicros(await workerBalance(w)) - toMicros(before.workers[i])).toBe(earned.get(w.id) ?? 0);
    expect(toMicros(await treasury()) - toMicros(before.treasury)).toBe(fees);
    // The unspent escrow came back: the requester paid exactly what its replicas cost.
    const account = await accountOf(buyer);
    expect(account).toMatchObject({ held: 0 });
    expect(toMicros(account.balance)).toBe(toMicros(5) - spent);
    // Its entries replay to its balance and escrow.
    expect(account.entries.reduce((s, e) => s + toMicros(e.amount), 0)).toBe(toMicros(account.balance) + toMicros(account.held));
  });

  it('bills a cancelled job the work it had out, to the micro-credit, and gives back the rest', async () => {
    const buyer = await requester('canceller', 2);
    const w = await api.worker('c1', { trusted: true, ask: 25 });
    const res = await buyer.call('/api/jobs', { body: { ...oneTileJob(1), width: 48, height: 16, budget: 1.5 } });
    const { id } = (await res.json()) as { id: string };
    expect(await accountOf(buyer)).toMatchObject({ balance: 0.5, held: 1.5 });
    // One tile verified and paid; another held by the worker when the job is cancelled; the third
    // still queued.
    const first = (await w.client.next()) as Assignment;
    expect(await uploadShade(w.client, first, 40, raysOf(first))).toBe('accepted');
    await expect.poll(async () => (await statusOf(buyer, id)).tilesVerified).toBe(1);
    const second = (await w.client.next()) as Assignment;
    expect(second).toBeDefined();
    expect((await buyer.call(`/api/jobs/${id}`, { method: 'DELETE' })).status).toBe(200);
    // The held replica's commitment stays behind it; the queued tile's is never made. Nor is the
    // job deleted meanwhile: deleting it would pay nothing for the work out.
    await expect.poll(async () => (await statusOf(buyer, id)).cost.held).toBe((await statusOf(buyer, id)).cost.committed);
    expect((await statusOf(buyer, id)).cost.committed).toBeGreaterThan(0);
    const early = await buyer.call(`/api/jobs/${id}?purge`, { method: 'DELETE' });
    expect([early.status, await early.json()]).toEqual([202, { id, state: 'cancelled', deleted: false }]);
    expect(await w.client.next()).toBeUndefined();
    // Its answer after the cancel is judged and paid, as a render farm bills the time used; the
    // deletion asked for comes once the tile is.
    expect(await uploadShade(w.client, second, 40, raysOf(second))).toBe('accepted');
    await expect.poll(async () => (await buyer.call(`/api/jobs/${id}`)).status, { timeout: 10_000 }).toBe(404);
    const paid = costMicros(raysOf(first), 25_000) + costMicros(raysOf(second), 25_000);
    expect(await accountOf(buyer)).toMatchObject({ balance: fromMicros(toMicros(2) - paid), held: 0 });
    expect(toMicros(await workerBalance(w))).toBe(
      paid - feeMicros(costMicros(raysOf(first), 25_000), FEE_PPM) - feeMicros(costMicros(raysOf(second), 25_000), FEE_PPM),
    );
  });

  it('pays a cancelled job’s tile whose results agree at its quorum after the cancel, and closes one whose do not, unpaid', async () => {
    const buyer = await requester('quitter', 2);
    const keys = await Promise.all(['u1', 'u2', 'u3', 'u4'].map((name) => api.worker(name, { stake: 10, ask: 25 })));
    const res = await buyer.call('/api/jobs', { body: { ...oneTileJob(2), width: 32, height: 16, budget: 1.5 } });
    const { id } = (await res.json()) as { id: string };
    // Two keys hold each tile's replicas; one of each pair answers before the cancel.
    const got = await Promise.all(keys.map(async (w) => ({ w, a: (await w.client.next()) as Assignment })));
    const [[a1, a2], [b1, b2]] = [0, 16].map((x) => got.filter((g) => g.a.tile.x === x));
    for (const { w, a } of [a1, b1]) expect(await uploadShade(w.client, a, 40, raysOf(a))).toBe('accepted');
    expect((await buyer.call(`/api/jobs/${id}`, { method: 'DELETE' })).status).toBe(200);
    // After it, the second of one tile agrees; the second of the other hands it back.
    expect(await uploadShade(a2.w.client, a2.a, 40, raysOf(a2.a))).toBe('accepted');
    await b2.w.client.release(b2.a.replica);
    await expect.poll(async () => (await statusOf(buyer, id)).cost, { timeout: 10_000 }).toMatchObject({ held: 0, committed: 0 });
    expect((await statusOf(buyer, id)).tilesVerified).toBe(1);
    const price = costMicros(raysOf(a1.a), 25_000);
    const ledgers = await Promise.all(
      [a1, a2, b1, b2].map(async ({ w }) => (await (await fetch(`${api.farm.url}/api/workers/${w.id}/ledger`)).json()) as LedgerPage),
    );
    const earned = price - feeMicros(price, FEE_PPM);
    expect(ledgers.map((l) => [toMicros(l.balance), l.locked])).toEqual([
      [earned, 0],
      [earned, 0],
      [0, 0],
      [0, 0],
    ]);
    expect(toMicros((await accountOf(buyer)).balance)).toBe(toMicros(2) - 2 * price);
    const tileB = (await tasksOf(buyer, id)).find((t) => t.tile === 1);
    expect(tileB?.replicas.map((r) => r.state)).toEqual(['cancelled', 'handedback']);
  });

  it('ends the drain of a tile whose holder died, its lease lapsed just before the cancel, and at its deadline if its slot is lost', async () => {
    // Short leases and deadlines: a dead holder is found within seconds.
    await api.stop();
    api = await startApiFarm({ marketIntervalMs: 200, pollMs: 100, feeShare: FEE_PPM / 1e6, leaseMs: 2000, taskTimeoutMs: 5000 });
    const redis = new Redis(api.redisUrl);
    const slots = new Queue('slots', { connection: redis });
    try {
      const buyer = await requester('mourner', 10);
      const dead = await api.worker('dead', { stake: 100, ask: 25 });
      const ids: string[] = [];
      for (let i = 0; i < 2; i++) {
        ids.push(
          ((await (await buyer.call('/api/jobs', { body: { ...oneTileJob(1), spp: i + 1, budget: 1 } })).json()) as { id: string }).id,
        );
        await nextAssignment(dead.client);
      }
      // It never beats: once its BullMQ locks are gone (before the stalled check comes), the cancels.
      for (const id of ids) {
        const [lock] = await redis.keys(`bull:*:${id}.f0.t0.r0:lock`);
        await expect.poll(() => redis.exists(lock), { interval: 5, timeout: 10_000 }).toBe(0);
        expect((await buyer.call(`/api/jobs/${id}`, { method: 'DELETE' })).status).toBe(200);
      }
      // The first's slot is kept in its queue, where the stalled check times its holder out
      // (withdrawn, the tile had drained for good: an attacker's review); the second's is lost,
      // and its deadline ends it.
      await expect.poll(() => redis.hget(keys.task(`${ids[1]}.f0.t0`), 'draining')).toBe('1');
      expect(await slots.remove(`${ids[1]}.f0.t0.r0`)).toBe(1);
      for (const id of ids) await expect.poll(() => redis.hget(keys.job(id), 'draining'), { timeout: 10_000 }).toBe('0');
      expect(await (await fetch(`${api.farm.url}/api/workers/${dead.id}`)).json()).toMatchObject({ inFlight: 0, locked: 0 });
      for (const id of ids) {
        expect((await statusOf(buyer, id)).cost).toMatchObject({ held: 0, committed: 0 });
        expect((await buyer.call(`/api/jobs/${id}?purge`, { method: 'DELETE' })).status).toBe(200);
      }
    } finally {
      await slots.close();
      redis.disconnect();
    }
  });

  it('bills a job its timeout failed the work it had out, as a cancel does, and pays held tiles that answer after', async () => {
    const buyer = await requester('latecomer', 2);
    const [w, key] = await Promise.all([api.worker('t1', { trusted: true, ask: 25 }), api.worker('k1', { stake: 10, ask: 25 })]);
    const res = await buyer.call('/api/jobs', {
      body: { ...oneTileJob(1), verification: 'credibility', width: 64, height: 16, budget: 1.5, timeoutSeconds: 3 },
    });
    const { id } = (await res.json()) as { id: string };
    // One tile verified, one held by a trusted worker and one by an unchecked key when the
    // timeout comes, the fourth never taken: nothing to accept, it fails the job.
    const first = (await w.client.next()) as Assignment;
    expect(await uploadShade(w.client, first, 40, raysOf(first))).toBe('accepted');
    const [second, third] = [(await w.client.next()) as Assignment, (await key.client.next()) as Assignment];
    expect([second?.replica, third?.replica]).toEqual([expect.any(String), expect.any(String)]);
    await expect.poll(async () => (await statusOf(buyer, id)).state, { timeout: 10_000 }).toBe('failed');
    // The held replicas' commitments stay behind them (and a deletion waits: the tests above and below).
    await expect.poll(async () => (await statusOf(buyer, id)).cost.held).toBe((await statusOf(buyer, id)).cost.committed);
    expect((await statusOf(buyer, id)).cost.committed).toBeGreaterThan(0);
    // Answered after the failure, each is judged and paid as the job would have at its timeout
    // (the key's below θ: onTimeout 'accept'), as a spot check held as long would be.
    expect(await uploadShade(w.client, second, 40, raysOf(second))).toBe('accepted');
    expect(await uploadShade(key.client, third, 40, raysOf(third))).toBe('accepted');
    await expect.poll(async () => (await statusOf(buyer, id)).cost, { timeout: 10_000 }).toMatchObject({ held: 0, committed: 0 });
    const status = await statusOf(buyer, id);
    expect([status.state, status.tilesVerified, status.tilesBelowThreshold]).toEqual(['failed', 3, 1]);
    const price = (a: Assignment) => costMicros(raysOf(a), 25_000);
    const earned = (a: Assignment) => price(a) - feeMicros(price(a), FEE_PPM);
    expect(await accountOf(buyer)).toMatchObject({
      balance: fromMicros(toMicros(2) - price(first) - price(second) - price(third)),
      held: 0,
    });
    expect([toMicros(await workerBalance(w)), toMicros(await workerBalance(key))]).toEqual([earned(first) + earned(second), earned(third)]);
  });

  it('judges and pays a replica still held when its tile was accepted and its job finished, late, as a running job would', async () => {
    const { buyer, id, a, key, extra } = await finishedWithReplicaHeld('finisher');
    // The key's commitment stays behind its replica, and deleting the job waits for it: deleted at
    // once, its answer had been refused, unpaid (an attacker's review).
    expect((await statusOf(buyer, id)).cost.held).toBeGreaterThan(0);
    const early = await buyer.call(`/api/jobs/${id}?purge`, { method: 'DELETE' });
    expect([early.status, await early.json()]).toEqual([202, { id, state: 'done', deleted: false }]);
    const price = costMicros(raysOf(a), 25_000);
    expect(await uploadShade(key.client, extra, 40, raysOf(extra))).toBe('accepted');
    await expect.poll(async () => (await buyer.call(`/api/jobs/${id}`)).status, { timeout: 10_000 }).toBe(404);
    expect(toMicros(await workerBalance(key))).toBe(price - feeMicros(price, FEE_PPM));
    expect(toMicros((await accountOf(buyer)).balance)).toBe(toMicros(2) - 3 * price);
    expect(await accountOf(buyer)).toMatchObject({ held: 0 });
    expect(await (await fetch(`${api.farm.url}/api/workers/${key.id}`)).json()).toMatchObject({ inFlight: 0, locked: 0 });
  });

  it('deletes no job while an answer on it waits for its verdict: its orchestrator died once it was recorded', async () => {
    const { buyer, id, a, key, extra } = await finishedWithReplicaHeld('crashed');
    expect((await buyer.call(`/api/jobs/${id}?purge`, { method: 'DELETE' })).status).toBe(202);
    // The key's answer is recorded and its orchestrator dies before judging it (crash point
    // after-submit): nothing judges it until the sweep's look, a grace (30 s here) later.
    const judge = VerdictRunner.prototype.judge;
    VerdictRunner.prototype.judge = () => Promise.resolve();
    try {
      expect(await uploadShade(key.client, extra, 40, raysOf(extra))).toBe('accepted');
    } finally {
      VerdictRunner.prototype.judge = judge;
    }
    // Sweeps (every second) come and go: the job waits for the verdict, where it had been deleted
    // within one and the answer gone unpaid.
    await new Promise((r) => setTimeout(r, 2500));
    expect((await buyer.call(`/api/jobs/${id}`)).status).toBe(200);
    // The grace passes: the sweep judges the answer, pays it, and then deletes the job.
    const redis = new Redis(api.redisUrl);
    try {
      const [task] = await redis.zrange(keys.tasksIdle, 0, -1);
      expect(task).toMatch(new RegExp(`^${id}\\.`));
      await redis.zadd(keys.tasksIdle, Date.now(), task);
    } finally {
      redis.disconnect();
    }
    await expect.poll(async () => (await buyer.call(`/api/jobs/${id}`)).status, { timeout: 10_000 }).toBe(404);
    const price = costMicros(raysOf(a), 25_000);
    expect(toMicros(await workerBalance(key))).toBe(price - feeMicros(price, FEE_PPM));
    expect(await (await fetch(`${api.farm.url}/api/workers/${key.id}`)).json()).toMatchObject({ inFlight: 0, locked: 0, rejected: 0 });
  });

  it('refuses a job its balance cannot cover, naming the field, and changes nothing', async () => {
    const poor = await requester('poor', 0.001);
    for (const [body, path] of [
      [{ ...oneTileJob(1), budget: 1 }, 'budget'],
      [{ ...oneTileJob(1), maxPrice: 1000 }, 'maxPrice'],
    ] as const) {
      const body402 = await problem(await poor.call('/api/jobs', { body }), 402);
      expect(body402.errors?.[0]?.path).toBe(path);
    }
    expect(await accountOf(poor)).toMatchObject({ balance: 0.001, held: 0 });
    expect(((await (await poor.call('/api/jobs')).json()) as { jobs: unknown[] }).jobs).toHaveLength(0);
    // Amounts finer than a micro-credit are refused before anything is looked at.
    const bad = await problem(await poor.call('/api/jobs', { body: { ...oneTileJob(1), budget: 0.0000001 } }), 400);
    expect(bad.errors?.[0]?.path).toBe('budget');
    // The largest job at the highest bid would hold more µc than a double counts exactly (≈ 2.9e17).
    const huge = { ...oneTileJob(2), width: 8192, height: 4096, spp: 65_536, tileSize: 512, maxPrice: 1_000_000 };
    for (const path of ['/api/jobs/estimate', '/api/jobs']) {
      const refused = await problem(await poor.call(path, { body: huge }), 400);
      expect(refused.errors?.[0]).toEqual({ path: 'maxPrice', message: expect.stringMatching(/more than the farm counts/) });
    }
  });

  it('keeps every balance non-negative and the ledger balanced under 200 racing submissions and their settlements', async () => {
    // Ten requesters, each able to afford five one-tile jobs at the 1,000 credits/RU limit, each
    // submitting twenty at once.
    const perJob = costMicros(16 * 16 * 67, 1_000_000, 'up');
    const buyers = await Promise.all([...Array(10).keys()].map((i) => requester(`racer${i}`, fromMicros(perJob * 5))));
    const workers = await Promise.all([...Array(4).keys()].map((i) => api.worker(`r${i}`, { trusted: true, ask: 1000 })));
    const before = {
      workers: await Promise.all(workers.map(async (w) => toMicros(await workerBalance(w)))),
      treasury: toMicros(await treasury()),
    };
    const job = { ...oneTileJob(1), maxPrice: 1000 };
    const answers = await Promise.all(buyers.flatMap((b) => [...Array(20).keys()].map(() => b.call('/api/jobs', { body: job }))));
    expect(answers.filter((r) => r.status === 201)).toHaveLength(50);
    expect(answers.filter((r) => r.status === 402)).toHaveLength(150);
    for (const b of buyers) expect(toMicros((await accountOf(b)).balance)).toBe(0);

    await renderAll(workers, 120, raysOf);
    let spent = 0;
    for (const b of buyers) {
      const jobs = ((await (await b.call('/api/jobs')).json()) as { jobs: JobSummary[] }).jobs;
      expect(jobs.map((j) => j.state)).toEqual(Array(5).fill('done'));
      const account = await accountOf(b);
      const paid = jobs.reduce((s, j) => s + toMicros(j.cost.spent), 0);
      expect(account.held).toBe(0);
      expect(toMicros(account.balance)).toBe(perJob * 5 - paid);
      expect(account.balance).toBeGreaterThanOrEqual(0);
      spent += paid;
    }
    const earned = (await Promise.all(workers.map(async (w) => toMicros(await workerBalance(w))))).reduce(
      (s, x, i) => s + x - before.workers[i],
      0,
    );
    // What the requesters paid is exactly what the workers earned plus the fees.
    expect(earned + toMicros(await treasury()) - before.treasury).toBe(spent);
  });

  it("raises a job's budget to a total: the difference is held from the owner's balance, once, and the job goes on", async () => {
    const buyer = await requester('funder', 1);
    const w = await api.worker('f1', { trusted: true, ask: 25 });
    // A first job measures the provider, so that the market has its ask.
    const first = (await (await buyer.call('/api/jobs', { body: { ...oneTileJob(1), budget: 0.01 } })).json()) as { id: string };
    await renderAll([w], 40, raysOf, 500);
    await expect.poll(async () => (await statusOf(buyer, first.id)).state, { timeout: 10_000 }).toBe('done');
    const start = toMicros((await accountOf(buyer)).balance);

    // Submitted with `farm submit --wait`: 100 µc cannot pay for a tile at 25 credits/RU (it
    // commits its most: 16 × 16 × 67 rays), and the waiting command says so.
    const out = join(mkdtempSync(join(tmpdir(), 'farm-budget-')), 'out');
    const job = ['--size', '16x16', '--spp', '1', '--tile', '16', '--verification', 'quorum', '--replicas', '1', '--budget', '0.0001'];
    const submit = spawn(
      process.execPath,
      [
        join(ROOT, 'bin/farm.js'),
        'submit',
        join(ROOT, 'scenes/cornell.json'),
        '--orchestrator',
        api.farm.url,
        ...job,
        '--wait',
        '--out',
        out,
      ],
      { env: { ...process.env, FARM_TOKEN: buyer.token }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    submit.stdout.on('data', (d) => (stdout += d));
    submit.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => submit.on('exit', resolve));
    await expect.poll(() => /^job (j[0-9a-f]+):/m.exec(stdout)?.[1], { timeout: 10_000 }).toBeDefined();
    const id = /^job (j[0-9a-f]+):/m.exec(stdout)?.[1] as string;
    expect(await w.client.next()).toBeUndefined();
    await expect
      .poll(() => stderr, { timeout: 5_000 })
      .toMatch(new RegExp(`job ${id} held up: paused: its escrow.*its budget is raised\n`));

    const cli = ['jobs', 'budget', id, '0.01', '--orchestrator', api.farm.url, '--token', buyer.token];
    const raised = await run(process.execPath, [join(ROOT, 'bin/farm.js'), ...cli]);
    expect(raised.stdout).toBe(`job ${id}: budget 0.01 credits, 0.01 of them held, 0 spent\n`);
    const moved = toMicros(0.01) - toMicros(0.0001);
    expect(await accountOf(buyer)).toMatchObject({ balance: fromMicros(start - toMicros(0.01)), held: 0.01 });
    // Sent again (its answer lost), it adds nothing.
    expect((await buyer.call(`/api/jobs/${id}/budget`, { method: 'PUT', body: { budget: 0.01 } })).status).toBe(200);
    const account = await accountOf(buyer);
    expect(account).toMatchObject({ balance: fromMicros(start - toMicros(0.01)), held: 0.01 });
    expect(account.entries.slice(0, 2).map((e) => [e.kind, e.amount, e.ref, e.to ?? 'balance'])).toEqual([
      ['escrow', fromMicros(moved), id, 'held'],
      ['escrow', -fromMicros(moved), id, 'balance'],
    ]);

    // Its slot, stepped aside for want of escrow, is taken.
    const a = (await w.client.next()) as Assignment;
    expect(a).toBeDefined();
    expect(await uploadShade(w.client, a, 40, raysOf(a))).toBe('accepted');
    // The waiting command sees it done and downloads its frame.
    expect(await exited).toBe(0);
    expect(stdout).toContain(`wrote ${join(out, 'frame-0000.png')}`);
    const paid = toMicros((await tasksOf(buyer, id))[0].replicas[0].paid as number);
    expect(paid).toBeGreaterThan(toMicros(0.0001));
    // What it did not need came back, out of its budget: what it has paid is what it has in it.
    expect((await statusOf(buyer, id)).cost).toMatchObject({ budget: fromMicros(paid), held: 0, spent: fromMicros(paid) });
    expect(await accountOf(buyer)).toMatchObject({ balance: fromMicros(start - paid), held: 0 });
  });

  it("refuses a budget that is malformed, lower, unaffordable, not its owner's or for a finished job, naming the field, and moves nothing", async () => {
    const owner = await requester('owner', 1);
    const other = await requester('other', 100);
    const res = await owner.call('/api/jobs', { body: { ...oneTileJob(1), budget: 0.5 } });
    const { id } = (await res.json()) as { id: string };
    const before = await accountOf(owner);
    const put = (r: Requester, body: unknown) => r.call(`/api/jobs/${id}/budget`, { method: 'PUT', body });
    for (const body of [{}, { budget: -1 }, { budget: 0 }, { budget: '2' }, { budget: 0.0000001 }, { budget: 1e9 }, { budget: null }])
      expect((await problem(await put(owner, body), 400)).errors?.[0]?.path).toBe('budget');
    expect((await problem(await put(owner, { budget: 0.4 }), 409)).errors?.[0]?.path).toBe('budget');
    expect((await problem(await put(owner, { budget: 1.6 }), 402)).errors?.[0]).toEqual({
      path: 'budget',
      message: 'your balance is 0.5 credits',
    });
    // Another requester does not learn that it exists; the operator sees it but cannot spend its owner's balance.
    await problem(await put(other, { budget: 2 }), 404);
    const byOperator = () =>
      fetch(`${api.farm.url}/api/jobs/${id}/budget`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${OPERATOR_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ budget: 2 }),
      });
    await problem(await byOperator(), 403);
    expect((await owner.call(`/api/jobs/${id}`, { method: 'DELETE' })).status).toBe(200);
    await problem(await put(owner, { budget: 0.9 }), 409);
    // Ended or not, the job is not the operator's to fund.
    await problem(await byOperator(), 403);
    const after = await accountOf(owner);
    // Nothing moved but the cancellation's refund.
    expect(after.entries.filter((e) => e.kind === 'escrow')).toEqual(before.entries.filter((e) => e.kind === 'escrow'));
    expect(after).toMatchObject({ balance: 1, held: 0 });
    expect(toMicros((await accountOf(other)).balance)).toBe(toMicros(100));
  });

  it('holds exactly the highest of racing budgets, and never more than the balance', async () => {
    const buyer = await requester('racer', 3);
    const res = await buyer.call('/api/jobs', { body: { ...oneTileJob(1), budget: 1 } });
    const { id } = (await res.json()) as { id: string };
    // Twenty totals at once, 1.2 … 5: those over the 3 credits granted are refused, and whichever
    // order the rest come in, the highest of them is what the job is given.
    const totals = [...Array(20).keys()].map((i) => 1.2 + i * 0.2);
    const answers = await Promise.all(
      totals.map((budget) => buyer.call(`/api/jobs/${id}/budget`, { method: 'PUT', body: { budget: Number(budget.toFixed(1)) } })),
    );
    expect(answers.every((r) => [200, 402, 409].includes(r.status))).toBe(true);
    const { cost } = await statusOf(buyer, id);
    expect(cost).toMatchObject({ budget: 3, held: 3 });
    expect(answers.filter((r) => r.status === 402)).toHaveLength(10);
    expect(await accountOf(buyer)).toMatchObject({ balance: 0, held: 3 });
  });
});
