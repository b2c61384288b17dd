/**
 * The worker protocol: calibrate, heartbeat, long-poll for replicas, upload, hand back, stake and
 * unbond, offer capacity in a forward window; and the gateway its scenes come from. Every request
 * is signed (auth.ts).
 */

import { type Request, type RequestHandler, type Response, Router } from 'express';
import { z } from 'zod';
import { MIB } from '../../shared/bytes.ts';
import { OfferRequest } from '../../shared/market.ts';
import { Credits, formatCredits, fromMicros, toMicros } from '../../shared/money.ts';
import {
  type Assignment,
  type Batch,
  BatchRequest,
  type BatchResult,
  type BatchResults,
  GatewayQuery,
  Heartbeat,
  Ids,
  RESULT_CID_HEADER,
  RESULT_RAYS_HEADER,
  ReleaseRequest,
  ResultsQuery,
} from '../../shared/protocol.ts';
import { type BatchedResult, BatchFramingError, decodeResultBatch } from '../../shared/result-batch.ts';
import { CAR_CONTENT_TYPE, type CarLayout, carFrom, carOf } from '../../shared/unixfs.ts';
import { ByteLru } from '../byte-lru.ts';
import { AnswersUnavailable, type CalibrationDeps, CalibrationRejected, calibrate, reconsider } from '../calibration.ts';
import type { Dispatcher } from '../dispatch.ts';
import { lapsed } from '../lease-terms.ts';
import { parseTaskId } from '../planner.ts';
import type { Ledger } from '../state/ledger.ts';
import type { ReplicaRecord, Tasks } from '../state/tasks.ts';
import type { WorkerRecord, Workers } from '../state/workers.ts';
import type { StorageMonitor } from '../storage.ts';
import { acceptResults, ResultRejected, type UploadDeps } from '../uploads.ts';
import { rawBody } from './auth.ts';
import { overBudget } from './byte-budget.ts';
import { CarsInFlight, type LetGoRule } from './cars-in-flight.ts';
import { onClosed, type Pace, sendPaced } from './closed.ts';
import { ledgerOp } from './credits.ts';
import { type ForwardDeps, placeOrder, view, withdrawOrder } from './forwards.ts';
import { addressOf, consume, consumeMiB } from './limits.ts';
import { HttpError, param, parseJson } from './problem.ts';

export interface WorkRoutesDeps extends UploadDeps, ForwardDeps {
  storage: StorageMonitor;
  ledger: Ledger;
  workers: Workers;
  tasks: Tasks;
  dispatch: Dispatcher;
  calibration: CalibrationDeps;
  /** Stake locked per replica (µc): what an untrusted worker needs free to get work. */
  stakePerReplicaMicros: number;
  /** Least stake (µc) an untrusted worker must hold to get work. */
  minStakeMicros: number;
}

export interface GatewayDeps extends Pick<WorkRoutesDeps, 'blobs' | 'calibration' | 'workers' | 'tasks' | 'jobs' | 'limits'> {
  /** MiB of built CARs kept in memory. */
  gatewayCacheMiB: number;
  /** MiB of CARs the gateway's responses under way may hold, all keys together. */
  gatewayInFlightMiB: number;
  /** A key may have a scene and its assets in flight: what one job needs. */
  maxSceneBytes: number;
  maxAssetBytes: number;
}

/**
 * How fast a worker must read what it fetched, once 30 s have passed: one that reads nothing would
 * hold its CAR's share of the gateway's memory. Low enough for a worker on a slow link fetching a
 * scene's assets together.
 */
const GATEWAY_PACE: Pace = { minBytesPerSecond: 128 * 1024, graceMs: 30_000 };

/**
 * When the CARs in flight fill their bound, the blobs whose every reader would still take 2
 * minutes at the pace it kept over 3 s (from 3 s after it began) are let go, their readers cut
 * off, to make room: keys reading at the least pace could keep the bound full for half an hour. A
 * worker reading 2 MiB a second is never let go of a blob under 250 MiB.
 */
