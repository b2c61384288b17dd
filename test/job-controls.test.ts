/**
 * Pausing a job holds its tiles not yet handed out — a worker polling gets none of them — while
 * a replica already out carries on and is accepted; resuming releases them; only the job's owner
 * (or the operator) may, and not once it has ended.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobStatus } from '../shared/protocol.ts';
import { type ApiFarm, oneTileJob, startApiFarm, uploadShade } from './support/orchestrator.ts';
import { problem } from './support/problem.ts';

let api: ApiFarm;
beforeAll(async () => {
  api = await startApiFarm({ pollMs: 300 });
});
afterAll(() => api.stop());

const control = (id: string, action: 'pause' | 'resume') => api.operator(`/api/jobs/${id}/${action}`, {});

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
