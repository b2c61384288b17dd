/**
 * The batched worker protocol: one poll hands out up to `max` replicas, one signed upload carries
 * several results, each judged as its own upload would be. Hostile batches are refused whole
 * (framing) or item by item (results), never half-applied.
 */
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalCid } from '../shared/image.ts';
import { type Assignment, type JobStatus, MAX_BATCH, type WorkerView } from '../shared/protocol.ts';
import { type BatchedResult, decodeResultBatch, encodeResultBatch } from '../shared/result-batch.ts';
import { type ApiFarm, oneTileJob, putSigned, startApiFarm } from './support/orchestrator.ts';
import { problem } from './support/problem.ts';

let api: ApiFarm;
beforeAll(async () => {
  api = await startApiFarm({ stakePerReplica: 10, maxHeldReplicas: 8 });
});
afterAll(() => api.stop());

/** A 2×2-tile job (four tasks) under quorum of `replicas`. */
const fourTiles = (replicas: number) => ({ ...oneTileJob(replicas), width: 32, height: 32 });

async function flat(a: Assignment, shade: number): Promise<BatchedResult> {
  const rgba = new Uint8Array(a.tile.width * a.tile.height * 4).fill(shade);
  return { replica: a.replica, cid: await canonicalCid({ width: a.tile.width, height: a.tile.height, rgba, rays: 0 }), rays: 0, rgba };
}

const view = async (id: string) => (await (await fetch(`${api.farm.url}/api/workers/${id}`)).json()) as WorkerView;
const jobState = async (id: string) => ((await (await api.operator(`/api/jobs/${id}`)).json()) as JobStatus).state;

