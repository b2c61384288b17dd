/**
 * The wire between requesters, the orchestrator and workers: every request and response body is
 * a zod schema here, used by the server to validate and by the clients to type their calls.
 */
import { z } from 'zod';
import { Price } from './market.ts';
import { Credits } from './money.ts';
import { frameCount, type Scene } from './scene.ts';
import { RecentResults } from './throughput.ts';
import { Rect } from './tile.ts';

export const FailurePolicy = z.enum(['accept', 'fail']);

/** POST /api/jobs */
/**
 * 0 (last) to 100 (first), as Flamenco and Deadline number it. A requester may lower its jobs'
 * priority below the default, never raise it above (only the operator may): otherwise every
 * requester would set the top and jump the queue of others paying the same price.
 */
export const JobPriority = z.number().int().min(0).max(100);
export const DEFAULT_PRIORITY = 50;
/** POST /api/jobs/:id/priority */
export const PriorityChange = z.object({ priority: JobPriority });

/**
 * PUT /api/jobs/:id/budget: what its owner has in a queued or running job, held or paid out of its escrow
 * (`cost.budget`), raised to this; the difference is held from the owner's balance. A total, not an
 * increment, so a request sent again adds nothing.
 */
export const BudgetChange = z.object({ budget: Credits });

/** POST /api/jobs/:id/tasks/:task/rerun, /frames/:n/rerun: the tiles reopened for a trusted worker to render again. */
export const Rerun = z.object({ reopened: z.array(z.string()) });
export type Rerun = z.infer<typeof Rerun>;

export const JobRequest = z.object({
  scene: z.unknown(),
  /** Blender-style range; default: every frame of the scene. */
  frames: z.string().max(1000).optional(),
  tileSize: z.number().int().min(8).max(512).default(64),
  /** quorum: R replicas must agree. credibility: accept when a group's credibility reaches 1 − ε. */
  verification: z.enum(['credibility', 'quorum']).default('credibility'),
  /** Replicas per tile under quorum (R). */
  replicas: z.number().int().min(1).max(7).default(2),
  /** Target error rate ε of the credibility scheme (a trusted worker's result stands alone down to 1e-9). */
  epsilon: z.number().min(1e-9).lt(1).default(1e-4),
  /** After the job's timeout, tiles that cannot reach θ are accepted below it (marked) or fail the job. */
  onTimeout: FailurePolicy.default('accept'),
  timeoutSeconds: z
    .number()
    .int()
    .min(1)
    .max(7 * 24 * 3600)
    .default(600),
  width: z.number().int().min(1).optional(),
  height: z.number().int().min(1).optional(),
  spp: z.number().int().min(1).optional(),
  name: z.string().max(200).optional(),
  /** The most it pays, in credits per RU (`farm submit --max-price`); none: a market order. */
  maxPrice: Price.optional(),
  /**
   * Credits held in escrow for it (`farm submit --budget`); none: its estimate at `maxPrice`, or
   * at the market's price for a market order. It never pays more.
   */
  budget: Credits.optional(),
  /** Which of jobs at the same price goes first (orchestrator/market/priority.ts). */
  priority: JobPriority.default(DEFAULT_PRIORITY),
});
export type JobRequest = z.infer<typeof JobRequest>;

/** POST /api/jobs/estimate: what submitting the request would cost, before it runs. */
export const JobEstimate = z.object({
  tasks: z.number().int(),
  /** The most work one replica of every tile can take, in RU. */
  maxRu: z.number(),
  /** Replicas per tile it is expected to pay for (orchestrator/market/estimate.ts). */
  redundancy: z.number(),
  /** Credits per RU the hold assumes: the limit, else the market's price; null: no price yet. */
  price: z.number().nullable(),
  /** Credits submitting it holds in escrow (the rest comes back when it ends), and on what basis. */
  hold: z.number(),
  basis: z.enum(['budget', 'bid', 'quote']),
  /** The requester's balance now. */
  balance: z.number(),
});
export type JobEstimate = z.infer<typeof JobEstimate>;

export const JobState = z.enum(['queued', 'running', 'done', 'cancelled', 'failed']);
export type JobState = z.infer<typeof JobState>;

