/**
 * Reservations (forwards) through the real orchestrator, Redis and HTTP, with workers speaking
 * the signed protocol: a window's orders are cleared at its gate by the auction, the buyer
 * prepays and the provider locks collateral; during the window the provider serves the buyer at
 * the window's price; after it, a shortfall while buyer work waited is paid to the buyer out of
 * the collateral, and a buyer that sent no work cannot collect a provider's collateral. An order
 * withdrawn before the gate gives back what it locked, and no clearing fills it.
 * Rules checked on their own: settleWindow's arithmetic, and which windows take orders.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { settleWindow } from '../orchestrator/market/forwards.ts';
import { Forwards } from '../orchestrator/state/forwards.ts';
import { keys } from '../orchestrator/state/keys.ts';
import { connectRedis } from '../orchestrator/state/redis.ts';
import { type ForwardCurve, type ForwardOrderView, toBookUnits } from '../shared/market.ts';
import { formatCredits, fromMicros, toMicros } from '../shared/money.ts';
import type { Assignment, JobStatus, LedgerPage, TaskView } from '../shared/protocol.ts';
import { waitFor } from './support/farm.ts';
import { type ApiFarm, fundOperator, oneTileJob, startApiFarm, type TestClient, uploadShade } from './support/orchestrator.ts';
import { problem } from './support/problem.ts';
import { ROOT } from './support/scenes.ts';

const WINDOW_MS = 2500;
const GATE_MS = 600;
/**
 * A 16 × 16 tile at 125 spp traces at most 256 × 125 × 67 = 2,144,000 rays: results that claim
 * exactly that cost exactly what a replica commits, so a reservation of two tiles' rays covers
 * two tiles. Two tiles are 0.004288 RU.
 */
const TILE_RAYS = 256 * 125 * 67;
const JOB = { ...oneTileJob(1), width: 32, height: 16, spp: 125, budget: 1 };
const RU = (2 * TILE_RAYS) / 1e9;

const FORWARD_SETTINGS = {
  marketIntervalMs: 200,
  pollMs: 100,
  forwardWindowMs: WINDOW_MS,
  forwardGateMs: GATE_MS,
  forwardHorizonMs: 20_000,
  collateralShare: 0.2,
};

let api: ApiFarm;
beforeEach(async () => {
  api = await startApiFarm(FORWARD_SETTINGS);
});
afterEach(() => api.stop());

