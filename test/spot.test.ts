/**
 * Spot checks: a tile verified with a trusted worker in the accepted group, handed out like any
 * replica while real work waits, judged against its known hash.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keys } from '../orchestrator/state/keys.ts';
import { Assignment, type TaskView, type WorkerView } from '../shared/protocol.ts';
import { waitFor } from './support/farm.ts';
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

  it('pays a passed check at no more than the operator’s ceiling, whatever price the market named', async () => {
    const own = await startApiFarm({ spotCheckRate: 1, stakePerReplica: 5, marketTradedCeiling: 2 });
    try {
      expect((await own.operator('/api/credits', { account: 'treasury', amount: 100 })).status).toBe(201);
      // A price named at 1,000 credits/RU (as a manipulated market might), over the ceiling of 2.
      const redis = new Redis(own.redisUrl);
      await redis.set(keys.marketTraded, 1_000_000);
      redis.disconnect();
      const truth = await own.worker('truth', { trusted: true });
      await own.operator('/api/jobs', { ...oneTileJob(1), spp: 4 });
      expect(await uploadShade(truth.client, Assignment.parse(await truth.client.next()), 77, 50_000)).toBe('accepted');
      await fundOperator(own, 100_000);
      // A job that bids what the key asks (no market order: its ask alone would be priced out).
      await own.operator('/api/jobs', { ...oneTileJob(1), spp: 3, maxPrice: 1_000_000, budget: 60_000 });
      const greedy = await own.worker('greedy', { stake: 10, ask: 1_000_000 });
      expect(await uploadShade(greedy.client, Assignment.parse(await greedy.client.next()), 77, 50_000)).toBe('accepted');
      // 50,000 rays at 2 credits/RU, less the fee: 100 µc at most, where 1,000 credits/RU paid 50,000.
      const paid = (await (await fetch(`${own.farm.url}/api/workers/${greedy.id}`)).json()) as WorkerView;
      expect(paid.passed).toBe(1);
      expect(paid.earned).toBeGreaterThan(0);
      expect(paid.earned).toBeLessThanOrEqual(0.0001);
    } finally {
      await own.stop();
    }
  });
});

/** The one task of a one-tile job. */
const onlyTask = async (farm: ApiFarm, job: string) =>
  ((await (await farm.operator(`/api/jobs/${job}/tasks`)).json()) as { tasks: TaskView[] }).tasks[0];

/**
 * A one-tile credibility job that `by` renders alone (shade 60), its task's audit roll set so that
 * no audit comes from the roll (a key with 1,000 checks passed is audited with probability 3/k);
 * the job's id.
 */
async function renderedAlone(farm: ApiFarm, redis: Redis, by: TestClient, spp = 1): Promise<string> {
  const { id } = (await (await farm.operator('/api/jobs', { ...oneTileJob(1), spp, verification: 'credibility' })).json()) as {
    id: string;
  };
  const mine = Assignment.parse(await by.client.next());
  await redis.hset(keys.task((await onlyTask(farm, id)).task), 'auditRoll', 0.99);
  await uploadShade(by.client, mine, 60);
  return id;
}

