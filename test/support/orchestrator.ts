/**
 * An orchestrator in the test process, on its own private Redis, for API-level tests; workers are
 * signed protocol clients that upload chosen pixels. Every client calibrates with the same flat
 * answers, and an "anchor" trusted client calibrates first, so their class is established.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { type PrivateRedis, startRedisServer } from '../../cli/redis-server.ts';
import { OrchestratorConfig } from '../../orchestrator/config.ts';
import { type RunningOrchestrator, startOrchestrator } from '../../orchestrator/server.ts';
import { canonicalCid } from '../../shared/image.ts';
import { type Assignment, type Calibrated, type CalibrationSpec, FarmInfo } from '../../shared/protocol.ts';
import { loadPrivateKey, newKeyPair, SIGNATURE_HEADERS, signRequest, workerIdOf } from '../../shared/signing.ts';
import { type AgentOptions, type RunningAgent, startAgent } from '../../worker/agent.ts';
import { WorkerClient } from '../../worker/client.ts';
import type { Identity } from '../../worker/identity.ts';
import { shippedRaw } from './scenes.ts';

/** What the protocol clients say they run on (never trusted). */
export const DEVICE = 'test-client/1';
/** Every honest client's calibration answer: a flat tile of this shade. */
export const CALIBRATION_SHADE = 128;

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

export interface TestClient {
  id: string;
  identity: Identity;
  client: WorkerClient;
  /** The farm's id, for requests signed by hand (shared/signing.ts). */
  farmId: string;
}

export interface ClientOptions {
  /** Registered with the operator's token: ground truth. */
  trusted?: boolean;
  /** Credits granted and moved into stake (untrusted workers need stake for work); default 100. */
  stake?: number;
  /** Calibrate with this shade (default CALIBRATION_SHADE); null: do not calibrate. */
  shade?: number | null;
  /** Its offer on the market, in credits per RU. */
  ask?: number;
}

export interface ApiFarm {
  farm: RunningOrchestrator;
  /** The farm's directory (blobs under data/blobs) and its private Redis. */
  dir: string;
  redisUrl: string;
  /** fetch() with the operator's bearer token; a body makes it a POST. */
  operator(path: string, body?: unknown): Promise<Response>;
  /** A registered, calibrated protocol client with a fresh key. */
  worker(name: string, opts?: ClientOptions): Promise<TestClient>;
  /** Another orchestrator on the same Redis, with its own data directory and the farm's settings; the caller closes it. */
  another(): Promise<RunningOrchestrator>;
  stop(): Promise<void>;
}

/** Settings that keep tests fast and free of limits they do not test. */
export const TEST_SETTINGS = {
  pollMs: 300,
  logLevel: 'silent',
  spotCheckRate: 0,
  // Tests stake a few credits to check exact amounts; the identity's minimum is tested on its own.
  minStake: 0,
  registrationsPerMinute: 10_000,
  workerRequestsPerSecond: 10_000,
  workerRequestsPerAddressPerSecond: 100_000,
  workerBodiesPerAddress: 10_000,
  submissionsPerMinute: 10_000,
  failedAuthPerMinute: 10_000,
} as const;

export async function startApiFarm(settings: Record<string, unknown> = {}): Promise<ApiFarm> {
  const dir = mkdtempSync(join(tmpdir(), 'farm-api-'));
  const redis: PrivateRedis = await startRedisServer({ dir: join(dir, 'redis') });
  const token = OPERATOR_TOKEN;
  const orchestrator = (dataDir: string) =>
    startOrchestrator(OrchestratorConfig.parse({ port: 0, redisUrl: redis.url, dataDir, token, ...TEST_SETTINGS, ...settings }));
  const farm = await orchestrator(join(dir, 'data'));
  const operator = (path: string, body?: unknown) =>
    fetch(`${farm.url}${path}`, {
      method: body ? 'POST' : 'GET',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body ? JSON.stringify(body) : undefined,
    });
  const farmId = await farmIdOf(farm.url);
  const worker = async (name: string, opts: ClientOptions = {}): Promise<TestClient> => {
    const { privateKeyPem, publicKeyDer } = newKeyPair();
    const identity = { id: workerIdOf(publicKeyDer), key: loadPrivateKey(privateKeyPem).key, publicKeyDer };
    const client = new WorkerClient(farm.url, identity);
    farmOf.set(client, farm);
    const registered = await client.register(name, DEVICE, opts.trusted ? token : undefined, opts.ask);
    const shade = opts.shade === undefined ? CALIBRATION_SHADE : opts.shade;
    if (shade !== null && registered.calibration) await calibrateFlat(client, registered.calibration, shade);
    const stake = opts.trusted ? 0 : (opts.stake ?? 100);
    if (stake > 0) {
      const granted = await operator('/api/credits', { account: identity.id, amount: stake });
      if (granted.status !== 201) throw new Error(`grant failed: ${granted.status}`);
      await client.stake(stake);
    }
    return { id: identity.id, identity, client, farmId };
  };
  await worker('anchor', { trusted: true });
  return {
    farm,
    dir,
    redisUrl: redis.url,
    operator,
    worker,
    another: () => orchestrator(mkdtempSync(join(dir, 'another-'))),
    async stop() {
      await farm.close();
      await redis.stop();
    },
  };
}

