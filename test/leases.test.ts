/**
 * Leases and heartbeats (orchestrator/lease-terms.ts): a bound replica's first lease is one
 * heartbeat interval longer than what a heartbeat renews, for a spot check as for a slot, so a
 * worker need not heart-beat a replica in its first interval; the agent sends no heartbeat for
 * replicas younger than that, and renews one it holds longer until its result is in. A lease
 * ends at its replica's deadline, and a lapsed one is no longer held wherever that matters (an
 * upload, a heartbeat, the gateway, a hand-back), a spot check's and a real replica's alike.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leaseTerms } from '../orchestrator/lease-terms.ts';
import { keys } from '../orchestrator/state/keys.ts';
import type { Assignment, JobStatus, TaskView, WorkerView } from '../shared/protocol.ts';
import { Pace } from '../worker/pace.ts';
import { type ApiFarm, flatAgent, oneTileJob, startApiFarm, type TestClient, uploadShade } from './support/orchestrator.ts';

describe('lease terms', () => {
  it('heart-beat a third of the lease, and give a bound replica one interval more before its first', () => {
    expect(leaseTerms(30_000)).toEqual({ leaseMs: 30_000, heartbeatMs: 10_000, firstLeaseMs: 40_000 });
    // A lease too short for a sensible interval still gets one of 100 ms.
    expect(leaseTerms(200)).toEqual({ leaseMs: 200, heartbeatMs: 100, firstLeaseMs: 300 });
  });
});

describe('a render’s pace', () => {
  it('projects its end from the reports after the first (which carries the compile), once they differ', () => {
    const pace = new Pace();
    expect(pace.report(1000, 1, 10)).toBeUndefined();
    expect(pace.report(1000, 1, 10)).toBeUndefined();
    expect(pace.report(1500, 1, 10)).toBeUndefined();
    // 1 of 10 done at 1 s (after a slow compile), 3 at 2 s: 2 a second from then on, so 7 more take 3.5 s.
    expect(pace.report(2000, 3, 10)).toBe(5500);
    expect(pace.report(3000, 5, 10)).toBe(5500);
  });
});

describe('a bound replica', () => {
  const { leaseMs, firstLeaseMs } = leaseTerms(30_000);
  let api: ApiFarm;
  let redis: Redis;
  let truth: TestClient;
  beforeAll(async () => {
    api = await startApiFarm({ spotCheckRate: 0.05, leaseMs, stakePerReplica: 5 });
    redis = new Redis(api.redisUrl);
    truth = await api.worker('truth', { trusted: true });
    // Real work waiting: a spot check is handed out only in place of a slot the worker could take.
    await api.operator('/api/jobs', { ...oneTileJob(1), width: 128, height: 128, spp: 2 });
  });
  afterAll(async () => {
    redis.disconnect();
    await api.stop();
  });

  /** How long the lease of a slot the worker holds has left: its BullMQ lock, whose token is the worker's id. */
  async function slotLeaseLeft(worker: string): Promise<number> {
    const locks = await redis.keys('*:lock');
    const mine = [];
    for (const key of locks) if ((await redis.get(key)) === worker) mine.push(key);
    expect(mine).toHaveLength(1);
    return redis.pttl(mine[0]);
  }
  const spotLeaseLeft = async (rid: string) => Number(await redis.zscore(keys.spotLeases, rid)) - Date.now();

  it('has a first lease one heartbeat interval longer than a renewal, a spot check as a slot', async () => {
    // One known answer: a newcomer's first replica is a spot check, its next real work.
    await uploadShade(truth.client, (await truth.client.next()) as Assignment, 90);
    const checked = await api.worker('checked', { stake: 10 });
    const spot = (await checked.client.next()) as Assignment;
    const spotLeft = await spotLeaseLeft(spot.replica);
    expect(spotLeft).toBeGreaterThan(leaseMs);
    expect(spotLeft).toBeLessThanOrEqual(firstLeaseMs);
    await uploadShade(checked.client, spot, 90);
    const real = (await checked.client.next()) as Assignment;
    const realLeft = await slotLeaseLeft(checked.id);
    expect(realLeft).toBeGreaterThan(leaseMs);
    expect(realLeft).toBeLessThanOrEqual(firstLeaseMs);

    // A heartbeat renews it for a lease from then: not for the first lease again.
    await checked.client.heartbeat([real.replica]);
    const renewed = await slotLeaseLeft(checked.id);
    expect(renewed).toBeLessThanOrEqual(leaseMs);
    expect(renewed).toBeGreaterThan(leaseMs - 5000);
    await uploadShade(checked.client, real, 90);
  });
});

