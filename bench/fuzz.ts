/**
 * `npm run fuzz`: property-based fuzzing (fast-check) of everything the farm takes from outside,
 * against a real orchestrator on a private Redis:
 * - scenes mutated from the shipped ones (values replaced by arbitrary JSON, edge values or other
 *   numbers, keys dropped, arrays grown to 300,000 elements, ids named after Object.prototype's
 *   properties):
 *   every scene the schema accepts must compile at its first and last frame, and POST /api/jobs
 *   must answer 201 or a 4xx problem;
 * - job requests (every field given arbitrary JSON);
 * - the worker protocol: signed and unsigned requests with arbitrary bodies, ids and headers.
 * Every answer is 2xx or a 4xx `application/problem+json` of at most 64 KiB, never a 5xx; nothing
 * throws. CASES (default 10,000) is split 50/25/25. Writes bench/results/fuzz.json.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { frameCount, parseScene, SceneError } from '../shared/scene.ts';
import { SIGNATURE_HEADERS, signRequest } from '../shared/signing.ts';
import { OPERATOR_TOKEN, startApiFarm } from '../test/support/orchestrator.ts';
import { compileScene } from '../worker/render/compile.ts';
import { writeResult } from './support.ts';

const CASES = Number(process.env.CASES ?? 10_000);
const SEED = Number(process.env.SEED ?? 42);
const MAX_ANSWER = 64 * 1024;
const SHIPPED = ['cornell', 'bounce', 'knot'].map((n) => JSON.parse(readFileSync(new URL(`../scenes/${n}.json`, import.meta.url), 'utf8')));
/** Every job runs on an 8×8 frame in one tile, so that accepted ones cost nothing to plan. */
const SMALL = { width: 8, height: 8, spp: 1, tileSize: 8 };

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const edge = fc.constantFrom<Json>(
  0,
  -0,
  -1,
  1e308,
  -1e308,
  2 ** 53,
  0.5,
  '',
  '__proto__',
  'constructor',
  'toString',
  'x'.repeat(100_000),
  [],
  {},
  [0, 0, 0],
  [1e308, 1e308, 1e308],
);
const value: fc.Arbitrary<Json> = fc.oneof({ weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json> }, edge);

type Mutation =
  | { kind: 'set'; at: number; value: Json }
  | { kind: 'nudge'; at: number; to: number }
  | { kind: 'drop'; at: number }
  | { kind: 'grow'; at: number; n: number }
  | { kind: 'id'; at: number; id: string };
interface SceneCase {
  base: number;
  mutations: Mutation[];
}

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value }) },
  // Numbers stay numbers: more scenes pass the schema and reach the compiler.
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('nudge' as const),
      at: fc.nat(),
      to: fc.oneof(fc.integer({ min: -3, max: 300 }), fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 })),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('drop' as const), at: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('grow' as const),
      at: fc.nat(),
      n: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 0, max: 2000 }) }, fc.integer({ min: 100_000, max: 300_000 })),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('id' as const),
      at: fc.nat(),
      id: fc.constantFrom('constructor', 'toString', '__proto__', 'valueOf'),
    }),
  },
);
const sceneCase: fc.Arbitrary<SceneCase> = fc.record({
  base: fc.nat({ max: SHIPPED.length - 1 }),
  mutations: fc.array(mutation, { minLength: 1, maxLength: 4 }),
});

/** Paths to every object and array in `root` (long arrays: their first elements only). */
function containers(root: Json): { parent: Json[] | Record<string, Json>; key: string | number }[] {
  const out: { parent: Json[] | Record<string, Json>; key: string | number }[] = [];
  const walk = (node: Json) => {
    const keys: (string | number)[] = Array.isArray(node)
      ? node.slice(0, 8).map((_, i) => i)
      : node && typeof node === 'object'
        ? Object.keys(node)
        : [];
    for (const key of keys) {
      out.push({ parent: node as Json[] | Record<string, Json>, key });
      walk((node as Record<string | number, Json>)[key]);
    }
  };
  walk(root);
  return out;
}

