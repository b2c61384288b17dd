/**
 * The dashboard's throughput pictures: the pure counting (buckets, shares that sum to exactly
 * 100 %, a worker's minute ring read back), the ring as includes/reputation.lua keeps it in a real
 * Redis, and the API that serves them (an in-process orchestrator, workers speaking the signed
 * protocol): a job's series and shares for its owner or the operator only, and each worker's
 * last hour with the workers list and its own record.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FINISHED_MS, FRESH_MS, mayServe } from '../orchestrator/http/throughput-cache.ts';
import { keys, luaKeyTable } from '../orchestrator/state/keys.ts';
import type { JobStatus, Leaderboard, TaskView, WorkerDetail } from '../shared/protocol.ts';
import {
  bucketTiles,
  type JobThroughput,
  MAX_BUCKETS,
  percentages,
  RECENT_MINUTES,
  recentResults,
  workerShares,
} from '../shared/throughput.ts';
import { type ApiFarm, oneTileJob, renderAll, startApiFarm, uploadShade } from './support/orchestrator.ts';
import { problem } from './support/problem.ts';

const S = 1000;
const MIN = 60 * S;
/** Sum of percentages in tenths, exactly (the floats themselves need not add up bit for bit). */
const tenths = (ps: readonly number[]) => ps.reduce((a, p) => a + Math.round(p * 10), 0);

describe('counting', () => {
  it('buckets decision times by a step aligned to it, from submission to the end, empty buckets included', () => {
    const created = 100 * S + 3 * S;
    const series = bucketTiles([104 * S, 105 * S, 118 * S, 128 * S], created, 129 * S);
    expect(series).toEqual({ start: 100 * S, stepMs: 10 * S, tiles: [2, 1, 1] });
    // Nothing verified yet: one empty bucket.
    expect(bucketTiles([], created, created)).toEqual({ start: 100 * S, stepMs: 10 * S, tiles: [0] });
    expect(bucketTiles([], created, created + 40 * S).tiles).toEqual([0, 0, 0, 0, 0]);
  });

  it('widens the step as the job ages, never past MAX_BUCKETS, and loses no decision', () => {
    expect(bucketTiles([], 0, 30 * MIN)).toMatchObject({ stepMs: 30 * S, tiles: Array(61).fill(0) });
    expect(bucketTiles([], 0, 3 * 60 * MIN)).toMatchObject({ stepMs: 5 * MIN });
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1e12 }),
        fc.integer({ min: 0, max: 30 * 86_400_000 }),
        fc.array(fc.integer({ min: 0, max: 30 * 86_400_000 }), { maxLength: 50 }),
        (from, span, offsets) => {
          const decided = offsets.map((o) => from + o);
          const { start, stepMs, tiles } = bucketTiles(decided, from, from + span);
          expect(tiles.length).toBeLessThanOrEqual(MAX_BUCKETS);
          expect(start).toBeLessThanOrEqual(from);
          expect(start % stepMs).toBe(0);
          // A decision after `to` (another orchestrator's clock) stretches the series: none is lost.
          expect(start + tiles.length * stepMs).toBeGreaterThan(Math.max(from + span, ...decided));
          expect(tiles.reduce((a, b) => a + b, 0)).toBe(decided.length);
        },
      ),
    );
  });

  it('rounds shares to one decimal so that they sum to exactly 100', () => {
    expect(percentages([1, 1, 1])).toEqual([33.4, 33.3, 33.3]);
    expect(percentages([2, 1])).toEqual([66.7, 33.3]);
    expect(percentages([0, 0])).toEqual([0, 0]);
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 10_000 }), { minLength: 1, maxLength: 30 }), (counts) => {
        const ps = percentages(counts);
        const total = counts.reduce((a, b) => a + b, 0);
        expect(tenths(ps)).toBe(total === 0 ? 0 : 1000);
        // Each is within a tenth of its exact value.
        for (const [i, p] of ps.entries()) if (total > 0) expect(Math.abs(p - (100 * counts[i]) / total)).toBeLessThan(0.1);
      }),
    );
  });

  it('counts each worker’s accepted results over the verified tiles, most first', () => {
    const shares = workerShares([
      { decidedAt: 1, workers: ['a', 'b'] },
      { decidedAt: 2, workers: ['c', 'a'] },
      { decidedAt: 3, workers: ['a', 'b'] },
    ]);
    expect(shares).toEqual([
      { worker: 'a', replicas: 3, percent: 50 },
      { worker: 'b', replicas: 2, percent: 33.3 },
      { worker: 'c', replicas: 1, percent: 16.7 },
    ]);
    expect(workerShares([])).toEqual([]);
  });

  it('reads a worker’s minute ring as the last hour, oldest first: stale, future and garbled fields count nothing', () => {
    const now = 1_000 * MIN + 30 * S;
    const ring = { '40': '1000 3', '39': '999 1', '41': '941 2', '0': '940 7', '1': '1001 5', '2': 'x 9' };
    const recent = recentResults(ring, now);
    expect(recent).toHaveLength(RECENT_MINUTES);
    expect(recent.slice(-2)).toEqual([1, 3]);
    expect(recent[0]).toBe(2);
    expect(recent.reduce((a, b) => a + b, 0)).toBe(6);
  });
});

