/**
 * Re-running a tile: a requester who sees a wrong tile asks for it again, a trusted worker renders
 * it, and its result replaces the one colluding keys agreed on (they are caught); the frame is
 * stitched again and the job ends again. A tile a trusted worker backs, one not verified yet, a
 * farm with no trusted worker online, another requester and the hourly limit are all refused.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { taskId } from '../orchestrator/planner.ts';
import { RERUN_REFUSALS, rerunRefusal } from '../orchestrator/rerun.ts';
import type { JobStatus, TaskView } from '../shared/protocol.ts';
import { type ApiFarm, OPERATOR_TOKEN, oneTileJob, startApiFarm, uploadShade } from './support/orchestrator.ts';
import { problem } from './support/problem.ts';
import { ROOT } from './support/scenes.ts';

describe('rerunRefusal', () => {
  it('re-runs only verified tiles no trusted worker backs, while a trusted worker is online', () => {
    expect(rerunRefusal({ state: 'verified', anchored: false }, 1)).toBeNull();
    expect(rerunRefusal({ state: 'pending', anchored: false }, 1)).toBe('unverified');
    expect(rerunRefusal({ state: 'verified', anchored: true }, 1)).toBe('anchored');
    expect(rerunRefusal({ state: 'verified', anchored: false }, 0)).toBe('no-arbiter');
  });
});

describe('re-running tiles', () => {
  let api: ApiFarm;
  beforeAll(async () => {
    api = await startApiFarm({ pollMs: 300, rerunsPerHour: 2 });
  });
  afterAll(() => api.stop());

  const until = async <T>(read: () => Promise<T>, ok: (v: T) => boolean): Promise<T> => {
    const deadline = Date.now() + 15_000;
    let v = await read();
    while (!ok(v) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      v = await read();
    }
    return v;
  };
  const status = async (id: string) => (await (await api.operator(`/api/jobs/${id}`)).json()) as JobStatus;
  /** Waits until the job is done again. */
  const ended = async (id: string) =>
    expect(
      (
        await until(
          () => status(id),
          (s) => s.state === 'done',
        )
      ).state,
    ).toBe('done');
  const frame = (id: string) => api.operator(`/api/jobs/${id}/frames/0`);
  const firstPixel = async (res: Response) =>
    (
      await sharp(Buffer.from(await res.arrayBuffer()))
        .raw()
        .toBuffer()
    )[0];

  /** A one-tile quorum job two fresh colluding keys settle with the same wrong shade. */
  async function agreedJob(): Promise<string> {
    const colluders = [await api.worker('c1'), await api.worker('c2')];
    const { id } = (await (await api.operator('/api/jobs', oneTileJob(2))).json()) as { id: string };
    for (const c of colluders) {
      const [a] = await c.client.nextBatch(1);
      expect(await uploadShade(c.client, a, 80)).toBe('accepted');
    }
    await ended(id);
    return id;
  }

  it('is refused for a tile not verified yet, while no trusted worker is online, and once the job has ended', async () => {
    // Leases of a second: the farm's anchor, registered at its start, is offline two seconds later.
    const quiet = await startApiFarm({ pollMs: 300, leaseMs: 1000 });
    const offlineFrom = Date.now() + 2 * 1000;
    try {
      const workers = [await quiet.worker('n1'), await quiet.worker('n2')];
      const { id } = (await (await quiet.operator('/api/jobs', oneTileJob(2))).json()) as { id: string };
      const early = await quiet.operator(`/api/jobs/${id}/tasks/${taskId(id, 0, 0)}/rerun`, {});
      expect((await problem(early, 409)).detail).toContain(RERUN_REFUSALS.unverified);
      for (const w of workers) await uploadShade(w.client, (await w.client.nextBatch(1))[0], 80);
      await new Promise((r) => setTimeout(r, Math.max(0, offlineFrom - Date.now()) + 200));
      const alone = await quiet.operator(`/api/jobs/${id}/frames/0/rerun`, {});
      expect((await problem(alone, 409)).detail).toContain(RERUN_REFUSALS['no-arbiter']);
      const { id: cancelled } = (await (await quiet.operator('/api/jobs', oneTileJob(2))).json()) as { id: string };
      await fetch(`${quiet.farm.url}/api/jobs/${cancelled}`, { method: 'DELETE', headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } });
      const ended = await quiet.operator(`/api/jobs/${cancelled}/frames/0/rerun`, {});
      expect((await problem(ended, 409)).title).toBe('Job finished');
    } finally {
      await quiet.stop();
    }
  });

  it('has a trusted worker render the tile again; its result replaces the colluders’ and the job ends again', async () => {
    const id = await agreedJob();
    const task = taskId(id, 0, 0);
    const arbiter = await api.worker('arbiter', { trusted: true });

    const stranger = (await (await api.operator('/api/tokens', { name: 'stranger' })).json()) as { token: string };
    const asStranger = await fetch(`${api.farm.url}/api/jobs/${id}/tasks/${task}/rerun`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stranger.token}` },
    });
    await problem(asStranger, 404);
    expect((await problem(await api.operator(`/api/jobs/${id}/tasks/nonsense/rerun`, {}), 400)).errors?.[0].path).toBe('task');

    const { stdout } = await promisify(execFile)(
      process.execPath,
      [join(ROOT, 'bin/farm.js'), 'jobs', 'rerun', id, '--tile', task, '--orchestrator', api.farm.url],
      { env: { ...process.env, FARM_TOKEN: OPERATOR_TOKEN } },
    );
    expect(stdout).toContain(`1 tile(s) go to a trusted worker to be rendered again: ${task}`);
    expect((await status(id)).state).toBe('running');
    await problem(await frame(id), 409);

    const [again] = await arbiter.client.nextBatch(1);
    expect(again.tile).toEqual({ x: 0, y: 0, width: 16, height: 16 });
    expect(await uploadShade(arbiter.client, again, 120)).toBe('accepted');
    await ended(id);
    expect(await firstPixel(await frame(id))).toBe(120);
    // The list's thumbnail was made again with the frame.
    const { thumbnail } = await status(id);
    const thumb = await api.operator(thumbnail as string);
    expect(thumb.headers.get('content-type')).toBe('image/webp');
    // (lossy WebP: within a shade or two)
    expect(Math.abs((await firstPixel(thumb)) - 120)).toBeLessThanOrEqual(2);
    const view = (await (await api.operator(`/api/jobs/${id}/tasks`)).json()) as { tasks: TaskView[] };
    expect(view.tasks[0]).toMatchObject({ state: 'verified', anchored: true });
    expect(view.tasks[0].replicas.filter((r) => r.state === 'invalid')).toHaveLength(2);

    const backed = await api.operator(`/api/jobs/${id}/frames/0/rerun`, {});
    expect((await problem(backed, 409)).detail).toContain(RERUN_REFUSALS.anchored);
  });

  it('counts each tile re-run against the requester’s hourly limit', async () => {
    const id = await agreedJob();
    // The farm allows two an hour, and the test before used one.
    expect((await api.operator(`/api/jobs/${id}/frames/0/rerun`, {})).status).toBe(200);
    const arbiter = await api.worker('arbiter-2', { trusted: true });
    await uploadShade(arbiter.client, (await arbiter.client.nextBatch(1))[0], 80);
    await ended(id);
    const other = await agreedJob();
    const limited = await api.operator(`/api/jobs/${other}/frames/0/rerun`, {});
    await problem(limited, 429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});
