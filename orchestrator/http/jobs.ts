/**
 * Requester API: submit, inspect, download, pause, prioritise, fund, re-run, cancel and delete jobs. A
 * requester sees only its jobs.
 */

import { randomBytes } from 'node:crypto';
import { type Request, type Response, Router } from 'express';
import { z } from 'zod';
import { assetLimitIssues, assetUses, distinctCids, MAX_ASSET_USES, manifestOf, resolveAssets, useBytes } from '../../shared/assets.ts';
import { type FarmLimits, farmLimitIssues, inRequest, settingName } from '../../shared/farm-limits.ts';
import { parseFrameRange } from '../../shared/frames.ts';
import { pixelsOf } from '../../shared/image.ts';
import { fromTicks, toTicks } from '../../shared/market.ts';
import { formatCredits, fromMicros, toMicros } from '../../shared/money.ts';
import {
  BudgetChange,
  DEFAULT_PRIORITY,
  Ids,
  JobDeleteQuery,
  type JobDeletion,
  type JobEstimate,
  JobRequest,
  PriorityChange,
  type Rerun,
} from '../../shared/protocol.ts';
import { toRu } from '../../shared/render-units.ts';
import { frameCount, parseScene, withOverrides } from '../../shared/scene.ts';
import { type JobThroughput, jobThroughput } from '../../shared/throughput.ts';
import { tileCount } from '../../shared/tile.ts';
import type { ChangeFeed } from '../change-feed.ts';
import type { ContentStore } from '../content/store.ts';
import { pauseReason } from '../market/book.ts';
import { estimate } from '../market/estimate.ts';
import { mayPrioritise } from '../market/priority.ts';
import { initialReplicas, parseTaskId, planJob } from '../planner.ts';
import { RERUN_REFUSALS, type RerunDeps, rerun, rerunnable } from '../rerun.ts';
import type { AssetIndex } from '../state/assets.ts';
import type { JobRecord, Jobs, JobUrls } from '../state/jobs.ts';
import type { Ledger } from '../state/ledger.ts';
import type { Market } from '../state/market.ts';
import type { Tasks } from '../state/tasks.ts';
import type { Principal } from '../state/tokens.ts';
import type { StorageMonitor } from '../storage.ts';
import { meteredUpload, readJson } from './bodies.ts';
import { ByteBudget, overBudget } from './byte-budget.ts';
import { StreamLimits } from './event-stream.ts';
import { SharedStatuses, streamJobEvents, streamJobListEvents } from './job-events.ts';
import { consume, consumeAll, type Limits } from './limits.ts';
import { HttpError, nested, overFarmLimits, param } from './problem.ts';
import { cachedThroughput } from './throughput-cache.ts';

/** Quorum: replicas per task beyond R before a task without a majority fails its job. */
const EXTRA_REPLICAS = 4;
/** Credibility: the most replicas one task may use (fresh workers at ε = 1e-4 need about 7). */
const CREDIBILITY_MAX_REPLICAS = 16;

export interface JobRoutesDeps {
  jobs: Jobs;
  tasks: Tasks;
  blobs: ContentStore;
  assets: AssetIndex;
  feed: ChangeFeed;
  limits: Limits;
  enqueuePlan: (jobId: string) => Promise<void>;
  /** Winds down what a cancelled job still has out, in the background. */
  enqueueClose: (jobId: string) => Promise<void>;
  /** Brings a job's queued slots in line with its priority and pause, in the background (slot-refresh.ts). */
  enqueueRefresh: (jobId: string) => Promise<void>;
  reruns: RerunDeps;
  quotas: { maxTasksPerJob: number; maxTasksInFlight: number; maxReplicasInFlight: number };
  storage: StorageMonitor;
  market: Market;
  ledger: Ledger;
  /** Largest total of one scene's assets. */
  maxAssetBytes: number;
  /** Largest scene sent inline (a submission's or an estimate's body). */
  maxSceneBytes: number;
  /** This farm's scene limits (shared/farm-limits.ts). */
  farmLimits: FarmLimits;
}

