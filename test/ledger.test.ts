/**
 * Stake, rewards and penalties through real verdicts (in-process orchestrator, real Redis and
 * HTTP, workers speaking the signed protocol with chosen pixels): balances move only with ledger
 * entries, never below zero, and add up to the cent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Assignment, WorkerView } from '../shared/protocol.ts';
import type { WorkerClient } from '../worker/client.ts';
import { type ApiFarm, oneTileJob, startApiFarm, uploadShade } from './support/orchestrator.ts';

let api: ApiFarm;
beforeAll(async () => {
  api = await startApiFarm({ leaseMs: 600, stakePerReplicaCents: 1000, rewardCents: 100, deadlinePenaltyCents: 50 });
});
afterAll(() => api.stop());

const operator = (path: string, body?: unknown) => api.operator(path, body);

async function worker(name: string, grant: number, stake: number) {
  const w = await api.worker(name, { stake: 0 });
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
const upload = (w: { client: WorkerClient }, a: Assignment, shade: number) => uploadShade(w.client, a, shade);

describe('stake and slashing', () => {
  it('rewards agreement, slashes a result that ground truth contradicts, and balances to the cent', async () => {
    expect((await operator('/api/credits', { account: 'treasury', amount: 100 })).status).toBe(201);
    const truth = await api.worker('truth', { trusted: true });
    const b = await worker('b', 50, 20);
    const liar = await worker('liar', 50, 20);
    const broke = await worker('broke', 0, 0);
    // Three replicas: ground truth, the liar, and an honest worker's.
    const res = await operator('/api/jobs', oneTileJob(3));
    expect(res.status).toBe(201);

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
    // split between the two workers it contradicted; each of them earns 1 credit.
    expect(await account(truth.id)).toMatchObject({ balance: 11, stake: 0 });
    expect(await account(b.id)).toMatchObject({ balance: 41, stake: 20, locked: 0 });
    expect(await account(liar.id)).toMatchObject({ balance: 30, stake: 0, locked: 0 });
    const treasury = (await (await fetch(`${api.farm.url}/api/treasury`)).json()) as { balance: number };
    expect(treasury.balance).toBe(98);
    // Every credit is accounted for: 100 to the treasury + 2 × 50 granted.
    const total =
      treasury.balance + (await Promise.all([truth, b, liar].map((w) => account(w.id)))).reduce((s, x) => s + x.balance + x.stake, 0);
    expect(total).toBe(200);
    // Each account's entries replay to its balance plus stake.
    for (const w of [truth, b, liar]) {
      const acc = await account(w.id);
      const replay = acc.entries.reduce((s, e) => s + Math.round(e.amount * 100), 0);
      expect(replay).toBe(Math.round((acc.balance + acc.stake) * 100));
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
    await operator('/api/jobs', oneTileJob(1));
    const held = (await sleeper.client.next()) as Assignment;
    // No heartbeat: the 600 ms lease lapses and the slot goes to the other worker.
    let taken: Assignment | undefined;
    for (let i = 0; i < 20 && !taken; i++) taken = await other.client.next();
    expect(taken?.tile).toEqual(held.tile);
    expect(taken?.replica).not.toBe(held.replica);
    const acc = await account(sleeper.id);
    expect(acc.stake).toBe(9.5);
    expect(acc.entries[0]).toMatchObject({ kind: 'penalty', amount: -0.5 });
    await expect(sleeper.client.stake(1000)).rejects.toMatchObject({ status: 409 });
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
        'balance',
        'class',
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
