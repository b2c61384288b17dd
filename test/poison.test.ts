/**
 * Poison work: a scene that breaks the renderer fails its job with the worker's own message once
 * `renderAttempts` replicas failed and one of the operator's workers reported it, and the workers
 * carry on with other jobs. Untrusted keys alone cannot fail a job this way; its timeout ends it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { LedgerPage } from '../shared/protocol.ts';
import { TestFarm, waitFor } from './support/farm.ts';
import { shippedRaw, stackedTriangles } from './support/scenes.ts';

const TILE = { width: 32, height: 16, spp: 1, tileSize: 16 };
const poison = () => ({ ...shippedRaw('cornell'), name: 'poison' });

let farm: TestFarm | undefined;

/** The job once it has ended (waitForJob takes a failure for an error). */
async function ended(f: TestFarm, id: string) {
  await waitFor(async () => ['done', 'failed', 'cancelled'].includes((await f.client.status(id)).state), 30_000, `job ${id} to end`);
  return f.client.status(id);
}
afterEach(async () => {
  await farm?.stop();
  farm = undefined;
});

describe('poison work', () => {
  it('fails its job with the renderer’s message within the attempt limit, and the workers carry on', async () => {
    farm = await TestFarm.start();
    await farm.startWorker('a', 'fragile');
    await farm.startWorker('b', 'fragile');
    const { id } = await farm.client.submit({ scene: poison(), ...TILE });
    const status = await ended(farm, id);
    expect(status.state).toBe('failed');
    expect(status.error).toBe('rendering failed 3 times: kernel panic: out of registers');
    const failed = (await farm.tasks(id, 0)).flatMap((t) => t.replicas).filter((r) => r.state === 'failed');
    expect(failed.length).toBeGreaterThanOrEqual(3);
    for (const r of failed) expect(r.error).toBe('kernel panic: out of registers');
    // Nothing stuck: the same workers render the next job.
    const next = await farm.client.submit({ scene: shippedRaw('cornell'), ...TILE });
    expect((await farm.waitForJob(next.id, 30_000)).state).toBe('done');
  });

  it('fails a job whose rays cost more than WORK_PER_RAY with the kernel’s message, and charges no worker that took its tiles', async () => {
    // Each ray of this scene tests 12,000 stacked triangles: rendered in full, a tile had run past
    // the task timeout on every worker that took it, a missed deadline's penalty each.
    farm = await TestFarm.start();
    const workers = [await farm.startWorker('trusted'), await farm.startWorker('staked', 'honest', { trusted: false })];
    const { id } = await farm.client.submit({ scene: stackedTriangles(12_000), width: 32, height: 32, spp: 1, tileSize: 16 });
    const status = await ended(farm, id);
    expect(status.state).toBe('failed');
    // The operator's worker's refusal alone fails it: the count is as deterministic as a render.
    expect(status.error).toMatch(/^rendering refused: scene too costly to trace: its rays test more than 1024 BVH boxes/);
    const failed = (await farm.tasks(id, 0)).flatMap((t) => t.replicas).filter((r) => r.state === 'failed');
    expect(failed.length).toBeGreaterThan(0);
    for (const r of failed) expect(r.error).toMatch(/^scene too costly to trace/);
    for (const w of workers) {
      const ledger = (await (await fetch(`${farm.url}/api/workers/${w.id}/ledger`)).json()) as LedgerPage;
      expect(ledger.entries.filter((e) => e.kind === 'penalty')).toEqual([]);
    }
    const next = await farm.client.submit({ scene: shippedRaw('cornell'), ...TILE });
    expect((await farm.waitForJob(next.id, 30_000)).state).toBe('done');
  });

  it('is not failed by untrusted keys alone: the job’s timeout ends it', async () => {
    farm = await TestFarm.start();
    await farm.establishClass();
    await farm.startWorker('u1', 'fragile', { trusted: false });
    await farm.startWorker('u2', 'fragile', { trusted: false });
    const started = Date.now();
    const { id } = await farm.client.submit({ scene: poison(), ...TILE, timeoutSeconds: 5 });
    const status = await ended(farm, id);
    expect(status).toMatchObject({ state: 'failed', error: 'no worker rendered the tile before the job timed out' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(5000);
  });
});
