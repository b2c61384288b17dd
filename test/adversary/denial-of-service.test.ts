/**
 * Cheap denial of service, tried and refused: unauthenticated floods (refused before a body is
 * read), registration and polling floods (rate limits), oversized plans (quotas), scans of every
 * worker (indexes instead), invented classes (no queues, no connections), huge cancels (in bulk,
 * in the background), malformed input (400, never 500), refused uploads (nothing stored) and
 * compressed bodies (refused before a byte is inflated).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RequesterClient } from '../../cli/requester.ts';
import { keys } from '../../orchestrator/state/keys.ts';
import { canonicalCid } from '../../shared/image.ts';
import type { Assignment, ClassList } from '../../shared/protocol.ts';
import { SIGNATURE_HEADERS, signRequest } from '../../shared/signing.ts';
import { cidOfBytes } from '../../shared/unixfs.ts';
import { type Answers, Attacker, cidsOf, newClient } from '../support/adversary.ts';
import { TestFarm } from '../support/farm.ts';
import {
  type ApiFarm,
  CALIBRATION_SHADE,
  DEVICE,
  OPERATOR_TOKEN,
  oneTileJob,
  signedHeaders,
  startApiFarm,
  uploadShade,
} from '../support/orchestrator.ts';
import { problem } from '../support/problem.ts';
import { shippedRaw } from '../support/scenes.ts';

describe('an unauthenticated flood', () => {
  let farm: TestFarm;
  beforeAll(async () => {
    farm = await TestFarm.start();
  });
  afterAll(() => farm.stop());

  it('is refused before its body is read, and /healthz keeps answering within 200 ms', async () => {
    // /healthz is timed from a process of its own, so that this one's sending does not count.
    const probe = spawn(process.execPath, ['-e', HEALTH_PROBE, `${farm.url}/healthz`], { stdio: ['ignore', 'pipe', 'inherit'] });
    const latencies = new Promise<number[]>((resolve) => {
      let out = '';
      probe.stdout.on('data', (d) => {
        out += d;
      });
      probe.on('exit', () => resolve(JSON.parse(out || '[]')));
    });
    await new Promise((r) => setTimeout(r, 300));
    const body = Buffer.alloc(31 * 1024 * 1024, 0x20);
    body.write('{"scene": [');
    const statuses = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        fetch(`${farm.url}${i % 2 ? '/api/jobs' : '/api/work/next'}`, {
          method: 'POST',
          body,
          headers: { 'content-type': 'application/json', ...(i % 2 ? {} : { [SIGNATURE_HEADERS.worker]: 'w00000000000000000000' }) },
        }).then(
          (r) => r.status,
          () => 'closed',
        ),
      ),
    );
    probe.kill('SIGTERM');
    for (const status of statuses) expect([401, 'closed']).toContain(status);
    const times = await latencies;
    expect(times.length).toBeGreaterThan(5);
    expect(Math.max(...times)).toBeLessThan(200);
  });
});

/** Fetches a URL every 20 ms until SIGTERM, then prints the latencies (ms) as JSON. */
const HEALTH_PROBE = `
const times = [];
let on = true;
process.on('SIGTERM', () => { on = false; });
(async () => {
  while (on) {
    const t = performance.now();
    await fetch(process.argv[1]).then((r) => r.arrayBuffer());
    times.push(performance.now() - t);
    await new Promise((r) => setTimeout(r, 20));
  }
  process.stdout.write(JSON.stringify(times));
})();
`;