/** DELETE /api/jobs/:id: `?purge` deletes the job and its data too, not only cancels it. */
export const JobDeleteQuery = z.object({
  purge: z
    .enum(['', 'true', 'false'])
    .optional()
    .transform((v) => v === '' || v === 'true'),
});

/** The answer to DELETE /api/jobs/:id: the job's state, and whether its data is gone yet. */
export const JobDeletion = z.object({ id: z.string(), state: JobState, deleted: z.boolean() });
export type JobDeletion = z.infer<typeof JobDeletion>;

export const FrameStatus = z.object({
  frame: z.number().int(),
  tilesVerified: z.number().int(),
  tilesTotal: z.number().int(),
  done: z.boolean(),
});
export type FrameStatus = z.infer<typeof FrameStatus>;

/**
 * A job as lists show it (GET /api/jobs, the live job list): its counts, not each frame's progress
 * — a job of 10,000 frames is 600 KB with them, and a page lists up to 500 jobs.
 */
export const JobSummary = z.object({
  id: z.string(),
  name: z.string(),
  state: JobState,
  /** Its requester (the operator sees every requester's jobs). */
  owner: z.string(),
  priority: JobPriority,
  /** Its owner holds its tiles not yet handed out (POST /api/jobs/:id/pause, /resume). */
  paused: z.boolean(),
  createdAt: z.number(),
  finishedAt: z.number().nullable(),
  width: z.number().int(),
  height: z.number().int(),
  spp: z.number().int(),
  tileSize: z.number().int(),
  replicas: z.number().int(),
  verification: z.enum(['credibility', 'quorum']),
  epsilon: z.number(),
  onTimeout: FailurePolicy,
  frameCount: z.number().int(),
  /** Tiles accepted under θ because the job timed out (onTimeout: accept). */
  tilesBelowThreshold: z.number().int(),
  tilesVerified: z.number().int(),
  tilesTotal: z.number().int(),
  /** Rays the verified tiles took (shared/render-units.ts: 10^9 rays are one render unit). */
  raysVerified: z.number().int(),
  replicasRendered: z.number().int(),
  replicasIssued: z.number().int(),
  framesDone: z.number().int(),
  /** URL of the animated WebP once a multi-frame job is done. */
  animation: z.string().nullable(),
  /** URL of a small WebP of its first frame, once that is stitched. */
  thumbnail: z.string().nullable(),
  /** Why a failed job failed. */
  error: z.string().nullable(),
  /** Why a queued or running job is held up (storage full, the market, its escrow); it resumes by itself. */
  heldUp: z.string().nullable(),
  /** What it has cost so far, in credits (money.ts), and its limit in credits per RU (null: a market order). */
  cost: z.object({
    maxPrice: z.number().nullable(),
    /** What its owner has given it in all (PUT /api/jobs/:id/budget raises it). */
    budget: z.number(),
    /** In escrow now; `committed` of it backs replicas out. */
    held: z.number(),
    committed: z.number(),
    /** Paid for valid replicas, the operator's fees included, less what restitution brought back; `ru`: the work paid for (spent ÷ ru: the average price). */
    spent: z.number(),
    fees: z.number(),
    ru: z.number(),
  }),
});
export type JobSummary = z.infer<typeof JobSummary>;

/** A job with each frame's progress (GET /api/jobs/:id, its live view). */
export const JobStatus = JobSummary.extend({ frames: z.array(FrameStatus) });
export type JobStatus = z.infer<typeof JobStatus>;

/**
 * valid: agreed with the accepted result. invalid: differed from a result backed by the operator's
 * trusted workers (a fault). overruled: differed from the accepted result where no such truth was
 * present (no fault). cancelled: its job was cancelled or failed while it was out.
 */
export const ReplicaState = z.enum([
  'assigned',
  'submitted',
  'valid',
  'invalid',
  'overruled',
  'timedout',
  'handedback',
  'failed',
  'cancelled',
]);
export type ReplicaState = z.infer<typeof ReplicaState>;
/** A holder that let go without a result: its slot is rendered by someone else. */
export const GAVE_UP: ReadonlySet<ReplicaState> = new Set(['timedout', 'handedback', 'failed']);

