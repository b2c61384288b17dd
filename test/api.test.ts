/** Bad input gets a clear problem+json naming the field, and never changes state. */
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { REVALIDATE_MS } from '../orchestrator/http/event-stream.ts';
import type { RunningOrchestrator } from '../orchestrator/server.ts';
import { canonicalCid } from '../shared/image.ts';
import type { CalibrationSpec, JobStatus, JobSummary, TaskView } from '../shared/protocol.ts';
import { loadPrivateKey, newKeyPair, SIGNATURE_HEADERS, signRequest, workerIdOf } from '../shared/signing.ts';
import { WorkerClient } from '../worker/client.ts';
import { waitFor } from './support/farm.ts';
import {
  type ApiFarm,
  CALIBRATION_SHADE,
  DEVICE,
  farmIdOf,
  OPERATOR_TOKEN,
  startApiFarm,
  type TestClient,
} from './support/orchestrator.ts';
import { problem } from './support/problem.ts';
import { parsePrometheus, sumOf } from './support/prometheus.ts';
import { shippedRaw } from './support/scenes.ts';
import { serverSentEvents } from './support/server-sent-events.ts';

let apiFarm: ApiFarm;
let farm: RunningOrchestrator;
beforeAll(async () => {
  apiFarm = await startApiFarm({ pollMs: 200, maxSceneBytes: 64 * 1024 });
  farm = apiFarm.farm;
});
afterAll(() => apiFarm.stop());

const api = (path: string, init: RequestInit & { token?: string | null } = {}) =>
  fetch(`${farm.url}${path}`, {
    ...init,
    headers: {
      'content-type': 'application/json',
      ...(init.token === null ? {} : { authorization: `Bearer ${init.token ?? OPERATOR_TOKEN}` }),
      ...(init.headers ?? {}),
    },
  });

const small = { scene: shippedRaw('cornell'), width: 32, height: 16, spp: 1, tileSize: 16 };
const jobCount = async () => ((await (await api('/api/jobs')).json()) as { jobs: unknown[] }).jobs.length;

function newWorker() {
  const { privateKeyPem, publicKeyDer } = newKeyPair();
  const { key } = loadPrivateKey(privateKeyPem);
  const identity = { id: workerIdOf(publicKeyDer), key, publicKeyDer };
  return { identity, client: new WorkerClient(farm.url, identity) };
}