describe('when a cached answer serves (orchestrator/http/throughput-cache.ts)', () => {
  const running = { state: 'running', tilesVerified: 5, finishedAt: null } as const;
  const done = { state: 'done', tilesVerified: 6, finishedAt: 9 * S } as const;
  const cachedAt = (job: { state: string; tilesVerified: number; finishedAt: number | null }, at: number, settled = true) => ({
    version: `${job.state} ${job.tilesVerified} ${job.finishedAt}`,
    at,
    settled,
  });

  it('shares one being computed with every request for the job, whatever has changed since', () => {
    expect(mayServe(cachedAt(running, 0, false), done, FINISHED_MS * 2)).toBe(true);
  });

  it('serves a running job’s for FRESH_MS, tiles verified meanwhile or not', () => {
    expect(mayServe(cachedAt(running, 0), { ...running, tilesVerified: 6 }, FRESH_MS - 1)).toBe(true);
    expect(mayServe(cachedAt(running, 0), running, FRESH_MS)).toBe(false);
  });

  it('serves a finished job’s for FINISHED_MS while its record is unchanged, and not once it ends again', () => {
    expect(mayServe(cachedAt(done, 0), done, FINISHED_MS - 1)).toBe(true);
    expect(mayServe(cachedAt(done, 0), done, FINISHED_MS)).toBe(false);
    // Just finished: the answer computed while it ran stops at the time it was asked.
    expect(mayServe(cachedAt(running, 0), done, 1)).toBe(false);
    // Re-run and verified again: the same count of tiles, a later end.
    expect(mayServe(cachedAt(done, 0), { ...done, finishedAt: 20 * S }, 1)).toBe(false);
    expect(mayServe(cachedAt(done, 0), { ...done, state: 'cancelled' }, 1)).toBe(false);
  });
});

let api: ApiFarm;
let redis: Redis;
beforeAll(async () => {
  api = await startApiFarm({ pollMs: 100 });
  redis = new Redis(api.redisUrl);
});
afterAll(async () => {
  redis.disconnect();
  await api.stop();
});

/**
 * HGETALLs Redis has run: computing a job's throughput reads each of its tiles' replicas with one
 * (and its state with an HMGET, which BullMQ also uses for every slot a job's planning queues).
 */
const tileReads = async () => Number(/cmdstat_hgetall:calls=(\d+)/.exec(await redis.info('commandstats'))?.[1] ?? 0);

describe('the minute ring in Redis (includes/reputation.lua)', () => {
  it('counts results per minute, reuses a minute’s field an hour on, and expires an hour after the last', async () => {
    const redis = new Redis(api.redisUrl);
    try {
      // The include's countRecent, called as settle.lua and spot-verdict.lua call it.
      const include = readFileSync(new URL('../orchestrator/state/lua/includes/reputation.lua', import.meta.url), 'utf8');
      const script = `${luaKeyTable(include)}${include}
countRecent(ARGV[1], tonumber(ARGV[2]))`;
      const count = (at: number) => redis.eval(script, 0, 'w-ring', at);
      const t = 29_000_000 * MIN;
      await count(t + 1 * S);
      await count(t + 59 * S);
      await count(t + MIN);
      const key = keys.workerRecent('w-ring');
      expect(recentResults(await redis.hgetall(key), t + MIN)).toEqual([...Array(RECENT_MINUTES - 2).fill(0), 2, 1]);
      expect(await redis.pttl(key)).toBeGreaterThan(59 * MIN);
      // An hour later the first minute's field is reused: its old count is gone, not added to.
      await count(t + 60 * MIN);
      const ring = await redis.hgetall(key);
      expect(Object.keys(ring)).toHaveLength(2);
      expect(recentResults(ring, t + 60 * MIN)).toEqual([1, ...Array(RECENT_MINUTES - 2).fill(0), 1]);
    } finally {
      redis.disconnect();
    }
  });
});

interface Requester {
  call(path: string): Promise<Response>;
  submit(body: unknown): Promise<Response>;
}
async function requester(name: string): Promise<Requester> {
  const { token, owner } = (await (await api.operator('/api/tokens', { name })).json()) as { token: string; owner: string };
  expect((await api.operator('/api/credits', { account: owner, amount: 20 })).status).toBe(201);
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  return {
    call: (path) => fetch(`${api.farm.url}${path}`, { headers }),
    submit: (body) => fetch(`${api.farm.url}/api/jobs`, { method: 'POST', headers, body: JSON.stringify(body) }),
  };
}

