/**
 * Stake, payments and penalties through real verdicts (in-process orchestrator, real Redis and
 * HTTP, workers speaking the signed protocol with chosen pixels): balances move only with ledger
 * entries, never below zero, and add up to the micro-credit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Assignment, WorkerView } from '../shared/protocol.ts';
import type { WorkerClient } from '../worker/client.ts';
import { type ApiFarm, nextAssignment, oneTileJob, startApiFarm, uploadShade } from './support/orchestrator.ts';

let api: ApiFarm;
beforeAll(async () => {
  api = await startApiFarm({ leaseMs: 600, stakePerReplica: 10, deadlinePenalty: 0.5 });
});
afterAll(() => api.stop());

const operator = (path: string, body?: unknown) => api.operator(path, body);

/** Every worker asks 50 credits per RU: with no clearing yet, each replica trades at its ask. */
const ASK = 50;
async function worker(name: string, grant: number, stake: number) {
  const w = await api.worker(name, { stake: 0, ask: ASK });
  if (grant) expect((await operator('/api/credits', { account: w.id, amount: grant })).status).toBe(201);
  if (stake) await w.client.stake(stake);
  return w;
}

const account = async (id: string) =>
  (await (await fetch(`${api.farm.url}/api/workers/${id}/ledger`)).json()) as {
    balance: number;
    stake: number;
    locked: number;
    entries: { amount: number; kind: string; to?: string }[];
  };
/** Each result traced 10,000 rays: 10^-5 RU, 500 µc at 50 credits/RU, of which 2 % (10 µc) is the fee. */
const RAYS = 10_000;
const upload = (w: { client: WorkerClient }, a: Assignment, shade: number) => uploadShade(w.client, a, shade, RAYS);