describe('requester API', () => {
  it('answers health checks', async () => {
    expect(await (await fetch(`${farm.url}/healthz`)).json()).toEqual({ ok: true, status: 'ok' });
  });

  it('keeps a worker’s idle connection open for longer than its heartbeat interval, and says so', async () => {
    // Node's default closes an idle connection after 5 s: every worker rendering longer reconnected
    // for each request, and a swarm reconnecting together overran the listen backlog.
    const { privateKeyPem, publicKeyDer } = newKeyPair();
    const identity = { id: workerIdOf(publicKeyDer), key: loadPrivateKey(privateKeyPem).key, publicKeyDer };
    const { heartbeatMs } = await new WorkerClient(farm.url, identity).register('keep-alive', DEVICE);
    const res = await fetch(`${farm.url}/api/farm`);
    expect(res.headers.get('keep-alive')).toBe(`timeout=${Math.floor((heartbeatMs + 5000) / 1000)}`);
  });

  it('requires a token', async () => {
    expect((await problem(await api('/api/jobs', { token: null }), 401)).detail).toMatch(/Bearer/);
    await problem(await api('/api/jobs', { token: 'nope' }), 401);
  });

  it('rejects malformed JSON, malformed and over-limit scenes, bad options; state untouched', async () => {
    const before = await jobCount();
    await problem(await api('/api/jobs', { method: 'POST', body: '{"scene": ' }), 400);
    const bad = structuredClone(small);
    bad.scene.materials[5].ior = 0.2;
    expect((await problem(await api('/api/jobs', { method: 'POST', body: JSON.stringify(bad) }), 400)).errors?.[0].path).toBe(
      'scene.materials[5].ior',
    );
    const huge = structuredClone(small);
    huge.scene.render.width = 100_000;
    expect(
      (await problem(await api('/api/jobs', { method: 'POST', body: JSON.stringify({ scene: huge.scene }) }), 400)).errors?.[0].path,
    ).toBe('scene.render.width');
    expect(
      (await problem(await api('/api/jobs', { method: 'POST', body: JSON.stringify({ ...small, frames: '0-9' }) }), 400)).errors?.[0].path,
    ).toBe('frames');
    expect(
      (await problem(await api('/api/jobs', { method: 'POST', body: JSON.stringify({ ...small, tileSize: 3 }) }), 400)).errors?.[0].path,
    ).toBe('tileSize');
    expect(
      (await problem(await api('/api/jobs', { method: 'POST', body: JSON.stringify({ ...small, spp: 0 }) }), 400)).errors?.[0].path,
    ).toBe('spp');
    expect(await jobCount()).toBe(before);
  });

  it('rejects an oversized upload with 413', async () => {
    const before = await jobCount();
    const res = await api('/api/jobs', { method: 'POST', body: JSON.stringify({ scene: shippedRaw('knot') }) });
    expect((await problem(res, 413)).detail).toMatch(/exceeds 65536 bytes/);
    expect(await jobCount()).toBe(before);
  });

  it('shows a requester only its own jobs', async () => {
    const mint = async (name: string) =>
      ((await (await api('/api/tokens', { method: 'POST', body: JSON.stringify({ name }) })).json()) as { token: string }).token;
    const alice = await mint('alice');
    const bob = await mint('bob');
    const { id } = (await (await api('/api/jobs', { method: 'POST', body: JSON.stringify(small), token: alice })).json()) as { id: string };
    expect((await api(`/api/jobs/${id}`, { token: alice })).status).toBe(200);
    await problem(await api(`/api/jobs/${id}`, { token: bob }), 404);
    await problem(await api(`/api/jobs/${id}`, { method: 'DELETE', token: bob }), 404);
    expect(((await (await api('/api/jobs', { token: bob })).json()) as { jobs: unknown[] }).jobs).toHaveLength(0);
    await problem(await api('/api/tokens', { method: 'POST', body: '{}', token: alice }), 403);
    await problem(await api('/api/jobs/j00000000000000000000', { token: alice }), 404);
    expect((await problem(await api('/api/jobs/jdoesnotexist0', { token: alice }), 400)).errors?.[0].path).toBe('id');
    await problem(await api(`/api/jobs/${id}/frames/0`, { token: alice }), 409);
    await problem(await api(`/api/jobs/${id}/frames/7`, { token: alice }), 404);
    expect(await (await api(`/api/jobs/${id}`, { method: 'DELETE', token: alice })).json()).toEqual({
      id,
      state: 'cancelled',
      deleted: false,
    });
    await problem(await api(`/api/jobs/${id}`, { method: 'DELETE', token: alice }), 409);
  });
});