const GATEWAY_LET_GO: LetGoRule = { judgeAfterMs: 3_000, leftMs: 120_000 };

/** A blob's CAR as the gateway keeps it: its bytes, and where a reader from any byte on starts. */
type BuiltCar = { car: Uint8Array; layout: CarLayout };

/**
 * The trustless gateway for workers: GET /ipfs/:cid answers a CAR of the blob's blocks
 * (shared/unixfs.ts), which the worker checks against the CID, so the bytes may as well come from
 * any orchestrator or IPFS gateway. A worker may read the calibration scene and the scenes (and
 * their assets) of the replicas it holds, nothing else (not results: they would let it copy
 * another worker's answer). A CAR costs a hash of every block to build: what a key is sent is
 * metered in MiB a minute, and the CARs built last are kept, so that fetching one again is a copy.
 * The CARs being sent are bounded in memory (cars-in-flight.ts: fetches of a blob under way share
 * one CAR, so a herd of first fetches reads and hashes it once), and a reader too slow is cut off;
 * it asks for the rest only (`entity-bytes`: slices of the same CAR, metered by what they send when it is kept).
 */
export function gatewayRoutes(deps: GatewayDeps): Router {
  const r = Router();
  // By CID, so never stale; whether the worker may read one is checked before it is looked up.
  const cars = new ByteLru<{ built: BuiltCar; blobBytes: number }>(deps.gatewayCacheMiB * MIB);
  const inFlight = new CarsInFlight<BuiltCar>(deps.gatewayInFlightMiB * MIB, deps.maxSceneBytes + deps.maxAssetBytes, GATEWAY_LET_GO);
  r.get('/:cid', async (req, res) => {
    const cid = param(req, 'cid', Ids.cid);
    const { 'entity-bytes': from } = GatewayQuery.parse(req.query);
    if (!(req.get('accept') ?? '').includes(CAR_CONTENT_TYPE))
      throw new HttpError(406, 'Not acceptable', `this gateway answers ${CAR_CONTENT_TYPE} only: verifiable blocks`);
    const worker = req.worker as WorkerRecord;
    const allowed = cid === deps.calibration.spec.scene || (await readable(deps, worker.id)).has(cid);
    if (!allowed) throw new HttpError(404, 'Not found', `no scene ${cid} among this worker's replicas`);
    const cached = cars.get(cid);
    const blobBytes = cached?.blobBytes ?? (await deps.blobs.size(cid));
    if (blobBytes === undefined) throw new HttpError(404, 'Not found', `no scene ${cid}`);
    if (from >= blobBytes && from > 0)
      throw new HttpError(416, 'Range not satisfiable', `${cid} is ${blobBytes} bytes`, [
        { path: 'entity-bytes', message: `from is past the blob's ${blobBytes} bytes` },
      ]);
    // Before the blob is read or its CAR built, and (a refusal costs nothing) before the meter.
    const held = inFlight.hold(worker.id, cid, blobBytes);
    if ('over' in held) throw overBudget(held.over, res, 'fetches are being sent');
    onClosed(res, held.release);
    // A part of a CAR not at hand costs building the whole: only a kept one is charged what is sent.
    await consumeMiB(deps.limits.gatewayMiB, worker.id, res, cached ? blobBytes - from : blobBytes);
    // Gone while it was metered: nothing is read or built for it.
    if (res.closed) return;
    const { car, layout } = await held.car(async () => {
      // Looked up again: a build that finished while this fetch waited for the meter is kept.
      const kept = cached?.built ?? cars.get(cid)?.built;
      if (kept) return kept;
      const blob = await deps.blobs.get(cid);
      if (!blob) throw new HttpError(404, 'Not found', `no scene ${cid}`);
      const built = await carOf(blob);
      cars.set(cid, { built, blobBytes: blob.byteLength }, built.car.byteLength);
      return built;
    });
    const parts = from === 0 ? [car] : carFrom(car, layout, from);
    res
      .type(`${CAR_CONTENT_TYPE}; version=1; order=dfs`)
      // The CID (and where the bytes start) names these bytes.
      .set({ 'x-content-type-options': 'nosniff', etag: from === 0 ? `"${cid}.car"` : `"${cid}.car.${from}"` });
    // Judged as a reader of the whole CAR, which it holds in memory, not of its part: a slow part
    // of a large blob would otherwise look nearly done, for as long as it is read.
    await sendPaced(res, parts, GATEWAY_PACE, (moved) => held.sending({ total: car.byteLength, moved, cutOff: () => res.destroy() }));
  });
  return r;
}

