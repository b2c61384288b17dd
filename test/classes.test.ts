/**
 * Determinism classes through the API: measured by calibration, established only by the
 * operator's trusted workers, provisional when nearly equal (checks only, judged within the
 * published tolerance), and credibility kept per (worker, class). An established class's answers
 * are kept once read; where they cannot be read, a calibration is told to try again (503).
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keys } from '../orchestrator/state/keys.ts';
import type { Assignment, CalibrationSpec, ClassList, WorkerView } from '../shared/protocol.ts';
import { maxRays } from '../shared/render-units.ts';
import { loadPrivateKey, newKeyPair, workerIdOf } from '../shared/signing.ts';
import { startAgent } from '../worker/agent.ts';
import { WorkerClient } from '../worker/client.ts';
import {
  type ApiFarm,
  CALIBRATION_SHADE,
  calibrateFlat,
  DEVICE,
  oneTileJob,
  startApiFarm,
  type TestClient,
  uploadShade,
} from './support/orchestrator.ts';

let api: ApiFarm;
let truth: TestClient;
beforeAll(async () => {
  api = await startApiFarm({ spotCheckRate: 0.05 });
  truth = await api.worker('truth', { trusted: true });
  // Two known answers in the pool.
  for (const spp of [1, 2]) {
    await api.operator('/api/jobs', { ...oneTileJob(1), spp });
    await uploadShade(truth.client, (await truth.client.next()) as Assignment, 90);
  }
});
afterAll(() => api.stop());

const classes = async () => (await (await fetch(`${api.farm.url}/api/classes`)).json()) as ClassList;
const view = async (id: string) => (await (await fetch(`${api.farm.url}/api/workers/${id}`)).json()) as WorkerView;

describe('determinism classes', () => {
  it('makes a near-but-not-equal worker provisional: checks only, judged within the tolerance', async () => {
    const near = await api.worker('near', { shade: CALIBRATION_SHADE - 1, stake: 100 });
    const listed = await classes();
    expect(listed.tolerance).toEqual({ levels: 2, share: 0.999 });
    const established = listed.classes.find((c) => c.established);
    const provisional = listed.classes.find((c) => !c.established);
    expect(provisional).toMatchObject({ near: established?.id });
    expect(await view(near.id)).toMatchObject({ classState: 'provisional', class: provisional?.id });

    // Its work is known answers of the class it is near; one pixel level off still passes.
    const first = (await near.client.next()) as Assignment;
    await uploadShade(near.client, first, 91);
    expect(await view(near.id)).toMatchObject({ valid: 1, passed: 1, faults: 0 });
    const second = (await near.client.next()) as Assignment;
    await uploadShade(near.client, second, 120);
    expect(await view(near.id)).toMatchObject({ invalid: 1, faults: 1, passed: 0, stake: 0 });
    // No queue was ever opened for it.
    const redis = new Redis(api.redisUrl);
    try {
      expect((await redis.keys(`bull:*${provisional?.id}*`)).length).toBe(0);
    } finally {
      redis.disconnect();
    }
  });

  it('pays a provisional worker’s passed check for the rays the verified render traced, whatever it claims', async () => {
    const own = await startApiFarm({ spotCheckRate: 1 });
    try {
      // A traded price, so that a check pays something, and a treasury to pay it from.
      const redis = new Redis(own.redisUrl);
      await redis.set(keys.marketTraded, 1_000_000);
      redis.disconnect();
      expect((await own.operator('/api/credits', { account: 'treasury', amount: 100 })).status).toBe(201);
      const truth = await own.worker('truth', { trusted: true });
      await own.operator('/api/jobs', { ...oneTileJob(1), spp: 4 });
      const traced = 2_000;
      await uploadShade(truth.client, (await truth.client.next()) as Assignment, 77, traced);
      // The same pixels as the class, another ray count in calibration: provisional, near it.
      const earned: number[] = [];
      for (const claimed of [traced, maxRays(16 * 16, 4)]) {
        const w = await own.worker(`claims-${claimed}`, { shade: null });
        const { calibration } = await w.client.register(`claims-${claimed}`, DEVICE);
        await calibrateFlat(w.client, calibration as NonNullable<typeof calibration>, CALIBRATION_SHADE, 1);
        expect((await (await fetch(`${own.farm.url}/api/workers/${w.id}`)).json()) as WorkerView).toMatchObject({
          classState: 'provisional',
        });
        expect(await uploadShade(w.client, (await w.client.next()) as Assignment, 77, claimed)).toBe('accepted');
        const v = (await (await fetch(`${own.farm.url}/api/workers/${w.id}`)).json()) as WorkerView;
        expect(v.passed).toBe(1);
        earned.push(v.earned);
      }
      // 2,000 rays at 1 µc each, less the 2 % fee, as a requester's tile would pay: a check's
      // earnings look like any other's.
      expect(earned[0]).toBe(0.00196);
      expect(earned[1]).toBe(earned[0]);

      // A check handed out exactly stays exact: recalibrating into the provisional class while
      // holding it does not buy the tolerance.
      await own.operator('/api/jobs', { ...oneTileJob(1), spp: 2 });
      const switcher = await own.worker('switcher');
      const check = (await switcher.client.next()) as Assignment;
      const { calibration } = await switcher.client.register('switcher', DEVICE);
      await calibrateFlat(switcher.client, calibration as NonNullable<typeof calibration>, CALIBRATION_SHADE, 1);
      await uploadShade(switcher.client, check, 78);
      expect((await (await fetch(`${own.farm.url}/api/workers/${switcher.id}`)).json()) as WorkerView).toMatchObject({
        classState: 'provisional',
        passed: 0,
        invalid: 1,
      });
    } finally {
      await own.stop();
    }
  });

  it('establishes a class when the operator’s worker calibrates into it, and keeps credibility per class', async () => {
    const mover = await api.worker('mover', { stake: 100 });
    // While real work waits, a newcomer's first replica is a known answer: a check in this class.
    await api.operator('/api/jobs', { ...oneTileJob(1), width: 32, spp: 3 });
    await uploadShade(truth.client, (await truth.client.next()) as Assignment, 90);
    const check = (await mover.client.next()) as Assignment;
    await uploadShade(mover.client, check, 90);
    expect(await view(mover.id)).toMatchObject({ passed: 1, classState: 'established' });
    const first = (await view(mover.id)).class;

    // The operator's second machine measures differently: a new established class.
    const second = await api.worker('second-truth', { trusted: true, shade: CALIBRATION_SHADE + 40 });
    expect(await view(second.id)).toMatchObject({ classState: 'established', trusted: true });
    expect((await classes()).classes.filter((c) => c.established)).toHaveLength(2);

    // The worker moves to that class (a restart on other hardware): no credibility there yet …
    const again = await mover.client.register('mover', DEVICE);
    await calibrateFlat(mover.client, again.calibration as NonNullable<typeof again.calibration>, CALIBRATION_SHADE + 40);
    expect(await view(mover.id)).toMatchObject({ passed: 0, classState: 'established', credibility: 0.5 });
    expect((await view(mover.id)).class).not.toBe(first);
    // … and back: what it earned in the first class is still its own.
    const back = await mover.client.register('mover', DEVICE);
    await calibrateFlat(mover.client, back.calibration as NonNullable<typeof back.calibration>, CALIBRATION_SHADE);
    expect(await view(mover.id)).toMatchObject({ passed: 1, class: first });
  });
  it("keeps an established class's answers for the calibrations after, and answers 503 where they cannot be read", async () => {
    const client = (url: string) => {
      const { privateKeyPem, publicKeyDer } = newKeyPair();
      return new WorkerClient(url, { id: workerIdOf(publicKeyDer), key: loadPrivateKey(privateKeyPem).key, publicKeyDer });
    };
    const first = client(api.farm.url);
    const spec = (await first.register('kept', DEVICE)).calibration as CalibrationSpec;
    expect((await calibrateFlat(first, spec, CALIBRATION_SHADE)).classState).toBe('established');
    // Every established class's answers gone from the blob store (a calibration is compared with
    // each): this orchestrator compares against what it kept.
    const blob = (data: string, cid: string) => join(data, 'blobs', cid.slice(-2), cid);
    const answers = new Set((await classes()).classes.filter((c) => c.established).flatMap((c) => c.answers));
    const bytes = new Map([...answers].map((cid) => [cid, readFileSync(blob(join(api.dir, 'data'), cid))]));
    for (const cid of answers) rmSync(blob(join(api.dir, 'data'), cid));
    const second = client(api.farm.url);
    await second.register('after-loss', DEVICE);
    expect((await calibrateFlat(second, spec, CALIBRATION_SHADE)).classState).toBe('established');
    // Another orchestrator, whose store never had them, cannot compare yet: try again, not a fault.
    const before = new Set(readdirSync(api.dir));
    const other = await api.another();
    const otherDir = join(api.dir, readdirSync(api.dir).find((d) => !before.has(d)) as string);
    const flat = (t: { width: number; height: number }) => ({
      ...t,
      rgba: new Uint8Array(t.width * t.height * 4).fill(CALIBRATION_SHADE),
      rays: 0,
    });
    try {
      const third = client(other.url);
      await third.register('elsewhere', DEVICE);
      await expect(calibrateFlat(third, spec, CALIBRATION_SHADE)).rejects.toMatchObject({ status: 503 });
      // A worker calibrating there tries again until the answers can be read (here: once they are in its store).
      const { privateKeyPem, publicKeyDer } = newKeyPair();
      const agent = await startAgent({
        orchestrator: other.url,
        identity: { id: workerIdOf(publicKeyDer), key: loadPrivateKey(privateKeyPem).key, publicKeyDer },
        name: 'patient',
        log: pino({ level: 'silent' }),
        producer: { device: DEVICE, produce: async (order) => flat(order.tile) },
      });
      try {
        await new Promise((r) => setTimeout(r, 1500));
        expect((await view(agent.id)).classState).not.toBe('established');
        for (const [cid, answer] of bytes) {
          mkdirSync(dirname(blob(otherDir, cid)), { recursive: true });
          writeFileSync(blob(otherDir, cid), answer);
        }
        await expect.poll(async () => (await view(agent.id)).classState, { timeout: 10_000 }).toBe('established');
      } finally {
        await agent.stop();
      }
    } finally {
      await other.close();
    }
  });

  it('takes at most calibrationsPerHour calibrations from a key: each stores its answers, kept an hour', async () => {
    const own = await startApiFarm({ calibrationsPerHour: 2 });
    try {
      // Registration's calibration is the first; a key re-sending near misses stored three blobs each time.
      const flooder = await own.worker('flooder', { stake: 0 });
      const spec = (await flooder.client.calibration()) as CalibrationSpec;
      expect((await calibrateFlat(flooder.client, spec, CALIBRATION_SHADE + 1)).classState).toBeDefined();
      const blobs = () => readdirSync(join(own.dir, 'data', 'blobs'), { recursive: true }).length;
      const stored = blobs();
      await expect(calibrateFlat(flooder.client, spec, CALIBRATION_SHADE + 2)).rejects.toMatchObject({ status: 429 });
      expect(blobs()).toBe(stored);
      // Another key's are its own.
      const other = await own.worker('other', { stake: 0 });
      expect((await calibrateFlat(other.client, spec, CALIBRATION_SHADE)).classState).toBeDefined();
    } finally {
      await own.stop();
    }
  });

  it('takes at most calibrationsPerAddressPerHour from an address, however many keys it registers', async () => {
    const own = await startApiFarm({ calibrationsPerAddressPerHour: 3 });
    try {
      // Each registers and calibrates once: the farm's anchor, then two more, the address's last.
      for (const name of ['first', 'second']) await own.worker(name, { stake: 0 });
      const fresh = await own.worker('fresh', { stake: 0, shade: null });
      const spec = (await fresh.client.calibration()) as CalibrationSpec;
      await expect(calibrateFlat(fresh.client, spec, CALIBRATION_SHADE)).rejects.toMatchObject({ status: 429 });
    } finally {
      await own.stop();
    }
  });
});