function mutate(base: Json, mutations: readonly Mutation[]): Json {
  const scene = structuredClone(base) as Record<string, Json>;
  for (const m of mutations) {
    const spots = containers(scene);
    if (spots.length === 0) break;
    const { parent, key } = spots[m.at % spots.length];
    const slot = parent as Record<string | number, Json>;
    if (m.kind === 'set') slot[key] = m.value;
    else if (m.kind === 'nudge') {
      if (typeof slot[key] === 'number') slot[key] = m.to;
    } else if (m.kind === 'drop') Array.isArray(parent) ? parent.splice(key as number, 1) : delete slot[key];
    else if (m.kind === 'grow') {
      const target = slot[key];
      // Long arrays of numbers (meshes) are the big inputs a scene has; copies of anything else stop
      // at 20,000, and of nothing bigger than 1 KB, so that a case stays a few MB.
      const numeric = Array.isArray(target) && typeof target[0] === 'number';
      const small = Array.isArray(target) ? target.filter((v) => JSON.stringify(v).length <= 1024) : [];
      if (Array.isArray(target))
        slot[key] = Array.from({ length: numeric ? m.n : Math.min(m.n, 20_000) }, (_, i) => small[i % Math.max(1, small.length)] ?? 0);
    } else {
      const objects = scene.objects as Json[];
      const object = Array.isArray(objects) ? objects[m.at % Math.max(1, objects.length)] : undefined;
      if (object && typeof object === 'object' && !Array.isArray(object)) {
        object.id = m.id;
        scene.animation = { frameCount: 2, objects: { [m.id]: [{ frame: 1, translate: [0, 1, 0] }] } };
      }
    }
  }
  return scene;
}

const api = await startApiFarm({ pollMs: 10, failedAuthPerMinute: 1e9, maxTasksInFlight: 1e9, maxReplicasInFlight: 1e9 });
const url = api.farm.url;
const client = await api.worker('fuzzer', { stake: 0 });
const failures: { input: string; problem: string }[] = [];
const tally = {
  scenes: 0,
  accepted: 0,
  compiled: 0,
  jobRequests: 0,
  workerRequests: 0,
  status4xx: 0,
  status2xx: 0,
  status5xx: 0,
  connectionsDropped: 0,
};

/** The answer is a 2xx, or a bounded 4xx problem; anything else is recorded. */
async function check(res: Response, input: () => string): Promise<{ status: number; body: ArrayBuffer }> {
  const body = await res.arrayBuffer();
  const bad =
    res.status >= 500
      ? `answered ${res.status}: ${new TextDecoder().decode(body.slice(0, 300))}`
      : res.status >= 400 && !res.headers.get('content-type')?.startsWith('application/problem+json')
        ? `answered ${res.status} without problem+json`
        : body.byteLength > MAX_ANSWER
          ? `answered ${body.byteLength} bytes`
          : null;
  if (res.status >= 500) tally.status5xx++;
  else if (res.status >= 400) tally.status4xx++;
  else tally.status2xx++;
  if (bad) failures.push({ input: input().slice(0, 500), problem: bad });
  return { status: res.status, body };
}

/**
 * fetch, once more if the connection dropped: a refused request's connection is closed (its body
 * is not drained), and a pooled connection can be reused just as it closes. Counted; a second
 * drop in a row throws.
 */
async function send(target: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(target, init);
  } catch (e) {
    if (!(e instanceof TypeError)) throw e;
    tally.connectionsDropped++;
    return fetch(target, init);
  }
}

const submit = (body: unknown) =>
  send(`${url}/api/jobs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${OPERATOR_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

/** Accepted jobs are cancelled at once, so that thousands of them stay within the quotas. */
async function cancelIfCreated({ status, body }: { status: number; body: ArrayBuffer }): Promise<void> {
  if (status !== 201) return;
  const { id } = JSON.parse(new TextDecoder().decode(body)) as { id: string };
  await send(`${url}/api/jobs/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } });
}

async function fuzzScene(c: SceneCase): Promise<void> {
  const scene = mutate(SHIPPED[c.base], c.mutations);
  tally.scenes++;
  let parsed: ReturnType<typeof parseScene> | undefined;
  try {
    parsed = parseScene(scene);
  } catch (e) {
    if (!(e instanceof SceneError))
      failures.push({ input: JSON.stringify(c).slice(0, 500), problem: `parseScene threw ${(e as Error).name}` });
  }
  if (parsed) {
    tally.accepted++;
    try {
      for (const frame of new Set([0, frameCount(parsed) - 1])) compileScene(parsed, frame);
      tally.compiled++;
    } catch (e) {
      failures.push({ input: JSON.stringify(c).slice(0, 500), problem: `compile threw ${(e as Error).message}` });
    }
  }
  await cancelIfCreated(await check(await submit({ scene, ...SMALL }), () => JSON.stringify(c)));
}