/** What a route does once it has answered: a failure is logged, not answered (the answer has gone). */
function afterAnswer(req: Request, work: () => Promise<unknown>): Promise<unknown> {
  return work().catch((err: Error) => req.log?.warn({ err: err.message }, 'work after the answer failed'));
}

/** The scenes of the replicas a worker holds, and their assets. */
async function readable(deps: Pick<WorkRoutesDeps, 'workers' | 'tasks' | 'jobs'>, workerId: string): Promise<Set<string>> {
  const cids = new Set<string>();
  for (const { task, replica } of await heldBy(deps, workerId)) {
    cids.add(replica.scene);
    for (const asset of (await deps.jobs.plan(parseTaskId(task)?.job ?? ''))?.assets ?? []) cids.add(asset);
  }
  return cids;
}

/** The replicas a worker holds and has not answered (their leases not lapsed), with their tasks. */
async function heldBy(
  deps: Pick<WorkRoutesDeps, 'workers' | 'tasks'>,
  workerId: string,
): Promise<{ task: string; replica: ReplicaRecord }[]> {
  const rids = await deps.workers.active(workerId);
  const now = Date.now();
  return (await deps.tasks.locate(rids)).flatMap((where, i) =>
    where?.replica?.rid === rids[i] && where.replica.worker === workerId && !lapsed(where.replica, now)
      ? [{ task: where.task, replica: where.replica }]
      : [],
  );
}

