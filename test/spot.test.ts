/**
 * Spot checks: a tile verified with a trusted worker in the accepted group, handed out like any
 * replica while real work waits, judged against its known hash.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keys } from '../orchestrator/state/keys.ts';
import { Assignment, type TaskView, type WorkerView } from '../shared/protocol.ts';
import { type ApiFarm, fundOperator, oneTileJob, startApiFarm, type TestClient, uploadShade } from './support/orchestrator.ts';

let api: ApiFarm;
beforeAll(async () => {
  api = await startApiFarm({ spotCheckRate: 1, stakePerReplica: 5 });
});
afterAll(() => api.stop());

const view = async (id: string) =>
  (await (await fetch(`${api.farm.url}/api/workers/${id}`)).json()) as WorkerView & { evidence: Record<string, unknown>[] };
const upload = (w: TestClient, a: Assignment, shade: number) => uploadShade(w.client, a, shade);
/** The rays and milliseconds a worker's measured speed (what the market offers of it) rests on; undefined before any. */
async function speedOf(farm: ApiFarm, w: TestClient): Promise<{ raysDone: number; renderMs: number } | undefined> {
  const redis = new Redis(farm.redisUrl);
  try {
    const [raysDone, renderMs] = await redis.hmget(keys.worker(w.id), 'raysDone', 'renderMs');
    return renderMs === null ? undefined : { raysDone: Number(raysDone), renderMs: Number(renderMs) };
  } finally {
    redis.disconnect();
  }
}

describe('spot checks', () => {
  it('hands out a known answer like any replica and judges it against the known hash', async () => {
    const truth = await api.worker('truth', { trusted: true });
    // Two tiles the trusted worker renders: two known answers (each serves as a check once).
    const { id: known } = (await (await api.operator('/api/jobs', { ...oneTileJob(1), width: 32 })).json()) as { id: string };
    for (let i = 0; i < 2; i++) await upload(truth, Assignment.parse(await truth.client.next()), 90);
    // Real work waiting: only then do untrusted workers get spot checks.
    await api.operator('/api/jobs', { ...oneTileJob(1), spp: 2 });

    const honest = await api.worker('honest', { stake: 10 });
    const liar = await api.worker('liar', { stake: 10 });
    const check = await honest.client.next();
    // Indistinguishable: the same fields as any replica, an opaque id, stake locked and counted in flight.
    expect(Object.keys(check ?? {}).sort()).toEqual(['deadline', 'frame', 'replica', 'scene', 'tile']);
    expect(check?.replica).toMatch(/^r[0-9a-f]{32}$/);
    expect(await view(honest.id)).toMatchObject({ inFlight: 1, locked: 5 });
    await upload(honest, check as Assignment, 90);
    expect(await view(honest.id)).toMatchObject({ valid: 1, passed: 1, faults: 0, inFlight: 0, locked: 0 });
    // A passed check measures no speed: its answer is an old tile's, known to whoever rendered it
    // (a sibling key could answer it in milliseconds and offer 150× an honest provider's capacity).
    expect(await speedOf(api, honest)).toBeUndefined();

    const trap = Assignment.parse(await liar.client.next());
    await upload(liar, trap, 3);
    const caught = await view(liar.id);
    // A failed check is a fault against ground truth: the whole stake goes.
    expect(caught).toMatchObject({ invalid: 1, faults: 1, passed: 0, stake: 0, locked: 0 });
    expect(caught.evidence[0]).toMatchObject({ kind: 'outvoted' });
    expect(caught.evidence[0]).not.toHaveProperty('winner');

    // The tasks themselves are untouched: still verified with their hash; the checks are listed
    // as such to the operator.
    const tasks = ((await (await api.operator(`/api/jobs/${known}/tasks`)).json()) as { tasks: TaskView[] }).tasks;
    for (const t of tasks) expect(t).toMatchObject({ state: 'verified', anchored: true });
    expect(
      tasks
        .flatMap((t) => t.replicas)
        .filter((r) => r.spot)
        .map((r) => r.state)
        .sort(),
    ).toEqual(['invalid', 'valid']);
    expect(((await (await api.operator(`/api/jobs/${known}`)).json()) as { replicasRendered: number }).replicasRendered).toBe(2);
  });

  it('measures no speed from a result accepted on its own word: a key cannot claim a tile’s rays in milliseconds', async () => {
    const own = await startApiFarm({ spotCheckRate: 0, stakePerReplica: 5 });
    try {
      const quick = await own.worker('quick', { stake: 10 });
      // Its own kind of job: one replica a tile, so its result stands unchecked.
      await own.operator('/api/jobs', { ...oneTileJob(1), spp: 4 });
      expect(await uploadShade(quick.client, Assignment.parse(await quick.client.next()), 77, 50_000)).toBe('accepted');
      expect(await speedOf(own, quick)).toBeUndefined();
    } finally {
      await own.stop();
    }
  });

  it('pays a passed check at the last price that traded, never at the worker’s own ask', async () => {
    // A farm of its own: the pool holds only this test's known answer.
    const own = await startApiFarm({ spotCheckRate: 1, stakePerReplica: 5 });
    try {
      expect((await own.operator('/api/credits', { account: 'treasury', amount: 100 })).status).toBe(201);
      const truth = await own.worker('truth', { trusted: true });
      // A known answer that traced 50,000 rays, and real work waiting.
      await own.operator('/api/jobs', { ...oneTileJob(1), spp: 4 });
      expect(await uploadShade(truth.client, Assignment.parse(await truth.client.next()), 77, 50_000)).toBe('accepted');
      // It can pay even the greediest ask, so a spot check may stand in for its tile.
      await fundOperator(own, 100_000);
      await own.operator('/api/jobs', { ...oneTileJob(1), spp: 3, budget: 60_000 });
      const treasury = async () => ((await (await own.operator('/api/treasury')).json()) as { balance: number }).balance;
      // A key asking the most any price may be: with no price ever traded, the check pays nothing
      // (at its ask, it would have taken 50 credits from the treasury).
      const greedy = await own.worker('greedy', { stake: 10, ask: 1_000_000 });
      expect(await uploadShade(greedy.client, Assignment.parse(await greedy.client.next()), 77, 50_000)).toBe('accepted');
      const paid = (await (await fetch(`${own.farm.url}/api/workers/${greedy.id}`)).json()) as WorkerView;
      expect(paid).toMatchObject({ passed: 1, balance: 0, earned: 0 });
      expect(await treasury()).toBe(100);
    } finally {
      await own.stop();
    }
  });
});