describe('limits and quotas', () => {
  let api: ApiFarm;
  beforeAll(async () => {
    api = await startApiFarm({
      workerRequestsPerSecond: 8,
      submissionsPerMinute: 6,
      estimatesPerMinute: 5,
      maxTasksPerJob: 100,
      maxTasksInFlight: 150,
      spotCheckRate: 0,
    });
  });
  afterAll(() => api.stop());

  it('limits registrations per address', async () => {
    const own = await startApiFarm({ registrationsPerMinute: 10 });
    try {
      const outcomes = [];
      for (let i = 0; i < 15; i++) {
        const { client } = newClient(own.farm.url);
        outcomes.push(
          await client.register(`flood-${i}`, DEVICE).then(
            () => 201,
            (e) => e.status,
          ),
        );
      }
      // The anchor took one of the ten.
      expect(outcomes.filter((s) => s === 201)).toHaveLength(9);
      expect(outcomes.slice(9)).toEqual(Array(6).fill(429));
    } finally {
      await own.stop();
    }
  });

  it('limits a key’s requests per second', async () => {
    const w = await api.worker('chatty', { stake: 0 });
    const sent = [];
    for (let i = 0; i < 20; i++) {
      sent.push(
        w.client.heartbeat([]).then(
          () => 200,
          (e) => e.status,
        ),
      );
      // Identical requests signed in the same millisecond are one request replayed (409).
      await new Promise((r) => setTimeout(r, 2));
    }
    const results = await Promise.all(sent);
    expect(results).toContain(429);
    expect(results).toContain(200);
    expect(results).not.toContain(409);
  });

  it('caps job size and a requester’s work in flight, and limits submissions', async () => {
    const big = { ...oneTileJob(1), width: 176, height: 160 }; // 11 × 10 = 110 tiles
    expect((await problem(await api.operator('/api/jobs', big), 400)).errors?.[0].path).toBe('tileSize');
    const ninety = { ...oneTileJob(1), width: 160, height: 144 }; // 90 tiles
    const first = (await (await api.operator('/api/jobs', ninety)).json()) as { id: string };
    const over = await problem(await api.operator('/api/jobs', ninety), 429);
    expect(over.title).toBe('Quota exceeded');
    // Cancelling gives the quota back.
    await fetch(`${api.farm.url}/api/jobs/${first.id}`, {
      method: 'DELETE',
      headers: { authorization: 'Bearer operator-token-for-tests' },
    });
    expect((await api.operator('/api/jobs', ninety)).status).toBe(201);
    let limited = false;
    for (let i = 0; i < 8 && !limited; i++) limited = (await api.operator('/api/jobs', oneTileJob(1))).status === 429;
    expect(limited).toBe(true);
  });

  it('limits estimates (each parses a scene) and forward orders like submissions', async () => {
    const estimates = [];
    for (let i = 0; i < 6; i++) estimates.push((await api.operator('/api/jobs/estimate', oneTileJob(1))).status);
    expect(estimates).toEqual([200, 200, 200, 200, 200, 429]);
    // The submissions above spent this minute's six: a reservation is refused before anything is held.
    const curve = (await (await fetch(`${api.farm.url}/api/market/forwards`)).json()) as { gateMs: number; windows: { start: number }[] };
    const start = (curve.windows.find((w) => w.start - curve.gateMs > Date.now()) as { start: number }).start;
    await problem(await api.operator('/api/reservations', { start, ru: 1, maxPrice: 1 }), 429);
  });
});

describe('pausing and resuming a job', () => {
  it('counts against the submission limit, as a new priority does: each resume walks the job’s queued slots', async () => {
    const api = await startApiFarm({ submissionsPerMinute: 4 });
    try {
      const { id } = (await (await api.operator('/api/jobs', oneTileJob(1))).json()) as { id: string };
      const control = (action: string) => api.operator(`/api/jobs/${id}/${action}`, {});
      expect([(await control('pause')).status, (await control('resume')).status, (await control('pause')).status]).toEqual([200, 200, 200]);
      const refused = await control('resume');
      expect((await problem(refused, 429)).title).toBe('Too many requests');
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      // Refused before anything changed: the job is still paused.
      expect(((await (await api.operator(`/api/jobs/${id}`)).json()) as { paused: boolean }).paused).toBe(true);
    } finally {
      await api.stop();
    }
  });
});