export function workRoutes(deps: WorkRoutesDeps): Router {
  const r = Router();
  const { workers, tasks, dispatch } = deps;
  const me = (req: { worker?: WorkerRecord }) => req.worker as WorkerRecord;
  /** Refuses (507) what would store something while storage is short; a worker polls again later. */
  const writable: RequestHandler = async (_req, _res, next) => {
    await deps.storage.assertWritable();
    next();
  };

  const held = (workerId: string) => heldBy(deps, workerId);

  r.post('/heartbeat', async (req, res) => {
    const worker = me(req);
    const { replicas } = Heartbeat.parse(parseJson(rawBody(req)));
    await workers.touch(worker);
    // Only the replicas the worker says it is rendering keep their lease; one it dropped lapses.
    const locks = await dispatch.extendLeases(
      worker.id,
      (await held(worker.id)).filter((h) => replicas.includes(h.replica.rid)),
    );
    // Answered before a real replica's BullMQ lock follows, which a spot check has none of: waited
    // for, the answer's time told one from the other, before either was answered (an attacker's
    // review: the slower was the real one for 11 keys of 12).
    res.json({ ok: true, at: Date.now() });
    await afterAnswer(req, locks);
  });

  r.get('/calibration', (_req, res) => {
    res.json(deps.calibration.spec);
  });

  /** The calibration tiles' pixels, concatenated in order; their CIDs comma-separated in the CID header. */
  r.put('/calibration', writable, async (req, res) => {
    const worker = me(req);
    await consume(deps.limits.calibration, worker.id, res);
    // Refused for its address (a neighbour's flood behind one NAT), the key keeps its own share.
    await consume(deps.limits.calibrationAddress, addressOf(req), res).catch(async (e: unknown) => {
      await deps.limits.calibration.reward(worker.id, 1);
      throw e;
    });
    const { tiles } = deps.calibration.spec;
    const body = new Uint8Array(rawBody(req));
    const claimed = (req.get(RESULT_CID_HEADER) ?? '').split(',').filter(Boolean);
    const rays = raysHeader(req, tiles.length);
    const sizes = tiles.map((t) => t.width * t.height * 4);
    if (body.length !== sizes.reduce((a, b) => a + b, 0))
      throw new HttpError(422, 'Calibration rejected', `send the ${tiles.length} tiles' RGBA back to back (${sizes.join(' + ')} bytes)`);
    const pixels: Uint8Array[] = [];
    let offset = 0;
    for (const size of sizes) {
      pixels.push(body.subarray(offset, offset + size));
      offset += size;
    }
    try {
      const result = await calibrate(
        deps.calibration,
        worker,
        claimed,
        pixels.map((rgba, i) => ({ rgba, rays: rays[i] })),
      );
      req.log?.info({ class: result.class, classState: result.classState }, 'worker calibrated');
      res.json(result);
    } catch (e) {
      if (e instanceof CalibrationRejected) throw new HttpError(422, 'Calibration rejected', e.message);
      if (e instanceof AnswersUnavailable) {
        // Not the worker's doing: the calibration it is told to send again is not counted.
        await deps.limits.calibration.reward(worker.id, 1);
        await deps.limits.calibrationAddress.reward(addressOf(req), 1);
        res.set('Retry-After', '1');
        throw new HttpError(503, 'Service unavailable', e.message);
      }
      throw e;
    }
  });

  /** The long poll each key has waiting here, to end it when the key polls again. */
  const waitingPolls = new Map<string, AbortController>();

  /**
   * A worker that may poll now, or undefined when it must wait (unclassified: its class is not
   * established yet); refuses one that must calibrate first, was refused, or lacks stake.
   * `record`: the worker as read now, where the request changed it (an upload frees holdings).
   */
  async function poller(req: Request, record = me(req)): Promise<WorkerRecord | undefined> {
    const worker = await reconsider(deps.calibration, record);
    await workers.touch(worker);
    if (worker.classState === 'calibrating')
      throw new HttpError(409, 'Calibrate first', 'render the tiles of GET /api/work/calibration and PUT them there');
    if (worker.classState === 'refused')
      throw new HttpError(403, 'Calibration refused', 'this key’s calibration matched no class; registering again calibrates again');
    if (worker.classState === 'unclassified') return undefined;
    const free = worker.stake - worker.locked - worker.unbonding;
    if (!worker.trusted && worker.inFlight === 0 && (free < deps.stakePerReplicaMicros || worker.stake < deps.minStakeMicros))
      throw new HttpError(
        409,
        'Stake required',
        `a worker stakes at least ${credits(deps.minStakeMicros)} credits, and each replica locks ${credits(deps.stakePerReplicaMicros)}; this one has ${credits(worker.stake)} staked, ${credits(Math.max(0, free))} free`,
      );
    return worker;
  }

  /**
   * Long-polls for up to `max` replicas (`wait` false: only what there is now). When the worker
   * hung up before it heard about them, they go straight back (undefined).
   */
  async function poll(req: Request, res: Response, worker: WorkerRecord, max: number, wait = true): Promise<Assignment[] | undefined> {
    const abort = new AbortController();
    // One that hung up while its request was under way (an upload's results being recorded) has
    // closed already: its close event will not come again.
    if (res.destroyed) abort.abort();
    else res.on('close', () => abort.abort());
    // One waiting poll per key here: a new one ends the one before (204), as a worker polls again
    // only once its last poll ended or was lost. A key's polls had each waited side by side, a
    // thousand at once within its request rate, each looking every second where its looks are
    // not quieted (a provisional key's, a provider's owing a window): 3,000 Redis commands a
    // second from one key (an attacker's review).
    if (wait && !abort.signal.aborted) {
      waitingPolls.get(worker.id)?.abort();
      waitingPolls.set(worker.id, abort);
    }
    const found = await dispatch.nextBatch(worker, max, abort.signal, wait).finally(() => {
      if (waitingPolls.get(worker.id) === abort) waitingPolls.delete(worker.id);
    });
    if (!abort.signal.aborted) return found;
    const rids = new Set(found.map((a) => a.replica));
    for (const mine of (await held(worker.id)).filter((h) => rids.has(h.replica.rid))) {
      const released = await tasks.release(mine.task, mine.replica.n, mine.replica.rid, worker.id, '', false);
      if (released) await dispatch.handBack(mine.task, mine.replica, released);
    }
    req.log?.info({ replicas: found.length }, 'poll ended before its answer; replicas handed back');
    return undefined;
  }

  /** The single-replica poll: one assignment, or 204. */
  r.post('/next', writable, async (req, res) => {
    const worker = await poller(req);
    const [found] = (worker && (await poll(req, res, worker, 1))) ?? [];
    if (res.writableEnded || res.destroyed) return;
    if (found) res.json(found);
    else res.status(204).end();
  });

  /** The batched poll: up to `max` replicas (the worker's free capacity), or 204. */
  r.post('/batch', writable, async (req, res) => {
    const { max } = BatchRequest.parse(parseJson(rawBody(req)));
    const worker = await poller(req);
    const found = (worker && (await poll(req, res, worker, max))) ?? [];
    if (res.writableEnded || res.destroyed) return;
    if (found.length) res.json({ replicas: found } satisfies Batch);
    else res.status(204).end();
  });

  r.put('/:replica/result', writable, async (req, res) => {
    const rid = param(req, 'replica', Ids.replica);
    const cid = req.get(RESULT_CID_HEADER);
    if (!cid || !Ids.cid.safeParse(cid).success)
      throw new HttpError(400, 'Invalid request', `send the result's CID in ${RESULT_CID_HEADER}`, [
        { path: RESULT_CID_HEADER, message: 'a CID is required' },
      ]);
    const [rays] = raysHeader(req, 1);
    const [outcome] = await acceptResults(deps, me(req), [{ replica: rid, cid, rays, rgba: new Uint8Array(rawBody(req)) }]);
    if (outcome instanceof ResultRejected) {
      req.log?.warn({ replica: rid, reason: outcome.message }, 'result rejected');
      throw new HttpError(outcome.status, 'Result rejected', outcome.message);
    }
    res.json({ status: outcome });
  });

  /**
   * Several results in one signed body (shared/result-batch.ts). Each is judged as its own upload
   * would be; one refused does not refuse the others, and each answer says what became of it.
   * `?next=N` asks for up to N replicas more in the same request (ResultsQuery).
   */
  r.put('/results', writable, async (req, res) => {
    const { next } = ResultsQuery.parse(req.query);
    let batch: BatchedResult[];
    try {
      batch = decodeResultBatch(new Uint8Array(rawBody(req)));
    } catch (e) {
      if (e instanceof BatchFramingError) throw new HttpError(400, 'Invalid request', e.message, e.issues);
      throw e;
    }
    const outcomes = await acceptResults(deps, me(req), batch);
    const results = outcomes.map((outcome, i): BatchResult => {
      const { replica } = batch[i];
      if (!(outcome instanceof ResultRejected)) return { replica, status: outcome };
      req.log?.warn({ replica, reason: outcome.message }, 'result rejected');
      return { replica, error: { status: outcome.status, title: 'Result rejected', detail: outcome.message } };
    });
    // A result recorded already means this is a retry: the answer to the first attempt, lost on the
    // way, may have brought replicas; this one brings none more, and the worker polls.
    const retried = outcomes.some((o) => o === 'duplicate');
    const replicas = next > 0 && !retried ? await moreWork(req, res, next) : [];
    if (res.writableEnded || res.destroyed) return;
    res.json({ results, ...(replicas.length ? { replicas } : {}) } satisfies BatchResults);
  });

  /**
   * Replicas for a worker that has just reported, as many as there are now: none where it may not
   * poll now (it hears why from its next poll). Its record is read again: the results it reported
   * freed its holdings.
   */
  async function moreWork(req: Request, res: Response, max: number): Promise<Assignment[]> {
    try {
      const record = await workers.get(me(req).id);
      const worker = record && (await poller(req, record).catch((e) => (e instanceof HttpError ? undefined : Promise.reject(e))));
      return (worker && (await poll(req, res, worker, max, false))) ?? [];
    } catch (err) {
      // Its results are recorded: a look that failed must not fail their upload (the worker would
      // send them again). It polls instead, and hears of the fault there.
      req.log?.warn({ err }, 'could not look for more work');
      return [];
    }
  }

  /** Hands a replica back, or gives it up with the render error that stopped the worker. */
  r.post('/:replica/release', async (req, res) => {
    const rid = param(req, 'replica', Ids.replica);
    const worker = me(req);
    const body = rawBody(req);
    const { error } = body.length === 0 ? {} : ReleaseRequest.parse(parseJson(body));
    const mine = (await held(worker.id)).find((h) => h.replica.rid === rid);
    const released = mine && (await tasks.release(mine.task, mine.replica.n, rid, worker.id, error));
    if (!mine || !released) throw new HttpError(409, 'Not held', `worker does not hold ${rid}`);
    if (error) req.log?.warn({ replica: rid, error }, 'render failed');
    else req.log?.info({ replica: rid }, 'replica handed back');
    // Answered before what only a real replica has (its slot back in its queue, a failure's
    // judgement): waited for, the answer's time told one from a spot check (an attacker's review).
    res.json({ status: 'released' });
    await afterAnswer(req, async () => {
      await dispatch.handBack(mine.task, mine.replica, released);
      // A failure counts toward the tile's attempts (verdict/decide.ts): judge it now.
      if (error) await deps.runner.judge(mine.task);
    });
  });

  const Amount = z.object({ amount: Credits });

  /** Moves credits from the worker's balance into its stake. */
  r.post('/stake', async (req, res) => {
    const worker = me(req);
    const { amount } = Amount.parse(parseJson(rawBody(req)));
    await ledgerOp(() => deps.ledger.deposit(worker.id, toMicros(amount)));
    res.json(await deps.ledger.account(worker.id));
  });

  /** Offers RU in a forward window at `minPrice` at least, locking collateral from the balance. */
  r.post('/offers', async (req, res) => {
    const body = OfferRequest.parse(parseJson(rawBody(req)));
    const worker = me(req);
    // Only a worker that may take real work can promise any.
    if (worker.classState !== 'established')
      throw new HttpError(409, 'Not established', 'a worker offers capacity once calibration has placed it in an established class');
    res.status(201).json(await placeOrder(deps, 'ask', worker.id, body, res));
  });

  /** Withdraws one of the worker's offers before its window's gate: its collateral comes back. */
  r.post('/offers/:id/withdraw', async (req, res) => {
    res.json(await withdrawOrder(deps, 'ask', me(req).id, param(req, 'id', Ids.order)));
  });

  /** The worker's offers, newest first. */
  r.get('/offers', async (req, res) => {
    const orders = await deps.forwards.ordersOf(me(req).id, 100);
    res.json({ offers: await Promise.all(orders.map((o) => view(deps, o))) });
  });

  /** Asks stake back: it is paid out after the unbonding delay, and stays slashable until then. */
  r.post('/unstake', async (req, res) => {
    const worker = me(req);
    const { amount } = Amount.parse(parseJson(rawBody(req)));
    await ledgerOp(() => deps.ledger.unbond(worker.id, toMicros(amount)));
    res.status(202).json(await deps.ledger.account(worker.id));
  });

  return r;
}

/** µc as credits, for messages. */
const credits = (micros: number): string => formatCredits(fromMicros(micros));

const RayCounts = z.array(z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER));

/** The ray counts a result's header claims, one per tile: whole numbers, as many as the tiles. */
function raysHeader(req: Request, tiles: number): number[] {
  const parsed = RayCounts.length(tiles).safeParse((req.get(RESULT_RAYS_HEADER) ?? '').split(',').filter(Boolean));
  if (!parsed.success) {
    const message = `${tiles === 1 ? 'a whole number' : `${tiles} whole numbers, comma-separated`}: the rays each tile's render traced`;
    throw new HttpError(400, 'Invalid request', `send ${message} in ${RESULT_RAYS_HEADER}`, [{ path: RESULT_RAYS_HEADER, message }]);
  }
  return parsed.data;
}
