/** Spot checks: a verified tile, handed out like any replica, judged against its known hash. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Assignment, type TaskView, type WorkerView } from '../shared/protocol.ts';
import { type ApiFarm, oneTileJob, startApiFarm, uploadShade } from './support/orchestrator.ts';

let api: ApiFarm;
beforeAll(async () => {
  api = await startApiFarm({ spotCheckRate: 1, stakePerTaskCents: 500 });
});
afterAll(() => api.stop());

const operator = (path: string, body?: unknown) => api.operator(path, body);
const worker = (name: string) => api.worker(name);
const upload = (w: { client: import('../worker/client.ts').WorkerClient }, a: Assignment, shade: number) => uploadShade(w.client, a, shade);
const view = async (id: string) =>
  (await (await fetch(`${api.farm.url}/api/workers/${id}`)).json()) as WorkerView & { evidence: { kind: string }[] };

describe('spot checks', () => {
  it('hands out a verified tile like any replica and judges it against the known hash', async () => {
    const { id: job } = (await (await operator('/api/jobs', oneTileJob(2))).json()) as { id: string };
    const a = await worker('a');
    const b = await worker('b');
    // The pool is empty, so these polls fall through to real work.
    const ra = Assignment.parse(await a.client.next());
    const rb = Assignment.parse(await b.client.next());
    await upload(a, ra, 90);
    await upload(b, rb, 90);

    const honest = await worker('honest');
    const liar = await worker('liar');
    await operator('/api/credits', { account: liar.id, amount: 10 });
    await liar.client.stake(10);
    const check = Assignment.parse(await honest.client.next());
    // Indistinguishable: same shape, a replica slot of a task of a real job.
    expect(check.task).toBe(ra.task);
    expect(check.job).toBe(job);
    expect(check.replica).toMatch(/\.r\d+$/);
    await upload(honest, check, 90);
    expect(await view(honest.id)).toMatchObject({ spotChecksPassed: 1, spotChecksFailed: 0, passed: 1, faults: 0 });

    const trap = Assignment.parse(await liar.client.next());
    await upload(liar, trap, 3);
    const caught = await view(liar.id);
    expect(caught).toMatchObject({ spotChecksPassed: 0, spotChecksFailed: 1, faults: 1, passed: 0, stake: 5 });
    expect(caught.evidence[0].kind).toBe('spot-check-failed');

    // The task itself is untouched: still verified with its hash; the checks are listed as such.
    const tasks = ((await (await operator(`/api/jobs/${job}/tasks`)).json()) as { tasks: TaskView[] }).tasks;
    expect(tasks[0].state).toBe('verified');
    expect(tasks[0].replicas.filter((r) => r.spot).map((r) => r.state)).toEqual(['valid', 'invalid']);
    expect(((await (await operator(`/api/jobs/${job}`)).json()) as { replicasRendered: number }).replicasRendered).toBe(2);
  });
});
