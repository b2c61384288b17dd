/** Spot checks: a verified tile, handed out like any replica, judged against its known hash. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PrivateRedis, startRedisServer } from '../cli/redis-server.ts';
import { OrchestratorConfig } from '../orchestrator/config.ts';
import { type RunningOrchestrator, startOrchestrator } from '../orchestrator/server.ts';
import { canonicalCid, provenanceOf } from '../shared/image.ts';
import { Assignment, type TaskView, type WorkerView } from '../shared/protocol.ts';
import { loadPrivateKey, newKeyPair, workerIdOf } from '../shared/signing.ts';
import { WorkerClient } from '../worker/client.ts';
import { shippedRaw } from './support/scenes.ts';

const CLASS = 'farm-pt/1+webasm';
const TOKEN = 'operator-token-spot';
let redis: PrivateRedis;
let farm: RunningOrchestrator;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'farm-spot-'));
  redis = await startRedisServer({ dir: join(dir, 'redis') });
  farm = await startOrchestrator(
    OrchestratorConfig.parse({
      port: 0,
      redisUrl: redis.url,
      dataDir: join(dir, 'data'),
      token: TOKEN,
      pollMs: 300,
      logLevel: 'silent',
      spotCheckRate: 1,
      stakePerTaskCents: 500,
    }),
  );
});
afterAll(async () => {
  await farm.close();
  await redis.stop();
});

const operator = (path: string, body?: unknown) =>
  fetch(`${farm.url}${path}`, {
    method: body ? 'POST' : 'GET',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  });

async function worker(name: string) {
  const { privateKeyPem, publicKeyDer } = newKeyPair();
  const identity = { id: workerIdOf(publicKeyDer), key: loadPrivateKey(privateKeyPem).key, publicKeyDer };
  const client = new WorkerClient(farm.url, identity);
  await client.register(name, CLASS);
  return { id: identity.id, client };
}

async function upload(w: { client: WorkerClient }, a: Assignment, shade: number) {
  const rgba = new Uint8Array(a.tile.width * a.tile.height * 4).fill(shade);
  return w.client.upload(a.replica, await canonicalCid({ width: a.tile.width, height: a.tile.height, rgba }, provenanceOf(CLASS)), rgba);
}

const view = async (id: string) =>
  (await (await fetch(`${farm.url}/api/workers/${id}`)).json()) as WorkerView & { evidence: { kind: string }[] };

describe('spot checks', () => {
  it('hands out a verified tile like any replica and judges it against the known hash', async () => {
    const { id: job } = (await (
      await operator('/api/jobs', {
        scene: shippedRaw('cornell'),
        width: 16,
        height: 16,
        spp: 1,
        tileSize: 16,
        verification: 'quorum',
        replicas: 2,
      })
    ).json()) as { id: string };
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
