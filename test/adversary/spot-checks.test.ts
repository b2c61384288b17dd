import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keys } from '../../orchestrator/state/keys.ts';
import { canonicalCid } from '../../shared/image.ts';
import { type Assignment, Ids, type WorkerView } from '../../shared/protocol.ts';
import { WorkerClient } from '../../worker/client.ts';
import { type ApiFarm, nextAssignment, oneTileJob, startApiFarm, type TestClient, uploadShade } from '../support/orchestrator.ts';
import { shippedRaw } from '../support/scenes.ts';

let api: ApiFarm;
let truth: TestClient;
const LEASE_MS = 800;

const view = async (id: string) =>
  (await (await fetch(`${api.farm.url}/api/workers/${id}`)).json()) as WorkerView & { evidence: Record<string, unknown>[] };
const workerView = async (farm: ApiFarm, id: string) => (await (await fetch(`${farm.farm.url}/api/workers/${id}`)).json()) as WorkerView;
const get = (path: string) => fetch(`${api.farm.url}${path}`).then((r) => r.json());

/** The trusted worker renders one tile: one more known answer, which serves as a check once. */
async function knownAnswer(): Promise<string> {
  const a = (await truth.client.next()) as Assignment;
  await uploadShade(truth.client, a, 90);
  return canonicalCid({
    width: a.tile.width,
    height: a.tile.height,
    rgba: new Uint8Array(a.tile.width * a.tile.height * 4).fill(90),
    rays: 0,
  });
}

beforeAll(async () => {
  api = await startApiFarm({ spotCheckRate: 0.05, leaseMs: LEASE_MS, stakePerReplica: 5 });
  truth = await api.worker('truth', { trusted: true });
  // Real work waiting (64 tiles): spot checks are handed out only when a worker could take some.
  await api.operator('/api/jobs', { ...oneTileJob(1), width: 128, height: 128, spp: 2 });
});
afterAll(() => api.stop());

