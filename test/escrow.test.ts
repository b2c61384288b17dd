/**
 * Escrow and payment at the market price, through real verdicts (in-process orchestrator, real
 * Redis and HTTP, workers speaking the signed protocol with chosen pixels and ray counts): a job
 * pays exactly RU × price for each valid replica, fees included; what it does not spend comes
 * back to the micro-credit; a requester can never spend what it does not hold, however many
 * submissions race; and every micro-credit stays accounted for.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { costMicros, feeMicros, fromMicros, toMicros } from '../shared/money.ts';
import type { Assignment, JobEstimate, JobStatus, JobSummary, LedgerPage, TaskView } from '../shared/protocol.ts';
import { type ApiFarm, oneTileJob, renderAll, startApiFarm, type TestClient, uploadShade } from './support/orchestrator.ts';
import { problem } from './support/problem.ts';

const FEE_PPM = 20_000;
let api: ApiFarm;
// A farm per test: providers left online by one test would be on the next one's market.
beforeEach(async () => {
  api = await startApiFarm({ marketIntervalMs: 200, pollMs: 100, feeShare: FEE_PPM / 1e6 });
});
afterEach(() => api.stop());

interface Requester {
  owner: string;
  call(path: string, init?: { method?: string; body?: unknown }): Promise<Response>;
}
/** A requester with its own token, granted `credits`. */
async function requester(name: string, credits: number): Promise<Requester> {
  const { token, owner } = (await (await api.operator('/api/tokens', { name })).json()) as { token: string; owner: string };
  if (credits > 0) expect((await api.operator('/api/credits', { account: owner, amount: credits })).status).toBe(201);
  const call = (path: string, init: { method?: string; body?: unknown } = {}) =>
    fetch(`${api.farm.url}${path}`, {
      method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
  return { owner, call };
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

  it('refunds a cancelled job to the micro-credit: what it paid stays paid, the rest comes back', async () => {
    const buyer = await requester('canceller', 2);
    const w = await api.worker('c1', { trusted: true, ask: 25 });
    const res = await buyer.call('/api/jobs', { body: { ...oneTileJob(1), width: 32, height: 16, budget: 1.5 } });
    const { id } = (await res.json()) as { id: string };
    expect(await accountOf(buyer)).toMatchObject({ balance: 0.5, held: 1.5 });
    // One tile verified and paid; the other held by the worker when the job is cancelled.
    const first = (await w.client.next()) as Assignment;
    expect(await uploadShade(w.client, first, 40, raysOf(first))).toBe('accepted');
    await expect.poll(async () => (await statusOf(buyer, id)).tilesVerified).toBe(1);
    const second = (await w.client.next()) as Assignment;
    expect(second).toBeDefined();
    expect((await statusOf(buyer, id)).cost.committed).toBeGreaterThan(0);
    expect((await buyer.call(`/api/jobs/${id}`, { method: 'DELETE' })).status).toBe(200);
    await expect.poll(async () => (await statusOf(buyer, id)).cost, { timeout: 10_000 }).toMatchObject({ held: 0, committed: 0 });
    const paid = toMicros((await tasksOf(buyer, id)).flatMap((t) => t.replicas).reduce((s, r) => s + (r.paid ?? 0), 0));
    expect(paid).toBe(costMicros(raysOf(first), 25_000));
    expect(toMicros((await accountOf(buyer)).balance)).toBe(toMicros(2) - paid);
    // Its late result is refused and earns nothing.
    expect(await uploadShade(w.client, second, 40, raysOf(second)).catch((e) => e.status)).toBe(409);
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
});
