/**
 * The worker loop: register, calibrate (render the known-answer tiles that measure its class),
 * heartbeat, poll for as many replicas as it can hold, render them, upload their results in one
 * request that also asks for the next batch, and render that; poll again when the answer brought
 * none. On stop it drains: it finishes the batch in hand if that fits in the grace period, and
 * hands back what it has not uploaded otherwise. What produces
 * the pixels is pluggable, so test doubles (a rogue worker, the benchmark's no-op renderer) speak
 * exactly this protocol.
 */

import type { Logger } from 'pino';
import { resolveAssets } from '../shared/assets.ts';
import { MIB } from '../shared/bytes.ts';
import { canonicalCid, type Rendered, type TileResult } from '../shared/image.ts';
import { type Assignment, type BatchResults, type CalibrationSpec, MAX_BATCH } from '../shared/protocol.ts';
import type { BatchedResult } from '../shared/result-batch.ts';
import { parseScene, type Scene } from '../shared/scene.ts';
import { STALE_SIGNATURE } from '../shared/signing.ts';
import { AssetCache } from './asset-cache.ts';
import { MAX_FETCH_BYTES, OrchestratorError, WorkerClient } from './client.ts';
import type { Identity } from './identity.ts';
import { Pace } from './pace.ts';
import type { AgentEvent } from './status-line.ts';

/** What to render: a replica's tile, or a calibration tile. */
export type RenderOrder = Pick<Assignment, 'scene' | 'frame' | 'tile'>;

export interface Producer {
  /** What it runs on (renderer, backend, GPU): shown, never trusted (its class is measured at every start). */
  device: string;
  /** Why it renders without a GPU, when it asked for any backend and got the CPU: said once at start. */
  fallback?: string;
  /** `onProgress`: told how much of the tile is done, where the renderer can say; `signal`: stop when it aborts. */
  produce(
    order: RenderOrder,
    scene: Scene,
    purpose: 'calibration' | 'work',
    onProgress?: (done: number, total: number) => void,
    signal?: AbortSignal,
  ): Promise<Rendered>;
  close?(): void;
}

export interface AgentOptions {
  /** The farm's orchestrators: one URL, or several to fail over between. */
  orchestrator: string | readonly string[];
  identity: Identity;
  name: string;
  producer: Producer;
  log: Logger;
  /** Credits to move into stake after registering (work beyond probation needs stake). */
  stake?: number;
  /** Registers the worker as one of the operator's own (trusted). */
  operatorToken?: string;
  /** The least it renders for, in credits per RU: what it offers on the market. */
  ask?: number;
  /** On stop, how long to let the batch in hand finish before handing back what is left. */
  drainGraceMs?: number;
  /** Replicas it takes at once (one poll, one upload); 1 by default. */
  capacity?: number;
  /**
   * Told of each request that brought work (a poll, or an upload whose answer brought the next
   * batch): how long it took, retries included, and how many replicas came (bench:swarm measures it).
   */
  onWork?(pollMs: number, replicas: number): void;
  /** Told what it is doing as it happens (the status line on a terminal). */
  onEvent?(event: AgentEvent): void;
}

export interface RunningAgent {
  id: string;
  /** Drains and stops; resolves when the loop has ended. */
  stop(): Promise<void>;
  /** Resolves when the loop ends. */
  done: Promise<void>;
}

/** Tries of a scene and its assets while the gateway is busy, before the replica is handed back: 1 + 2 + 4 + 8 + 16 + 16 s of waiting. */
const SCENE_FETCH_TRIES = 7;
const SCENE_CACHE = 4;
/** Bytes of scene assets a worker keeps between scenes (textures, skies and meshes reused by jobs). */
const ASSET_CACHE_BYTES = 1024 * MIB;
const RETRY_MS = 1000;
/** The longest wait between tries while the orchestrators do not answer (it doubles up to this). */
const MAX_BACKOFF_MS = 16_000;
/** Tries of the first registration before the worker gives up: a host that never answers is a mistake to report, not to wait on. */
const STARTUP_ATTEMPTS = 3;
const UPLOAD_ATTEMPTS = 4;
/**
 * Time kept before a replica's deadline for its upload (at most a tenth of the time it had when
 * it came, for farms of short task timeouts): a render projected to end later is handed back.
 */
const UPLOAD_MARGIN_MS = 2000;