const jobField = fc.constantFrom(
  'scene',
  'frames',
  'width',
  'height',
  'spp',
  'tileSize',
  'verification',
  'epsilon',
  'replicas',
  'onTimeout',
  'timeoutSeconds',
  'name',
);
const jobCase = fc.dictionary(jobField, value, { maxKeys: 6 });

async function fuzzJob(fields: Record<string, Json>): Promise<void> {
  tally.jobRequests++;
  await cancelIfCreated(await check(await submit({ scene: SHIPPED[0], ...SMALL, ...fields }), () => JSON.stringify(fields)));
}

const route = fc.constantFrom<readonly [string, string]>(
  ['POST', '/api/work/heartbeat'],
  ['POST', '/api/work/stake'],
  ['POST', '/api/work/unstake'],
  ['POST', '/api/work/next'],
  ['PUT', '/api/work/calibration'],
  ['POST', '/api/work/{rid}/release'],
  ['PUT', '/api/work/{rid}/result'],
  ['GET', '/ipfs/{cid}'],
  ['POST', '/api/workers'],
);
interface WorkerCase {
  route: readonly [string, string];
  rid: string;
  body: string;
  signing: 'valid' | 'none' | 'wrong' | 'stale' | 'garbage';
  cidHeader: string | undefined;
}
const workerCase: fc.Arbitrary<WorkerCase> = fc.record({
  route,
  rid: fc.oneof(fc.string({ maxLength: 40 }), fc.stringMatching(/^r[0-9a-f]{32}$/)),
  body: fc.oneof(
    fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
    fc.uint8Array({ maxLength: 4096 }).map((b) => Buffer.from(b).toString('latin1')),
  ),
  signing: fc.constantFrom('valid' as const, 'none' as const, 'wrong' as const, 'stale' as const, 'garbage' as const),
  cidHeader: fc.oneof(fc.constant(undefined), fc.string({ maxLength: 80 })),
});

async function fuzzWorker(w: WorkerCase): Promise<void> {
  tally.workerRequests++;
  const [method, template] = w.route;
  const path = template.replace('{rid}', encodeURIComponent(w.rid)).replace('{cid}', encodeURIComponent(w.rid));
  const bytes = method === 'GET' ? new Uint8Array() : new TextEncoder().encode(w.body);
  const signed = signRequest(client.identity.key, client.farmId, method, path, bytes);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (w.signing !== 'none') {
    headers[SIGNATURE_HEADERS.worker] = w.signing === 'garbage' ? w.rid : client.id;
    headers[SIGNATURE_HEADERS.timestamp] = w.signing === 'stale' ? '1' : signed.timestamp;
    headers[SIGNATURE_HEADERS.body] = signed.digest;
    headers[SIGNATURE_HEADERS.signature] =
      w.signing === 'wrong' || w.signing === 'garbage' ? `${signed.signature.slice(0, 80)}AAAAAA==` : signed.signature;
  }
  if (w.cidHeader !== undefined) headers['farm-result-cid'] = w.cidHeader.replace(/[^\x20-\x7e]/g, '');
  const res = await send(`${url}${path}`, { method, headers, body: method === 'GET' ? undefined : bytes });
  await check(res, () => JSON.stringify(w));
}

const started = performance.now();
const sceneRuns = Math.round(CASES / 2);
const otherRuns = Math.round(CASES / 4);
let done = 0;
const progress = setInterval(() => process.stderr.write(`\r${done}/${CASES} cases, ${failures.length} failures`), 1000);
const count =
  <T>(f: (c: T) => Promise<void>) =>
  async (c: T) => {
    await f(c);
    done++;
  };
await fc.assert(fc.asyncProperty(sceneCase, count(fuzzScene)), { numRuns: sceneRuns, seed: SEED });
await fc.assert(fc.asyncProperty(jobCase, count(fuzzJob)), { numRuns: otherRuns, seed: SEED });
await fc.assert(fc.asyncProperty(workerCase, count(fuzzWorker)), { numRuns: otherRuns, seed: SEED });
clearInterval(progress);
const health = await fetch(`${url}/healthz`);
await api.stop();

const seconds = (performance.now() - started) / 1000;
const result = {
  cases: done,
  seed: SEED,
  seconds: Math.round(seconds),
  ...tally,
  failures: failures.length,
  healthyAfter: health.ok,
  examples: failures.slice(0, 10),
};
process.stderr.write('\n');
console.log(JSON.stringify(result, null, 2));
console.log(`results: ${writeResult('fuzz', result)}`);
process.exit(failures.length === 0 && health.ok ? 0 : 1);