/** The farm's id (GET /api/farm), which a request signed by hand must cover. */
export async function farmIdOf(url: string): Promise<string> {
  return FarmInfo.parse(await (await fetch(`${url}/api/farm`)).json()).id;
}

/** Answers the calibration with flat tiles of one shade. */
export async function calibrateFlat(client: WorkerClient, spec: CalibrationSpec, shade: number, rays = 0): Promise<Calibrated> {
  const tiles = spec.tiles.map((t) => ({ ...t, rgba: new Uint8Array(t.width * t.height * 4).fill(shade), rays }));
  return client.calibrate(await Promise.all(tiles.map(canonicalCid)), tiles);
}

/** Grants the operator's own requester account `credits`, for the jobs it submits to pay with. */
export async function fundOperator(api: Pick<ApiFarm, 'operator'>, credits: number): Promise<void> {
  const { account } = (await (await api.operator('/api/account')).json()) as { account: string };
  const res = await api.operator('/api/credits', { account, amount: credits });
  if (res.status !== 201) throw new Error(`grant to ${account}: ${res.status}`);
}

/**
 * Polls until the farm hands `client` a replica: planning is asynchronous, and a loaded machine
 * may need many polls (each waits pollMs) before the job's slots are queued.
 */
export async function nextAssignment(client: WorkerClient, timeoutMs = 30_000): Promise<Assignment> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const a = await client.next();
    if (a) return a;
  }
  throw new Error(`no replica handed out within ${timeoutMs} ms`);
}

/** The farm each test client works for: uploadShade waits for what its upload set going. */
const farmOf = new WeakMap<WorkerClient, RunningOrchestrator>();

/**
 * Uploads a tile of one flat shade for an assignment, with its correct CID (and the rays it says
 * it traced), and waits for the verdicts the upload started: the farm answers an upload once it
 * is recorded and judges after (orchestrator/afterwards.ts).
 */
export async function uploadShade(client: WorkerClient, a: Assignment, shade: number, rays = 0): Promise<string> {
  const result = { width: a.tile.width, height: a.tile.height, rgba: new Uint8Array(a.tile.width * a.tile.height * 4).fill(shade), rays };
  const status = await client.upload(a.replica, await canonicalCid(result), result);
  await farmOf.get(client)?.idle();
  return status;
}

/**
 * Renders whatever the workers are given, each tile a flat `shade` tracing `raysOf` rays, until
 * nothing is left for `quietMs`.
 */
export async function renderAll(
  workers: TestClient[],
  shade: number,
  raysOf: (a: Assignment) => number = () => 0,
  quietMs = 1500,
): Promise<void> {
  await Promise.all(
    workers.map(async (w) => {
      let idleSince = Date.now();
      while (Date.now() - idleSince < quietMs) {
        const a = await w.client.next();
        if (!a) continue;
        if ((await uploadShade(w.client, a, shade, raysOf(a))) !== 'accepted') throw new Error(`${w.id}: a tile was not accepted`);
        idleSince = Date.now();
      }
    }),
  );
}

/** The headers of a request `w` signed by hand (signRequest's answer). */
export const signedHeaders = (
  w: TestClient,
  { timestamp, signature, digest }: { timestamp: string; signature: string; digest: string },
) => ({
  [SIGNATURE_HEADERS.worker]: w.id,
  [SIGNATURE_HEADERS.timestamp]: timestamp,
  [SIGNATURE_HEADERS.signature]: signature,
  [SIGNATURE_HEADERS.body]: digest,
});

/**
 * PUTs raw bytes to `path` (its query included) of the farm at `url`, signed by hand over
 * `signedPath`, `path` itself by default: what a modified worker can send.
 */
export function putSigned(url: string, w: TestClient, path: string, body: Uint8Array, signedPath = path): Promise<Response> {
  return fetch(`${url}${path}`, {
    method: 'PUT',
    body: Buffer.from(body),
    headers: {
      'content-type': 'application/octet-stream',
      ...signedHeaders(w, signRequest(w.identity.key, w.farmId, 'PUT', signedPath, body)),
    },
  });
}

/**
 * An agent of the operator's on the farm at `url` that renders flat tiles, each in `renderMs`
 * (its calibration at once) cut in `steps` reported as progress, with its events and work
 * reported to `hooks`; it stops between steps once asked to.
 */
export function flatAgent(
  url: string,
  name: string,
  hooks: Pick<AgentOptions, 'onEvent' | 'onWork'> = {},
  renderMs = 0,
  steps = 1,
): Promise<RunningAgent> {
  const { privateKeyPem, publicKeyDer } = newKeyPair();
  return startAgent({
    orchestrator: url,
    identity: { id: workerIdOf(publicKeyDer), key: loadPrivateKey(privateKeyPem).key, publicKeyDer },
    name,
    log: pino({ level: 'silent' }),
    operatorToken: OPERATOR_TOKEN,
    producer: {
      device: DEVICE,
      produce: async (order, _scene, purpose, onProgress, signal) => {
        for (let step = 1; purpose === 'work' && renderMs > 0 && step <= steps; step++) {
          await new Promise((r) => setTimeout(r, renderMs / steps));
          onProgress?.(step, steps);
          signal?.throwIfAborted();
        }
        return { rgba: new Uint8Array(order.tile.width * order.tile.height * 4).fill(CALIBRATION_SHADE), rays: 0 };
      },
    },
    ...hooks,
  });
}
