/**
 * Leases and heartbeats (orchestrator/lease-terms.ts): a bound replica's first lease is one
 * heartbeat interval longer than what a heartbeat renews, for a spot check as for a slot, so a
 * worker need not heart-beat a replica in its first interval; the agent sends no heartbeat for
 * replicas younger than that, and renews one it holds longer until its result is in.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leaseTerms } from '../orchestrator/lease-terms.ts';
import { keys } from '../orchestrator/state/keys.ts';
import type { Assignment, JobStatus, WorkerView } from '../shared/protocol.ts';
import { type ApiFarm, flatAgent, oneTileJob, startApiFarm, type TestClient, uploadShade } from './support/orchestrator.ts';

describe('lease terms', () => {
  it('heart-beat a third of the lease, and give a bound replica one interval more before its first', () => {
    expect(leaseTerms(30_000)).toEqual({ leaseMs: 30_000, heartbeatMs: 10_000, firstLeaseMs: 40_000 });
    // A lease too short for a sensible interval still gets one of 100 ms.
    expect(leaseTerms(200)).toEqual({ leaseMs: 200, heartbeatMs: 100, firstLeaseMs: 300 });
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