describe('batched protocol', () => {
  it('hands out several replicas in one poll and judges several results in one upload', async () => {
    const { id } = (await (await api.operator('/api/jobs', fourTiles(2))).json()) as { id: string };
    const a = await api.worker('batch-a', { trusted: true });
    const b = await api.worker('batch-b', { trusted: true });
    const first = await a.client.nextBatch(MAX_BATCH);
    const second = await b.client.nextBatch(MAX_BATCH);
    // Four tasks: each worker gets one replica of each, never two of one task.
    expect(first).toHaveLength(4);
    expect(second).toHaveLength(4);
    expect(new Set(first.map((x) => `${x.tile.x},${x.tile.y}`)).size).toBe(4);
    expect(await a.client.nextBatch(MAX_BATCH, AbortSignal.timeout(2000))).toEqual([]);

    expect(
      (await a.client.uploadBatch(await Promise.all(first.map((x) => flat(x, x.tile.x + x.tile.y))))).results.every((r) => 'status' in r),
    ).toBe(true);
    // One of b's results claims a CID its pixels do not hash to: that one is refused, the rest stand.
    const results = await Promise.all(second.map((x) => flat(x, x.tile.x + x.tile.y)));
    const liar = { ...results[0], cid: (await flat(second[0], 255)).cid };
    const { results: answers } = await b.client.uploadBatch([liar, ...results.slice(1)]);
    expect(answers[0]).toMatchObject({ replica: liar.replica, error: { status: 422 } });
    expect(answers.slice(1).map((r) => ('status' in r ? r.status : r.error.status))).toEqual(['accepted', 'accepted', 'accepted']);
    expect(await jobState(id)).not.toBe('done');
    expect((await view(b.id)).rejected).toBe(1);
    // The refused replica is still b's to answer; a batch sent twice is answered 'duplicate'.
    expect((await b.client.uploadBatch(results)).results).toEqual([
      { replica: results[0].replica, status: 'accepted' },
      ...results.slice(1).map((r) => ({ replica: r.replica, status: 'duplicate' })),
    ]);
    await expect.poll(() => jobState(id), { timeout: 10_000 }).toBe('done');
  });

  it("takes no more replicas than an untrusted worker's free stake covers", async () => {
    await api.operator('/api/jobs', fourTiles(1));
    const thin = await api.worker('thin', { stake: 20 });
    const got = await thin.client.nextBatch(MAX_BATCH);
    expect(got).toHaveLength(2);
    expect(await view(thin.id)).toMatchObject({ inFlight: 2, locked: 20 });
    // Its results free the stake again.
    await thin.client.uploadBatch(await Promise.all(got.map((x) => flat(x, 50))));
  });

  it("refuses another worker's replica inside a batch, item by item", async () => {
    await api.operator('/api/jobs', oneTileJob(2));
    const owner = await api.worker('owner', { trusted: true });
    const thief = await api.worker('thief', { trusted: true });
    const [mine] = await owner.client.nextBatch(1);
    const { results: answers } = await thief.client.uploadBatch([await flat(mine, 60)]);
    expect(answers).toEqual([{ replica: mine.replica, error: expect.objectContaining({ status: 403 }) }]);
    expect((await view(thief.id)).rejected).toBe(1);
    expect((await owner.client.uploadBatch([await flat(mine, 60)])).results).toEqual([{ replica: mine.replica, status: 'accepted' }]);
  });

  it('refuses a result for an id that names no replica, and records the rest of its batch', async () => {
    await api.operator('/api/jobs', oneTileJob(1));
    const w = await api.worker('nameless', { trusted: true });
    const [a] = await w.client.nextBatch(1);
    const mine = await flat(a, 10);
    const nobody = `r${'0'.repeat(32)}`;
    expect((await w.client.uploadBatch([{ ...mine, replica: nobody }, mine])).results).toEqual([
      { replica: nobody, error: expect.objectContaining({ status: 403 }) },
      { replica: a.replica, status: 'accepted' },
    ]);
    expect(await view(w.id)).toMatchObject({ rejected: 1, inFlight: 0 });
  });

  it("records the results that passed when another fails for the farm's own reason, and fails the upload: a retry finds them duplicates", async () => {
    await api.operator('/api/jobs', { ...oneTileJob(1), width: 32 });
    const w = await api.worker('half-stored', { trusted: true });
    const [a, b] = await w.client.nextBatch(2);
    // The blob store keeps blobs under blobs/<the CID's last two characters>/: b's result finds a
    // file where its directory would be, and its store fails.
    const blobDir = (cid: string) => join(api.dir, 'data', 'blobs', cid.slice(-2));
    const good = await flat(a, 1);
    let bad = await flat(b, 2);
    for (let shade = 3; existsSync(blobDir(bad.cid)) || bad.cid.slice(-2) === good.cid.slice(-2); shade++) bad = await flat(b, shade);
    writeFileSync(blobDir(bad.cid), 'in the way');
    await expect(w.client.uploadBatch([good, bad])).rejects.toMatchObject({ status: 500 });
    rmSync(blobDir(bad.cid));
    expect((await w.client.uploadBatch([good, bad])).results).toEqual([
      { replica: a.replica, status: 'duplicate' },
      { replica: b.replica, status: 'accepted' },
    ]);
  });

  it('refuses malformed batches whole, naming the part at fault', async () => {
    const w = await api.worker('framer', { trusted: true });
    const one = {
      replica: `r${'a'.repeat(32)}`,
      cid: await canonicalCid({ width: 1, height: 1, rgba: new Uint8Array(4), rays: 0 }),
      rays: 0,
    };
    const good = encodeResultBatch([{ ...one, rgba: new Uint8Array(4) }]);
    const manifestOf = (entries: unknown) => {
      const json = new TextEncoder().encode(JSON.stringify(entries));
      const out = new Uint8Array(4 + json.length + 4);
      new DataView(out.buffer).setUint32(0, json.length);
      out.set(json, 4);
      return out;
    };
    const cases: [Uint8Array, string][] = [
      [new Uint8Array(0), 'body'],
      [Uint8Array.of(0, 0, 1, 0, 1, 2), 'body'],
      [Uint8Array.of(0, 0, 0, 2, 0x7b, 0x7b), 'manifest'],
      [good.subarray(0, good.length - 1), 'manifest'],
      [manifestOf([{ ...one, replica: 'r1', bytes: 4 }]), 'manifest[0].replica'],
      [manifestOf([{ ...one, rays: -1, bytes: 4 }]), 'manifest[0].rays'],
      [
        manifestOf([
          { ...one, bytes: 2 },
          { ...one, bytes: 2 },
        ]),
        'manifest',
      ],
      [manifestOf(Array.from({ length: MAX_BATCH + 1 }, () => ({ ...one, bytes: 4 }))), 'manifest'],
      [manifestOf({ ...one, bytes: 4 }), 'manifest'],
    ];
    for (const [body, path] of cases) {
      const { errors } = await problem(await putSigned(api.farm.url, w, '/api/work/results', body), 400);
      expect(errors?.map((e) => e.path)).toContain(path);
    }
    // A well-framed batch for a replica nobody holds is answered item by item.
    expect(decodeResultBatch(good)).toHaveLength(1);
    const res = await putSigned(api.farm.url, w, '/api/work/results', good);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { results: unknown[] }).results).toEqual([
      { replica: one.replica, error: expect.objectContaining({ status: 403 }) },
    ]);
  });

  it('refuses a poll for no replicas or more than a batch holds', async () => {
    const w = await api.worker('greedy', { trusted: true });
    await expect(w.client.nextBatch(0)).rejects.toMatchObject({ status: 400 });
    await expect(w.client.nextBatch(MAX_BATCH + 1)).rejects.toMatchObject({ status: 400 });
  });
});
