/**
 * An orchestrator in the test process, on its own private Redis, for API-level tests; workers are
 * signed protocol clients that upload chosen pixels.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type PrivateRedis, startRedisServer } from '../../cli/redis-server.ts';
import { OrchestratorConfig } from '../../orchestrator/config.ts';
import { type RunningOrchestrator, startOrchestrator } from '../../orchestrator/server.ts';
import { canonicalCid, provenanceOf } from '../../shared/image.ts';
import type { Assignment } from '../../shared/protocol.ts';
import { loadPrivateKey, newKeyPair, workerIdOf } from '../../shared/signing.ts';
import { WorkerClient } from '../../worker/client.ts';
import type { Identity } from '../../worker/identity.ts';
import { shippedRaw } from './scenes.ts';

export const CLASS = 'farm-pt/1+webasm';

/** A one-tile Cornell job under quorum: the smallest real job a test can settle by hand. */
export const oneTileJob = (replicas: number) => ({
  scene: shippedRaw('cornell'),
  width: 16,
  height: 16,
  spp: 1,
  tileSize: 16,
  verification: 'quorum',
  replicas,
});
export const OPERATOR_TOKEN = 'operator-token-for-tests';

export interface ApiFarm {
  farm: RunningOrchestrator;
  /** fetch() with the operator's bearer token; a body makes it a POST. */
  operator(path: string, body?: unknown): Promise<Response>;
  /** A registered protocol client with a fresh key. */
  worker(name: string): Promise<{ id: string; identity: Identity; client: WorkerClient }>;
  stop(): Promise<void>;
}

export async function startApiFarm(settings: Record<string, unknown>): Promise<ApiFarm> {
  const dir = mkdtempSync(join(tmpdir(), 'farm-api-'));
  const redis: PrivateRedis = await startRedisServer({ dir: join(dir, 'redis') });
  const token = OPERATOR_TOKEN;
  const farm = await startOrchestrator(
    OrchestratorConfig.parse({
      port: 0,
      redisUrl: redis.url,
      dataDir: join(dir, 'data'),
      token,
      pollMs: 300,
      logLevel: 'silent',
      spotCheckRate: 0,
      ...settings,
    }),
  );
  return {
    farm,
    operator: (path, body) =>
      fetch(`${farm.url}${path}`, {
        method: body ? 'POST' : 'GET',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: body ? JSON.stringify(body) : undefined,
      }),
    async worker(name) {
      const { privateKeyPem, publicKeyDer } = newKeyPair();
      const identity = { id: workerIdOf(publicKeyDer), key: loadPrivateKey(privateKeyPem).key, publicKeyDer };
      const client = new WorkerClient(farm.url, identity);
      await client.register(name, CLASS);
      return { id: identity.id, identity, client };
    },
    async stop() {
      await farm.close();
      await redis.stop();
    },
  };
}

/** Uploads a tile of one flat shade for an assignment, with its correct CID. */
export async function uploadShade(client: WorkerClient, a: Assignment, shade: number): Promise<string> {
  const rgba = new Uint8Array(a.tile.width * a.tile.height * 4).fill(shade);
  return client.upload(a.replica, await canonicalCid({ width: a.tile.width, height: a.tile.height, rgba }, provenanceOf(CLASS)), rgba);
}