describe('worker protocol', () => {
  it('refuses prices and ray counts that are not ones: on registration, jobs, calibration and deletion', async () => {
    const w = newWorker();
    await expect(w.client.register('greedy', DEVICE, undefined, -1)).rejects.toMatchObject({ status: 400 });
    await expect(w.client.register('greedy', DEVICE, undefined, 0.0001)).rejects.toMatchObject({ status: 400 });
    const spec = (await w.client.register('honest', DEVICE, undefined, 0.8)).calibration as CalibrationSpec;
    const tiles = spec.tiles.map((t) => ({ ...t, rgba: new Uint8Array(t.width * t.height * 4).fill(CALIBRATION_SHADE), rays: 0 }));
    const negative = tiles.map((t, i) => ({ ...t, rays: i === 0 ? -1 : 0 }));
    await expect(w.client.calibrate(await Promise.all(tiles.map(canonicalCid)), negative)).rejects.toMatchObject({ status: 400 });
    const inflated = tiles.map((t) => ({ ...t, rays: t.width * t.height * 2000 }));
    await expect(w.client.calibrate(await Promise.all(inflated.map(canonicalCid)), inflated)).rejects.toMatchObject({ status: 422 });

    const bid = await problem(await api('/api/jobs', { method: 'POST', body: JSON.stringify({ ...small, maxPrice: -1 }) }), 400);
    expect(bid.errors?.[0].path).toBe('maxPrice');
    const { id } = (await (await api('/api/jobs', { method: 'POST', body: JSON.stringify(small) })).json()) as { id: string };
    expect((await problem(await api(`/api/jobs/${id}?purge=yes`, { method: 'DELETE' }), 400)).errors?.[0].path).toBe('purge');
    expect((await api(`/api/jobs/${id}?purge`, { method: 'DELETE' })).status).toBeLessThan(300);
  });

  it('rejects unknown workers, forged and stale signatures', async () => {
    const w = newWorker();
    expect(
      (
        await problem(
          await fetch(`${farm.url}/api/work/next`, { method: 'POST', headers: { [SIGNATURE_HEADERS.worker]: w.identity.id } }),
          401,
        )
      ).title,
    ).toBe('Unknown worker');
    await w.client.register('honest', DEVICE);
    const farmId = await farmIdOf(farm.url);
    const forger = newWorker();
    // POST /api/work/next as `w`, with a signature made by hand.
    const nextSignedWith = ({ timestamp, signature }: { timestamp: string; signature: string }) =>
      fetch(`${farm.url}/api/work/next`, {
        method: 'POST',
        headers: {
          [SIGNATURE_HEADERS.worker]: w.identity.id,
          [SIGNATURE_HEADERS.timestamp]: timestamp,
          [SIGNATURE_HEADERS.signature]: signature,
        },
      });
    const forged = await nextSignedWith(signRequest(forger.identity.key, farmId, 'POST', '/api/work/next', new Uint8Array()));
    expect((await problem(forged, 401)).title).toBe('Bad signature');
    // The worker's own signature, made for another farm (seen on the wire there): refused here.
    const elsewhere = signRequest(w.identity.key, 'f0123456789abcdef', 'POST', '/api/work/next', new Uint8Array());
    expect((await problem(await nextSignedWith(elsewhere), 401)).title).toBe('Bad signature');
    const old = signRequest(w.identity.key, farmId, 'POST', '/api/work/next', new Uint8Array(), Date.now() - 3_600_000);
    const stale = await nextSignedWith(old);
    expect((await problem(stale, 401)).title).toBe('Stale signature');
    // Registering someone else's key without its private half fails the proof of possession.
    const body = JSON.stringify({ publicKey: forger.identity.publicKeyDer, name: 'thief', device: DEVICE });
    const sig = signRequest(w.identity.key, farmId, 'POST', '/api/workers', new TextEncoder().encode(body));
    const theft = await fetch(`${farm.url}/api/workers`, {
      method: 'POST',
      body,
      headers: {
        [SIGNATURE_HEADERS.timestamp]: sig.timestamp,
        [SIGNATURE_HEADERS.signature]: sig.signature,
        [SIGNATURE_HEADERS.body]: sig.digest,
      },
    });
    await problem(theft, 401);
  });

  it('rejects results for unassigned replicas, wrong sizes and wrong hashes, and records them', async () => {
    const { id } = (await (await api('/api/jobs', { method: 'POST', body: JSON.stringify({ ...small, replicas: 2 }) })).json()) as {
      id: string;
    };
    const a = await apiFarm.worker('a');
    const b = await apiFarm.worker('b');
    const task = await a.client.next();
    if (!task) throw new Error('no assignment');
    const { width, height } = task.tile;
    const good = new Uint8Array(width * height * 4).fill(200);
    const cid = await canonicalCid({ width, height, rgba: good, rays: 0 });

    await expect(b.client.upload(task.replica, cid, { rgba: good, rays: 0 })).rejects.toMatchObject({ status: 403 });
    await expect(a.client.upload(task.replica, cid, { rgba: good.subarray(4), rays: 0 })).rejects.toMatchObject({ status: 422 });
    await expect(a.client.upload(task.replica, cid.replace(/.$/, 'a'), { rgba: good, rays: 0 })).rejects.toMatchObject({ status: 422 });
    // A ray count is a whole number, and no more than the tile's samples can trace.
    await expect(a.client.upload(task.replica, cid, { rgba: good, rays: -1 })).rejects.toMatchObject({ status: 400 });
    await expect(a.client.upload(task.replica, cid, { rgba: good, rays: 1.5 })).rejects.toMatchObject({ status: 400 });
    const inflated = { width, height, rgba: good, rays: width * height * 1000 };
    await expect(a.client.upload(task.replica, await canonicalCid(inflated), inflated)).rejects.toMatchObject({ status: 422 });
    const view = async (w: string) => (await (await fetch(`${farm.url}/api/workers/${w}`)).json()) as { rejected: number; valid: number };
    expect((await view(a.id)).rejected).toBe(3);
    expect((await view(b.id)).rejected).toBe(1);
    const tasks = (await (await api(`/api/jobs/${id}/tasks?frame=0`)).json()) as {
      tasks: { task: string; replicas: { replica: string; state: string }[] }[];
    };
    expect(tasks.tasks.flatMap((t) => t.replicas).find((r) => r.replica === task.replica)?.state).toBe('assigned');
    // Nothing of the refused uploads was stored: the blob of the good pixels does not exist yet.
    expect((await api(`/api/jobs/${id}/tasks/${tasks.tasks[0].task}/pixels/${cid}`)).status).toBe(404);

    expect(await a.client.upload(task.replica, cid, { rgba: good, rays: 0 })).toBe('accepted');
    expect(await a.client.upload(task.replica, cid, { rgba: good, rays: 0 })).toBe('duplicate');
    const status = (await (await api(`/api/jobs/${id}`)).json()) as { replicasRendered: number };
    expect(status.replicasRendered).toBe(1);
    const metrics = parsePrometheus(await (await api('/metrics')).text());
    expect(sumOf(metrics, 'farm_verdicts_total', { verdict: 'rejected' })).toBe(4);
  });
});

