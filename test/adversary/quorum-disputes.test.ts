/**
 * Quorum under collusion: when an honest key's result and a colluder's disagree, the tile goes to
 * a trusted worker while one is online, as under credibility — not to one more ordinary replica,
 * which the colluder's sibling could take to outvote the honest key. Real orchestrator, Redis and
 * signed HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskView, WorkerView } from '../../shared/protocol.ts';
import { maxRays } from '../../shared/render-units.ts';
import { type ApiFarm, fundOperator, nextAssignment, oneTileJob, startApiFarm, uploadShade } from '../support/orchestrator.ts';

let api: ApiFarm;
beforeAll(async () => {
  api = await startApiFarm({ spotCheckRate: 0 });
  await fundOperator(api, 100);
});
afterAll(() => api.stop());

describe('a quorum dispute', () => {
  it('goes to a trusted worker while one is online: the honest key is paid, the colluder caught, its sibling never gets the tile', async () => {
    const truth = await api.worker('truth', { trusted: true });
    const honest = await api.worker('honest');
    const [a, b] = [await api.worker('colluder-a'), await api.worker('colluder-b')];
    const { id } = (await (await api.operator('/api/jobs', oneTileJob(2))).json()) as { id: string };
    expect(await uploadShade(honest.client, await nextAssignment(honest.client), 90, 5000)).toBe('accepted');
    expect(await uploadShade(a.client, await nextAssignment(a.client), 3, maxRays(16 * 16, 1))).toBe('accepted');
    // The dispute waits for an arbiter; the sibling polls first, and the slot is not its to take.
    const waiting = async () =>
      ((await (await api.operator(`/api/jobs/${id}/tasks?frame=0`)).json()) as { tasks: TaskView[] }).tasks[0].waiting?.code;
    await expect.poll(waiting).toBe('needs-arbiter');
    expect(await b.client.next()).toBeUndefined();
    expect(await uploadShade(truth.client, await nextAssignment(truth.client), 90, 5000)).toBe('accepted');
    const [task] = ((await (await api.operator(`/api/jobs/${id}/tasks?frame=0`)).json()) as { tasks: TaskView[] }).tasks;
    expect(task).toMatchObject({ state: 'verified', anchored: true });
    const stateOf = (w: string) => task.replicas.find((r) => r.worker === w)?.state;
    expect([stateOf(honest.id), stateOf(a.id), stateOf(truth.id)]).toEqual(['valid', 'invalid', 'valid']);
    const view = async (w: string) => (await (await fetch(`${api.farm.url}/api/workers/${w}`)).json()) as WorkerView;
    expect((await view(a.id)).faults).toBe(1);
    expect((await view(honest.id)).faults).toBe(0);
  });
});