export const ReplicaView = z.object({
  /** A spot check: a replica of an already verified tile, judged against its known hash. */
  spot: z.boolean(),
  /** Issued to the operator's trusted workers only: an arbitration or an audit. */
  arbiter: z.boolean(),
  /** The replica's opaque id, as its worker knows it. */
  replica: z.string(),
  worker: z.string(),
  state: ReplicaState,
  cid: z.string().nullable(),
  /** Rays its result says its render traced (part of the CID). */
  rays: z.number().int().nullable(),
  /** Credits per RU it traded at (the clearing price of the interval it was assigned in), and what it was paid (less what restitution took back). */
  price: z.number().nullable(),
  paid: z.number().nullable(),
  assignedAt: z.number(),
  submittedAt: z.number().nullable(),
  /** The render error its worker reported (state `failed`). */
  error: z.string().nullable(),
});
export type ReplicaView = z.infer<typeof ReplicaView>;

/** Longest render error a worker may report; the rest is cut. */
export const MAX_ERROR_LENGTH = 500;
/** POST /api/work/:replica/release body: none for a graceful hand-back, or the render error. */
export const ReleaseRequest = z.object({ error: z.string().min(1).max(MAX_ERROR_LENGTH).optional() });
export type ReleaseRequest = z.infer<typeof ReleaseRequest>;

/** Why a pending tile waits (decided by orchestrator/verdict/decide.ts). */
export const TileWait = z.object({
  code: z.enum(['rendering', 'needs-agreement', 'needs-arbiter', 'audit', 'no-eligible-worker']),
  message: z.string(),
  since: z.number(),
  /** When the tile will be decided with what it has (small-farm grace), if nothing changes. */
  decideAt: z.number().nullable(),
});
export type TileWait = z.infer<typeof TileWait>;

export const TaskView = z.object({
  task: z.string(),
  frame: z.number().int(),
  tile: z.number().int(),
  rect: Rect,
  state: z.enum(['pending', 'verified']),
  cid: z.string().nullable(),
  /** Rays the verified result took: the tile's metered work. */
  rays: z.number().int().nullable(),
  /** Credibility of the accepted group (credibility scheme). */
  credibility: z.number().nullable(),
  belowThreshold: z.boolean(),
  /** The accepted result includes one of the operator's trusted workers: it is ground truth. */
  anchored: z.boolean(),
  /** When the verdict was reached. */
  decidedAt: z.number().nullable(),
  /** A lone result was due an audit but no distinct worker was there to do it. */
  auditSkipped: z.boolean(),
  /** Why a pending tile waits, and when it will be decided without more results. */
  waiting: TileWait.nullable(),
  replicas: z.array(ReplicaView),
});
export type TaskView = z.infer<typeof TaskView>;

/** POST /api/workers: the body is signed with the key it registers (proof of possession). */
export const WorkerRegistration = z.object({
  /** Ed25519 public key, SPKI DER in base64. */
  publicKey: z.string().min(40).max(200),
  name: z.string().min(1).max(64),
  /**
   * What the worker says it runs on (renderer, backend, GPU). Shown, never trusted: the worker's
   * class is measured by calibration, which every registration (every start) goes through.
   */
  device: z.string().min(1).max(200),
  /** The least it renders for, in credits per RU (`farm worker --ask`); none: it offers nothing on the market. */
  ask: Price.optional(),
});
export type WorkerRegistration = z.infer<typeof WorkerRegistration>;

/**
 * Where a worker stands with its determinism class: calibrating (renders the known-answer tiles
 * first), unclassified (calibrated, but the farm has no established class yet), established
 * (its pixels equal those of a class the operator's trusted workers established), provisional
 * (near such a class but not equal: it renders checks only, judged within the tolerance), refused
 * (its calibration matched nothing).
 */
export const ClassState = z.enum(['calibrating', 'unclassified', 'established', 'provisional', 'refused']);
export type ClassState = z.infer<typeof ClassState>;