describe('dashboard API', () => {
  it('trades a token for an HttpOnly session cookie, naming the field on failure', async () => {
    const post = (body: unknown) => api('/api/session', { method: 'POST', body: JSON.stringify(body), token: null });
    expect((await problem(await post({}), 400)).errors?.[0].path).toBe('token');
    expect((await problem(await post({ token: 'not-a-known-token' }), 401)).errors?.[0].path).toBe('token');
    const res = await post({ token: OPERATOR_TOKEN });
    expect(res.status).toBe(200);
    const cookie = res.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/^farm_session=[^;]+;.*HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Strict/i);
    const session = { cookie: cookie.split(';')[0] };
    expect(await (await api('/api/session', { token: null, headers: session })).json()).toMatchObject({ role: 'operator' });
    expect((await api('/api/jobs', { token: null, headers: session })).status).toBe(200);
    // A page of another origin (a sibling subdomain is the same site: the cookie goes with it) may
    // not change anything with it; the dashboard's own pages, and a bearer token, may.
    const cancel = (headers: Record<string, string>, token: string | null = null) =>
      api('/api/jobs/j0000000000000000000a', { method: 'DELETE', token, headers: { ...session, ...headers } });
    const foreign: Record<string, string>[] = [
      { 'sec-fetch-site': 'same-site' },
      { 'sec-fetch-site': 'cross-site' },
      { origin: 'https://evil.farm.example' },
    ];
    for (const from of foreign) expect((await problem(await cancel(from), 403)).title).toBe('Cross-origin request');
    expect((await cancel({ 'sec-fetch-site': 'same-origin' })).status).toBe(404);
    expect((await cancel({ origin: new URL(farm.url).origin })).status).toBe(404);
    expect((await cancel({ 'sec-fetch-site': 'cross-site' }, OPERATOR_TOKEN)).status).toBe(404);
    // Nor open a live view with it: each holds one of the caller's 16 (a sibling's EventSources
    // could take them all, and the victim's own dashboard got none).
    const view = async (from: string) => {
      const stop = new AbortController();
      const res = await api('/api/jobs/events', { token: null, headers: { ...session, 'sec-fetch-site': from }, signal: stop.signal });
      stop.abort();
      return res.status;
    };
    expect(await view('same-site')).toBe(403);
    expect(await view('same-origin')).toBe(200);
    const out = await api('/api/session', { method: 'DELETE', token: null, headers: session });
    expect(out.headers.get('set-cookie')).toMatch(/farm_session=;.*Expires=Thu, 01 Jan 1970/i);
  });

  it('lists the sample scenes for the submit form', async () => {
    const { scenes } = (await (await api('/api/scenes')).json()) as { scenes: { file: string; frames: number; width: number }[] };
    expect(scenes.map((s) => s.file)).toEqual(['bounce.json', 'cornell.json', 'knot.json', 'room.json']);
    expect(scenes.find((s) => s.file === 'bounce.json')?.frames).toBe(48);
    // The room's texels and sky come as assets the farm holds: the form submits a manifest.
    const room = (scenes as unknown as { file: string; scene: { textures: { rgba: { cid: string } }[] } }[]).find(
      (s) => s.file === 'room.json',
    );
    const texels = room?.scene.textures[0].rgba.cid as string;
    expect(await (await api(`/api/assets/${texels}`)).json()).toEqual({ cid: texels, bytes: expect.any(Number) });
    await problem(await api('/api/scenes', { token: null }), 401);
  });

  it('streams a job’s changes as server-sent events and serves a tile’s verified pixels', async () => {
    // A farm of its own: no other test's replicas in the queues.
    const own = await startApiFarm({ pollMs: 200 });
    onTestFinished(() => own.stop());
    const call = (path: string) => own.operator(path);
    const body = { ...small, width: 16, verification: 'quorum', replicas: 1 };
    const { id } = (await (await own.operator('/api/jobs', body)).json()) as { id: string };
    const res = await call(`/api/jobs/${id}/events`);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const { nextWhere, close } = serverSentEvents(res);
    expect((await nextWhere('job', () => true)).id).toBe(id);

    const w = await own.worker('sse');
    const assignment = await w.client.next();
    if (!assignment) throw new Error('no assignment');
    const rendering = await nextWhere('tiles', (views: TaskView[]) => views.some((v) => v.replicas[0]?.state === 'assigned'));
    expect(rendering[0].replicas[0].replica).toBe(assignment.replica);
    const taskId: string = rendering[0].task;

    const { width, height } = assignment.tile;
    const pixels = new Uint8Array(width * height * 4).map((_, i) => i % 251);
    const cid = await canonicalCid({ width, height, rgba: pixels, rays: 0 });
    expect(await w.client.upload(assignment.replica, cid, { rgba: pixels, rays: 0 })).toBe('accepted');
    const verified = await nextWhere('tiles', (views: TaskView[]) => views.some((v) => v.state === 'verified'));
    expect(verified[0]).toMatchObject({ task: taskId, cid, state: 'verified' });
    expect((await nextWhere('job', (s: JobStatus) => s.tilesVerified === 1)).tilesTotal).toBe(1);
    await close();

    const served = await call(`/api/jobs/${id}/tasks/${taskId}/pixels/${cid}`);
    expect(Buffer.from(await served.arrayBuffer()).equals(Buffer.from(pixels))).toBe(true);
    const otherCid = await canonicalCid({ width, height, rgba: pixels.map((v) => 255 - v), rays: 0 });
    await problem(await call(`/api/jobs/${id}/tasks/${taskId}/pixels/${otherCid}`), 404);
    await problem(await call(`/api/jobs/${id}/tasks/j00000000000000000000.f0.t0/pixels/${cid}`), 404);
    expect((await problem(await call(`/api/jobs/${id}/tasks/jother.f0.t0/pixels/${cid}`), 400)).errors?.[0].path).toBe('task');
  });

  it('serves a requester only the results it paid for: not while a tile waits for agreement, nor one outvoted', async () => {
    const own = await startApiFarm({ pollMs: 200 });
    onTestFinished(() => own.stop());
    const { token } = (await (await own.operator('/api/tokens', { name: 'reader' })).json()) as { token: string };
    const asRequester = (path: string, body?: unknown) =>
      fetch(`${own.farm.url}${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    const submit = async (replicas: number) => {
      const created = await asRequester('/api/jobs', { ...small, width: 16, verification: 'quorum', replicas });
      expect(created.status).toBe(201);
      return ((await created.json()) as { id: string }).id;
    };
    const id = await submit(2);
    const [a, b, c] = [await own.worker('first'), await own.worker('second'), await own.worker('third')];
    const pixels = async (w: TestClient, shade = 77) => {
      let assignment = await w.client.next();
      // The arbiter's slot is issued once the verdict has run.
      for (let i = 0; !assignment && i < 20; i++) assignment = await w.client.next();
      if (!assignment) throw new Error('no assignment');
      const { width, height } = assignment.tile;
      const rgba = new Uint8Array(width * height * 4).fill(shade);
      const cid = await canonicalCid({ width, height, rgba, rays: 0 });
      expect(await w.client.upload(assignment.replica, cid, { rgba, rays: 0 })).toBe('accepted');
      return cid;
    };
    const cid = await pixels(a);
    const task = `${id}.f0.t0`;
    const path = `/api/jobs/${id}/tasks/${task}/pixels/${cid}`;
    // One result in, the second of the quorum not yet: not paid for, so not the requester's to read
    // (it could read, cancel and pay nothing); the operator may.
    expect((await problem(await asRequester(path), 403)).errors?.[0].path).toBe('cid');
    expect((await own.operator(path)).status).toBe(200);
    expect(await pixels(b)).toBe(cid);
    await waitFor(async () => (await asRequester(path)).status === 200, 5000, 'the verdict');

    // Of three, two agree; the dispute goes to a trusted worker, which agrees with them: the one
    // outvoted was paid nothing, and is not the requester's to read.
    const three = await submit(3);
    const outvoted = await pixels(c, 9);
    const agreed = [await pixels(a), await pixels(b), await pixels(await own.worker('arbiter', { trusted: true }))];
    const at = (r: string) => `/api/jobs/${three}/tasks/${three}.f0.t0/pixels/${r}`;
    await waitFor(async () => (await asRequester(at(agreed[0]))).status === 200, 5000, 'the verdict');
    expect((await problem(await asRequester(at(outvoted)), 403)).errors?.[0].path).toBe('cid');
    expect((await own.operator(at(outvoted))).status).toBe(200);
  });

  it('sends a live view each frame’s progress once, then only the frames that changed', async () => {
    const own = await startApiFarm({ pollMs: 200 });
    onTestFinished(() => own.stop());
    // Three frames of one tile each, one replica a tile.
    const body = {
      scene: shippedRaw('bounce'),
      frames: '0-2',
      width: 16,
      height: 16,
      spp: 1,
      tileSize: 16,
      verification: 'quorum',
      replicas: 1,
    };
    const { id } = (await (await own.operator('/api/jobs', body)).json()) as { id: string };
    const live = serverSentEvents(await own.operator(`/api/jobs/${id}/events`));
    onTestFinished(() => live.close());
    expect(((await live.nextWhere('job', () => true)) as JobStatus).frames.map((f) => f.frame)).toEqual([0, 1, 2]);

    const w = await own.worker('frames');
    const assignment = await w.client.next();
    if (!assignment) throw new Error('no assignment');
    const { width, height } = assignment.tile;
    const pixels = new Uint8Array(width * height * 4).fill(7);
    const cid = await canonicalCid({ width, height, rgba: pixels, rays: 0 });
    expect(await w.client.upload(assignment.replica, cid, { rgba: pixels, rays: 0 })).toBe('accepted');
    const verified: JobStatus = await live.nextWhere('job', (s: JobStatus) => s.tilesVerified === 1);
    // The frame whose tile was verified, alone.
    expect(verified.frames).toEqual([{ frame: expect.any(Number), tilesVerified: 1, tilesTotal: 1, done: expect.any(Boolean) }]);
    // A stream opened now starts with every frame again.
    const again = serverSentEvents(await own.operator(`/api/jobs/${id}/events`));
    onTestFinished(() => again.close());
    expect(((await again.nextWhere('job', () => true)) as JobStatus).frames).toHaveLength(3);
  });

  it('streams only the caller’s own jobs in the live job list', async () => {
    const own = await startApiFarm({ pollMs: 200 });
    onTestFinished(() => own.stop());
    const carol = ((await (await own.operator('/api/tokens', { name: 'carol' })).json()) as { token: string }).token;
    const asCarol = (path: string, body?: unknown) =>
      fetch(`${own.farm.url}${path}`, {
        method: body ? 'POST' : 'GET',
        headers: { authorization: `Bearer ${carol}`, 'content-type': 'application/json' },
        body: body ? JSON.stringify(body) : undefined,
      });
    const { nextWhere, close } = serverSentEvents(await asCarol('/api/jobs/events'));
    // The operator's job changes first; carol must not hear of it.
    const theirs = (await (await own.operator('/api/jobs', small)).json()) as { id: string };
    const mine = (await (await asCarol('/api/jobs', small)).json()) as { id: string };
    const first: JobSummary = await nextWhere('job', () => true);
    expect(first.id).toBe(mine.id);
    expect(first.id).not.toBe(theirs.id);
    // A summary, as the list's: its frames counted, not listed.
    expect(first).toMatchObject({ frameCount: 1 });
    expect(first).not.toHaveProperty('frames');
    await close();
  });

  it('lists jobs as summaries (frames counted), and one job with each frame’s progress', async () => {
    const { id } = (await (
      await api('/api/jobs', {
        method: 'POST',
        body: JSON.stringify({ ...small, scene: shippedRaw('bounce'), name: 'three frames', frames: '0-2' }),
      })
    ).json()) as {
      id: string;
    };
    const { jobs } = (await (await api('/api/jobs')).json()) as { jobs: JobSummary[] };
    const listed = jobs.find((j) => j.id === id);
    expect(listed).toMatchObject({ name: 'three frames', frameCount: 3, framesDone: 0 });
    expect(listed).not.toHaveProperty('frames');
    const status = (await (await api(`/api/jobs/${id}`)).json()) as JobStatus;
    expect(status).toMatchObject({ frameCount: 3 });
    expect(status.frames.map((f) => f.frame)).toEqual([0, 1, 2]);
    expect((await api(`/api/jobs/${id}`, { method: 'DELETE' })).status).toBe(200);
  });

  it('ends a live view once its token is revoked, within a few seconds', async () => {
    const own = await startApiFarm({ pollMs: 200 });
    onTestFinished(() => own.stop());
    const { token, owner } = (await (await own.operator('/api/tokens', { name: 'dave' })).json()) as { token: string; owner: string };
    const view = await fetch(`${own.farm.url}/api/jobs/events`, { headers: { authorization: `Bearer ${token}` } });
    expect(view.status).toBe(200);
    const revoked = await fetch(`${own.farm.url}/api/tokens/${owner}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${OPERATOR_TOKEN}` },
    });
    expect(revoked.status).toBe(200);
    const started = Date.now();
    // Read until the orchestrator ends the stream (keepalives aside, nothing comes).
    const reader = view.body?.getReader();
    while (!(await reader?.read().catch(() => ({ done: true })))?.done);
    expect(Date.now() - started).toBeLessThan(REVALIDATE_MS + 3000);
  });
});