describe('cheap reads and bounded resources', () => {
  let api: ApiFarm;
  let redis: Redis;
  beforeAll(async () => {
    api = await startApiFarm({ spotCheckRate: 0 });
    redis = new Redis(api.redisUrl);
  });
  afterAll(async () => {
    redis.disconnect();
    await api.stop();
  });

  const calls = async (command: string) =>
    Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(await redis.info('commandstats'))?.[1] ?? 0);

  it('holds at most 16 live views open per requester; another requester’s still open', async () => {
    const open = () => fetch(`${api.farm.url}/api/jobs/events`, { headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } });
    // Views whose clients hang up at once, while their tokens are being looked up, are not counted for good.
    for (let i = 0; i < 20; i++) {
      const gone = request(`${api.farm.url}/api/jobs/events`, { headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } });
      gone.on('error', () => undefined);
      gone.end();
      setImmediate(() => gone.destroy());
    }
    await new Promise((r) => setTimeout(r, 500));
    const views = await Promise.all(Array.from({ length: 16 }, open));
    expect(views.map((v) => v.status)).toEqual(Array(16).fill(200));
    const refused = await open();
    expect((await problem(refused, 429)).detail).toMatch(/at most 16 live views/);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    const carol = ((await (await api.operator('/api/tokens', { name: 'carol' })).json()) as { token: string }).token;
    const hers = await fetch(`${api.farm.url}/api/jobs/events`, { headers: { authorization: `Bearer ${carol}` } });
    expect(hers.status).toBe(200);
    await hers.body?.cancel();
    // A view closed is a view free.
    await views[0].body?.cancel();
    await expect
      .poll(async () => {
        const again = await open();
        await again.body?.cancel();
        return again.status;
      })
      .toBe(200);
    await Promise.all(views.slice(1).map((v) => v.body?.cancel()));
  });

  it('pages the leaderboard and counts online workers from indexes, never reading every worker', async () => {
    for (let i = 0; i < 150; i++) await api.worker(`many-${i}`, { stake: 0, shade: null });
    const before = await calls('hgetall');
    const page = (await (await fetch(`${api.farm.url}/api/workers?sort=registeredAt&order=asc&offset=20&limit=10`)).json()) as {
      total: number;
      workers: { name: string }[];
    };
    expect(page.total).toBeGreaterThanOrEqual(151);
    expect(page.workers).toHaveLength(10);
    // Two reads per worker listed (its record and its last hour's counts), whatever the total.
    expect(await calls('hgetall')).toBeLessThanOrEqual(before + 2 * 10);
    const beforeMetrics = await calls('hgetall');
    expect((await api.operator('/metrics')).status).toBe(200);
    expect(await calls('hgetall')).toBe(beforeMetrics);
  });

  it('opens no queue and no connection for classes that keys invent', async () => {
    const queues = async () => new Set((await redis.keys('bull:*:meta')).map((k) => k.split(':')[1]));
    const clients = async () =>
      String(await redis.client('LIST'))
        .trim()
        .split('\n').length;
    const [queuesBefore, clientsBefore] = [await queues(), await clients()];
    for (let i = 0; i < 30; i++) {
      const { calibration: spec } = (await (await fetch(`${api.farm.url}/api/classes`)).json()) as ClassList;
      const tiles = spec.tiles.map((t) => ({ rgba: new Uint8Array(t.width * t.height * 4).fill(i), rays: 0 }));
      const answers: Answers = { spec, tiles, cids: await cidsOf(spec, tiles) };
      const attacker = await Attacker.join(api.farm.url, 1, { answers, device: `invented-gpu-${i}` });
      expect(attacker.keys[0].calibrated.classState).toBe('refused');
      await expect(attacker.keys[0].client.next()).rejects.toMatchObject({ status: 403 });
    }
    expect(await queues()).toEqual(queuesBefore);
    expect(await clients()).toBeLessThanOrEqual(clientsBefore + 1);
    const classes = (await (await fetch(`${api.farm.url}/api/classes`)).json()).classes as unknown[];
    expect(classes).toHaveLength(1);
  });

  it('cancels a 10,000-frame job at once and winds it down in the background', async () => {
    const scene = shippedRaw('bounce') as { animation: { frameCount: number } };
    scene.animation.frameCount = 10_000;
    const res = await api.operator('/api/jobs', { scene, width: 8, height: 8, spp: 1, tileSize: 8, verification: 'quorum', replicas: 1 });
    const { id } = (await res.json()) as { id: string };
    await expect.poll(async () => (await (await api.operator(`/api/jobs/${id}`)).json()).state, { timeout: 60_000 }).toBe('running');
    const holder = await api.worker('holder', { stake: 100 });
    const held = (await holder.client.next()) as Assignment;
    const cancelled = await fetch(`${api.farm.url}/api/jobs/${id}`, {
      method: 'DELETE',
      headers: { authorization: 'Bearer operator-token-for-tests' },
    });
    expect(await cancelled.json()).toEqual({ id, state: 'cancelled', deleted: false });
    await expect.poll(() => redis.scard(keys.jobPending(id)), { timeout: 60_000 }).toBe(0);
    await expect.poll(() => redis.llen('bull:slots:wait'), { timeout: 60_000 }).toBe(0);
    // The replica it held drains (includes/drain.lua); handed back, its tile closes.
    await holder.client.release(held.replica);
    await expect.poll(() => redis.hget(keys.job(id), 'draining'), { timeout: 10_000 }).toBe('0');
    expect(await (await fetch(`${api.farm.url}/api/workers/${holder.id}`)).json()).toMatchObject({ inFlight: 0, locked: 0 });
    // Deleting its 10,000 tasks takes one request.
    const purged = await fetch(`${api.farm.url}/api/jobs/${id}?purge`, {
      method: 'DELETE',
      headers: { authorization: 'Bearer operator-token-for-tests' },
    });
    expect(await purged.json()).toEqual({ id, state: 'cancelled', deleted: true });
    expect(await redis.exists(keys.job(id), keys.task(`${id}.f0.t0`), keys.task(`${id}.f9999.t0`))).toBe(0);
  });

  it('answers malformed JSON and ids of the wrong shape with 400 naming the field', async () => {
    const w = await api.worker('shapes', { stake: 10 });
    const raw = (method: string, path: string, body = '') => {
      const sig = signRequest(w.identity.key, w.farmId, method, path, new TextEncoder().encode(body));
      return fetch(`${api.farm.url}${path}`, {
        method,
        body: body || undefined,
        headers: {
          [SIGNATURE_HEADERS.worker]: w.id,
          [SIGNATURE_HEADERS.timestamp]: sig.timestamp,
          [SIGNATURE_HEADERS.signature]: sig.signature,
          [SIGNATURE_HEADERS.body]: sig.digest,
        },
      });
    };
    expect((await problem(await raw('POST', '/api/work/heartbeat', '{"replicas": ['), 400)).title).toBe('Malformed JSON');
    expect((await problem(await raw('PUT', '/api/work/not-a-replica/result', 'x'), 400)).errors?.[0].path).toBe('replica');
    expect((await problem(await raw('GET', '/ipfs/zzz'), 400)).errors?.[0].path).toBe('cid');
    // The gateway answers verifiable blocks only: a request for bare bytes is refused.
    expect((await problem(await raw('GET', `/ipfs/bafkrei${'a'.repeat(52)}`), 406)).title).toBe('Not acceptable');
    expect((await problem(await fetch(`${api.farm.url}/api/workers/robert'); DROP`), 400)).errors?.[0].path).toBe('id');
    expect((await problem(await api.operator('/api/jobs/J123'), 400)).errors?.[0].path).toBe('id');
    const grant = await fetch(`${api.farm.url}/api/credits`, {
      method: 'POST',
      body: '{"account": ',
      headers: { authorization: 'Bearer operator-token-for-tests', 'content-type': 'application/json' },
    });
    expect((await problem(grant, 400)).title).toBe('Malformed JSON');
    const registration = await fetch(`${api.farm.url}/api/workers`, { method: 'POST', body: '{"publicKey":' });
    expect((await problem(registration, 400)).title).toBe('Malformed JSON');
  });

  it('stores nothing of an upload it refuses', async () => {
    await api.operator('/api/jobs', oneTileJob(2));
    const a = await api.worker('a', { stake: 10 });
    const b = await api.worker('b', { stake: 10 });
    const task = (await a.client.next()) as Assignment;
    const stored = (cid: string) => existsSync(join(api.dir, 'data', 'blobs', cid.slice(-2), cid));
    const { width, height } = task.tile;
    const pixels = new Uint8Array(width * height * 4).fill(CALIBRATION_SHADE + 1);
    const cid = await canonicalCid({ width, height, rgba: pixels, rays: 0 });
    await expect(b.client.upload(task.replica, cid, { rgba: pixels, rays: 0 })).rejects.toMatchObject({ status: 403 });
    await expect(a.client.upload(task.replica, cid, { rgba: pixels.subarray(8), rays: 0 })).rejects.toMatchObject({ status: 422 });
    await expect(a.client.upload(task.replica, cid.replace(/.$/, 'q'), { rgba: pixels, rays: 0 })).rejects.toMatchObject({ status: 422 });
    expect(stored(cid)).toBe(false);
    await uploadShade(a.client, task, CALIBRATION_SHADE + 1);
    expect(stored(cid)).toBe(true);
  });

  it('runs no verdict for a re-upload of a replica judged already', async () => {
    // First in line (an earlier test's slot may still wait): the worker's next replica is this job's.
    const { id: job } = (await (await api.operator('/api/jobs', { ...oneTileJob(1), priority: 100 })).json()) as { id: string };
    const a = await api.worker('resender', { stake: 10 });
    const task = (await a.client.next()) as Assignment;
    await uploadShade(a.client, task, CALIBRATION_SHADE); // judged (one replica) before the farm goes idle
    const taskKey = keys.task(`${job}.f0.t0`);
    expect(await redis.hget(taskKey, 'state')).toBe('verified');
    // Every script that judges a task names the task's key; the re-uploads' lookups name replicas.
    const monitor = spawn('redis-cli', ['-u', api.redisUrl, 'monitor']);
    let judgements = 0;
    createInterface({ input: monitor.stdout }).on('line', (line) => {
      if (/"evalsha"/i.test(line) && line.includes(`"${taskKey}"`)) judgements++;
    });
    await once(monitor.stdout, 'data');
    try {
      for (let i = 0; i < 5; i++) expect(await uploadShade(a.client, task, CALIBRATION_SHADE)).toBe('duplicate');
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      monitor.kill();
    }
    expect(judgements).toBe(0);
  });

  it('refuses a compressed body before it inflates a byte: a worker’s 32 MiB upload in 53 bytes, a requester’s scene', async () => {
    // A fresh key, not calibrated, no stake, signs the hash of the 32 MiB its 53 bytes of brotli inflate to.
    const w = await api.worker('bomber', { shade: null, stake: 0 });
    const inflated = new Uint8Array(32 * 1024 * 1024);
    const wire = brotliCompressSync(inflated, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } });
    expect(wire.length).toBeLessThan(100);
    const bomb = await fetch(`${api.farm.url}/api/work/results`, {
      method: 'PUT',
      body: wire,
      headers: {
        'content-type': 'application/octet-stream',
        'content-encoding': 'br',
        ...signedHeaders(w, signRequest(w.identity.key, w.farmId, 'PUT', '/api/work/results', inflated)),
      },
    });
    expect((await problem(bomb, 415)).title).toBe('Unsupported content encoding');
    const scene = await fetch(`${api.farm.url}/api/jobs`, {
      method: 'POST',
      body: gzipSync(JSON.stringify(oneTileJob(1))),
      headers: { authorization: `Bearer ${OPERATOR_TOKEN}`, 'content-type': 'application/json', 'content-encoding': 'gzip' },
    });
    expect((await problem(scene, 415)).detail).toMatch(/gzip/);
    // Every route, whatever its parser: a glTF import's 184 bytes of brotli were 96 MiB of JSON to read.
    const json = JSON.stringify({ files: { 'a.glb': 'A'.repeat(8 * 1024 * 1024) } });
    const imported = await fetch(`${api.farm.url}/api/scenes/import`, {
      method: 'POST',
      body: brotliCompressSync(json),
      headers: { authorization: `Bearer ${OPERATOR_TOKEN}`, 'content-type': 'application/json', 'content-encoding': 'br' },
    });
    expect((await problem(imported, 415)).detail).toMatch(/br/);
  });

  it('reads a requester’s uploads within a byte budget, sized by their declared length before a byte is read', async () => {
    const { maxAssetBytes } = (await (await fetch(`${api.farm.url}/api/limits`)).json()) as { maxAssetBytes: number };
    /** An upload that declares the most an asset may be and sends `sent` bytes of it. */
    const declaringAll = async (sent: number) => {
      const upload = request(`${api.farm.url}/api/assets/${await cidOfBytes(new Uint8Array(1))}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${OPERATOR_TOKEN}`, 'content-length': String(maxAssetBytes) },
      });
      upload.on('error', () => undefined);
      upload.write(Buffer.alloc(sent));
      return upload;
    };
    // Uploads whose clients hang up at once, while their tokens are being looked up, give their share back.
    for (let i = 0; i < 4; i++) (await declaringAll(0)).destroy();
    await new Promise((r) => setTimeout(r, 300));
    // This one holds the requester's share.
    const holding = await declaringAll(1);
    await new Promise((r) => setTimeout(r, 300));
    const small = new Uint8Array(16).fill(7);
    const elsewhere = await cidOfBytes(new Uint8Array(2));
    const put = () =>
      fetch(`${api.farm.url}/api/assets/${elsewhere}`, {
        method: 'PUT',
        body: small,
        headers: { authorization: `Bearer ${OPERATOR_TOKEN}` },
      });
    const refused = await put();
    expect((await problem(refused, 429)).detail).toMatch(/uploads are being read/);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    // `farm submit` sends a refused upload again after its Retry-After; it goes through once the share is back.
    const data = new Uint8Array(16).fill(9);
    const client = new RequesterClient(api.farm.url, OPERATOR_TOKEN);
    const uploading = client.uploadAssets(new Map([[await cidOfBytes(data), data]]));
    await new Promise((r) => setTimeout(r, 1500));
    holding.destroy();
    expect(await uploading).toMatchObject({ sent: 1, bytes: 16 });
    // Its share is back once that upload has gone: the next one is read, and judged (its CID is another's: 400).
    await expect.poll(async () => (await put()).status).toBe(400);
  });

  it('reads a scene sent inline (a submission, an estimate) within the same kind of byte budget', async () => {
    // The most a scene's body may be, by default: the requester's whole share.
    const maxSceneBytes = 32 * 1024 * 1024;
    const holding = request(`${api.farm.url}/api/jobs/estimate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${OPERATOR_TOKEN}`, 'content-type': 'application/json', 'content-length': String(maxSceneBytes) },
    });
    holding.on('error', () => undefined);
    holding.write('{');
    await new Promise((r) => setTimeout(r, 300));
    const estimate = () => api.operator('/api/jobs/estimate', oneTileJob(1));
    expect((await problem(await estimate(), 429)).detail).toMatch(/uploads are being read/);
    // Requests without a body are not held up.
    expect((await api.operator('/api/jobs')).status).toBe(200);
    holding.destroy();
    await expect.poll(async () => (await estimate()).status).toBe(200);
  });
});