describe('spot checks cannot be told apart', () => {
  it('look like real replicas: same fields, opaque random ids, same deadline, same counters', async () => {
    await knownAnswer();
    const checked = await api.worker('checked', { stake: 10 });
    const spot = (await checked.client.next()) as Assignment; // a newcomer's first replica is a known answer
    const afterSpot = await view(checked.id);
    await uploadShade(checked.client, spot, 90);
    // The one known answer is used up for this worker: its next replica is real work.
    const real = (await checked.client.next()) as Assignment;
    const afterReal = await view(checked.id);
    expect(Object.keys(spot).sort()).toEqual(Object.keys(real).sort());
    for (const a of [spot, real]) {
      expect(Ids.replica.safeParse(a.replica).success).toBe(true);
      expect(a.deadline - Date.now()).toBeGreaterThan(50_000);
    }
    // Counters move the same way while each is held: in flight, and stake locked behind it.
    expect(afterSpot).toMatchObject({ inFlight: 1, locked: 5 });
    expect(afterReal).toMatchObject({ inFlight: 1, locked: 5 });
    // Both are judged as replicas: the spot check counts as valid, nothing says "spot check".
    const publicView = await view(checked.id);
    expect(publicView.valid).toBe(1);
    expect(Object.keys(publicView).some((k) => /spot/i.test(k))).toBe(false);
    await uploadShade(checked.client, real, 90);
  });

  it('are not handed out when no real work waits, so their arrival says nothing', async () => {
    const own = await startApiFarm({ spotCheckRate: 1, pollMs: 300 });
    try {
      const anchor = await own.worker('truth', { trusted: true });
      await own.operator('/api/jobs', oneTileJob(1));
      await uploadShade(anchor.client, (await anchor.client.next()) as Assignment, 90);
      // The pool has a known answer, the farm is idle: a newcomer's poll finds nothing at all.
      const idle = await own.worker('idle', { stake: 10 });
      expect(await idle.client.next()).toBeUndefined();
    } finally {
      await own.stop();
    }
  });

  it('are judged when a real replica of a worker of the same standing would be, never at their upload', async () => {
    const own = await startApiFarm({ spotCheckRate: 1, stakePerReplica: 5 });
    // A second orchestrator on the same Redis, gone before the verdict it owed: nothing is lost.
    const other = await own.another();
    try {
      const anchor = await own.worker('truth', { trusted: true });
      const first = await own.worker('first', { stake: 10 });
      // A newcomer's real result waits 700 ms for the trusted one: the verdict latency of its
      // standing (no checks passed yet) in this class. No known answer exists yet to check it with.
      await own.operator('/api/jobs', oneTileJob(2));
      const mine = await nextAssignment(first.client);
      const theirs = await nextAssignment(anchor.client);
      const rays = 256;
      await uploadShade(first.client, mine, 90, rays);
      await sleep(700);
      await uploadShade(anchor.client, theirs, 90, rays);
      const real = await workerView(own, first.id);
      expect(real).toMatchObject({ valid: 1, passed: 1 });

      // That tile is now a known answer; real work waits, so newcomers get it as their check.
      await own.operator('/api/jobs', oneTileJob(1));
      const answer = async (client: WorkerClient, a: Assignment) => {
        const result = {
          width: a.tile.width,
          height: a.tile.height,
          rgba: new Uint8Array(a.tile.width * a.tile.height * 4).fill(90),
          rays,
        };
        return client.upload(a.replica, await canonicalCid(result), result);
      };
      const newcomer = await own.worker('newcomer', { stake: 10 });
      const check = await nextAssignment(newcomer.client);
      const uploaded = Date.now();
      expect(await answer(newcomer.client, check)).toBe('accepted');
      // A heartbeat that read the check as held just before the upload renews its lease after
      // it: the verdict's due time is no lease, and does not move.
      const redis = new Redis(own.redisUrl);
      await redis.zadd(keys.spotLeases, 'XX', Date.now() + 60_000, check.replica);
      redis.disconnect();
      // Nothing of the verdict shows at the upload, nor after uploading again: it is held, like
      // the newcomer's real result was, for a latency drawn from that standing's real verdicts
      // (scaled by 0.5–1.5, so that none repeats exactly).
      expect(await answer(newcomer.client, check)).toBe('duplicate');
      const waiting = { valid: 0, passed: 0, inFlight: 0, locked: 5 };
      expect(await workerView(own, newcomer.id)).toMatchObject(waiting);
      await expect
        .poll(() => workerView(own, newcomer.id), { timeout: 10_000, interval: 20 })
        .toMatchObject({ valid: 1, passed: 1, locked: 0 });
      expect(Date.now() - uploaded).toBeGreaterThanOrEqual(350);
      // Its work counts in the public RU as a real replica's does (not only in `passed`).
      expect((await workerView(own, newcomer.id)).ru).toBe(real.ru);

      const late = await own.worker('late', { stake: 10 });
      const viaOther = new WorkerClient(other.url, late.identity);
      const second = await nextAssignment(viaOther);
      expect(await answer(viaOther, second)).toBe('accepted');
      await other.close();
      expect(await workerView(own, late.id)).toMatchObject(waiting);
      // The sweeper judges it when due, wherever it was uploaded.
      await expect.poll(() => workerView(own, late.id), { timeout: 10_000 }).toMatchObject({ valid: 1, passed: 1, locked: 0 });
    } finally {
      await other.close();
      await own.stop();
    }
  });

  it('come from the frames real work comes from, whose tiles are handed out in no order', async () => {
    const own = await startApiFarm({ spotCheckRate: 1, stakePerReplica: 5 });
    try {
      const anchor = await own.worker('truth', { trusted: true });
      // Eight known answers from a job that has finished.
      await own.operator('/api/jobs', { ...oneTileJob(1), width: 64, height: 32 });
      for (let i = 0; i < 8; i++) await uploadShade(anchor.client, await nextAssignment(anchor.client), 90);
      // A running job of two frames of ten tiles: frame 0 all known, frame 1 one tile known.
      await own.operator('/api/jobs', { ...oneTileJob(1), scene: shippedRaw('bounce'), frames: '0-1', width: 80, height: 32 });
      const given: Assignment[] = [];
      for (let i = 0; i < 11; i++) {
        given.push(await nextAssignment(anchor.client));
        await uploadShade(anchor.client, given[i], 90);
      }
      expect(given.map((a) => a.frame)).toEqual([...Array(10).fill(0), 1]);
      // A frame's tiles are not handed out in their order (one chance in 10! that they are).
      const places = given.slice(0, 10).map((a) => a.tile.y * 80 + a.tile.x);
      expect(places).not.toEqual([...places].sort((a, b) => a - b));
      for (let i = 0; i < 6; i++) {
        const w = await own.worker(`newcomer${i}`, { stake: 10 });
        const check = await nextAssignment(w.client);
        expect([check.scene, check.frame]).toEqual([given[10].scene, 1]);
      }
    } finally {
      await own.stop();
    }
  });

  it('come from the frame of the slot they stand in for, not from the job whose tiles were verified last', async () => {
    const own = await startApiFarm({ spotCheckRate: 1, stakePerReplica: 5 });
    try {
      const anchor = await own.worker('truth', { trusted: true });
      // Job A (first in the queue: higher priority) has 4 of its 10 tiles known; job B, rendered
      // while A was paused, 9 of 10: the pool's newest tiles are all B's.
      const submit = async (job: object) => ((await (await own.operator('/api/jobs', job)).json()) as { id: string }).id;
      const a = await submit({ ...oneTileJob(1), scene: shippedRaw('bounce'), frames: '0', width: 80, height: 32, priority: 80 });
      const fromA: Assignment[] = [];
      for (let i = 0; i < 4; i++) {
        fromA.push(await nextAssignment(anchor.client));
        await uploadShade(anchor.client, fromA[i], 90);
      }
      expect((await own.operator(`/api/jobs/${a}/pause`, {})).status).toBe(200);
      await submit({ ...oneTileJob(1), width: 80, height: 32, priority: 20 });
      for (let i = 0; i < 9; i++) await uploadShade(anchor.client, await nextAssignment(anchor.client), 90);
      expect((await own.operator(`/api/jobs/${a}/resume`, {})).status).toBe(200);
      for (let i = 0; i < 4; i++) {
        const w = await own.worker(`newcomer${i}`, { stake: 10 });
        // Its check stands in for one of A's waiting slots: it is one of A's known tiles.
        expect((await nextAssignment(w.client)).scene).toBe(fromA[0].scene);
      }
    } finally {
      await own.stop();
    }
  });

  it('serve only the scenes of replicas a worker holds, and never a result', async () => {
    const knownCid = await knownAnswer();
    const w = await api.worker('fetcher', { stake: 10 });
    const a = (await w.client.next()) as Assignment;
    expect(await w.client.scene(a.scene)).toHaveProperty('render');
    // The verified pixels of a tile in the pool, whose CID a requester or evidence might show.
    await expect(w.client.scene(knownCid)).rejects.toMatchObject({ status: 404 });
    const other = await api.worker('other', { stake: 10 });
    await expect(other.client.scene(a.scene)).rejects.toMatchObject({ status: 404 });
    await expect(other.client.scene('not-a-cid')).rejects.toMatchObject({ status: 400 });
    await uploadShade(w.client, a, 90);
  });

  it('leave public evidence without the hashes of tiles in the pool', async () => {
    const knownCid = await knownAnswer();
    const liar = await api.worker('liar', { stake: 10 });
    const trap = (await liar.client.next()) as Assignment;
    await uploadShade(liar.client, trap, 3);
    const caught = await view(liar.id);
    // Caught against ground truth, recorded like any disagreement, with its own hash only.
    expect(caught).toMatchObject({ faults: 1, invalid: 1, stake: 0 });
    expect(caught.evidence).toHaveLength(1);
    expect(caught.evidence[0]).toMatchObject({ kind: 'outvoted' });
    expect(JSON.stringify(caught.evidence)).not.toContain(knownCid);
    const board = (await get('/api/workers?limit=500')) as { workers: unknown[] };
    const details = await Promise.all((board.workers as WorkerView[]).map((w) => view(w.id)));
    expect(JSON.stringify(details)).not.toContain(knownCid);
    expect(JSON.stringify(await get(`/api/workers/${liar.id}/ledger`))).not.toContain(knownCid);
    // Ledgers are timed to the minute: another worker's entry at the same millisecond (a verdict
    // pays its whole group at once) told a real replica's verdict from a check's.
    const entries = ((await get(`/api/workers/${liar.id}/ledger`)) as { entries: { at: number }[] }).entries;
    expect(entries.length).toBeGreaterThan(0);
    for (const e of entries) expect(e.at % 60_000).toBe(0);
    // Queue depths and spot-check counts are the operator's: /metrics wants its token.
    expect((await fetch(`${api.farm.url}/metrics`)).status).toBe(401);
  });

  it('count an ignored spot check as a missed deadline, like an ignored replica', async () => {
    await knownAnswer();
    const sleeper = await api.worker('sleeper', { stake: 10 });
    const spot = (await sleeper.client.next()) as Assignment;
    // No heartbeat: its lease lapses.
    await expect.poll(async () => (await view(sleeper.id)).timedOut, { timeout: 10_000 }).toBe(1);
    expect(await view(sleeper.id)).toMatchObject({ inFlight: 0, locked: 0, stake: 9.5 });
    const ledger = (await get(`/api/workers/${sleeper.id}/ledger`)) as { entries: { kind: string; amount: number; ref: string }[] };
    expect(ledger.entries[0]).toMatchObject({ kind: 'penalty', amount: -0.5, ref: spot.replica });

    // A real replica left alone costs the same (a farm with spot checks off, so it is surely real).
    const plain = await startApiFarm({ spotCheckRate: 0, leaseMs: LEASE_MS, stakePerReplica: 5 });
    try {
      await plain.operator('/api/jobs', oneTileJob(1));
      const idle = await plain.worker('idle', { stake: 10 });
      const real = (await idle.client.next()) as Assignment;
      const seen = async () => (await (await fetch(`${plain.farm.url}/api/workers/${idle.id}`)).json()) as WorkerView;
      await expect.poll(async () => (await seen()).timedOut, { timeout: 10_000 }).toBe(1);
      expect(await seen()).toMatchObject({ inFlight: 0, locked: 0, stake: 9.5 });
      const entries = ((await (await fetch(`${plain.farm.url}/api/workers/${idle.id}/ledger`)).json()) as typeof ledger).entries;
      expect(entries[0]).toMatchObject({ kind: 'penalty', amount: -0.5, ref: real.replica });
    } finally {
      await plain.stop();
    }
  });
});
