/**
 * Attacks with many keys against a real farm (Redis, orchestrator and honest worker processes):
 * inventing a device class to define its own truth, outvoting honest workers with free
 * identities, and farming credibility from acceptances below threshold.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { canonicalCid } from '../../shared/image.ts';
import { decodeRgba } from '../../shared/png.ts';
import type { ClassList, TaskView, WorkerView } from '../../shared/protocol.ts';
import { type Answers, Attacker, cidsOf, flat, renderCalibration } from '../support/adversary.ts';
import { TestFarm } from '../support/farm.ts';
import { renderWithCli } from '../support/render-cli.ts';
import { ROOT, shippedRaw } from '../support/scenes.ts';

const JOB = { scene: shippedRaw('cornell'), width: 64, height: 32, spp: 2, tileSize: 16 };

let farm: TestFarm | undefined;
let attackers: Attacker[] = [];
afterEach(async () => {
  await Promise.all(attackers.map((a) => a.stop()));
  attackers = [];
  await farm?.stop();
  farm = undefined;
});

async function join(f: TestFarm, count: number, answers: Answers, device = 'farm-pt/1+webasm'): Promise<Attacker> {
  const attacker = await Attacker.join(f.url, count, {
    answers,
    device,
    stake: 100,
    grant: async (id, credits) => void (await f.client.call('POST', '/api/credits', { account: id, amount: credits })),
  });
  attackers.push(attacker);
  return attacker;
}

const workerView = async (f: TestFarm, id: string) =>
  (await (await fetch(`${f.url}/api/workers/${id}`)).json()) as WorkerView & { evidence: { kind: string }[] };

async function framesMatchTruth(f: TestFarm, id: string): Promise<void> {
  const truth = await renderWithCli(`${ROOT}scenes/cornell.json`, 0, '64x32', 2);
  const frame = await decodeRgba(await f.client.download(`/api/jobs/${id}/frames/0`));
  expect(Buffer.from(frame.rgba).equals(Buffer.from(truth))).toBe(true);
}

describe('device classes are measured, not declared', () => {
  it('refuses invented answers, files a false claim under the class it measures, and black tiles never pass', async () => {
    farm = await TestFarm.start({ spotCheckRate: 0.05 });
    const truth = await farm.startWorker('truth');
    const honestClass = (await farm.worker(truth.id))?.class;
    const answers = await renderCalibration(farm.url);

    // Seven keys claim a new GPU and answer the calibration with what such a GPU "renders".
    const black = answers.tiles.map((t) => ({ rgba: new Uint8Array(t.rgba.length), rays: t.rays }));
    const inventors = await join(
      farm,
      7,
      { spec: answers.spec, tiles: black, cids: await cidsOf(answers.spec, black) },
      'invented-gpu/9000',
    );
    for (const k of inventors.keys) expect(k.calibrated.classState).toBe('refused');

    // Seven keys claim the same GPU but copy honest answers: measured, they are webasm workers.
    const copiers = await join(farm, 7, answers, 'invented-gpu/9000');
    for (const k of copiers.keys) expect(k.calibrated).toMatchObject({ classState: 'established', class: honestClass });
    const classes = (await (await fetch(`${farm.url}/api/classes`)).json()) as ClassList;
    expect(classes.classes.map((c) => c.id)).toEqual([honestClass]);

    // They return black tiles for everything.
    copiers.run(async (a) => flat(a, 0));
    inventors.run(async (a) => flat(a, 0));
    const { id } = await farm.client.submit(JOB);
    await farm.waitForJob(id, 120_000);
    await framesMatchTruth(farm, id);
    const tasks: TaskView[] = await farm.tasks(id, 0);
    const blackCids = new Set(
      await Promise.all(
        tasks.map((t) =>
          canonicalCid({ width: t.rect.width, height: t.rect.height, rgba: new Uint8Array(t.rect.width * t.rect.height * 4), rays: 0 }),
        ),
      ),
    );
    for (const t of tasks) {
      expect(blackCids.has(t.cid as string)).toBe(false);
      expect(t.belowThreshold).toBe(false);
    }
    for (const key of copiers.keys) {
      const w = await workerView(farm, key.id);
      expect(w.valid).toBe(0);
      if (w.invalid > 0) expect(w).toMatchObject({ stake: 0, passed: 0 });
    }
    expect(inventors.seen.size).toBe(7);
    for (const seen of inventors.seen.values()) expect(seen).toHaveLength(0);
  });
});

describe('free identities', () => {
  it('cannot outvote honest untrusted workers, who are never marked faulty, with or without a trusted worker online', async () => {
    farm = await TestFarm.start({ spotCheckRate: 0.05, graceMs: 3000 });
    await farm.startWorker('truth');
    // The trusted worker renders a first job: its tiles become known answers.
    await farm.waitForJob((await farm.client.submit(JOB)).id);
    const honest = [await farm.startWorker('h1', 'honest', { trusted: false }), await farm.startWorker('h2', 'honest', { trusted: false })];
    const sybils = await join(farm, 10, await renderCalibration(farm.url));
    sybils.run(async (a) => flat(a, 0));

    const online = await farm.client.submit({ ...JOB, spp: 3 });
    await farm.waitForJob(online.id, 120_000);
    await farm.killWorker('truth', 'SIGTERM');
    const offline = await farm.client.submit({ ...JOB, spp: 2 });
    await farm.waitForJob(offline.id, 120_000);

    await framesMatchTruth(farm, offline.id);
    for (const id of [online.id, offline.id]) {
      for (const t of await farm.tasks(id, 0)) {
        const zero = await canonicalCid({
          width: t.rect.width,
          height: t.rect.height,
          rgba: new Uint8Array(t.rect.width * t.rect.height * 4),
          rays: 0,
        });
        expect(t.cid).not.toBe(zero);
      }
    }
    for (const h of honest) {
      const w = await workerView(farm, h.id);
      expect(w.faults).toBe(0);
      expect(w.evidence.some((e) => e.kind === 'outvoted')).toBe(false);
    }
    // Every sybil that answered something lost to ground truth (a trusted worker or a known answer).
    for (const id of sybils.ids) {
      const w = await workerView(farm, id);
      expect(w.valid).toBe(0);
      if (w.invalid > 0) expect(w.stake).toBe(0);
    }
  });

  it('farm no credibility from acceptances below threshold', async () => {
    farm = await TestFarm.start({ graceMs: 2000 });
    await farm.establishClass();
    const pair = await join(farm, 2, await renderCalibration(farm.url));
    pair.run(async (a) => flat(a, 7));
    for (let round = 0; round < 2; round++) {
      const { id } = await farm.client.submit({ ...JOB, width: 32, height: 16, timeoutSeconds: 3 });
      const status = await farm.waitForJob(id, 60_000);
      // Nobody checked either key: their agreement is accepted only below threshold, marked …
      expect(status.tilesBelowThreshold).toBe(status.tilesTotal);
      // … and it earns them no credibility for the next job.
      for (const key of pair.ids) expect(await workerView(farm, key)).toMatchObject({ passed: 0, credibility: 0.5 });
    }
  });
});
