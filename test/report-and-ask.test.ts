/**
 * Reporting and asking in one request (PUT /api/work/results?next=N): an upload brings the
 * worker's next replicas where there is work now, bound as a poll would bind them, and never
 * waits for work; a retry brings none; a hostile `next` is refused before anything is recorded;
 * the agent takes its next batch from its upload's answer and polls only when that brought nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalCid } from '../shared/image.ts';
import { type Assignment, type JobStatus, MAX_BATCH, type WorkerView } from '../shared/protocol.ts';
import { type BatchedResult, encodeResultBatch } from '../shared/result-batch.ts';
import { type ApiFarm, flatAgent, OPERATOR_TOKEN, oneTileJob, putSigned, startApiFarm } from './support/orchestrator.ts';
import { problem } from './support/problem.ts';

/** Long enough that an answer which waited for work would stand out. */
const POLL_MS = 4000;
/** Replicas an untrusted worker may hold at once. */
const MAX_HELD = 2;
let api: ApiFarm;
beforeAll(async () => {
  api = await startApiFarm({ pollMs: POLL_MS, stakePerReplica: 10, maxHeldReplicas: MAX_HELD });
});
afterAll(() => api.stop());

/** A job of `across`×2 tiles (tasks) under quorum of `replicas`. */
const tiles = (across: number, replicas: number) => ({ ...oneTileJob(replicas), width: 16 * across, height: 32 });

async function flat(a: Assignment, shade: number): Promise<BatchedResult> {
  const rgba = new Uint8Array(a.tile.width * a.tile.height * 4).fill(shade);
  return { replica: a.replica, cid: await canonicalCid({ width: a.tile.width, height: a.tile.height, rgba, rays: 0 }), rays: 0, rgba };
}
const results = (batch: readonly Assignment[]) => Promise.all(batch.map((a) => flat(a, 40)));
const tileOf = (a: Assignment) => `${a.tile.x},${a.tile.y}`;

const view = async (id: string) => (await (await fetch(`${api.farm.url}/api/workers/${id}`)).json()) as WorkerView;
const job = async (id: string) => (await (await api.operator(`/api/jobs/${id}`)).json()) as JobStatus;
const submit = async (body: unknown) => ((await (await api.operator('/api/jobs', body)).json()) as { id: string }).id;