interface Buyer {
  token: string;
  call(path: string, body?: unknown): Promise<Response>;
}
async function buyer(credits: number): Promise<Buyer> {
  const { token, owner } = (await (await api.operator('/api/tokens', { name: 'buyer' })).json()) as { token: string; owner: string };
  await api.operator('/api/credits', { account: owner, amount: credits });
  return {
    token,
    call: (path, body) =>
      fetch(`${api.farm.url}${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
  };
}
async function provider(name: string, credits: number): Promise<TestClient> {
  const w = await api.worker(name, { trusted: true });
  await api.operator('/api/credits', { account: w.id, amount: credits });
  return w;
}
const account = async (b: Buyer) => (await (await b.call('/api/account')).json()) as LedgerPage;
const workerAccount = async (w: TestClient) => (await (await fetch(`${api.farm.url}/api/workers/${w.id}/ledger`)).json()) as LedgerPage;
const curve = async () => (await (await fetch(`${api.farm.url}/api/market/forwards`)).json()) as ForwardCurve;
/** Until `t` by the wall clock (a timer may fire a millisecond before it). */
async function sleepUntil(t: number): Promise<void> {
  while (Date.now() < t) await new Promise((r) => setTimeout(r, t - Date.now()));
}

/** A window far enough ahead to place orders in, with time to spare before its gate. */
function nextWindow(): number {
  let start = Math.ceil(Date.now() / WINDOW_MS) * WINDOW_MS;
  while (start - GATE_MS < Date.now() + 1500) start += WINDOW_MS;
  return start;
}

/** An untrusted provider: staked for work, with a credit for collateral. */
async function untrustedProvider(name: string): Promise<TestClient> {
  const w = await api.worker(name, { stake: 10 });
  await api.operator('/api/credits', { account: w.id, amount: 1 });
  return w;
}

/** A provider offers two tiles' RU at 0.5, a buyer reserves them at 1; the window clears at 0.75 (equal sides: the midpoint). */
async function clearedWindow(makeProvider = () => provider('p', 1)) {
  const start = nextWindow();
  const p = await makeProvider();
  const b = await buyer(2);
  const offer = await p.client.offer({ start, ru: RU, minPrice: 0.5 });
  // Collateral: 20 % of the offer's value at its price, rounded up to a µc.
  expect(offer).toMatchObject({ side: 'ask', state: 'open', locked: fromMicros(Math.ceil(2 * TILE_RAYS * 500e-6 * 0.2)) });
  const res = await b.call('/api/reservations', { start, ru: RU, maxPrice: 1 });
  expect(res.status).toBe(201);
  const reservation = (await res.json()) as ForwardOrderView;
  // Escrow: its most value, at the limit.
  expect(reservation).toMatchObject({ side: 'bid', locked: fromMicros(2 * TILE_RAYS * 1000e-6) });
  // The curve an orchestrator answers with is up to a second old.
  await expect
    .poll(async () => (await curve()).windows.find((w) => w.start === start))
    .toMatchObject({ state: 'open', indicative: true, price: 0.75, volume: RU, bids: 1, asks: 1 });
  const gate = start - GATE_MS;
  await waitFor(
    async () => (await curve()).windows.find((w) => w.start === start)?.state === 'cleared',
    gate - Date.now() + 3000,
    'the gate',
  );
  // Its orders still counted once filled (a withdrawal's filter had left them out).
  expect((await curve()).windows.find((w) => w.start === start)).toMatchObject({
    price: 0.75,
    indicative: false,
    volume: RU,
    bids: 1,
    asks: 1,
  });
  const cleared = (await (await b.call(`/api/reservations/${reservation.id}`)).json()) as ForwardOrderView;
  expect(cleared).toMatchObject({ state: 'filled', filledRu: RU, window: { state: 'cleared', price: 0.75 } });
  // The buyer prepaid the value at 0.75 and got the rest of its escrow back.
  const prepaid = (2 * TILE_RAYS * 750) / 1e6;
  expect(toMicros((await account(b)).held)).toBe(prepaid);
  return { start, p, b, prepaid, collateral: toMicros(offer.locked) };
}

/** Polls until the provider is given a replica, or the time runs out. */
async function take(w: TestClient, until: number): Promise<Assignment | undefined> {
  while (Date.now() < until) {
    const a = await w.client.next();
    if (a) return a;
  }
  return undefined;
}

describe('reservations', () => {
  it('delivers a reservation in full at the window price, and returns the collateral', async () => {
    const { start, p, b, collateral } = await clearedWindow();
    const { id } = (await (await b.call('/api/jobs', JOB)).json()) as { id: string };
    await sleepUntil(start);
    for (let i = 0; i < 2; i++) {
      const a = (await take(p, start + WINDOW_MS)) as Assignment;
      expect(a).toBeDefined();
      expect(await uploadShade(p.client, a, 70, TILE_RAYS)).toBe('accepted');
    }
    const replicas = ((await (await b.call(`/api/jobs/${id}/tasks?frame=0`)).json()) as { tasks: TaskView[] }).tasks.flatMap(
      (t) => t.replicas,
    );
    // Both at the window's price, each paid its rays at it.
    expect(replicas.map((r) => [r.price, r.paid])).toEqual([
      [0.75, fromMicros((TILE_RAYS * 750) / 1e6)],
      [0.75, fromMicros((TILE_RAYS * 750) / 1e6)],
    ]);
    await waitFor(async () => (await workerAccount(p)).collateral === 0, WINDOW_MS + 5000, 'the window to settle');
    expect((await account(b)).held).toBe(0);
    // Delivered in full: the provider's collateral comes back whole, the buyer gets no compensation.
    expect(toMicros((await workerAccount(p)).collateral)).toBe(0);
    const entries = (await workerAccount(p)).entries;
    expect(entries.find((e) => e.kind === 'collateral-returned')?.amount).toBe(fromMicros(collateral));
    expect(entries.some((e) => e.kind === 'shortfall')).toBe(false);
    expect((await account(b)).entries.some((e) => e.kind === 'compensation')).toBe(false);
  });

  it('compensates a buyer out of the collateral, pro rata, when the provider delivers short while its work waits', async () => {
    const { start, p, b, prepaid, collateral } = await clearedWindow();
    await b.call('/api/jobs', JOB);
    const balanceBefore = toMicros((await account(b)).balance);
    await sleepUntil(start);
    const a = (await take(p, start + WINDOW_MS)) as Assignment;
    expect(await uploadShade(p.client, a, 70, TILE_RAYS)).toBe('accepted');
    // Then it stops asking for work: the other tile waits out the window.
    await waitFor(async () => (await workerAccount(p)).entries.some((e) => e.kind === 'shortfall'), WINDOW_MS + 5000, 'settlement');
    const forfeit = Math.floor(collateral / 2);
    const provider = (await workerAccount(p)).entries;
    expect(provider.find((e) => e.kind === 'shortfall')?.amount).toBe(-fromMicros(forfeit));
    expect(provider.find((e) => e.kind === 'collateral-returned')?.amount).toBe(fromMicros(collateral - forfeit));
    const after = await account(b);
    expect(after.entries.find((e) => e.kind === 'compensation')?.amount).toBe(fromMicros(forfeit));
    // The buyer paid for the tile delivered; the undelivered half of its prepayment came back, with the compensation.
    expect(toMicros(after.balance) - balanceBefore).toBe(prepaid / 2 + forfeit);
  });

  it('does not excuse a provider that took other work while its buyer’s waited behind more slots than a scan holds', async () => {
    const { start, p, b, collateral } = await clearedWindow();
    // 70 tiles of another requester's job queued first, at the same bid and priority: the
    // buyer's two wait behind them, past the 64 slots one look through the queue holds.
    await fundOperator(api, 100);
    const other = (await (await api.operator('/api/jobs', { ...oneTileJob(1), width: 16 * 70, budget: 10 })).json()) as { id: string };
    await waitFor(
      async () => ((await (await api.operator(`/api/jobs/${other.id}`)).json()) as JobStatus).state === 'running',
      5000,
      'planning',
    );
    await b.call('/api/jobs', JOB);
    await sleepUntil(start);
    // It takes the other job's tile, holds it a while, and asks for nothing more.
    const a = (await take(p, start + WINDOW_MS)) as Assignment;
    await new Promise((r) => setTimeout(r, 1000));
    await uploadShade(p.client, a, 70);
    await waitFor(async () => (await workerAccount(p)).entries.some((e) => e.kind === 'shortfall'), WINDOW_MS + 5000, 'settlement');
    expect((await workerAccount(p)).entries.find((e) => e.kind === 'shortfall')?.amount).toBe(-fromMicros(collateral));
  });

  it('excuses a provider serving its buyer a tile larger than the buyer’s prepaid share covers (at the spot price)', async () => {
    const { start, p, b, collateral } = await clearedWindow();
    // One 32 × 32 tile: its most is four tiles' rays, the share two.
    await b.call('/api/jobs', { ...JOB, height: 32, tileSize: 32 });
    await sleepUntil(start);
    const a = (await take(p, start + WINDOW_MS)) as Assignment;
    expect(a.tile).toMatchObject({ width: 32, height: 32 });
    // It renders the buyer's tile through the window, and answers after it ended: the window
    // settles only once it has (a settlement before would find its time unexcused).
    await sleepUntil(start + WINDOW_MS + 1000);
    expect(await uploadShade(p.client, a, 70, 4 * TILE_RAYS)).toBe('accepted');
    await waitFor(async () => (await workerAccount(p)).collateral === 0, 5000, 'settlement');
    const forfeit = -((await workerAccount(p)).entries.find((e) => e.kind === 'shortfall')?.amount ?? 0);
    // Only the moments before it took the tile are unexcused (before: nearly all of it was forfeited).
    expect(toMicros(forfeit)).toBeLessThan(collateral * 0.2);
  });

  it('excuses a provider whose buyer bids under its ask for a tile the prepaid share does not cover', async () => {
    const { start, p, b, collateral } = await clearedWindow(async () => {
      const w = await api.worker('p', { trusted: true, ask: 0.5 });
      await api.operator('/api/credits', { account: w.id, amount: 1 });
      return w;
    });
    // The buyer's one tile is larger than its share covers, so it goes at the spot market, where
    // the buyer bids a tick (no price named: nothing crosses), under the provider's ask.
    await b.call('/api/jobs', { ...JOB, height: 32, tileSize: 32, maxPrice: 0.001 });
    await sleepUntil(start);
    expect(await take(p, start + WINDOW_MS)).toBeUndefined();
    // Counted as work the provider failed to take, its whole collateral had gone to the buyer,
    // who paid nothing (an attacker's review); now only the gaps between its polls count.
    await waitFor(async () => (await workerAccount(p)).collateral === 0, 5000, 'settlement');
    const forfeit = -((await workerAccount(p)).entries.find((e) => e.kind === 'shortfall')?.amount ?? 0);
    expect(toMicros(forfeit)).toBeLessThan(collateral * 0.4);
  });

  it('counts the farm’s spot checks handed out in a provider’s buyer’s slots as delivered, once they pass', async () => {
    await api.stop();
    // Checks at a high rate: a newcomer's every slot is one until a check of its passes.
    api = await startApiFarm({ ...FORWARD_SETTINGS, spotCheckRate: 0.9 });
    // Known answers: a trusted worker renders eight tiles of another requester's job.
    const stocker = await buyer(20);
    const t = await api.worker('t', { trusted: true });
    await stocker.call('/api/jobs', { ...JOB, width: 64, height: 32, budget: 5 });
    for (let i = 0; i < 8; i++) {
      const a = (await take(t, Date.now() + 10_000)) as Assignment;
      expect(await uploadShade(t.client, a, 70, TILE_RAYS)).toBe('accepted');
    }
    const { start, p, b, collateral } = await clearedWindow(() => untrustedProvider('p'));
    const { id } = (await (await b.call('/api/jobs', JOB)).json()) as { id: string };
    await sleepUntil(start);
    // It renders whatever it is given, the right image, 700 ms a tile, all window.
    let rendered = 0;
    while (Date.now() < start + WINDOW_MS) {
      const a = await p.client.next();
      if (!a) continue;
      await new Promise((r) => setTimeout(r, 700));
      expect(await uploadShade(p.client, a, 70, TILE_RAYS)).toBe('accepted');
      rendered++;
    }
    await waitFor(async () => (await workerAccount(p)).collateral === 0, 10_000, 'settlement');
    const { tasks } = (await (await b.call(`/api/jobs/${id}/tasks?frame=0`)).json()) as { tasks: TaskView[] };
    // Some of what it rendered in its buyer's slots were checks (the farm's doing), which had
    // counted as neither delivered nor excused: a newcomer lost its collateral to the buyer for them.
    expect(rendered - tasks.flatMap((x) => x.replicas).filter((r) => r.worker === p.id).length).toBeGreaterThan(0);
    // Half or all of it had gone (the gaps between its polls and requests cost up to about a
    // quarter on this loaded machine).
    const forfeit = -((await workerAccount(p)).entries.find((e) => e.kind === 'shortfall')?.amount ?? 0);
    expect(toMicros(forfeit)).toBeLessThan(collateral * 0.4);
  });

  it('takes back the time excused for other work when its result is found not valid', async () => {
    const { start, p, b, collateral } = await clearedWindow(() => untrustedProvider('p'));
    // Another requester's tile, two replicas; a trusted worker will render the second.
    await fundOperator(api, 10);
    await api.operator('/api/jobs', { ...oneTileJob(2), budget: 1 });
    const judge = await api.worker('judge', { trusted: true });
    await sleepUntil(start);
    // No buyer work yet: it is given the other tile, excused for its time on it.
    const other = (await take(p, start + WINDOW_MS)) as Assignment;
    expect(other).toBeDefined();
    // Its buyer's work arrives and waits; it sits on the other tile all window and answers junk.
    await b.call('/api/jobs', JOB);
    await sleepUntil(start + WINDOW_MS + 200);
    expect(await uploadShade(p.client, other, 3)).toBe('accepted');
    // The window waits for that verdict: the trusted worker's answer contradicts it.
    await uploadShade(judge.client, (await take(judge, Date.now() + 5000)) as Assignment, 70);
    await waitFor(async () => (await workerAccount(p)).collateral === 0, 5000, 'settlement');
    // Excused for nothing: it forfeits nearly all its collateral (before: none of it).
    const forfeit = -((await workerAccount(p)).entries.find((e) => e.kind === 'shortfall')?.amount ?? 0);
    expect(toMicros(forfeit)).toBeGreaterThan(collateral * 0.9);
  });

  it('neither excuses nor waits for such a tile held while asking for more and handed back unrendered', async () => {
    const { start, p, b, collateral } = await clearedWindow();
    await b.call('/api/jobs', { ...JOB, height: 32, tileSize: 32 });
    await sleepUntil(start);
    const a = (await take(p, start + WINDOW_MS)) as Assignment;
    // Holding its buyer's tile, it has work: its polls are not idle.
    while (Date.now() < start + WINDOW_MS) expect(await p.client.next()).toBeUndefined();
    await p.client.release(a.replica);
    // The window settles as soon as the tile is handed back, and no time on it is excused.
    await waitFor(async () => (await workerAccount(p)).collateral === 0, 2000, 'settlement');
    expect(toMicros(-((await workerAccount(p)).entries.find((e) => e.kind === 'shortfall')?.amount ?? 0))).toBe(collateral);
  });

  it('does not excuse a provider sitting on its buyer’s tiles, however often it asks for more', async () => {
    const { start, p, b, collateral } = await clearedWindow();
    await b.call('/api/jobs', JOB);
    await sleepUntil(start);
    const held = [(await take(p, start + WINDOW_MS)) as Assignment, (await take(p, start + WINDOW_MS)) as Assignment];
    // No buyer slot waits (it holds them all): its polls would have counted as idle.
    while (Date.now() < start + WINDOW_MS - 100) expect(await p.client.next()).toBeUndefined();
    await sleepUntil(start + WINDOW_MS + 200);
    for (const a of held) await p.client.release(a.replica); // handed back, free of penalty
    await waitFor(async () => (await workerAccount(p)).collateral === 0, 5000, 'settlement');
    expect((await workerAccount(p)).entries.find((e) => e.kind === 'shortfall')?.amount).toBe(-fromMicros(collateral));
  });

  it('does not excuse a provider that handed its buyer’s tiles back at once and asked for work all window', async () => {
    const { start, p, b, collateral } = await clearedWindow();
    await b.call('/api/jobs', JOB);
    await sleepUntil(start);
    for (let i = 0; i < 2; i++) await p.client.release(((await take(p, start + WINDOW_MS)) as Assignment).replica);
    // Its buyer's tiles wait, never its again: work it chose not to do.
    while (Date.now() < start + WINDOW_MS) expect(await p.client.next()).toBeUndefined();
    await waitFor(async () => (await workerAccount(p)).collateral === 0, 5000, 'settlement');
    expect((await workerAccount(p)).entries.find((e) => e.kind === 'shortfall')?.amount).toBe(-fromMicros(collateral));
  });

  it('excuses a provider whose buyer’s only work waiting is a replica it may not take (a second vote on its tile)', async () => {
    const { start, p, b } = await clearedWindow();
    // One tile, two replicas that must come from different workers.
    await b.call('/api/jobs', { ...JOB, ...oneTileJob(2), spp: 125 });
    await sleepUntil(start);
    expect(await uploadShade(p.client, (await take(p, start + WINDOW_MS)) as Assignment, 70, TILE_RAYS)).toBe('accepted');
    while (Date.now() < start + WINDOW_MS) await p.client.next();
    // Another worker renders the second replica after the window: the tile is judged, and the window settles.
    const other = await api.worker('q', { trusted: true });
    expect(await uploadShade(other.client, (await take(other, Date.now() + 5000)) as Assignment, 70, TILE_RAYS)).toBe('accepted');
    await waitFor(async () => (await workerAccount(p)).collateral === 0, 5000, 'settlement');
    // It delivered half of what it sold and was excused the rest: the buyer's second replica was never its to take.
    expect((await workerAccount(p)).entries.some((e) => e.kind === 'shortfall')).toBe(false);
  });

  it('excuses a provider whose buyer’s work waiting is past its share of the job, its share delivered', async () => {
    // One tile of a two-tile job for each untrusted worker (jobShare 0.5, at least 1).
    await api.stop();
    api = await startApiFarm({ ...FORWARD_SETTINGS, jobShare: 0.5, jobShareFloor: 1 });
    const { start, p, b } = await clearedWindow(() => untrustedProvider('p'));
    await b.call('/api/jobs', JOB);
    await sleepUntil(start);
    expect(await uploadShade(p.client, (await take(p, start + WINDOW_MS)) as Assignment, 70, TILE_RAYS)).toBe('accepted');
    // The second tile waits, never its to take: the farm's cap, not work it failed to do.
    while (Date.now() < start + WINDOW_MS) expect(await p.client.next()).toBeUndefined();
    await waitFor(async () => (await workerAccount(p)).collateral === 0, 5000, 'settlement');
    expect((await workerAccount(p)).entries.some((e) => e.kind === 'shortfall')).toBe(false);
  });

  it('lets no buyer collect collateral for capacity it never used: a provider asking for work is excused', async () => {
    const { start, p, b, collateral } = await clearedWindow();
    // No job: the provider asks for work all through the window and there is none.
    await sleepUntil(start);
    expect(await take(p, start + WINDOW_MS)).toBeUndefined();
    await waitFor(async () => (await account(b)).held === 0, 5000, 'settlement');
    const returned = (await workerAccount(p)).entries.find((e) => e.kind === 'collateral-returned')?.amount ?? 0;
    expect(toMicros(returned)).toBeGreaterThanOrEqual(Math.floor(collateral * 0.8));
    const compensation = (await account(b)).entries.find((e) => e.kind === 'compensation')?.amount ?? 0;
    expect(toMicros(compensation)).toBeLessThanOrEqual(Math.ceil(collateral * 0.2));
  });

  it('refuses orders for closed windows and orders it cannot hold, and leaves a window with no cross unfilled', async () => {
    const b = await buyer(0.001);
    const closed = await problem(
      await b.call('/api/reservations', { start: Math.floor(Date.now() / WINDOW_MS) * WINDOW_MS, ru: 1, maxPrice: 1 }),
      409,
    );
    expect(closed.errors?.[0]?.path).toBe('start');
    const misaligned = await problem(await b.call('/api/reservations', { start: nextWindow() + 1, ru: 1, maxPrice: 1 }), 409);
    expect(misaligned.errors?.[0]?.path).toBe('start');
    const poor = await problem(await b.call('/api/reservations', { start: nextWindow(), ru: 1, maxPrice: 1 }), 402);
    expect(poor.errors?.[0]?.path).toBe('ru');
    const fine = await problem(await b.call('/api/reservations', { start: nextWindow(), ru: 1e-7, maxPrice: 1 }), 400);
    expect(fine.errors?.[0]?.path).toBe('ru');
    expect(toMicros((await account(b)).balance)).toBe(1000);
    // A bid under every offer: nothing crosses, the escrow comes back at the gate.
    const start = nextWindow();
    const p = await provider('dear', 1);
    await p.client.offer({ start, ru: 0.001, minPrice: 2 });
    const { id } = (await (await b.call('/api/reservations', { start, ru: 0.001, maxPrice: 0.5 })).json()) as ForwardOrderView;
    await waitFor(async () => (await account(b)).held === 0, start - Date.now() + 3000, 'the gate');
    expect((await (await b.call(`/api/reservations/${id}`)).json()) as ForwardOrderView).toMatchObject({
      state: 'unfilled',
      window: { state: 'cleared', price: null },
    });
    expect(toMicros((await account(b)).balance)).toBe(1000);
    expect(toMicros((await workerAccount(p)).collateral)).toBe(0);
  });
});

describe('withdrawing an order', () => {
  it('gives back what it locked and takes it out of the book before the gate; not after, not twice, not another’s', async () => {
    const redis = connectRedis(api.redisUrl);
    try {
      const forwards = new Forwards(redis);
      const p = await provider('fickle', 1);
      const b = await buyer(2);
      // Through the command line, in a window further on (the command takes a second or two to start).
      const later = nextWindow() + 4 * WINDOW_MS;
      const cli = (await (await b.call('/api/reservations', { start: later, ru: RU, maxPrice: 1 })).json()) as ForwardOrderView;
      const { stdout } = await promisify(execFile)(
        process.execPath,
        [join(ROOT, 'bin/farm.js'), 'withdraw', cli.id, '--orchestrator', api.farm.url],
        { env: { ...process.env, FARM_TOKEN: b.token } },
      );
      expect(stdout).toBe(`reservation ${cli.id} withdrawn: ${formatCredits(cli.locked)} credits back in the balance\n`);
      // A mistyped key file is refused, not made anew (a new key acts for nobody).
      const missing = join(mkdtempSync(join(tmpdir(), 'farm-key-')), 'typo.pem');
      const typo = await promisify(execFile)(process.execPath, [
        join(ROOT, 'bin/farm.js'),
        'withdraw',
        cli.id,
        '--key',
        missing,
        '--orchestrator',
        api.farm.url,
      ]).catch((e: { stderr: string }) => e);
      expect([(typo as { stderr: string }).stderr, existsSync(missing)]).toEqual([
        expect.stringContaining(`no worker key at ${missing}`),
        false,
      ]);
      const start = nextWindow();
      const offer = await p.client.offer({ start, ru: RU, minPrice: 0.5 });
      const bid = (await (await b.call('/api/reservations', { start, ru: RU, maxPrice: 1 })).json()) as ForwardOrderView;
      await expect
        .poll(async () => (await curve()).windows.find((w) => w.start === start))
        .toMatchObject({ bids: 1, asks: 1, price: 0.75 });
      // Another's order, or an offer named as a reservation: not found, nothing moved.
      const other = await buyer(0);
      await problem(await other.call(`/api/reservations/${bid.id}/withdraw`, {}), 404);
      await problem(await b.call(`/api/reservations/${offer.id}/withdraw`, {}), 404);
      expect((await problem(await b.call('/api/reservations/not-an-order/withdraw', {}), 400)).errors?.[0]?.path).toBe('id');
      // A clearing that read the book before a withdrawal applies nothing: it would fill the
      // reservation against an offer nobody owes any more.
      const fills = new Map([
        [offer.id, toBookUnits(RU)],
        [bid.id, toBookUnits(RU)],
      ]);
      const res = await p.client.withdrawOffer(offer.id);
      expect(res).toMatchObject({ id: offer.id, state: 'withdrawn', filledRu: 0 });
      expect(await forwards.applyClearing(start, 750, toBookUnits(RU), fills, 200_000, Date.now())).toBe(false);
      expect(await forwards.window(start)).toMatchObject({ state: 'open' });
      expect(toMicros((await workerAccount(p)).collateral)).toBe(0);
      expect(toMicros((await workerAccount(p)).balance)).toBe(toMicros(1));
      const withdrawn = (await (await b.call(`/api/reservations/${bid.id}/withdraw`, {})).json()) as ForwardOrderView;
      expect(withdrawn).toMatchObject({ state: 'withdrawn', window: { state: 'open' } });
      expect(toMicros((await account(b)).held)).toBe(0);
      expect(toMicros((await account(b)).balance)).toBe(toMicros(2));
      const twice = await problem(await b.call(`/api/reservations/${bid.id}/withdraw`, {}), 409);
      expect(twice.errors?.[0]).toEqual({ path: 'id', message: 'it is withdrawn' });
      await expect(p.client.withdrawOffer(offer.id)).rejects.toMatchObject({ status: 409 });
      await expect
        .poll(async () => (await curve()).windows.find((w) => w.start === start))
        .toMatchObject({ bids: 0, asks: 0, price: null });
      // One placed again stays; at the gate it is no longer the owner's to withdraw.
      const again = (await (await b.call('/api/reservations', { start, ru: RU, maxPrice: 1 })).json()) as ForwardOrderView;
      await sleepUntil(start - GATE_MS);
      const late = await problem(await b.call(`/api/reservations/${again.id}/withdraw`, {}), 409);
      expect(late.errors?.[0]).toEqual({ path: 'id', message: 'its window takes no more orders' });
      await waitFor(async () => (await account(b)).held === 0, start - Date.now() + 3000, 'the clearing');
      expect((await forwards.order(again.id))?.state).toBe('unfilled');
      expect((await forwards.order(bid.id))?.state).toBe('withdrawn');
      expect(toMicros((await account(b)).balance)).toBe(toMicros(2));
    } finally {
      redis.disconnect();
    }
  });
});

describe('hostile orders', () => {
  it('keeps what an offer at a token price locked, at the price that traded, for what it sold in a window it priced at a tick', async () => {
    const redis = connectRedis(api.redisUrl);
    try {
      await redis.set(keys.marketTraded, '1000');
      const start = nextWindow();
      const p = await provider('token', 1);
      // Collateral: 20 % of the offer's value at the price that traded (1 credit/RU), not at its own.
      const offer = await p.client.offer({ start, ru: RU, minPrice: 0.001 });
      const locked = Math.ceil(2 * TILE_RAYS * 1000e-6 * 0.2);
      expect(toMicros(offer.locked)).toBe(locked);
      // Its owner's reservation at the same tick: the window clears there, and all of it is sold.
      const b = await buyer(1);
      expect((await b.call('/api/reservations', { start, ru: RU, maxPrice: 0.001 })).status).toBe(201);
      await waitFor(
        async () => (await curve()).windows.find((w) => w.start === start)?.state === 'cleared',
        start - Date.now() + 3000,
        'the gate',
      );
      expect((await curve()).windows.find((w) => w.start === start)).toMatchObject({ price: 0.001, volume: RU });
      // What it sold is still behind all it locked (at the window's price: 1 µc).
      expect(toMicros((await workerAccount(p)).collateral)).toBe(locked);
    } finally {
      redis.disconnect();
    }
  });

  it('refuses ids of the wrong shape, orders at no price, offers from workers not established, grants to nobody', async () => {
    const b = await buyer(1);
    expect((await problem(await b.call('/api/reservations/not-an-order'), 400)).errors?.[0]?.path).toBe('id');
    // A reservation at no price would lock nothing: free orders anyone could pile up.
    const free = await problem(await b.call('/api/reservations', { start: nextWindow(), ru: 1e6, maxPrice: 0 }), 400);
    expect(free.errors?.[0]).toEqual({ path: 'maxPrice', message: 'a reservation names a price above 0' });
    // Another requester's reservation is not found, not shown.
    const { id } = (await (await b.call('/api/reservations', { start: nextWindow(), ru: 0.001, maxPrice: 1 })).json()) as ForwardOrderView;
    const other = await buyer(0);
    await problem(await other.call(`/api/reservations/${id}`), 404);
    const p = await provider('cheap', 1);
    await expect(p.client.offer({ start: nextWindow(), ru: 0.001, minPrice: 0 })).rejects.toMatchObject({ status: 400 });
    const raw = await api.worker('uncalibrated', { shade: null });
    await expect(raw.client.offer({ start: nextWindow(), ru: 0.001, minPrice: 1 })).rejects.toMatchObject({
      status: 409,
      title: 'Not established',
    });
    const nobody = await problem(await api.operator('/api/credits', { account: '0123456789abcdef', amount: 1 }), 404);
    expect(nobody.errors?.[0]?.path).toBe('account');
    expect((await problem(await api.operator('/api/credits', { account: 'somebody', amount: 1 }), 400)).errors?.[0]?.path).toBe('account');
    // Nothing moved: the offers locked nothing, the worker's balance is whole.
    expect(toMicros((await workerAccount(p)).balance)).toBe(toMicros(1));
  });
});

describe('forward records', () => {
  it('counts a provider’s idle time once however its polls overlap, and fills nothing in a window cleared after it began', async () => {
    const redis = connectRedis(api.redisUrl);
    try {
      const forwards = new Forwards(redis);
      const window = { start: 40_000, end: 44_000, price: 1, owing: new Set<string>(), buyers: new Set<string>() };
      // Three overlapping polls, one reaching past the window's end: 40.5–42 s, 41–43 s, 43.5–45 s.
      await forwards.recordIdle(window, 'w', 40_500, 42_000);
      await forwards.recordIdle(window, 'w', 41_000, 43_000);
      await forwards.recordIdle(window, 'w', 43_500, 45_000);
      expect(Number(await redis.hget(keys.forwardIdle('40000'), 'w'))).toBe(2500 + 500);

      // Orders for a window whose gate passed while no orchestrator ran: they fill nothing.
      const start = nextWindow();
      const p = await provider('late', 1);
      const b = await buyer(1);
      const offer = await p.client.offer({ start, ru: 0.001, minPrice: 0.5 });
      const bid = (await (await b.call('/api/reservations', { start, ru: 0.001, maxPrice: 1 })).json()) as ForwardOrderView;
      const fills = new Map([
        [offer.id, 1000],
        [bid.id, 1000],
      ]);
      expect(await forwards.applyClearing(start, 750, 1000, fills, 200_000, start + 1)).toBe(true);
      expect(await forwards.window(start)).toMatchObject({ state: 'cleared', price: null, volume: 0 });
      expect((await forwards.order(bid.id))?.state).toBe('unfilled');
      expect(toMicros((await account(b)).balance)).toBe(toMicros(1));
      expect(toMicros((await workerAccount(p)).balance)).toBe(toMicros(1));
    } finally {
      redis.disconnect();
    }
  });
});

describe('window settlement', () => {
  it('forfeits collateral for what was neither delivered nor excused, shared by what each buyer missed', () => {
    const s = settleWindow(
      [
        { worker: 'full', owed: 1000, delivered: 1000, excused: 0, collateral: 300 },
        { worker: 'half', owed: 1000, delivered: 500, excused: 0, collateral: 300 },
        { worker: 'idle', owed: 1000, delivered: 0, excused: 1000, collateral: 300 },
        { worker: 'gone', owed: 1000, delivered: 0, excused: 250, collateral: 301 },
      ],
      [
        { owner: 'a', entitled: 3000, received: 1500 },
        { owner: 'b', entitled: 1000, received: 0 },
      ],
    );
    expect(s.providers).toEqual([
      { worker: 'full', forfeit: 0, returned: 300 },
      { worker: 'half', forfeit: 150, returned: 150 },
      { worker: 'idle', forfeit: 0, returned: 300 },
      { worker: 'gone', forfeit: 225, returned: 76 },
    ]);
    // 375 forfeited, split 1500 : 1000.
    expect(s.buyers).toEqual([
      { owner: 'a', compensation: 225 },
      { owner: 'b', compensation: 150 },
    ]);
    expect(s.remainder).toBe(0);
    // Nobody short: forfeits go to the treasury.
    expect(
      settleWindow([{ worker: 'w', owed: 10, delivered: 0, excused: 0, collateral: 7 }], [{ owner: 'a', entitled: 10, received: 10 }]),
    ).toEqual({
      providers: [{ worker: 'w', forfeit: 7, returned: 0 }],
      buyers: [],
      remainder: 7,
    });
  });
});