/** GET /api/jobs: a page, newest first; the operator may narrow it to one requester's jobs. */
const JobListQuery = z.object({
  offset: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  owner: Ids.owner.optional(),
});

/** Jobs whose owners one live job list remembers: past this it forgets them all and looks them up again. */
const OWNERS_REMEMBERED = 10_000;

/** Only the operator may raise a job above the default priority (shared/protocol.ts says why). */
function assertMayPrioritise(req: Request, priority: number, current = DEFAULT_PRIORITY): void {
  if (mayPrioritise(req.principal?.role, priority, current)) return;
  const message = `only the operator may set a priority above ${DEFAULT_PRIORITY}; lower your other jobs instead`;
  throw new HttpError(403, 'Forbidden', message, [{ path: 'priority', message }]);
}

/** The operator sees every job; a requester only its own. */
const maySee = (principal: Principal | undefined, owner: string | undefined): boolean =>
  principal?.role === 'operator' || (owner !== undefined && owner === principal?.owner);

export function jobRoutes(deps: JobRoutesDeps): Router {
  const r = Router();
  const { jobs, tasks, blobs } = deps;

  /** The job, if the caller may see it; 404 otherwise (no hint that it exists). */
  async function visibleJob(req: Request): Promise<JobRecord> {
    const job = await jobs.get(param(req, 'id', Ids.job));
    if (!job || !maySee(req.principal, job.owner)) throw new HttpError(404, 'Not found', `no job ${req.params.id}`);
    return job;
  }

  const urls: JobUrls = { animation: (id) => `/api/jobs/${id}/animation`, thumbnail: (id) => `/api/jobs/${id}/thumbnail` };
  /** What holds jobs up now (a full store, or the market), read once for any number of jobs. */
  const heldUpNow = async (): Promise<(job: JobRecord) => string | null> => {
    const [problems, last] = await Promise.all([deps.storage.problems(), deps.market.last()]);
    const full = problems.length ? `storage full (${problems.join('; ')}): it resumes once space is freed` : null;
    return (job) => full ?? pauseReason(job, last);
  };
  const statusOf = async (job: JobRecord) => jobs.status(job, urls, (await heldUpNow())(job));
  const summariesOf = async (records: JobRecord[]) => {
    if (records.length === 0) return [];
    const heldUp = await heldUpNow();
    return records.map((job) => jobs.summary(job, urls, heldUp(job)));
  };
  const live = { feed: deps.feed, jobs, tasks, statusOf, summariesOf, statuses: new SharedStatuses() };

  // Two scenes at the asset limit may be checked at once, one of them a requester's.
  const resolving = new ByteBudget(2 * deps.maxAssetBytes, deps.maxAssetBytes);

  // A submission's or an estimate's scene may come inline: read like an upload (bodies.ts), held
  // while those two routes answer and on no other: held on every route under /api/jobs, two live
  // views sent with a body at the limit had kept every submission out for as long as they stayed
  // open (an attacker's review). Other routes read no body, or a small one.
  const sceneBodies = new ByteBudget(2 * deps.maxSceneBytes, deps.maxSceneBytes);
  const sceneBody = meteredUpload(sceneBodies, deps.limits.assetMiB, deps.maxSceneBytes, readJson(deps.maxSceneBytes));
  const smallBody = readJson(4096);

  /** A submission checked and sized: its scene, frames and tiles, and what it will cost. */
  async function draft(req: Request, res: Response) {
    const request = JobRequest.parse(req.body ?? {});
    // Before anything heavy: a quote for a job it may not submit helps nobody.
    assertMayPrioritise(req, request.priority);
    // A scene whose heavy parts are assets is checked with them in place, and stored without them.
    // Through the asset index: a scene naming a result's CID must not learn whether it exists.
    // Their count and sizes (each asset counted at every use) are judged before a byte is read.
    const uses = assetUses(request.scene);
    const sizes = uses.length > MAX_ASSET_USES ? new Map<string, number>() : await deps.assets.sizes(distinctCids(uses));
    const tooMuch = assetLimitIssues(uses, (cid) => sizes.get(cid), deps.maxAssetBytes, settingName('maxAssetBytes'));
    if (tooMuch.length > 0) throw overFarmLimits(nested('scene', tooMuch));
    const assetBytes = useBytes(uses, (cid) => sizes.get(cid));
    const checked = await resolving.hold(req.principal?.owner as string, assetBytes, async () => {
      const resolved = await resolveAssets(
        request.scene,
        async (cid) => (sizes.has(cid) ? blobs.get(cid) : undefined),
        deps.maxAssetBytes,
        settingName('maxAssetBytes'),
      );
      return { parsed: parseScene(resolved.scene), refs: resolved.refs };
    });
    if ('over' in checked) throw overBudget(checked.over, res, "scenes' assets are being checked");
    const { parsed, refs } = checked.value;
    const scene = withOverrides(parsed, { width: request.width, height: request.height, spp: request.spp });
    let frames: number[];
    try {
      frames = request.frames === undefined ? [...Array(frameCount(scene)).keys()] : parseFrameRange(request.frames, frameCount(scene));
    } catch (e) {
      throw new HttpError(400, 'Invalid request', (e as Error).message, [{ path: 'frames', message: (e as Error).message }]);
    }
    const over = inRequest(farmLimitIssues(scene, deps.farmLimits, { frames: frames.length }), request);
    if (over.length > 0) throw overFarmLimits(over);
    const tilesPerFrame = tileCount(scene.render.width, scene.render.height, request.tileSize);
    const { maxTasksPerJob } = deps.quotas;
    if (tilesPerFrame * frames.length > maxTasksPerJob) {
      const message = `${frames.length} frames × ${tilesPerFrame} tiles exceeds ${maxTasksPerJob} tasks; use larger tiles or fewer frames`;
      throw new HttpError(400, 'Invalid request', message, [{ path: 'tileSize', message }]);
    }
    const bid = request.maxPrice === undefined ? null : toTicks(request.maxPrice);
    const last = await deps.market.last();
    const spot = last?.price ?? last?.bestAsk ?? null;
    // A market order pays no more than its collar: its hold assumes no more either.
    const collar = last?.marketLimit ?? null;
    const quote = spot === null || collar === null ? spot : Math.min(spot, collar);
    const cost = estimate(
      {
        pixels: scene.render.width * scene.render.height,
        frames: frames.length,
        spp: scene.render.spp,
        verification: request.verification,
        replicas: request.replicas,
        bid,
        budget: request.budget === undefined ? null : toMicros(request.budget),
      },
      quote,
    );
    // Money is integer µc: a hold past 2^53 could not be held exactly (nor could any account pay it).
    if (!Number.isSafeInteger(cost.hold)) {
      const message = `at this price the job would hold ${formatCredits(fromMicros(cost.hold))} credits in escrow, more than the farm counts; bid less or render less`;
      throw new HttpError(400, 'Invalid request', message, [{ path: request.maxPrice === undefined ? 'scene' : 'maxPrice', message }]);
    }
    return {
      body: request,
      scene,
      refs,
      assets: [...new Set(refs.map((ref) => ref.cid))],
      frames,
      tilesPerFrame,
      bid,
      cost,
    };
  }

  /** What a submission would cost and hold, without submitting it. */
  r.post('/estimate', sceneBody, async (req, res) => {
    await consume(deps.limits.estimate, req.principal?.owner as string, res);
    const { frames, tilesPerFrame, cost } = await draft(req, res);
    const quote: JobEstimate = {
      tasks: frames.length * tilesPerFrame,
      maxRu: toRu(cost.maxRays),
      redundancy: cost.redundancy,
      price: cost.price === null ? null : fromTicks(cost.price),
      hold: fromMicros(cost.hold),
      basis: cost.basis,
      balance: (await deps.ledger.account(req.principal?.owner as string)).balance,
    };
    res.json(quote);
  });

  r.post('/', sceneBody, async (req, res) => {
    await consume(deps.limits.submission, req.principal?.owner as string, res);
    await deps.storage.assertWritable();
    const { body, scene, refs, assets, frames, tilesPerFrame, bid, cost } = await draft(req, res);
    const id = `j${randomBytes(10).toString('hex')}`;
    // Stored as a manifest: the validated scene with its assets back to their references (an estimate needs none).
    const sceneCid = await blobs.put(new TextEncoder().encode(JSON.stringify(manifestOf(scene, refs))));
    const created = await jobs.create(
      {
        id,
        owner: req.principal?.owner as string,
        name: body.name ?? scene.name,
        createdAt: Date.now(),
        scene: sceneCid,
        assets,
        width: scene.render.width,
        height: scene.render.height,
        spp: scene.render.spp,
        tileSize: body.tileSize,
        replicas: body.replicas,
        maxReplicas: body.verification === 'quorum' ? body.replicas + EXTRA_REPLICAS : CREDIBILITY_MAX_REPLICAS,
        verification: body.verification,
        epsilon: body.epsilon,
        onTimeout: body.onTimeout,
        timeoutMs: body.timeoutSeconds * 1000,
        frames,
        tilesPerFrame,
        tilesTotal: tilesPerFrame * frames.length,
        bid,
        priority: body.priority,
      },
      initialReplicas(body),
      { tasks: deps.quotas.maxTasksInFlight, replicas: deps.quotas.maxReplicasInFlight },
      cost.hold,
    );
    if (created === 'funds') {
      const { balance } = await deps.ledger.account(req.principal?.owner as string);
      const held = fromMicros(cost.hold);
      const path = cost.basis === 'bid' ? 'maxPrice' : 'budget';
      const why =
        cost.basis === 'budget'
          ? `the budget of ${held} credits`
          : `${held} credits: ${toRu(cost.maxRays).toPrecision(3)} RU at most × ${cost.redundancy} replicas at ${fromTicks(cost.price ?? 0)} credits/RU`;
      throw new HttpError(402, 'Not enough credits', `this job holds ${why} in escrow; your balance is ${balance} credits`, [
        { path, message: `needs ${held} credits, the balance has ${balance}` },
      ]);
    }
    if (created !== 'ok') {
      const limit = created === 'tasks' ? `${deps.quotas.maxTasksInFlight} tasks` : `${deps.quotas.maxReplicasInFlight} replicas`;
      throw new HttpError(
        429,
        'Quota exceeded',
        `this job would take your work in flight past ${limit}; wait for jobs to finish or cancel some`,
        [{ path: created === 'tasks' ? 'frames' : 'replicas', message: `over the quota of ${limit} in flight` }],
      );
    }
    await deps.enqueuePlan(id);
    req.log?.info({ job: id, frames: frames.length, tiles: tilesPerFrame * frames.length, replicas: body.replicas }, 'job submitted');
    res
      .status(201)
      .location(`/api/jobs/${id}`)
      .json({ id, tilesTotal: tilesPerFrame * frames.length, frames });
  });

  r.get('/', async (req, res) => {
    const { offset, limit, owner } = JobListQuery.parse(req.query);
    const ids = await jobs.list(req.principal?.role === 'operator' ? owner : req.principal?.owner, offset, limit);
    const records = (await Promise.all(ids.map((id) => jobs.get(id)))).filter((j): j is JobRecord => j !== undefined);
    res.json({ jobs: await summariesOf(records) });
  });

  // A dashboard tab holds one or two; what one requester may hold, and all together (event-stream.ts).
  const streams = new StreamLimits(16, 1000);

  /** Live job list: each visible job's summary as it changes (job-events.ts). */
  r.get('/events', async (req, res) => {
    streams.admit(req.principal?.owner as string, res);
    // A job's owner never changes: look each one up once per stream, remembering the farm's recent
    // jobs only (a stream open for weeks hears of every job).
    const owners = new Map<string, string | undefined>();
    const visible = async (id: string) => {
      if (owners.size >= OWNERS_REMEMBERED) owners.clear();
      if (!owners.has(id)) owners.set(id, (await jobs.get(id))?.owner);
      return maySee(req.principal, owners.get(id));
    };
    await streamJobListEvents(live, visible, req, res);
  });

  r.get('/:id', async (req, res) => {
    res.json(await statusOf(await visibleJob(req)));
  });

  r.get('/:id/tasks', async (req, res) => {
    const job = await visibleJob(req);
    const { frame } = z.object({ frame: z.coerce.number().int().min(0).default(job.frames[0]) }).parse(req.query);
    if (!job.frames.includes(frame)) throw new HttpError(404, 'Not found', `job ${job.id} does not render frame ${frame}`);
    const operator = req.principal?.role === 'operator';
    const views = await Promise.all(planJob(job.id, [frame], job.width, job.height, job.tileSize).map((t) => tasks.view(t.id, operator)));
    res.json({ frame, tasks: views.filter(Boolean) });
  });

  /** Tiles verified over the job's life and each worker's share of its accepted results, from its own tasks only. */
  const throughputOf = cachedThroughput(async (job): Promise<JobThroughput> => {
    const ids = planJob(job.id, job.frames, job.width, job.height, job.tileSize).map((t) => t.id);
    return jobThroughput(await tasks.outcomes(ids), job.createdAt, job.finishedAt ?? Date.now());
  });
  r.get('/:id/throughput', async (req, res) => {
    // Who may see the job is checked on every request; the answer is the same for each who may.
    res.json(await throughputOf(await visibleJob(req)));
  });

  /** Live view: server-sent events (job-events.ts). */
  r.get('/:id/events', async (req, res) => {
    const job = await visibleJob(req);
    streams.admit(req.principal?.owner as string, res);
    await streamJobEvents(live, job.id, req, res);
  });

  /**
   * A tile's RGBA pixels as one of its replicas (or its verdict) has them: immutable by CID. Its
   * requester reads only what it paid for: the verdict's result, and a replica's once it is valid.
   * One read while the tile waited for agreement, then a cancel, had the render for nothing; and
   * the result an honest provider was outvoted on by keys agreeing on garbage (unpaid) was there
   * to read once the tile was verified (attacker's reviews).
   */
  r.get('/:id/tasks/:task/pixels/:cid', async (req, res) => {
    const job = await visibleJob(req);
    const taskId = param(req, 'task', Ids.task);
    const cid = param(req, 'cid', Ids.cid);
    const operator = req.principal?.role === 'operator';
    const task = parseTaskId(taskId)?.job === job.id ? await tasks.view(taskId, operator) : undefined;
    if (!task) throw new HttpError(404, 'Not found', `job ${job.id} has no task ${taskId}`);
    const replica = task.replicas.find((r) => r.cid === cid);
    if (task.cid !== cid && !replica) throw new HttpError(404, 'Not found', `no result ${cid} for task ${task.task}`);
    const paidFor = (task.state === 'verified' && task.cid === cid) || replica?.state === 'valid';
    if (!operator && !paidFor) {
      const message = `result ${cid} of task ${task.task} is not paid for yet: a tile's results are read once its verdict pays for them`;
      throw new HttpError(403, 'Forbidden', message, [{ path: 'cid', message }]);
    }
    const bytes = await blobs.get(cid);
    if (!bytes) throw new HttpError(404, 'Not found', `result ${cid} is no longer stored`);
    res
      .type('application/octet-stream')
      .set('Cache-Control', 'private, max-age=31536000, immutable')
      .send(Buffer.from(pixelsOf(bytes, task.rect.width, task.rect.height)));
  });

  /**
   * A job's product from the store, or 503: it was stored, so a miss means its copies are out of
   * reach now (an IPFS store whose peers holding them are down), not that it is gone.
   */
  const stored = async (cid: string, res: Response, what: string): Promise<Uint8Array> => {
    const bytes = await blobs.get(cid);
    if (bytes) return bytes;
    res.set('Retry-After', '10');
    throw new HttpError(503, 'Unavailable', `${what} (${cid}) is out of this orchestrator's reach now: retry, or ask another`);
  };

  r.get('/:id/frames/:n', async (req, res) => {
    const job = await visibleJob(req);
    const frame = param(req, 'n', z.coerce.number().int().min(0));
    if (!job.frames.includes(frame)) throw new HttpError(404, 'Not found', `job ${job.id} does not render frame ${frame}`);
    const cid = (await jobs.frameCids(job.id))[frame];
    if (!cid) throw new HttpError(409, 'Frame not ready', `frame ${frame} is not verified and stitched yet`);
    res
      .type('image/png')
      .set('ETag', `"${cid}"`)
      .send(Buffer.from(await stored(cid, res, `frame ${frame}`)));
  });

  /** A small WebP of the job's first frame, made when it was stitched (404 until then). */
  r.get('/:id/thumbnail', async (req, res) => {
    const job = await visibleJob(req);
    const bytes = job.thumbnail && (await blobs.get(job.thumbnail));
    if (!job.thumbnail || !bytes) throw new HttpError(404, 'Not found', `job ${job.id} has no stitched frame yet`);
    res.type('image/webp').set('ETag', `"${job.thumbnail}"`).set('Cache-Control', 'private, no-cache').send(Buffer.from(bytes));
  });

  r.get('/:id/animation', async (req, res) => {
    const job = await visibleJob(req);
    if (!job.animation)
      throw new HttpError(409, 'Animation not ready', 'the animation exists once every frame of a multi-frame job is stitched');
    res
      .type('image/webp')
      .set('ETag', `"${job.animation}"`)
      .send(Buffer.from(await stored(job.animation, res, 'the animation')));
  });

  /** Pause holds the job's tiles not yet handed out (what is out carries on); resume releases them. */
  for (const [action, paused] of [
    ['pause', true],
    ['resume', false],
  ] as const) {
    r.post(`/:id/${action}`, async (req, res) => {
      const job = await visibleJob(req);
      // Pause and resume, as a new priority, count against the submission limit: a resume walks the job's queued slots.
      await consume(deps.limits.submission, req.principal?.owner as string, res);
      if (!(await jobs.setPaused(job.id, paused))) throw new HttpError(409, 'Job finished', `job ${job.id} is already ${job.state}`);
      // Its slots parked while it was paused go back to their queues now.
      if (!paused && job.paused) await deps.enqueueRefresh(job.id);
      req.log?.info({ job: job.id }, `job ${action}d`);
      res.json(await statusOf((await jobs.get(job.id)) as JobRecord));
    });
  }

  /** A new priority: the job's slots already queued move to it in the background (slot-refresh.ts). */
  r.post('/:id/priority', smallBody, async (req, res) => {
    const job = await visibleJob(req);
    const { priority } = PriorityChange.parse(req.body ?? {});
    assertMayPrioritise(req, priority, job.priority);
    await consume(deps.limits.submission, req.principal?.owner as string, res);
    if (!(await jobs.setPriority(job.id, priority))) throw new HttpError(409, 'Job finished', `job ${job.id} is already ${job.state}`);
    if (priority !== job.priority) await deps.enqueueRefresh(job.id);
    req.log?.info({ job: job.id, priority }, 'job priority set');
    res.json(await statusOf((await jobs.get(job.id)) as JobRecord));
  });

  /**
   * Raises the job's budget (job-budget.lua): its owner's balance pays the difference into its
   * escrow, and its slots that stepped aside for want of it go back to their queues at once.
   */
  r.put('/:id/budget', smallBody, async (req, res) => {
    const job = await visibleJob(req);
    const { budget } = BudgetChange.parse(req.body ?? {});
    const owner = req.principal?.owner as string;
    await consume(deps.limits.submission, owner, res);
    const change = await jobs.setBudget(job.id, owner, toMicros(budget));
    const credits = (micros: string) => formatCredits(fromMicros(Number(micros)));
    const gone = () => new HttpError(404, 'Not found', `no job ${job.id}`);
    switch (change.outcome) {
      case 'missing':
        throw gone();
      case 'owner':
        throw new HttpError(403, 'Not your job', `job ${job.id} is funded by its owner's balance; only its owner raises its budget`);
      case 'ended':
        throw new HttpError(409, 'Job finished', `job ${job.id} is already ${change.values[0]}`);
      case 'lower': {
        const has = credits(change.values[0]);
        throw new HttpError(409, 'Budget can only be raised', `job ${job.id} has ${has} credits in it already`, [
          { path: 'budget', message: `more than ${has} (what it holds and has paid out of its escrow)` },
        ]);
      }
      case 'funds': {
        const [has, balance] = change.values.map(credits);
        const add = formatCredits(budget - Number(has));
        throw new HttpError(
          402,
          'Not enough credits',
          `raising the budget from ${has} holds ${add} more credits; your balance is ${balance}`,
          [{ path: 'budget', message: `your balance is ${balance} credits` }],
        );
      }
      case 'ok':
        await deps.enqueueRefresh(job.id);
        req.log?.info({ job: job.id, budget }, 'job budget raised');
    }
    const raised = await jobs.get(job.id);
    if (!raised) throw gone();
    res.json(await statusOf(raised));
  });

  /**
   * Re-runs verified tiles (rerun.ts): one, or every tile of a frame that may be. 409 with the
   * reasons when none may; each tile re-run counts against the requester's hourly limit.
   */
  async function rerunTiles(req: Request, res: Response, job: JobRecord, ids: readonly string[]) {
    const owner = req.principal?.owner as string;
    if (job.state === 'queued') throw new HttpError(409, 'Nothing to re-run', `job ${job.id} is queued: ${RERUN_REFUSALS.unverified}`);
    if (job.state !== 'running' && job.state !== 'done') throw new HttpError(409, 'Job finished', `job ${job.id} is ${job.state}`);
    // Looking at a frame's tiles costs work whatever the answer: each request counts, as an estimate does.
    await consume(deps.limits.estimate, owner, res);
    const { tasks: open, refused } = await rerunnable(deps.reruns, ids);
    if (open.length === 0) {
      const reasons = [...new Set(refused)].map((r) => RERUN_REFUSALS[r]).join('; ');
      throw new HttpError(409, 'Nothing to re-run', `no tile of job ${job.id} can be re-run: ${reasons || 'it has no such tile'}`);
    }
    await consumeAll(deps.limits.rerun, owner, res, open.length);
    const reopened = await rerun(deps.reruns, open);
    req.log?.info({ job: job.id, tiles: reopened.length }, 'tiles re-run');
    res.json({ reopened } satisfies Rerun);
  }

  r.post('/:id/tasks/:task/rerun', async (req, res) => {
    const job = await visibleJob(req);
    const id = param(req, 'task', Ids.task);
    if (parseTaskId(id)?.job !== job.id) throw new HttpError(404, 'Not found', `job ${job.id} has no task ${id}`);
    await rerunTiles(req, res, job, [id]);
  });

  r.post('/:id/frames/:n/rerun', async (req, res) => {
    const job = await visibleJob(req);
    const frame = param(req, 'n', z.coerce.number().int().min(0));
    if (!job.frames.includes(frame)) throw new HttpError(404, 'Not found', `job ${job.id} does not render frame ${frame}`);
    const ids = planJob(job.id, [frame], job.width, job.height, job.tileSize).map((t) => t.id);
    await rerunTiles(req, res, job, ids);
  });

  /**
   * Cancels at once; what the job still has out is wound down in the background (close-tasks).
   * With `?purge` the job and its data are deleted too: at once when it has ended (200), or as
   * soon as it is wound down (202); its blobs go with the next collection (retention/duty.ts).
   */
  r.delete('/:id', async (req, res) => {
    const job = await visibleJob(req);
    const { purge } = JobDeleteQuery.parse(req.query);
    const cancelled = await jobs.cancel(job.id);
    if (cancelled) {
      await deps.enqueueClose(job.id);
      req.log?.info({ job: job.id }, 'job cancelled');
    } else if (!purge) {
      throw new HttpError(409, 'Job finished', `job ${job.id} is already ${job.state}; add ?purge to delete it`);
    }
    const state = cancelled ? 'cancelled' : job.state;
    if (!purge) return void res.json({ id: job.id, state, deleted: false } satisfies JobDeletion);
    await jobs.requestDeletion(job.id);
    const deleted = (await jobs.purge(job.id)) === 'deleted';
    if (deleted) req.log?.info({ job: job.id }, 'job deleted');
    res.status(deleted ? 200 : 202).json({ id: job.id, state, deleted } satisfies JobDeletion);
  });

  return r;
}
