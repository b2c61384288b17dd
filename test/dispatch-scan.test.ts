/**
 * A poll's scan through a worker's queues: slots it may not take at the head of one queue (the
 * further replicas of tiles it already answered, in its class's queue) do not keep it from fresh
 * work in the next. Real orchestrator, Redis and signed HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiFarm, fundOperator, nextAssignment, oneTileJob, startApiFarm, uploadShade } from './support/orchestrator.ts';

let api: ApiFarm;
beforeAll(async () => {
  api = await startApiFarm();
  await fundOperator(api, 100);
});
afterAll(() => api.stop());

describe('a scan', () => {
  it('reaches fresh work past more slots it may not take than a scan holds in one queue', async () => {
    const w = await api.worker('w', { stake: 1000 });
    // 20 tiles; a lone untrusted result is not enough, so each tile asks for another worker's
    // in w's class queue, where w (one vote per tile) may not take it.
    const tiles = 20;
    await api.operator('/api/jobs', { ...oneTileJob(1), width: 16 * tiles, verification: 'credibility' });
    for (let i = 0; i < tiles; i++) expect(await uploadShade(w.client, await nextAssignment(w.client), 90)).toBe('accepted');
    expect(await w.client.next()).toBeUndefined();
    // Fresh work in the shared queue.
    const { id } = (await (await api.operator('/api/jobs', oneTileJob(1))).json()) as { id: string };
    const a = await nextAssignment(w.client, 5000);
    expect(a.replica).toBeDefined();
    const [task] = ((await (await api.operator(`/api/jobs/${id}/tasks?frame=0`)).json()) as { tasks: { replicas: { worker: string }[] }[] })
      .tasks;
    expect(task.replicas.map((r) => r.worker)).toEqual([w.id]);
  });
});
