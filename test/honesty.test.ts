/** Credibility with real worker processes: trust is learned, and colluders lose to it. */
import { afterEach, describe, expect, it } from 'vitest';
import { decodeRgba } from '../shared/png.ts';
import type { WorkerView } from '../shared/protocol.ts';
import { TestFarm } from './support/farm.ts';
import { renderWithCli } from './support/render-cli.ts';
import { ROOT, shippedRaw } from './support/scenes.ts';

// ε = 0.05 keeps a 3-worker farm able to reach θ: three fresh agreeing workers give 0.985.
const JOB = { scene: shippedRaw('cornell'), width: 48, height: 32, spp: 2, tileSize: 16, verification: 'credibility', epsilon: 0.05 };

let farm: TestFarm | undefined;
afterEach(async () => {
  await farm?.stop();
  farm = undefined;
});

async function replicasPerTile(f: TestFarm, id: string): Promise<number> {
  const status = await f.waitForJob(id);
  return status.replicasRendered / status.tilesTotal;
}

// Audits (probability 1/CV) and spot checks (5 %) are random by design, so which tiles get
// checked, and when a liar is caught, varies from run to run; a rerun draws again.
describe('honesty', { retry: 2 }, () => {
  it("lowers an honest worker's redundancy as it earns credibility", async () => {
    farm = await TestFarm.start({ spotCheckRate: 0.05 });
    for (const n of ['a', 'b', 'c']) await farm.startWorker(n);
    const first = await replicasPerTile(farm, (await farm.client.submit(JOB)).id);
    const second = await replicasPerTile(farm, (await farm.client.submit(JOB)).id);
    const third = await replicasPerTile(farm, (await farm.client.submit(JOB)).id);
    // Fresh workers need three agreeing results (credibility grows within the first job already);
    // proven ones mostly stand alone, audited with probability 1/CV.
    expect(first).toBeGreaterThanOrEqual(2);
    expect(third).toBeLessThan(first);
    expect(Math.min(second, third)).toBeLessThan(2);
    const board = (await (await fetch(`${farm.url}/api/workers?sort=passed`)).json()) as { total: number; workers: WorkerView[] };
    expect(board.total).toBe(3);
    expect(board.workers.every((w) => w.passed >= 3 && w.credibility > 0.95 && w.faults === 0)).toBe(true);
    expect(board.workers[0].passed).toBeGreaterThanOrEqual(board.workers[2].passed);
  });

  it('lets credible honest workers outvote two colluders, who are caught', async () => {
    farm = await TestFarm.start({ spotCheckRate: 0.05 });
    await farm.startWorker('h1');
    await farm.startWorker('h2');
    await farm.startWorker('h3');
    // The honest workers build a record first.
    await farm.waitForJob((await farm.client.submit(JOB)).id);
    const c1 = await farm.startWorker('c1', 'rogue');
    const c2 = await farm.startWorker('c2', 'rogue');
    const { id } = await farm.client.submit({ ...JOB, spp: 3 });
    await farm.waitForJob(id);
    for (const t of await farm.tasks(id, 0)) {
      const colluded = t.replicas.filter((r) => r.worker === c1.id || r.worker === c2.id).map((r) => r.cid);
      expect(colluded.every((cid) => cid !== t.cid)).toBe(true);
      expect(t.belowThreshold).toBe(false);
      expect(t.credibility).toBeGreaterThanOrEqual(0.95);
    }
    for (const c of [c1, c2]) {
      const res = (await (await fetch(`${farm.url}/api/workers/${c.id}`)).json()) as WorkerView & {
        evidence: { kind: string; task: string; cid: string; winner: string }[];
      };
      if (res.invalid === 0) continue; // never drawn into this job
      expect(res.faults).toBeGreaterThan(0);
      expect(res.passed).toBe(0);
      // Spot checks (5 %) may have caught it too; an outvote must be among the evidence.
      const outvoted = res.evidence.find((e) => e.kind === 'outvoted');
      expect(outvoted).toBeDefined();
      expect(outvoted?.cid).not.toBe(outvoted?.winner);
    }
  });

  it('catches a turncoat by audit and re-verifies what it vouched for', async () => {
    farm = await TestFarm.start({ spotCheckRate: 0.05 });
    for (const n of ['h1', 'h2']) await farm.startWorker(n);
    const turncoat = await farm.startWorker('turncoat', 'turncoat', { FARM_TEST_HONEST_FOR: '8' });
    const jobs: string[] = [];
    let caught = false;
    // Keep rendering until an audit (probability 1/CV per lone result) exposes the lies.
    for (let round = 0; round < 12 && !caught; round++) {
      const { id } = await farm.client.submit(JOB);
      jobs.push(id);
      await farm.waitForJob(id);
      caught = ((await farm.worker(turncoat.id))?.faults ?? 0) > 0;
    }
    expect(caught).toBe(true);
    const truth = await renderWithCli(`${ROOT}scenes/cornell.json`, 0, '48x32', 2);
    for (const id of jobs) {
      await farm.waitForJob(id); // reopened jobs run again
      const frame = await decodeRgba(await farm.client.download(`/api/jobs/${id}/frames/0`));
      expect(Buffer.from(frame.rgba).equals(Buffer.from(truth))).toBe(true);
    }
    const t = await farm.worker(turncoat.id);
    expect(t).toMatchObject({ passed: 0 });
    expect(t?.invalid).toBeGreaterThan(0);
  });

  it('accepts below θ after the timeout when no further worker exists, marked in the API', async () => {
    farm = await TestFarm.start({ spotCheckRate: 0.05 });
    await farm.startWorker('only-1');
    await farm.startWorker('only-2');
    // Two fresh workers reach 0.94 < θ = 0.95 and no third exists.
    const { id } = await farm.client.submit({ ...JOB, width: 16, height: 16, timeoutSeconds: 3 });
    const status = await farm.waitForJob(id, 30_000);
    expect(status.tilesBelowThreshold).toBe(1);
    const [task] = await farm.tasks(id, 0);
    expect(task).toMatchObject({ state: 'verified', belowThreshold: true });
    expect(task.credibility).toBeCloseTo(0.64 / 0.68, 6);
  });
});