describe('known answers', () => {
  it('are stocked by a trusted worker online: it audits verdicts proven keys alone reached until the class holds knownAnswersTarget', async () => {
    const own = await startApiFarm({ knownAnswersTarget: 2 });
    const redis = new Redis(own.redisUrl);
    try {
      const truth = await own.worker('truth', { trusted: true });
      const proven = await own.worker('proven');
      // Its lone result reaches θ.
      await redis.hset(keys.worker(proven.id), 'passed', 1000);
      const poolOf = async () => redis.zcard(keys.spotPool((await redis.hget(keys.worker(proven.id), 'class')) as string));

      for (let stocked = 1; stocked <= 2; stocked++) {
        const id = await renderedAlone(own, redis, proven, stocked);
        // Short of known answers: the verdict waits for the trusted worker's audit, whose
        // agreement anchors it, and the tile joins the pool.
        expect((await onlyTask(own, id)).state).toBe('pending');
        const audit = Assignment.parse(await truth.client.next());
        expect(await uploadShade(truth.client, audit, 60)).toBe('accepted');
        const task = await onlyTask(own, id);
        expect(task).toMatchObject({ state: 'verified', anchored: true });
        // The farm's need, not the requester's: the treasury pays for it.
        expect(JSON.parse((await redis.hget(keys.taskReplicas(task.task), '1')) as string)).toMatchObject({
          worker: truth.id,
          payer: 'treasury',
        });
        expect(await poolOf()).toBe(stocked);
      }
      // Stocked (the count is read at most once a second): the next such verdict stands at once.
      await new Promise((r) => setTimeout(r, 1100));
      const id = await renderedAlone(own, redis, proven, 3);
      expect(await onlyTask(own, id)).toMatchObject({ state: 'verified', anchored: false });
      expect((await onlyTask(own, id)).replicas).toHaveLength(1);
      expect(await truth.client.next()).toBeUndefined();
      expect(await poolOf()).toBe(2);
    } finally {
      redis.disconnect();
      await own.stop();
    }
  });

  it('are stocked a few audits at a time: the other verdicts go on without one', async () => {
    const own = await startApiFarm({ knownAnswersTarget: 100 });
    const redis = new Redis(own.redisUrl);
    try {
      await own.worker('truth', { trusted: true });
      const proven = await own.worker('proven', { stake: 1000 });
      await redis.hset(keys.worker(proven.id), 'passed', 1000);
      const states: string[] = [];
      for (let spp = 1; spp <= 6; spp++) states.push((await onlyTask(own, await renderedAlone(own, redis, proven, spp))).state);
      // Four audits out (the trusted worker has not polled yet), then verdicts without one.
      expect(states).toEqual(['pending', 'pending', 'pending', 'pending', 'verified', 'verified']);
    } finally {
      redis.disconnect();
      await own.stop();
    }
  });

  it('skip a stocking audit once the trusted worker it waits for has left: the verdict goes on', async () => {
    // Online means seen within 2 leases (2 s here).
    const own = await startApiFarm({ knownAnswersTarget: 2, leaseMs: 1000, graceMs: 1000 });
    const redis = new Redis(own.redisUrl);
    let alive: NodeJS.Timeout | undefined;
    try {
      await own.worker('truth', { trusted: true });
      const proven = await own.worker('proven');
      // An untrusted worker online that could take a replica, but not the trusted workers' audit.
      const bystander = await own.worker('bystander');
      alive = setInterval(() => void bystander.client.heartbeat([]).catch(() => undefined), 500);
      await redis.hset(keys.worker(proven.id), 'passed', 1000);
      const id = await renderedAlone(own, redis, proven);
      expect(await onlyTask(own, id)).toMatchObject({ state: 'pending', waiting: { code: 'audit' } });
      // The trusted worker never takes it and goes offline: the job does not wait for its timeout.
      await waitFor(async () => (await onlyTask(own, id)).state === 'verified', 8000, 'the verdict without the audit');
      expect(await onlyTask(own, id)).toMatchObject({ anchored: false, auditSkipped: true });
    } finally {
      clearInterval(alive);
      redis.disconnect();
      await own.stop();
    }
  });

  it('do not let a reopened tile stand on the colluders left in its group: it needs a fresh result first; a finished job’s keeps its verdict', async () => {
    // No trusted worker online but for a moment (a lease of 1 s: online means seen within 2 s).
    const own = await startApiFarm({ spotCheckRate: 1, knownAnswersTarget: 0, leaseMs: 1000, graceMs: 1000 });
    const redis = new Redis(own.redisUrl);
    const offline = () => new Promise((r) => setTimeout(r, 2100));
    let alive: NodeJS.Timeout | undefined;
    try {
      const truth = await own.worker('truth', { trusted: true });
      const [liar, colluder, honest] = [
        await own.worker('liar', { stake: 1000 }),
        await own.worker('colluder', { stake: 1000 }),
        await own.worker('honest', { stake: 1000 }),
      ];
      // The colluder alone reaches θ; the liar alone does not; the honest worker is the most checked.
      for (const [w, passed] of [
        [liar, 20],
        [colluder, 1000],
        [honest, 2000],
      ] as const)
        await redis.hset(keys.worker(w.id), 'passed', passed);
      const submit = async (job: object) => ((await (await own.operator('/api/jobs', job)).json()) as { id: string }).id;
      const tasksOf = async (job: string) => ((await (await own.operator(`/api/jobs/${job}/tasks`)).json()) as { tasks: TaskView[] }).tasks;
      await offline();

      // The pair carries wrong tiles (no known answer yet, so no spot check stands in for one): 33 of
      // jobs that finish, and one of a job whose other tile the honest worker holds, still running.
      const carry = async (job: string) => {
        for (const t of await tasksOf(job)) await redis.hset(keys.task(t.task), 'auditRoll', 0.99);
        await uploadShade(liar.client, Assignment.parse(await liar.client.next()), 3);
        // The liar alone is short of θ: one more replica, which the colluder takes.
        await uploadShade(colluder.client, Assignment.parse(await colluder.client.next()), 3);
      };
      const finished: string[] = [];
      for (let i = 0; i < 33; i++) {
        const job = await submit({ ...oneTileJob(1), verification: 'credibility' });
        await carry(job);
        await waitFor(async () => (await (await own.operator(`/api/jobs/${job}`)).json()).state === 'done', 5000, 'the job to finish');
        finished.push(job);
      }
      const running = await submit({ ...oneTileJob(1), width: 32, verification: 'credibility' });
      await redis.hset(keys.task(`${running}.f0.t0`), 'auditRoll', 0.99);
      await redis.hset(keys.task(`${running}.f0.t1`), 'auditRoll', 0.99);
      const first = Assignment.parse(await liar.client.next());
      const held = Assignment.parse(await honest.client.next());
      alive = setInterval(() => void honest.client.heartbeat([held.replica]).catch(() => undefined), 500);
      await uploadShade(liar.client, first, 3);
      await uploadShade(colluder.client, Assignment.parse(await colluder.client.next()), 3);
      const carriedTask = async () => (await tasksOf(running)).find((t) => t.replicas.some((r) => r.worker === liar.id)) as TaskView;
      expect(await carriedTask()).toMatchObject({ state: 'verified', anchored: false });

      // A known answer, rendered while the trusted worker is online for a moment.
      await submit({ ...oneTileJob(1), spp: 2, verification: 'credibility' });
      await uploadShade(truth.client, Assignment.parse(await truth.client.next()), 90);
      await offline();

      // The liar fails a check (standing in for a slot of real work) and is caught.
      await submit({ ...oneTileJob(1), spp: 3, verification: 'credibility' });
      await uploadShade(liar.client, Assignment.parse(await liar.client.next()), 3);
      const faultsOf = async (w: TestClient) => ((await (await fetch(`${own.farm.url}/api/workers/${w.id}`)).json()) as WorkerView).faults;
      await waitFor(async () => (await faultsOf(liar)) === 1, 5000, 'the liar to be caught');
      // The colluder alone still reaches θ, but the liar's newest verdicts need a result from outside
      // the group: the running job's tile is reopened for one. The finished jobs' stand: only keys
      // could render them again, a finished job holds no escrow to pay them, and they reach θ
      // without the liar (one that did not would be marked below θ: backtrack-pay.test.ts).
      await waitFor(async () => (await carriedTask()).state === 'pending', 5000, 'the running job’s tile to be reopened');
      const marked = [];
      for (const job of finished) {
        const [tile] = await tasksOf(job);
        expect(tile.state).toBe('verified');
        if (tile.belowThreshold) marked.push(job);
        expect((await (await own.operator(`/api/jobs/${job}`)).json()).state).toBe('done');
      }
      expect(marked).toEqual([]);
      // The honest worker passes its own check and renders the reopened tile.
      for (let i = 0; i < 40 && !(await carriedTask()).replicas.some((r) => r.worker === honest.id); i++)
        await uploadShade(honest.client, Assignment.parse(await honest.client.next()), 90);
      // Its result disputes the colluder's; the most-checked worker's stands after the grace.
      await waitFor(async () => (await carriedTask()).state === 'verified', 10_000, 'the dispute to be decided');
      const tile = await carriedTask();
      expect(tile).toMatchObject({ belowThreshold: true, anchored: false });
      expect(tile.replicas.find((r) => r.worker === honest.id)?.state).toBe('valid');
      expect(tile.replicas.find((r) => r.worker === colluder.id)?.state).toBe('overruled');
    } finally {
      clearInterval(alive);
      redis.disconnect();
      await own.stop();
    }
  });
});