describe('GET /api/jobs/:id/throughput and the workers’ last hour', () => {
  it('gives the job’s owner its tiles over time and each worker’s share; anyone else a 404', async () => {
    const artist = await requester('artist');
    const workers = await Promise.all(['t1', 't2', 't3'].map((name) => api.worker(name, { trusted: true })));
    // Six tiles, two agreeing replicas each.
    const res = await artist.submit({ ...oneTileJob(2), width: 48, height: 32 });
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as { id: string };
    const empty = (await (await artist.call(`/api/jobs/${id}/throughput`)).json()) as JobThroughput;
    expect(empty).toMatchObject({ stepMs: 10 * S, shares: [] });
    expect(empty.tiles.every((n) => n === 0)).toBe(true);

    await renderAll(workers, 90);
    await expect.poll(async () => ((await (await artist.call(`/api/jobs/${id}`)).json()) as JobStatus).state).toBe('done');
    const status = (await (await artist.call(`/api/jobs/${id}`)).json()) as JobStatus;
    const tasks = ((await (await artist.call(`/api/jobs/${id}/tasks`)).json()) as { tasks: TaskView[] }).tasks;
    const picture = (await (await artist.call(`/api/jobs/${id}/throughput`)).json()) as JobThroughput;

    // The series: every verified tile in the bucket of its decision, from submission to the end.
    expect(picture).toMatchObject(
      bucketTiles(
        tasks.map((t) => t.decidedAt as number),
        status.createdAt,
        status.finishedAt as number,
      ),
    );
    expect(picture.tiles.reduce((a, b) => a + b, 0)).toBe(6);
    // The shares: each worker's agreeing replicas, as the tiles list them, summing to 100 %.
    const valid = new Map<string, number>();
    for (const r of tasks.flatMap((t) => t.replicas)) if (r.state === 'valid') valid.set(r.worker, (valid.get(r.worker) ?? 0) + 1);
    expect(new Map(picture.shares.map((s) => [s.worker, s.replicas]))).toEqual(valid);
    expect(picture.shares.reduce((a, s) => a + s.replicas, 0)).toBe(12);
    expect(tenths(picture.shares.map((s) => s.percent))).toBe(1000);
    // A finished job's answer is kept: asking again reads no tile (the farm's own few reads aside).
    const before = await tileReads();
    for (let i = 0; i < 3; i++) expect(await (await artist.call(`/api/jobs/${id}/throughput`)).json()).toEqual(picture);
    expect((await tileReads()) - before).toBeLessThan(6);

    // The operator sees it; another requester, and nobody signed in, do not learn the job exists.
    expect((await api.operator(`/api/jobs/${id}/throughput`)).status).toBe(200);
    const stranger = await requester('stranger');
    expect((await problem(await stranger.call(`/api/jobs/${id}/throughput`), 404)).detail).toBe(`no job ${id}`);
    await problem(await fetch(`${api.farm.url}/api/jobs/${id}/throughput`), 401);
    const bad = await problem(await artist.call('/api/jobs/not-a-job/throughput'), 400);
    expect(bad.errors?.[0].path).toBe('id');

    // Each worker's last hour, with the workers list and its own record: its valid results, all in it.
    const board = (await (await fetch(`${api.farm.url}/api/workers?limit=50`)).json()) as Leaderboard;
    for (const w of workers) {
      const row = board.workers.find((b) => b.id === w.id);
      expect(row?.recent).toHaveLength(RECENT_MINUTES);
      expect(row?.recent.reduce((a, b) => a + b, 0)).toBe(valid.get(w.id) ?? 0);
      const detail = (await (await fetch(`${api.farm.url}/api/workers/${w.id}`)).json()) as WorkerDetail;
      expect(detail.recent).toEqual(row?.recent);
    }
  });

  it('computes a job’s answer once for requests that come together, and again once more tiles are verified', async () => {
    const watcher = await requester('watcher');
    // 400 tiles: one computation reads each tile once, far more than the farm's own reads meanwhile.
    const TILES = 400;
    const res = await watcher.submit({ ...oneTileJob(2), width: 320, height: 320 });
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as { id: string };
    const url = `/api/jobs/${id}/throughput`;
    const before = await tileReads();
    const [mine, operators] = await Promise.all([watcher.call(url), api.operator(url), watcher.call(url)]);
    const reads = (await tileReads()) - before;
    expect(reads).toBeGreaterThanOrEqual(TILES);
    expect(reads).toBeLessThan(2 * TILES);
    const empty = (await mine.json()) as JobThroughput;
    expect(await operators.json()).toEqual(empty);
    expect(empty.tiles.reduce((a, b) => a + b, 0)).toBe(0);
    // A cached answer is still only for those who may see the job.
    const stranger = await requester('onlooker');
    expect((await problem(await stranger.call(url), 404)).detail).toBe(`no job ${id}`);

    // A few tiles verified while the job runs: the answer has them once the last one ages out.
    const workers = await Promise.all(['v1', 'v2'].map((name) => api.worker(name, { trusted: true })));
    const verified = async () => ((await (await watcher.call(`/api/jobs/${id}`)).json()) as JobStatus).tilesVerified;
    while ((await verified()) === 0)
      await Promise.all(
        workers.map(async (w) => {
          const a = await w.client.next();
          if (a) expect(await uploadShade(w.client, a, 90)).toBe('accepted');
        }),
      );
    const total = async () => ((await (await watcher.call(url)).json()) as JobThroughput).tiles.reduce((a, b) => a + b, 0);
    await expect.poll(total, { timeout: 5 * FRESH_MS }).toBe(await verified());
  });
});