describe('stake and slashing', () => {
  it('pays agreement from escrow, slashes a result that ground truth contradicts, and balances to the micro-credit', async () => {
    expect((await operator('/api/credits', { account: 'treasury', amount: 100 })).status).toBe(201);
    const requester = ((await (await operator('/api/account')).json()) as { account: string }).account;
    expect((await operator('/api/credits', { account: requester, amount: 1 })).status).toBe(201);
    const truth = await api.worker('truth', { trusted: true, ask: ASK });
    const b = await worker('b', 50, 20);
    const liar = await worker('liar', 50, 20);
    const broke = await worker('broke', 0, 0);
    // Three replicas: ground truth, the liar, and an honest worker's.
    const res = await operator('/api/jobs', { ...oneTileJob(3), maxPrice: 60 });
    expect(res.status).toBe(201);
    // Held: the tile's most rays (16 × 16 px × 67 rays) × 3 replicas at 60 credits/RU, rounded up.
    const requesterAccount = async () => (await (await operator('/api/account')).json()) as { balance: number; held: number };
    expect(await requesterAccount()).toMatchObject({ balance: 1 - 0.003088, held: 0.003088 });

    // No stake, no work.
    await expect(broke.client.next()).rejects.toMatchObject({ status: 409, title: 'Stake required' });
    const first = (await truth.client.next()) as Assignment;
    const second = (await liar.client.next()) as Assignment;
    expect(await upload(truth, first, 100)).toBe('accepted');
    expect(await upload(liar, second, 7)).toBe('accepted');
    // The liar's stake backs its result until the verdict.
    expect(await account(liar.id)).toMatchObject({ stake: 20, locked: 10 });
    const third = (await b.client.next()) as Assignment;
    expect(third.scene).toBe(first.scene);
    expect(await upload(b, third, 100)).toBe('accepted');

    // The accepted group holds a trusted worker: ground truth. The liar loses its whole stake,
    // split between the two workers it contradicted; each of them earns 500 µc less the 10 µc
    // fee, and the liar's replica is paid nothing.
    expect(await account(truth.id)).toMatchObject({ balance: 10.00049, stake: 0 });
    expect(await account(b.id)).toMatchObject({ balance: 40.00049, stake: 20, locked: 0 });
    expect(await account(liar.id)).toMatchObject({ balance: 30, stake: 0, locked: 0 });
    // The treasury's entries are the operator's: its outflows would tell a worker its checks.
    expect((await fetch(`${api.farm.url}/api/treasury`)).status).toBe(401);
    const treasury = (await (await api.operator('/api/treasury')).json()) as { balance: number };
    expect(treasury.balance).toBe(100.00002);
    // The job paid 2 × 500 µc; the rest of its escrow came back when it ended.
    await expect.poll(requesterAccount).toMatchObject({ balance: 0.999, held: 0 });
    // Every micro-credit is accounted for: 100 to the treasury + 2 × 50 to workers + 1 to the requester.
    const micros = (credits: number) => Math.round(credits * 1e6);
    const total =
      micros(treasury.balance) +
      micros((await requesterAccount()).balance) +
      (await Promise.all([truth, b, liar].map((w) => account(w.id)))).reduce((s, x) => s + micros(x.balance) + micros(x.stake), 0);
    expect(total).toBe(micros(201));
    // Each account's entries replay to its balance plus stake.
    for (const w of [truth, b, liar]) {
      const acc = await account(w.id);
      const replay = acc.entries.reduce((s, e) => s + micros(e.amount), 0);
      expect(replay).toBe(micros(acc.balance) + micros(acc.stake));
    }
    const liarView = (await (await fetch(`${api.farm.url}/api/workers/${liar.id}`)).json()) as WorkerView & {
      evidence: { kind: string }[];
    };
    expect(liarView).toMatchObject({ invalid: 1, faults: 1, passed: 0, balance: 30, stake: 0 });
    expect(liarView.evidence[0].kind).toBe('outvoted');
    // Agreeing with ground truth is a passed check.
    expect((await (await fetch(`${api.farm.url}/api/workers/${b.id}`)).json()).passed).toBe(1);
  });

  it('charges a missed deadline and refuses overdrafts', async () => {
    const sleeper = await worker('sleeper', 10, 10);
    const other = await worker('other', 10, 10);
    expect((await operator('/api/jobs', { ...oneTileJob(1), budget: 0.5 })).status).toBe(201);
    const held = (await sleeper.client.next()) as Assignment;
    // No heartbeat: the 600 ms lease lapses and the slot goes to the other worker.
    const taken = await nextAssignment(other.client);
    expect(taken.tile).toEqual(held.tile);
    expect(taken.replica).not.toBe(held.replica);
    const acc = await account(sleeper.id);
    expect(acc.stake).toBe(9.5);
    expect(acc.entries[0]).toMatchObject({ kind: 'penalty', amount: -0.5 });
    await expect(sleeper.client.stake(1000)).rejects.toMatchObject({ status: 402, title: 'Not enough credits' });
    expect((await account(sleeper.id)).balance).toBe(0);
  });

  it('serves the leaderboard sorted and paged', async () => {
    const board = (await (await fetch(`${api.farm.url}/api/workers?sort=invalid&order=desc&limit=2`)).json()) as {
      total: number;
      offset: number;
      workers: WorkerView[];
    };
    expect(board.total).toBeGreaterThanOrEqual(5);
    expect(board.workers).toHaveLength(2);
    expect(board.workers[0].invalid).toBeGreaterThanOrEqual(board.workers[1].invalid);
    expect(Object.keys(board.workers[0]).sort()).toEqual(
      [
        'ask',
        'balance',
        'class',
        'collateral',
        'earned',
        'ru',
        'classState',
        'credibility',
        'device',
        'faults',
        'id',
        'inFlight',
        'invalid',
        'lastSeen',
        'locked',
        'name',
        'online',
        'passed',
        'recent',
        'registeredAt',
        'rejected',
        'stake',
        'timedOut',
        'trusted',
        'unbonding',
        'valid',
      ].sort(),
    );
    expect((await fetch(`${api.farm.url}/api/workers?sort=bogus`)).status).toBe(400);
  });
});
