/**
 * Priority orders the tiles of jobs at one price, and only the operator may raise it above the
 * default. Pausing a job holds its tiles not yet handed out — a worker polling gets none of them — while
 * a replica already out carries on and is accepted; resuming releases them; only the job's owner
 * (or the operator) may, and not once it has ended.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHARED_QUEUE } from '../orchestrator/dispatch.ts';
import { slotPriority } from '../orchestrator/market/priority.ts';
import { slotId, taskId } from '../orchestrator/planner.ts';
import type { JobStatus } from '../shared/protocol.ts';
import { type ApiFarm, OPERATOR_TOKEN, oneTileJob, startApiFarm, uploadShade } from './support/orchestrator.ts';
import { problem } from './support/problem.ts';
import { ROOT } from './support/scenes.ts';

let api: ApiFarm;
beforeAll(async () => {
  api = await startApiFarm({ pollMs: 300 });
});
afterAll(() => api.stop());

const control = (id: string, action: 'pause' | 'resume') => api.operator(`/api/jobs/${id}/${action}`, {});

/** A one-tile job whose tile is `size` px square: its assignment's tile width tells it apart. */
const sizedJob = async (size: number, priority: number) => {
  const res = await api.operator('/api/jobs', { ...oneTileJob(1), width: size, height: size, tileSize: size, priority });
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
};

/** Waits until the job's slot waits in its queue with the priority its job's rank gives it. */
async function slotRanked(job: string, priority: number) {
  const queue = new Queue(SHARED_QUEUE, { connection: { url: api.redisUrl } });
  try {
    const want = slotPriority({ bid: null, priority });
    const until = Date.now() + 10_000;
    while ((await queue.getJob(slotId(taskId(job, 0, 0), 0)))?.priority !== want) {
      if (Date.now() > until) throw new Error(`slot of ${job} never moved to priority ${want}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await queue.close();
  }
}

describe('job controls', () => {
  it('pause holds the unassigned tiles, what is out carries on, resume releases them', async () => {
    const { id } = (await (await api.operator('/api/jobs', oneTileJob(2))).json()) as { id: string };
    const first = await api.worker('first', { trusted: true });
    const [out] = await first.client.nextBatch(1);
    expect(out).toBeDefined();

    const paused = (await (await control(id, 'pause')).json()) as JobStatus;
    expect(paused).toMatchObject({ paused: true, heldUp: expect.stringMatching(/^paused/) });
    const second = await api.worker('second', { trusted: true });
    // Several polls of 300 ms: the job's other replica is not handed out.
    for (let i = 0; i < 4; i++) expect(await second.client.nextBatch(1)).toEqual([]);
    // The replica out before the pause is still taken.
    expect(await uploadShade(first.client, out, 80)).toBe('accepted');

    expect(((await (await control(id, 'resume')).json()) as JobStatus).paused).toBe(false);
    let resumed: unknown[] = [];
    const until = Date.now() + 10_000;
    while (resumed.length === 0 && Date.now() < until) resumed = await second.client.nextBatch(1);
    expect(resumed).toHaveLength(1);
  });

  it('stops a paused job’s timeout, and runs the rest of it once the job is resumed', async () => {
    const res = await api.operator('/api/jobs', { ...oneTileJob(2), timeoutSeconds: 2, onTimeout: 'fail' });
    const { id } = (await res.json()) as { id: string };
    await control(id, 'pause');
    const state = async () => ((await (await api.operator(`/api/jobs/${id}`)).json()) as JobStatus).state;
    // Twice its timeout, paused: it neither fails nor is judged.
    await new Promise((r) => setTimeout(r, 4000));
    expect(await state()).toBe('running');
    await control(id, 'resume');
    const until = Date.now() + 15_000;
    while ((await state()) !== 'failed' && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
    expect(await state()).toBe('failed');
  });

  it('hands out the tiles of jobs at one price by their priority, and moves queued tiles when it changes', async () => {
    const worker = await api.worker('ranked', { trusted: true });
    const low = await sizedJob(16, 10);
    await sizedJob(24, 30);
    await sizedJob(32, 20);
    const sizes = (await worker.client.nextBatch(3)).map((a) => a.tile.width);
    expect(sizes).toEqual([24, 32, 16]);

    const later = await sizedJob(40, 10);
    await sizedJob(48, 20);
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [join(ROOT, 'bin/farm.js'), 'jobs', 'priority', later, '90', '--orchestrator', api.farm.url],
      { env: { ...process.env, FARM_TOKEN: OPERATOR_TOKEN } },
    );
    expect(stdout).toContain(`job ${later}: priority 90`);
    await slotRanked(later, 90);
    expect((await worker.client.nextBatch(2)).map((a) => a.tile.width)).toEqual([40, 48]);
    expect((await problem(await api.operator(`/api/jobs/${low}/priority`, { priority: 101 }), 400)).errors?.[0].path).toBe('priority');
  });

  it('lets a requester lower its jobs’ priority but not raise it above the default', async () => {
    const minted = (await (await api.operator('/api/tokens', { name: 'artist' })).json()) as { token: string; owner: string };
    await api.operator('/api/credits', { account: minted.owner, amount: 1000 });
    const asArtist = (path: string, body: unknown) =>
      fetch(`${api.farm.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${minted.token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    expect((await problem(await asArtist('/api/jobs', { ...oneTileJob(1), priority: 80 }), 403)).errors?.[0].path).toBe('priority');
    const submitted = await asArtist('/api/jobs', { ...oneTileJob(1), priority: 20 });
    expect(submitted.status).toBe(201);
    const { id } = (await submitted.json()) as { id: string };
    await problem(await asArtist(`/api/jobs/${id}/priority`, { priority: 51 }), 403);
    expect(((await (await asArtist(`/api/jobs/${id}/priority`, { priority: 5 })).json()) as JobStatus).priority).toBe(5);
  });

  it('is for the job’s owner or the operator, and not once it has ended', async () => {
    const { id } = (await (await api.operator('/api/jobs', oneTileJob(1))).json()) as { id: string };
    const minted = (await (await api.operator('/api/tokens', { name: 'stranger' })).json()) as { token: string };
    const asStranger = await fetch(`${api.farm.url}/api/jobs/${id}/pause`, {
      method: 'POST',
      headers: { authorization: `Bearer ${minted.token}` },
    });
    await problem(asStranger, 404);
    await fetch(`${api.farm.url}/api/jobs/${id}`, { method: 'DELETE', headers: { authorization: 'Bearer operator-token-for-tests' } });
    expect((await problem(await control(id, 'pause'), 409)).title).toBe('Job finished');
  });
});
