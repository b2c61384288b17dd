/**
 * A requester and its own provider keys cannot name the price the farm pays its own work at. A job
 * bidding the highest price on 5 credits of escrow crosses its owner's key asking as much, so the
 * interval clears there; but nothing traded, and a clearing names the last price that traded (what
 * the treasury pays spot checks at, at most) only past `marketTradedFloorRu`. It had: fresh keys
 * answering the checks that stood in for that job's slots took 66 credits of the treasury's 200
 * (an attacker's review, reproduced here). Nor does trading as much as it likes: the price is named
 * only once several requesters bought in the hour, each one vote (history.ts tradedPrice).
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { keys } from '../../orchestrator/state/keys.ts';
import type { WorkerView } from '../../shared/protocol.ts';
import { waitFor } from '../support/farm.ts';
import { type ApiFarm, fundOperator, nextAssignment, oneTileJob, startApiFarm, uploadShade } from '../support/orchestrator.ts';

let api: ApiFarm;
let redis: Redis;
beforeAll(async () => {
  // Spot checks at the default rate: a fresh key (no check passed) gets one whenever one fits.
  api = await startApiFarm({ marketIntervalMs: 250, spotCheckRate: 0.05, stakePerReplica: 5 });
  redis = new Redis(api.redisUrl);
});
afterAll(async () => {
  redis.disconnect();
  await api.stop();
});

const treasury = async () => ((await (await api.operator('/api/treasury')).json()) as { balance: number }).balance;
const workerView = async (id: string) => (await (await fetch(`${api.farm.url}/api/workers/${id}`)).json()) as WorkerView;
/** The highest limit a price may be, in credits per RU and in the ticks the market keeps. */
const HIGHEST = 1_000_000;
const HIGHEST_TICKS = String(HIGHEST * 1000);

/** Mallory, a requester of `farm` granted `credits`: her account, and her calls (POST with a body). */
async function mallorys(farm: ApiFarm, credits: number) {
  const { token } = (await (await farm.operator('/api/tokens', { name: 'mallory' })).json()) as { token: string };
  const call = (path: string, body?: unknown) =>
    fetch(`${farm.farm.url}${path}`, {
      method: body ? 'POST' : 'GET',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body ? JSON.stringify(body) : undefined,
    });
  const { account } = (await (await call('/api/account')).json()) as { account: string };
  expect((await farm.operator('/api/credits', { account, amount: credits })).status).toBe(201);
  return { account, call };
}

it('a bid on a few credits crossing its owner’s own ask names no price the treasury pays', async () => {
  expect((await api.operator('/api/credits', { account: 'treasury', amount: 200 })).status).toBe(201);
  const { call: mallory } = await mallorys(api, 100);

  // The known answers the checks are drawn from: tiles a trusted worker verified (50,000 rays each).
  const truth = await api.worker('truth', { trusted: true });
  for (let i = 0; i < 2; i++) {
    await api.operator('/api/jobs', { ...oneTileJob(1), spp: 4 });
    expect(await uploadShade(truth.client, await nextAssignment(truth.client), 77, 50_000)).toBe('accepted');
  }

  // Her key asking the highest price is measured on a tile of her own job, anchored by the trusted worker.
  const own = await api.worker('own', { stake: 10, ask: HIGHEST });
  expect((await mallory('/api/jobs', { ...oneTileJob(2), width: 24, height: 24, tileSize: 24, budget: 60 })).status).toBe(201);
  for (;;) {
    const a = await nextAssignment(own.client);
    const tile = a.tile.width === 24;
    expect(await uploadShade(own.client, a, tile ? 90 : 77, tile ? 17_000 : 50_000)).toBe('accepted');
    if (tile) break;
  }
  expect(await uploadShade(truth.client, await nextAssignment(truth.client), 90, 17_000)).toBe('accepted');
  await waitFor(async () => (await redis.hget(keys.worker(own.id), 'renderMs')) !== null, 10_000, 'her key measured');

  // A job bidding the highest price on 5 credits: the intervals clear at her own ask.
  const bid = { ...oneTileJob(1), width: 8, height: 8, tileSize: 8, maxPrice: HIGHEST, budget: 5 };
  expect((await mallory('/api/jobs', bid)).status).toBe(201);
  await waitFor(
    async () => JSON.parse((await redis.get(keys.marketLast)) ?? '{}').price === Number(HIGHEST_TICKS),
    10_000,
    'an interval cleared at her ask',
  );
  expect(await redis.get(keys.marketTraded)).toBeNull();

  // Fresh keys get checks in place of that job's slot: the treasury pays them nothing (no price
  // ever traded), where it had paid each 16.66 credits.
  const before = await treasury();
  for (let i = 0; i < 4; i++) {
    const fresh = await api.worker(`fresh-${i}`, { stake: 10, ask: HIGHEST });
    const a = await nextAssignment(fresh.client);
    const tile = a.tile.width === 24;
    expect(await uploadShade(fresh.client, a, tile ? 90 : 77, tile ? 17_000 : 50_000)).toBe('accepted');
    await waitFor(async () => (await workerView(fresh.id)).passed === 1, 20_000, 'the check’s verdict');
    expect((await workerView(fresh.id)).balance).toBe(0);
  }
  expect(await treasury()).toBe(before);
  expect(await redis.get(keys.marketTraded)).toBeNull();
});

