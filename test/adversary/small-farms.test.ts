/**
 * Small farms finish: a farm of untrusted workers only (no one to arbitrate, nobody checked) and
 * a farm of one trusted worker (`farm up --workers 1`) both complete a job in about a minute at
 * the default settings, and the API says why a tile waits.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { TaskView } from '../../shared/protocol.ts';
import { TestFarm, waitFor } from '../support/farm.ts';
import { shippedRaw } from '../support/scenes.ts';

const JOB = { scene: shippedRaw('cornell'), width: 32, height: 32, spp: 2, tileSize: 16 };
const DEFAULT_GRACE_MS = 30_000;

let farm: TestFarm | undefined;
afterEach(async () => {
  await farm?.stop();
  farm = undefined;
});

describe('small farms', () => {
  it('finish on untrusted workers alone within about a minute, at the default grace', async () => {
    farm = await TestFarm.start({ graceMs: DEFAULT_GRACE_MS });
    await farm.establishClass();
    await farm.startWorker('u1', 'honest', { trusted: false });
    await farm.startWorker('u2', 'honest', { trusted: false });
    const started = Date.now();
    const { id } = await farm.client.submit(JOB);
    const f = farm;
    let waiting: TaskView['waiting'] = null;
    await waitFor(
      async () => {
        waiting = (await f.tasks(id, 0)).find((t) => t.waiting?.code === 'no-eligible-worker')?.waiting ?? null;
        return waiting !== null;
      },
      30_000,
      'a tile to say that no further worker can help',
    );
    expect((waiting as unknown as NonNullable<TaskView['waiting']>).message).toMatch(/no further eligible worker/);
    const status = await farm.waitForJob(id, 90_000);
    expect(Date.now() - started).toBeLessThan(75_000);
    expect(status.tilesBelowThreshold).toBe(status.tilesTotal);
    for (const t of await farm.tasks(id, 0)) expect(t).toMatchObject({ belowThreshold: true, waiting: null });
  });

  it('finish on one trusted worker at once, every tile backed by it, with no audits', async () => {
    farm = await TestFarm.start();
    await farm.startWorker('only');
    const { id } = await farm.client.submit({ ...JOB, width: 64, height: 48 });
    const status = await farm.waitForJob(id, 60_000);
    expect(status.replicasRendered).toBe(status.tilesTotal);
    for (const t of await farm.tasks(id, 0)) expect(t).toMatchObject({ anchored: true, belowThreshold: false, auditSkipped: false });
  });
});