export const WorkerView = z.object({
  id: z.string(),
  name: z.string(),
  device: z.string(),
  /** The measured determinism class; null until calibrated. */
  class: z.string().nullable(),
  classState: ClassState,
  registeredAt: z.number(),
  lastSeen: z.number(),
  online: z.boolean(),
  valid: z.number().int(),
  invalid: z.number().int(),
  timedOut: z.number().int(),
  rejected: z.number().int(),
  inFlight: z.number().int(),
  /** Sarmenta's CrW in its class: 0.5 (no evidence) until it passes checks against ground truth. */
  credibility: z.number(),
  /** Checks against ground truth passed since its last fault, in its class (Sarmenta's k). */
  passed: z.number().int(),
  faults: z.number().int(),
  trusted: z.boolean(),
  /** Credits. */
  balance: z.number(),
  stake: z.number(),
  /** Stake backing replicas the worker holds or awaits verdicts on. */
  locked: z.number(),
  /** Stake asked back, paid out after the unbonding delay (still slashable until then). */
  unbonding: z.number(),
  /** Credits locked behind forward capacity it offered or sold. */
  collateral: z.number(),
  /** Its ask, credits per RU (null: none, any price); what it earned for valid replicas (fees deducted), and for how many RU. */
  ask: z.number().nullable(),
  earned: z.number(),
  ru: z.number(),
});
export type WorkerView = z.infer<typeof WorkerView>;

/** What a worker renders to be classified: tiles whose answers the trusted workers know. */
export const CalibrationSpec = z.object({ scene: z.string(), frame: z.number().int().min(0), tiles: z.array(Rect).min(1) });
export type CalibrationSpec = z.infer<typeof CalibrationSpec>;

/**
 * POST /api/workers answer: the worker, how often to heartbeat, and its calibration if due.
 * `firstHeartbeatMs`: how long after a replica arrives its first heartbeat is due (its first lease
 * is that much longer than a heartbeat's renewal); absent, as from a farm of an older release: at once.
 */
export const Registered = WorkerView.extend({
  heartbeatMs: z.number().int(),
  firstHeartbeatMs: z.number().int().min(0).optional(),
  calibration: CalibrationSpec.nullable(),
});
export type Registered = z.infer<typeof Registered>;

/** PUT /api/work/calibration answer. */
export const Calibrated = z.object({ class: z.string().nullable(), classState: ClassState, detail: z.string() });
export type Calibrated = z.infer<typeof Calibrated>;

/** GET /api/classes: the determinism classes, and the published tolerance for provisional ones. */
export const ClassView = z.object({
  id: z.string(),
  established: z.boolean(),
  /** A provisional class: the established class it nearly matches. */
  near: z.string().nullable(),
  /** Calibration answers (CIDs of the known-answer tiles). */
  answers: z.array(z.string()),
  at: z.number(),
});
/** GET /api/farm: the farm's id, which every worker signature covers. */
export const FarmInfo = z.object({ id: z.string().regex(/^f[0-9a-f]{16}$/) });
export type FarmInfo = z.infer<typeof FarmInfo>;

export const ClassList = z.object({
  tolerance: z.object({ levels: z.number().int(), share: z.number() }),
  calibration: CalibrationSpec,
  classes: z.array(ClassView),
});
export type ClassList = z.infer<typeof ClassList>;

/** A worker on the workers pages: its record and its accepted results per minute over the last hour. */
export const WorkerWithRecent = WorkerView.extend({ recent: RecentResults });
export type WorkerWithRecent = z.infer<typeof WorkerWithRecent>;

/** GET /api/workers: the public leaderboard. */
export const Leaderboard = z.object({ total: z.number().int(), offset: z.number().int(), workers: z.array(WorkerWithRecent) });
export type Leaderboard = z.infer<typeof Leaderboard>;

/**
 * One disagreement on the worker's public record. outvoted: its result differed from ground truth
 * (a fault); disagreed: it differed from an accepted result that no trusted worker backed (no
 * fault); outvoted-others: results it agreed with beat these workers'. Accepted hashes are not
 * published here (verified tiles serve as spot checks).
 */
export const EvidenceEntry = z.object({
  kind: z.enum(['outvoted', 'disagreed', 'outvoted-others']),
  task: z.string(),
  at: z.number(),
  /** The worker's own result. */
  cid: z.string().optional(),
  /** outvoted-others: the workers it outvoted. */
  against: z.array(z.string()).optional(),
});
export type EvidenceEntry = z.infer<typeof EvidenceEntry>;

/** GET /api/workers/:id */
export const WorkerDetail = WorkerWithRecent.extend({ evidence: z.array(EvidenceEntry) });
export type WorkerDetail = z.infer<typeof WorkerDetail>;

