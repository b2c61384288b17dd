/**
 * Retention: a deleted job takes its keys and blobs with it and nothing else (a blob another job
 * shares stays); ended jobs go on their own after the retention period, running ones never; a
 * running job deleted with ?purge is cancelled, its replica out judged and paid, and then deleted;
 * ledgers keep their newest entries, paged newest first.
 */
import { readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectable, deletionCutoff } from '../orchestrator/retention/rules.ts';
import { keys } from '../orchestrator/state/keys.ts';
import type { Assignment, JobDeletion, JobStatus, LedgerPage, WorkerView } from '../shared/protocol.ts';
import { cidOfBytes } from '../shared/unixfs.ts';
import { waitFor } from './support/farm.ts';
import { type ApiFarm, OPERATOR_TOKEN, oneTileJob, startApiFarm, type TestClient, uploadShade } from './support/orchestrator.ts';
import { problem } from './support/problem.ts';

describe('retention rules', () => {
  it('deletes jobs ended before the period, and only those asked for when retention is off', () => {
    expect(deletionCutoff(10_000, 3000)).toBe(7000);
    expect(deletionCutoff(10_000, 0)).toBe(0);
  });

  it('collects a blob nothing refers to once it is older than the grace before the references were read', () => {
    const referenced = new Set(['bkept']);
    expect(collectable({ cid: 'bgone', writtenAt: 1000 }, referenced, 5000, 1000)).toBe(true);
    expect(collectable({ cid: 'bkept', writtenAt: 1000 }, referenced, 5000, 1000)).toBe(false);
    expect(collectable({ cid: 'byoung', writtenAt: 4500 }, referenced, 5000, 1000)).toBe(false);
    expect(collectable({ cid: 'blater', writtenAt: 6000 }, referenced, 5000, 0)).toBe(false);
  });
});

async function submit(api: ApiFarm, body: unknown): Promise<string> {
  const res = await api.operator('/api/jobs', body);
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

const status = async (api: ApiFarm, id: string) => (await api.operator(`/api/jobs/${id}`)).json() as Promise<JobStatus>;

const remove = (api: ApiFarm, id: string) =>
  fetch(`${api.farm.url}/api/jobs/${id}?purge`, { method: 'DELETE', headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } });

/** Renders every tile of a job with one flat shade, and waits until it is done. */
async function render(api: ApiFarm, w: TestClient, id: string, tiles: number, shade: number): Promise<void> {
  for (let i = 0; i < tiles; i++) {
    const a = (await w.client.next()) as Assignment;
    expect(await uploadShade(w.client, a, shade)).toBe('accepted');
  }
  await waitFor(async () => (await status(api, id)).state === 'done', 10_000, `job ${id} to finish`);
}