it('a requester trading with its own key names no price alone, however much it trades; a second requester’s trade does', async () => {
  // Any volume is enough here: what stops her is that she is the hour's only buyer.
  const own = await startApiFarm({ marketIntervalMs: 250, marketTradedFloorRu: 0.000001 });
  const r = new Redis(own.redisUrl);
  try {
    const { account, call: mallory } = await mallorys(own, 1000);

    // Her key asking the highest price, measured on a tile of her own job that a trusted worker anchors.
    const truth = await own.worker('truth', { trusted: true });
    const key = await own.worker('own', { stake: 10, ask: HIGHEST });
    expect((await mallory('/api/jobs', { ...oneTileJob(2), budget: 60 })).status).toBe(201);
    for (const w of [key, truth]) expect(await uploadShade(w.client, await nextAssignment(w.client), 90, 17_000)).toBe('accepted');
    await waitFor(async () => (await r.hget(keys.worker(key.id), 'renderMs')) !== null, 10_000, 'her key measured');

    // Her job bids the highest price with escrow to spare: the intervals trade at her key's ask.
    expect((await mallory('/api/jobs', { ...oneTileJob(2), width: 32, maxPrice: HIGHEST, budget: 900 })).status).toBe(201);
    const traded = async () =>
      (await r.zrange(keys.marketClearings, 0, -1))
        .map((e) => JSON.parse(e) as { price: number | null; volume: number; buyers: Record<string, number> })
        .filter((c) => c.volume > 0);
    // Her votes count once her key was paid at a market's price (before, nothing weighs the median
    // ask that votes are held to, no price is named, and nobody votes): it renders a tile of it.
    await waitFor(async () => (await traded()).length >= 1, 10_000, 'an interval traded');
    for (const w of [key, truth]) expect(await uploadShade(w.client, await nextAssignment(w.client), 90, 17_000)).toBe('accepted');
    await waitFor(async () => (await traded()).filter((c) => c.buyers[account]).length >= 3, 10_000, 'three intervals she voted in');
    for (const c of await traded()) {
      expect(c.price).toBe(Number(HIGHEST_TICKS));
      expect(Object.keys(c.buyers)).toEqual(Object.keys(c.buyers).length ? [account] : []);
    }
    expect(await r.get(keys.marketTraded)).toBeNull();

    // A second requester buys at that price too: two buyers, the price is named.
    await fundOperator(own, 1000);
    expect((await own.operator('/api/jobs', { ...oneTileJob(1), budget: 900 })).status).toBe(201);
    await waitFor(async () => (await r.get(keys.marketTraded)) === HIGHEST_TICKS, 10_000, 'the price named');
  } finally {
    r.disconnect();
    await own.stop();
  }
});