export const LedgerEntry = z.object({
  at: z.number(),
  /** grant, deposit, withdraw, escrow, paid, earned, fee, refund, slash, slash-share, penalty, … */
  kind: z.string(),
  /** Credits into (negative: out of) the account's balance, or the part that `to` names. */
  amount: z.number(),
  to: z.enum(['stake', 'held', 'collateral']).optional(),
  /** The account after the entry. */
  balance: z.number(),
  stake: z.number(),
  /** A requester's escrow; a provider's collateral. */
  held: z.number().optional(),
  collateral: z.number().optional(),
  ref: z.string().optional(),
});
export type LedgerEntry = z.infer<typeof LedgerEntry>;

/** A page of ledger entries: `offset` 0 is the newest entry. */
export const LedgerQuery = z.object({
  offset: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

/**
 * GET /api/workers/:id/ledger, /api/account and /api/treasury: the account's credits and a page
 * of its entries, newest first. `total` counts every entry ever made; only the newest `kept` are
 * still stored. A worker's stake (locked: backing replicas; unbonding: asked back) and collateral
 * (backing forward capacity), a requester's escrow (held), zero where the account has none.
 */
export const LedgerPage = z.object({
  balance: z.number(),
  stake: z.number(),
  locked: z.number(),
  unbonding: z.number(),
  held: z.number(),
  collateral: z.number(),
  total: z.number().int(),
  kept: z.number().int(),
  offset: z.number().int(),
  entries: z.array(LedgerEntry),
});
export type LedgerPage = z.infer<typeof LedgerPage>;

/** What the submit form needs to know of a scene it cannot parse itself (a manifest of assets). */
export const SceneSummary = z.object({
  name: z.string(),
  width: z.number().int(),
  height: z.number().int(),
  spp: z.number().int(),
  maxBounces: z.number().int(),
  frames: z.number().int(),
});
export type SceneSummary = z.infer<typeof SceneSummary>;

export function summaryOf(scene: Scene): SceneSummary {
  const { width, height, spp, maxBounces } = scene.render;
  return { name: scene.name, width, height, spp, maxBounces, frames: frameCount(scene) };
}

/** GET /api/scenes: the sample scenes the orchestrator ships, as manifests (shared/assets.ts). */
export const SampleScene = SceneSummary.extend({ file: z.string(), scene: z.unknown() });
export type SampleScene = z.infer<typeof SampleScene>;

/** POST /api/scenes/import: glTF files (a .glb, or a .gltf with the files it names), base64, by name. */
export const GltfImportRequest = z.object({
  files: z
    .record(
      z
        .string()
        .min(1)
        .max(200)
        // A name a .gltf may refer to: relative, never upwards.
        .refine((name) => !name.split(/[\\/]/).includes('..') && !/^[\\/]/.test(name), 'not a relative file name'),
      z.base64(),
    )
    .refine((files) => Object.keys(files).length <= 64, 'at most 64 files'),
});

/** Its answer: the scene as a manifest whose assets the farm now holds, and what was not imported. */
export const ImportedSceneView = SampleScene.extend({ warnings: z.array(z.string()) });
export type ImportedSceneView = z.infer<typeof ImportedSceneView>;

/** POST /api/session: trades an API token for an HttpOnly cookie (browsers: images, SSE). */
export const SessionRequest = z.object({ token: z.string().min(8).max(200) });

/**
 * Server-sent events of GET /api/jobs/:id/events: `job`, the job's status, whose `frames` are those
 * that changed since the stream's last `job` event (all of them in its first; job-updates.ts);
 * `tiles`, the tiles that changed.
 */
export const JOB_EVENTS = { job: 'job', tiles: 'tiles' } as const;

/** POST /api/work/heartbeat: the replicas the worker is rendering right now. */
export const Heartbeat = z.object({ replicas: z.array(z.string().max(200)).max(64).default([]) });

/**
 * One replica handed to a worker by POST /api/work/next. Its id is opaque and names no job, task
 * or slot, so a spot check looks like any other replica.
 */
export const Assignment = z.object({
  replica: z.string(),
  scene: z.string(),
  frame: z.number().int().min(0),
  tile: Rect,
  deadline: z.number(),
});
export type Assignment = z.infer<typeof Assignment>;

/** The shape of a CID this farm makes (base32 CIDv1): ids from outside are checked against it. */
export const CID_PATTERN = /^b[a-z2-7]{20,100}$/;

/** Header that carries the claimed CID of an uploaded result. */
export const RESULT_CID_HEADER = 'farm-result-cid';
/** Header that carries the rays the result's render traced (comma-separated for calibration tiles); part of its CID. */
export const RESULT_RAYS_HEADER = 'farm-result-rays';

/** Shapes of the ids in paths: anything else is answered 400, never looked up. */
export const Ids = {
  job: z.string().regex(/^j[0-9a-f]{20}$/, 'not a job id'),
  task: z.string().regex(/^j[0-9a-f]{20}\.f\d{1,5}\.t\d{1,7}$/, 'not a task id'),
  worker: z.string().regex(/^w[0-9a-f]{20}$/, 'not a worker id'),
  /** A requester's account: its API token's owner id. */
  owner: z.string().regex(/^[0-9a-f]{16}$/, 'not an owner id'),
  replica: z.string().regex(/^r[0-9a-f]{32}$/, 'not a replica id'),
  /** A reservation or an offer. */
  order: z.string().regex(/^o[0-9a-f]{20}$/, 'not a reservation or offer id'),
  cid: z.string().regex(CID_PATTERN, 'not a CID'),
};

/** Most replicas one batched poll hands out, and most results one batched upload carries. */
export const MAX_BATCH = 16;

/** POST /api/work/batch: how many replicas the worker can hold now (its free capacity). */
export const BatchRequest = z.object({ max: z.number().int().min(1).max(MAX_BATCH) });
export type BatchRequest = z.infer<typeof BatchRequest>;

/** Its answer: up to `max` replicas, each as POST /api/work/next would hand it (200), or 204 after the poll when none. */
export const Batch = z.object({ replicas: z.array(Assignment).min(1).max(MAX_BATCH) });
export type Batch = z.infer<typeof Batch>;

/**
 * PUT /api/work/results carries several results in one signed body: a 4-byte big-endian length,
 * this manifest as JSON (one entry per result, in body order), then each result's RGBA pixels
 * back to back, `bytes` long each.
 */
export const ResultManifest = z
  .array(
    z.object({
      replica: Ids.replica,
      cid: Ids.cid,
      rays: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
      bytes: z.number().int().min(1),
    }),
  )
  .min(1)
  .max(MAX_BATCH)
  .refine((items) => new Set(items.map((i) => i.replica)).size === items.length, 'each replica at most once');
export type ResultManifest = z.infer<typeof ResultManifest>;

/** What became of each result of a batch: its status, or the problem that refused it (the others stand). */
export const BatchResult = z.union([
  z.object({ replica: z.string(), status: z.enum(['accepted', 'duplicate']) }),
  z.object({ replica: z.string(), error: z.object({ status: z.number().int(), title: z.string(), detail: z.string() }) }),
]);
export type BatchResult = z.infer<typeof BatchResult>;
/**
 * PUT /api/work/results?next=N: a worker that reports may ask in the same request for up to N
 * replicas more (its capacity once these are answered), as BOINC's scheduler request reports and
 * asks at once: a request a replica less. They are found without waiting: none when there is no
 * work now, nor for a retry (a result recorded already: the lost answer may have brought some),
 * and then it polls.
 */
export const ResultsQuery = z.object({
  next: z
    .string()
    .regex(/^[0-9]{1,2}$/, 'a whole number of replicas')
    .transform(Number)
    .pipe(z.number().max(MAX_BATCH))
    .default(0),
});
export type ResultsQuery = z.infer<typeof ResultsQuery>;

/**
 * GET /ipfs/:cid: a worker cut off part-way asks for the blob's bytes from `<from>` on, as the
 * trustless gateway's `entity-bytes=<from>:*` (other parameters of that spec are taken as its
 * defaults: a CAR of the whole entity, depth-first).
 */
export const GatewayQuery = z.object({
  'entity-bytes': z
    .string()
    .regex(/^[0-9]{1,15}:\*$/, "'<from>:*', from a byte offset")
    .transform((range) => Number(range.slice(0, -2)))
    .default(0),
});

/** What became of each result, and the replicas it asked for that were found (absent: none). */
export const BatchResults = z.object({ results: z.array(BatchResult), replicas: z.array(Assignment).min(1).max(MAX_BATCH).optional() });
export type BatchResults = z.infer<typeof BatchResults>;