describe('an upload that asks for more', () => {
  it('brings replicas found at once, never two of a task, and answers without waiting when there are none', async () => {
    const id = await submit(tiles(2, 2));
    const a = await api.worker('asker', { trusted: true });
    const b = await api.worker('other', { trusted: true });
    const first = await a.client.nextBatch(2);
    expect(first).toHaveLength(2);
    const second = await a.client.uploadBatch(await results(first), 2);
    expect(second.results.every((r) => 'status' in r && r.status === 'accepted')).toBe(true);
    expect(second.replicas).toHaveLength(2);
    const mine = [...first, ...(second.replicas ?? [])];
    expect(new Set(mine.map(tileOf)).size).toBe(4);
    expect(await view(a.id)).toMatchObject({ inFlight: 2 });

    // Every slot left is a replica of a tile it answered: nothing for it, and no long-poll's wait.
    const started = Date.now();
    const third = await a.client.uploadBatch(await results(second.replicas ?? []), MAX_BATCH);
    expect(Date.now() - started).toBeLessThan(POLL_MS / 2);
    expect(third.replicas).toBeUndefined();
    expect(third.results.map((r) => ('status' in r ? r.status : r.error.detail))).toEqual(['accepted', 'accepted']);

    const rest = await b.client.nextBatch(MAX_BATCH);
    expect(rest).toHaveLength(4);
    expect((await b.client.uploadBatch(await results(rest), MAX_BATCH)).replicas).toBeUndefined();
    await expect.poll(async () => (await job(id)).state, { timeout: 10_000 }).toBe('done');
  });

  it('looks under the holdings its results have just freed', async () => {
    const id = await submit(tiles(3, 1));
    try {
      const held = await api.worker('held', { stake: 100 });
      const first = await held.client.nextBatch(MAX_BATCH);
      expect(first).toHaveLength(MAX_HELD);
      expect(await view(held.id)).toMatchObject({ inFlight: MAX_HELD });
      // Its record as the request came in holds all it may: the look reads it again after the results.
      const answer = await held.client.uploadBatch(await results(first), MAX_BATCH);
      expect(answer.replicas).toHaveLength(MAX_HELD);
      expect(new Set([...first, ...(answer.replicas ?? [])].map(tileOf)).size).toBe(2 * MAX_HELD);
      expect(await view(held.id)).toMatchObject({ inFlight: MAX_HELD });
    } finally {
      // Its tiles are no one's work after this test.
      await fetch(`${api.farm.url}/api/jobs/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } });
    }
  });

  it('brings nothing to a retry: the lost answer to its first attempt may have brought replicas', async () => {
    const id = await submit(tiles(2, 1));
    try {
      const w = await api.worker('retrier', { trusted: true });
      const [a] = await w.client.nextBatch(1);
      const mine = [await flat(a, 9)];
      const first = await w.client.uploadBatch(mine, 1);
      expect(first.replicas).toHaveLength(1);
      // The same upload again, as after an answer lost on the way: recorded already, nothing more bound.
      const again = await w.client.uploadBatch(mine, 1);
      expect(again).toEqual({ results: [{ replica: a.replica, status: 'duplicate' }] });
      expect(await view(w.id)).toMatchObject({ inFlight: 1 });
      // Work is there: a poll gets it.
      expect(await w.client.nextBatch(1)).toHaveLength(1);
    } finally {
      await fetch(`${api.farm.url}/api/jobs/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } });
    }
  });

  it('refuses a hostile `next` before it records anything, naming the field', async () => {
    await submit(tiles(1, 1));
    const w = await api.worker('hostile-next', { trusted: true });
    const [a] = await w.client.nextBatch(1);
    const body = encodeResultBatch([await flat(a, 7)]);
    for (const query of ['next=17', 'next=-1', 'next=1.5', 'next=many', 'next=1&next=2', 'next=']) {
      const { errors } = await problem(await putSigned(api.farm.url, w, `/api/work/results?${query}`, body), 400);
      expect(errors?.map((e) => e.path)).toContain('next');
    }
    expect(await view(w.id)).toMatchObject({ inFlight: 1 });
    // Signed without the query, sent with it: the signature covers what was asked for.
    const forged = await putSigned(api.farm.url, w, `/api/work/results?next=${MAX_BATCH}`, body, '/api/work/results');
    expect(forged.status).toBe(401);
    expect(await view(w.id)).toMatchObject({ inFlight: 1 });
    expect((await w.client.uploadBatch([await flat(a, 7)], 1)).results).toEqual([{ replica: a.replica, status: 'accepted' }]);
  });
});

describe('the agent', () => {
  it('takes its next replica from its upload’s answer, and polls only when that brought none', async () => {
    const id = await submit(tiles(4, 1));
    await expect.poll(async () => (await job(id)).state, { timeout: 10_000 }).not.toBe('queued');
    let polls = 0;
    let brought = 0;
    const agent = await flatAgent(api.farm.url, 'reporter', {
      onEvent: (e) => {
        if (e.kind === 'polling') polls++;
      },
      onWork: (_ms, got) => {
        brought += got;
      },
    });
    try {
      await expect.poll(async () => (await job(id)).state, { timeout: 20_000 }).toBe('done');
      // Eight tiles (and any an earlier test left), one at a time: the first poll brought one,
      // each upload the next (the poll after the last upload may have begun).
      expect(brought).toBeGreaterThanOrEqual(8);
      expect(polls).toBeLessThanOrEqual(2);
    } finally {
      await agent.stop();
    }
  });

  it('hands back what an answer brought when it is stopped while the upload was under way', async () => {
    const id = await submit(tiles(2, 1));
    await expect.poll(async () => (await job(id)).state, { timeout: 10_000 }).not.toBe('queued');
    let stopping: Promise<void> | undefined;
    let brought = 0;
    const agent = await flatAgent(api.farm.url, 'stopped', {
      // Stopped once its upload, which asked for more, is on its way.
      onEvent: (e) => {
        if (e.kind === 'uploading') setTimeout(() => (stopping ??= agent.stop()));
      },
      onWork: (_ms, got) => {
        brought += got;
      },
    });
    await expect.poll(() => stopping !== undefined, { timeout: 10_000 }).toBe(true);
    await stopping;
    // It holds none: what the answer brought went back for another worker. (Its poll brought one
    // tile, which it answered; the answer to that upload came after the stop.)
    expect(await view(agent.id)).toMatchObject({ inFlight: 0 });
    const rendered = (await job(id)).replicasRendered;
    expect(rendered).toBe(brought);
    const other = await api.worker('after-stop', { trusted: true });
    expect(await other.client.nextBatch(MAX_BATCH)).toHaveLength(4 - rendered);
  });
});