export async function startAgent(opts: AgentOptions): Promise<RunningAgent> {
  const { identity, producer } = opts;
  const emit = (event: AgentEvent) => opts.onEvent?.(event);
  const client = new WorkerClient(opts.orchestrator, identity);
  const registration = await retry(
    () => client.register(opts.name, producer.device, opts.operatorToken, opts.ask),
    opts.log,
    'register',
    STARTUP_ATTEMPTS,
  ).catch((err: Error) => {
    if (err instanceof OrchestratorError) throw err;
    // fetch says only "fetch failed"; its cause says why (ECONNREFUSED, ENOTFOUND, a timeout).
    const cause = (err.cause as { code?: string; message?: string } | undefined)?.code ?? (err.cause as Error | undefined)?.message;
    throw new Error(`no orchestrator answered at ${[opts.orchestrator].flat().join(', ')}: ${err.message}${cause ? ` (${cause})` : ''}`);
  });
  // Every line from here on names the worker; lines about a replica also name it.
  const log = opts.log.child({ worker: registration.id });
  const replicaLog = (a: Assignment) => log.child({ replica: a.replica });
  log.info({ device: producer.device }, 'registered');
  if (opts.stake) {
    const account = await client.stake(opts.stake).catch((err) => log.warn({ err: err.message }, 'could not deposit stake'));
    if (account) log.info(account, 'stake deposited');
  }

  const scenes = new Map<string, Scene>();
  const assets = new AssetCache((cid) => client.blob(cid), ASSET_CACHE_BYTES);
  const capacity = Math.min(MAX_BATCH, Math.max(1, opts.capacity ?? 1));
  // One controller per poll: fetch leaves its abort listener on the signal, so a shared one
  // would gather a listener per poll for the life of the worker.
  let poll = new AbortController();
  let stopping = false;
  /** The replicas it holds and has neither uploaded nor handed back (the ones its heartbeat keeps), with when each came. */
  const pending = new Map<string, number>();
  let current: Promise<Assignment[]> | undefined;

  /** When its last poll began: a poll keeps a worker online as a heartbeat does. */
  let polledAt = 0;
  const heartbeat = setInterval(() => {
    const now = Date.now();
    // Replicas that came within their first lease's extra interval need no renewal yet; naming
    // them would cut that lease short to a renewal's.
    const due = [...pending].filter(([, at]) => now - at >= (registration.firstHeartbeatMs ?? 0)).map(([rid]) => rid);
    // An idle worker whose poll began within the interval is online already: a farm of thousands
    // of idle workers would otherwise double its requests.
    if (pending.size === 0 ? now - polledAt < registration.heartbeatMs : due.length === 0) return;
    client.heartbeat(due).catch((err) => log.warn({ err: err.message }, 'heartbeat failed'));
  }, registration.heartbeatMs);

  async function sceneFor(cid: string): Promise<Scene> {
    let scene = scenes.get(cid);
    if (!scene) {
      // A gateway busy sending other blobs (503) or this key's own (429) says to come back: the
      // replica's lease holds meanwhile, and handing it back would only start it over elsewhere.
      // Anything else (a scene that does not parse, bytes that are not their CID's) is final.
      const { scene: resolved } = await retry(
        async () => resolveAssets(await client.scene(cid), (asset) => assets.get(asset), MAX_FETCH_BYTES),
        log,
        `scene ${cid} fetch`,
        SCENE_FETCH_TRIES,
        (err) => !stopping && err instanceof OrchestratorError && (err.status === 503 || err.status === 429),
      );
      scene = parseScene(resolved);
      scenes.set(cid, scene);
      if (scenes.size > SCENE_CACHE) scenes.delete(scenes.keys().next().value as string);
    }
    return scene;
  }

  /** Renders the known-answer tiles; the orchestrator classes the worker by its answers. */
  async function calibrateWith(spec: CalibrationSpec): Promise<void> {
    const scene = await sceneFor(spec.scene);
    const tiles: TileResult[] = [];
    for (const tile of spec.tiles)
      tiles.push({ ...tile, ...(await producer.produce({ scene: spec.scene, frame: spec.frame, tile }, scene, 'calibration')) });
    const cids = await Promise.all(tiles.map(canonicalCid));
    // An orchestrator under load may answer 503 (it could not read the answers to compare with yet).
    const result = await retry(() => client.calibrate(cids, tiles), log, 'calibration upload');
    log.info({ class: result.class, classState: result.classState }, result.detail);
    if (result.classState === 'refused') throw new Error(`calibration refused: ${result.detail}`);
  }

  /** Hands replicas back (or gives them up with a render error); they are no longer its to keep. */
  async function release(replicas: readonly string[], error?: string): Promise<void> {
    for (const rid of replicas) pending.delete(rid);
    await Promise.all(
      replicas.map((rid) => client.release(rid, error).catch((err) => log.warn({ replica: rid, err: err.message }, 'hand-back failed'))),
    );
  }

  /**
   * Renders one replica; undefined when the scene broke the renderer (the replica is given up
   * with the error) or could not be fetched (handed back: that is no fault of the scene's).
   */
  async function render(a: Assignment, index: number, of: number): Promise<BatchedResult | undefined> {
    let scene: Scene;
    try {
      scene = await sceneFor(a.scene);
    } catch (err) {
      if (stopping) throw err;
      replicaLog(a).warn({ err: (err as Error).message }, 'scene fetch failed; handing the replica back');
      await release([a.replica]);
      return undefined;
    }
    let rendered: Rendered;
    const late = new AbortController();
    try {
      // The deadline is on this machine's clock (the client moved it by the answer's offset).
      const margin = Math.min(UPLOAD_MARGIN_MS, (a.deadline - (pending.get(a.replica) ?? Date.now())) / 10);
      const tooLate = (end: number) => end + margin > a.deadline;
      if (tooLate(Date.now())) late.abort();
      late.signal.throwIfAborted();
      emit({ kind: 'rendering', frame: a.frame, tile: a.tile, index, of });
      const pace = new Pace();
      rendered = await producer.produce(
        a,
        scene,
        'work',
        (done, total) => {
          emit({ kind: 'progress', done, total });
          const end = pace.report(Date.now(), done, total);
          if (end !== undefined && tooLate(end)) late.abort();
        },
        late.signal,
      );
    } catch (err) {
      if (stopping) throw err;
      if (late.signal.aborted) {
        // Finished late, its result would be refused and the replica charged as a missed deadline:
        // another worker (a faster one: this key may not take the tile again) gets it now.
        replicaLog(a).warn({ deadline: new Date(a.deadline).toISOString() }, 'cannot finish before its deadline; handing the replica back');
        await release([a.replica]);
        return undefined;
      }
      // Say so, rather than sit on the lease until it lapses.
      replicaLog(a).error({ err: (err as Error).message }, 'render failed');
      await release([a.replica], (err as Error).message);
      return undefined;
    }
    const result = { width: a.tile.width, height: a.tile.height, ...rendered };
    return { replica: a.replica, cid: await canonicalCid(result), rays: rendered.rays, rgba: rendered.rgba };
  }

  /**
   * Renders a batch and uploads its results, asking in the same request for the next batch
   * (none while stopping): the replicas its answer brought, held from then on; none: poll.
   */
  async function work(batch: readonly Assignment[]): Promise<Assignment[]> {
    const started = performance.now();
    const results: BatchedResult[] = [];
    for (const [i, a] of batch.entries()) {
      const result = await render(a, i + 1, batch.length);
      if (result) results.push(result);
    }
    if (results.length === 0) return [];
    emit({ kind: 'uploading', results: results.length });
    const asked = Date.now();
    const { results: answers, replicas: brought = [] } = await uploadWithRetry(results);
    // Asked before a stop that came while it was answered (or outlasted the drain): they go back.
    const replicas = stopping ? [] : brought;
    if (stopping) await release(brought.map((a) => a.replica));
    for (const a of replicas) pending.set(a.replica, Date.now());
    if (replicas.length) opts.onWork?.(Date.now() - asked, replicas.length);
    const accepted = answers.filter((answer) => 'status' in answer).length;
    emit({ kind: 'uploaded', accepted, refused: answers.length - accepted });
    const ms = Math.round(performance.now() - started);
    for (const answer of answers) {
      pending.delete(answer.replica);
      const rlog = log.child({ replica: answer.replica });
      if ('status' in answer) rlog.info({ ms, status: answer.status, batch: batch.length }, 'replica uploaded');
      else rlog.warn({ status: answer.error.status, reason: answer.error.detail }, 'result refused');
    }
    return replicas;
  }

  /**
   * Uploads are idempotent: retry server errors and 429 (an address's bodies in flight are
   * bounded: a busy one shared by many workers), then hand the replicas back rather than sit on them.
   */
  async function uploadWithRetry(results: readonly BatchedResult[]): Promise<BatchResults> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await client.uploadBatch(results, stopping ? 0 : capacity);
      } catch (err) {
        const retryable = !(err instanceof OrchestratorError) || err.status >= 500 || err.status === 429;
        if (!retryable || attempt >= UPLOAD_ATTEMPTS || stopping) {
          await release(results.map((r) => r.replica));
          throw err;
        }
        await sleep(RETRY_MS * attempt);
      }
    }
  }

  const done = (async () => {
    if (registration.calibration) {
      emit({ kind: 'calibrating' });
      await calibrateWith(registration.calibration);
    }
    // Polls in a row that reached no orchestrator: the wait before the next doubles with them.
    let unreachable = 0;
    /** The replicas the last upload's answer brought: the next batch, without a poll. */
    let brought: Assignment[] = [];
    while (!stopping) {
      try {
        let batch = brought;
        brought = [];
        if (batch.length === 0) {
          poll = new AbortController();
          polledAt = Date.now();
          emit({ kind: 'polling' });
          batch = await client.nextBatch(capacity, poll.signal);
          emit({ kind: 'polled' });
          unreachable = 0;
          if (batch.length === 0) continue;
          opts.onWork?.(Date.now() - polledAt, batch.length);
          for (const a of batch) pending.set(a.replica, Date.now());
        }
        current = work(batch);
        brought = await current;
      } catch (err) {
        if (stopping) break;
        log.warn({ err: (err as Error).message, replicas: [...pending.keys()] }, 'worker loop error');
        if (err instanceof OrchestratorError && err.status === 403) throw err; // refused: this key gets no work
        if (err instanceof OrchestratorError && err.title === 'Calibrate first') {
          emit({ kind: 'calibrating' });
          await calibrateWith(await client.calibration());
        } else if (!(err instanceof OrchestratorError)) {
          emit({ kind: 'unreachable', retryMs: backoff(++unreachable) });
          await sleep(backoff(unreachable));
        } else if (!(err.status === 409 && err.title !== 'Stake required')) {
          emit({ kind: 'held', reason: err.title || `HTTP ${err.status}` });
          await sleep(RETRY_MS);
        }
      } finally {
        current = undefined;
      }
    }
    clearInterval(heartbeat);
    producer.close?.();
  })();

  return {
    id: registration.id,
    done,
    async stop() {
      stopping = true;
      emit({ kind: 'stopping' });
      poll.abort();
      const inHand = current;
      if (inHand) {
        const finishedInTime = await Promise.race([
          inHand.then(
            () => true,
            () => true,
          ),
          sleep(opts.drainGraceMs ?? 30_000).then(() => false),
        ]);
        // Unfinished in time, or stopped by an error: what it did not upload goes back.
        if (pending.size) {
          log.info({ replicas: [...pending.keys()], finishedInTime }, 'handing back unfinished replicas');
          await release([...pending.keys()]);
        }
      }
      await Promise.race([done, sleep(1000)]);
      clearInterval(heartbeat);
    },
  };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Waits 1, 2, 4 … s, at most MAX_BACKOFF_MS, after each of `failures` failed tries in a row. */
const backoff = (failures: number) => Math.min(MAX_BACKOFF_MS, RETRY_MS * 2 ** Math.max(0, failures - 1));

/**
 * Whether trying again may help: no answer, the orchestrator's own failure, a rate limit (it
 * passes: a worker restarted often must not stop for its calibrations an hour), or a request that
 * waited past its signature's window (it goes again freshly signed). Any other refusal is final.
 */
export const isTransient = (err: unknown): boolean =>
  !(err instanceof OrchestratorError) || err.status >= 500 || err.status === 429 || err.title === STALE_SIGNATURE;

async function retry<T>(fn: () => Promise<T>, log: Logger, what: string, attempts = Infinity, worthIt = isTransient): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!worthIt(err) || attempt >= attempts) throw err;
      log.warn({ err: (err as Error).message, attempt }, `${what} failed; retrying in ${backoff(attempt) / 1000} s`);
      await sleep(backoff(attempt));
    }
  }
}