describe('deleting a job', () => {
  let api: ApiFarm;
  let redis: Redis;
  let truth: TestClient;

  beforeAll(async () => {
    api = await startApiFarm({ collectIntervalMs: 200, blobGraceMs: 1000 });
    redis = new Redis(api.redisUrl);
    truth = await api.worker('truth', { trusted: true });
  });
  afterAll(async () => {
    redis.disconnect();
    await api.stop();
  });

  /**
   * The farm's own keys (those that expire by themselves, and the records of its periodic duties
   * and market clearings, which run whatever the jobs do, aside), the members of its indexes (sets
   * and sorted sets: job lists, the spot-check pool, leaderboards) and the stored blobs.
   */
  async function snapshot(): Promise<{ keys: string[]; blobs: string[] }> {
    const keys: string[] = [];
    for (const key of await redis.keys('farm:*')) {
      if ((await redis.ttl(key)) !== -1 || key.startsWith('farm:duty:') || key.startsWith('farm:market:')) continue;
      const type = await redis.type(key);
      const members = type === 'set' ? await redis.smembers(key) : type === 'zset' ? await redis.zrange(key, 0, -1) : [];
      keys.push(key, ...members.sort().map((m) => `${key} ∋ ${m}`));
    }
    const root = join(api.dir, 'data', 'blobs');
    const blobs = readdirSync(root).flatMap((shard) => readdirSync(join(root, shard)));
    return { keys: keys.sort(), blobs: blobs.sort() };
  }

  it("deletes a finished job's keys and blobs and nothing else", async () => {
    const kept = await submit(api, oneTileJob(1));
    await render(api, truth, kept, 1, 90);
    const keptFrame = await (await api.operator(`/api/jobs/${kept}/frames/0`)).arrayBuffer();
    const before = await snapshot();

    // The same scene (one blob for both) in four tiles of another shade.
    const gone = await submit(api, { ...oneTileJob(1), tileSize: 8 });
    await render(api, truth, gone, 4, 70);
    const during = await snapshot();
    expect(during.keys.length).toBeGreaterThan(before.keys.length);
    expect(during.blobs.length).toBeGreaterThan(before.blobs.length);
    // Its verified tiles became known answers for spot checks.
    expect(during.keys.filter((k) => k.startsWith('farm:spot:') && k.includes(` ∋ ${gone}.`))).toHaveLength(4);

    const res = await remove(api, gone);
    expect(res.status).toBe(200);
    expect((await res.json()) as JobDeletion).toEqual({ id: gone, state: 'done', deleted: true });
    expect((await api.operator(`/api/jobs/${gone}`)).status).toBe(404);
    expect((await snapshot()).keys).toEqual(before.keys);

    // Its results and frame go with the next collection past the grace; the shared scene stays.
    await waitFor(async () => (await snapshot()).blobs.length === before.blobs.length, 10_000, 'its blobs to be collected');
    expect(await snapshot()).toEqual(before);
    expect(await status(api, kept)).toMatchObject({ state: 'done', framesDone: 1 });
    expect(Buffer.from(await (await api.operator(`/api/jobs/${kept}/frames/0`)).arrayBuffer())).toEqual(Buffer.from(keptFrame));
    expect((await api.operator('/api/jobs')).ok).toBe(true);
  });

  it('answers 503 with Retry-After, never a 500, for a frame whose blob is out of the store’s reach', async () => {
    const id = await submit(api, oneTileJob(1));
    await render(api, truth, id, 1, 40);
    const frame = await api.operator(`/api/jobs/${id}/frames/0`);
    const cid = (frame.headers.get('etag') as string).replaceAll('"', '');
    unlinkSync(join(api.dir, 'data', 'blobs', cid.slice(-2), cid));
    const missing = await api.operator(`/api/jobs/${id}/frames/0`);
    expect((await problem(missing, 503)).detail).toMatch(/frame 0 .* out of this orchestrator's reach/);
    expect(Number(missing.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('cancels a running job asked to be deleted, judges its replica out, and deletes it once wound down', async () => {
    const holder = await api.worker('holder', { stake: 100 });
    const id = await submit(api, oneTileJob(1));
    const held = (await holder.client.next()) as Assignment;
    const view = async () => (await (await fetch(`${api.farm.url}/api/workers/${holder.id}`)).json()) as WorkerView;
    expect(await view()).toMatchObject({ inFlight: 1, locked: 10 });

    // Not while its replica out drains: deleting the job would pay nothing for it. Its result is
    // judged, and the job deleted after.
    const res = await remove(api, id);
    expect([res.status, await res.json()]).toEqual([202, { id, state: 'cancelled', deleted: false } satisfies JobDeletion]);
    expect(await uploadShade(holder.client, held, 90)).toBe('accepted');
    await waitFor(async () => (await api.operator(`/api/jobs/${id}`)).status === 404, 10_000, 'the job to be deleted');
    expect(await view()).toMatchObject({ inFlight: 0, locked: 0, stake: 100, valid: 1 });
  });

  it('is not held up by more jobs due before it than a pass deletes that may not go yet', async () => {
    // 25 cancelled jobs asked to be deleted whose tiles still drain (a requester's, its keys
    // holding their replicas), due first.
    const stuck = Array.from({ length: 25 }, (_, i) => `j${String(i).padStart(20, '0')}`);
    for (const id of stuck) {
      await redis.hset(keys.job(id), { id, state: 'cancelled', draining: 1, finishedAt: Date.now() });
      await redis.zadd(keys.jobsEnded, 0, id);
    }
    try {
      const id = await submit(api, oneTileJob(1));
      await render(api, truth, id, 1, 90);
      await redis.zadd(keys.jobsEnded, 0, id);
      await waitFor(async () => (await api.operator(`/api/jobs/${id}`)).status === 404, 10_000, 'the job to be deleted');
      for (const s of stuck) expect(await redis.hget(keys.job(s), 'state')).toBe('cancelled');
    } finally {
      for (const id of stuck) await Promise.all([redis.del(keys.job(id)), redis.zrem(keys.jobsEnded, id)]);
    }
  });

  it('collects an asset no job names, and forgets it, so that a client uploads it again', async () => {
    const body = new TextEncoder().encode('texels no job names');
    const cid = await cidOfBytes(body);
    const put = () =>
      fetch(`${api.farm.url}/api/assets/${cid}`, { method: 'PUT', body, headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } });
    const stored = async () => (await api.operator(`/api/assets/${cid}`)).status;
    expect((await put()).status).toBe(201);
    expect(await stored()).toBe(200);
    await waitFor(async () => (await stored()) === 404, 10_000, 'the asset to be collected and forgotten');
    expect((await snapshot()).blobs).not.toContain(cid);
    expect((await put()).status).toBe(201);
    expect(await stored()).toBe(200);
  });
});

describe('retention over time', () => {
  let api: ApiFarm;
  let truth: TestClient;

  beforeAll(async () => {
    api = await startApiFarm({ retentionMs: 1500, collectIntervalMs: 200, ledgerEntriesKept: 5 });
    truth = await api.worker('truth', { trusted: true });
  });
  afterAll(() => api.stop());

  it('deletes ended jobs once the period has passed, never a running one', async () => {
    const ended = await submit(api, oneTileJob(1));
    await render(api, truth, ended, 1, 90);
    const running = await submit(api, oneTileJob(1));
    const a = (await truth.client.next()) as Assignment;

    await waitFor(async () => (await api.operator(`/api/jobs/${ended}`)).status === 404, 10_000, 'the ended job to go');
    await new Promise((r) => setTimeout(r, 2000));
    expect(await status(api, running)).toMatchObject({ state: 'running' });

    expect(await uploadShade(truth.client, a, 90)).toBe('accepted');
    await waitFor(async () => (await status(api, running)).state === 'done', 10_000, 'the running job to finish');
    await waitFor(async () => (await api.operator(`/api/jobs/${running}`)).status === 404, 10_000, 'it to go in turn');
  });

  it('keeps the newest ledger entries, paged newest first, and balances exact', async () => {
    for (let i = 1; i <= 12; i++) expect((await api.operator('/api/credits', { account: 'treasury', amount: i })).status).toBe(201);
    const page = async (query: string) => (await (await api.operator(`/api/treasury${query}`)).json()) as LedgerPage;
    await waitFor(async () => (await page('')).kept === 5, 10_000, 'the ledger to be capped');
    const first = await page('?limit=3');
    expect(first).toMatchObject({ balance: 78, total: 12, kept: 5, offset: 0 });
    expect(first.entries.map((e) => e.amount)).toEqual([12, 11, 10]);
    expect((await page('?offset=3&limit=3')).entries.map((e) => e.amount)).toEqual([9, 8]);
    expect((await page('?offset=5')).entries).toEqual([]);
    const bad = await api.operator('/api/treasury?limit=0');
    expect(bad.status).toBe(400);
  });
});
