/**
 * Poison work: a scene that breaks the renderer fails its job with the worker's own message once
 * `renderAttempts` replicas failed and one of the operator's workers reported it, and the workers
 * carry on with other jobs. Untrusted keys alone cannot fail a job this way; its timeout ends it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { TestFarm, waitFor } from './support/farm.ts';
import { shippedRaw } from './support/scenes.ts';

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