describe('a lease that lapsed', () => {
  // A lease of 6 s (a heartbeat every 2 s) and a task timeout of 8 s, so that a renewal before the
  // deadline would reach past it; the defaults differ only in scale.
  let api: ApiFarm;
  let redis: Redis;
  beforeAll(async () => {
    api = await startApiFarm({ spotCheckRate: 0.05, leaseMs: 6000, taskTimeoutMs: 8000, stakePerReplica: 5 });
    redis = new Redis(api.redisUrl);
    const truth = await api.worker('truth', { trusted: true });
    await api.operator('/api/jobs', { ...oneTileJob(1), width: 128, height: 128, spp: 2 });
    // One known answer: a newcomer's first replica is a spot check, its next real work.
    await uploadShade(truth.client, (await truth.client.next()) as Assignment, 90);
  });
  afterAll(async () => {
    redis.disconnect();
    await api.stop();
  });

  const isSpot = async (rid: string) => {
    const [task, n] = ((await redis.get(keys.replica(rid))) as string).split(' ');
    return (JSON.parse((await redis.hget(keys.taskReplicas(task), n)) as string) as { spot?: boolean }).spot === true;
  };

  /** What a key can learn of a replica by renewing it just before its deadline and trying it just after. */
  async function probe(w: TestClient, a: Assignment) {
    await sleep(a.deadline - 2000 - Date.now());
    await w.client.heartbeat([a.replica]);
    await sleep(a.deadline + 1000 - Date.now());
    const gateway = await w.client.blob(a.scene).then(
      () => 200,
      (e: { status: number }) => e.status,
    );
    const upload = await uploadShade(w.client, a, 7).catch((e: { status: number; message: string }) => `${e.status} ${e.message}`);
    return { gateway, upload: upload.replaceAll(a.replica, '<replica>') };
  }

  it('ends a spot check and a real replica alike, at the deadline, whenever the sweep gets to either', async () => {
    const w = await api.worker('prober', { stake: 10 });
    const check = (await w.client.next()) as Assignment;
    expect(await isSpot(check.replica)).toBe(true);
    const onCheck = await probe(w, check);
    const real = (await w.client.next()) as Assignment;
    expect(await isSpot(real.replica)).toBe(false);
    const onReal = await probe(w, real);
    // The real slot's lease is no longer than its deadline, though BullMQ's stalled check comes later.
    expect(onReal).toEqual(onCheck);
    expect(onCheck.gateway).toBe(404);
    expect(onCheck.upload).toMatch(/^409 .*no longer held \(timedout\)/);
    expect((await (await fetch(`${api.farm.url}/api/workers/${w.id}`)).json()) as WorkerView).toMatchObject({ valid: 0, invalid: 0 });
  }, 40_000);
});

describe('the agent', () => {
  // A heartbeat every 2 s, a first lease of 8 s: a tile's round trip on a loaded machine stays well inside an interval.
  const { leaseMs, heartbeatMs, firstLeaseMs } = leaseTerms(6000);
  let api: ApiFarm;
  beforeAll(async () => {
    api = await startApiFarm({ leaseMs });
  });
  afterAll(() => api.stop());

  /** Renders `tiles` flat tiles of a new job, each taking `renderMs`; resolves with the heartbeats that named a replica. */
  async function renderCounting(tiles: number, renderMs: number): Promise<{ heartbeats: number; job: JobStatus; worker: WorkerView }> {
    const { id } = (await (await api.operator('/api/jobs', { ...oneTileJob(1), width: 16 * tiles })).json()) as { id: string };
    let heartbeats = 0;
    const send = globalThis.fetch;
    globalThis.fetch = (input, init) => {
      if (String(input).endsWith('/api/work/heartbeat') && JSON.parse(String(init?.body)).replicas.length > 0) heartbeats++;
      return send(input, init);
    };
    const agent = await flatAgent(api.farm.url, `renders-in-${renderMs}`, {}, renderMs);
    try {
      const status = async () => (await (await api.operator(`/api/jobs/${id}`)).json()) as JobStatus;
      await expect.poll(async () => (await status()).state, { timeout: tiles * renderMs + 20_000 }).toBe('done');
      const worker = (await (await fetch(`${api.farm.url}/api/workers/${agent.id}`)).json()) as WorkerView;
      return { heartbeats, job: await status(), worker };
    } finally {
      globalThis.fetch = send;
      await agent.stop();
    }
  }

  it('sends no heartbeat for replicas younger than a heartbeat interval', async () => {
    // Forty tiles of a twentieth of an interval each: the agent holds one for two intervals or more in all.
    const { heartbeats, job } = await renderCounting(40, heartbeatMs / 20);
    expect(job.tilesVerified).toBe(40);
    expect(heartbeats).toBe(0);
  });

  it('hands back a replica it cannot finish before its deadline as soon as its pace says so, not at the deadline', async () => {
    // A task timeout of 3 s and a render of 20 steps of 0.4 s: the pace of its first steps says it
    // would end past the deadline. Rendered to the end, its result had come late, the replica
    // timed out (a missed deadline's penalty for a key of no standing) and the tile waited the
    // whole timeout for another worker.
    const late = await startApiFarm({ leaseMs, taskTimeoutMs: 3000 });
    const { id } = (await (await late.operator('/api/jobs', oneTileJob(1))).json()) as { id: string };
    let steps = 0;
    const agent = await flatAgent(late.farm.url, 'too-slow', { onEvent: (e) => void (e.kind === 'progress' && steps++) }, 8000, 20);
    try {
      const replicas = async () =>
        ((await (await late.operator(`/api/jobs/${id}/tasks?frame=0`)).json()) as { tasks: TaskView[] }).tasks[0].replicas;
      await expect.poll(async () => (await replicas()).map((r) => r.state), { timeout: 10_000 }).toEqual(['handedback']);
      expect(steps).toBeLessThan(5);
      expect((await (await fetch(`${late.farm.url}/api/workers/${agent.id}`)).json()) as WorkerView).toMatchObject({ timedOut: 0 });
    } finally {
      await agent.stop();
      await late.stop();
    }
  });

  it('renews a replica it holds past its first lease, until its result is in', async () => {
    // Past its first lease (longer than a lease): only renewals keep it.
    const renderMs = firstLeaseMs + heartbeatMs;
    const { heartbeats, job, worker } = await renderCounting(1, renderMs);
    expect(job.tilesVerified).toBe(1);
    expect(worker).toMatchObject({ timedOut: 0, valid: 1 });
    // From its second interval on, one an interval (a lost one would leave the lease to the next).
    expect(heartbeats).toBeGreaterThanOrEqual(Math.floor((renderMs - heartbeatMs) / heartbeatMs) - 1);
    expect(heartbeats).toBeLessThanOrEqual(Math.ceil(renderMs / heartbeatMs) + 1);
  });
});
