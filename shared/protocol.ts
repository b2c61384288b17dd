/**
 * The wire between requesters, the orchestrator and workers: every request and response body is
 * a zod schema here, used by the server to validate and by the clients to type their calls.
 */
import { z } from 'zod';
import { Rect } from './tile.ts';

export const FailurePolicy = z.enum(['accept', 'fail']);

/** At most this many tiles per job (frames × tiles per frame). */
export const MAX_TASKS_PER_JOB = 100_000;

/** POST /api/jobs */
export const JobRequest = z.object({
  scene: z.unknown(),
  /** Blender-style range; default: every frame of the scene. */
  frames: z.string().max(1000).optional(),
  tileSize: z.number().int().min(8).max(512).default(64),
  /** quorum: R replicas must agree. credibility: accept when a group's credibility reaches 1 − ε. */
  verification: z.enum(['credibility', 'quorum']).default('credibility'),
  /** Replicas per tile under quorum (R). */
  replicas: z.number().int().min(1).max(7).default(2),
  /** Target error rate ε of the credibility scheme. */
  epsilon: z.number().gt(0).lt(1).default(1e-4),
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
});
export type JobRequest = z.infer<typeof JobRequest>;

export const JobState = z.enum(['queued', 'running', 'done', 'cancelled', 'failed']);
export type JobState = z.infer<typeof JobState>;

export const FrameStatus = z.object({
  frame: z.number().int(),
  tilesVerified: z.number().int(),
  tilesTotal: z.number().int(),
  done: z.boolean(),
});

export const JobStatus = z.object({
  id: z.string(),
  name: z.string(),
  state: JobState,
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
  frames: z.array(FrameStatus),
  /** Tiles accepted under θ because the job timed out (onTimeout: accept). */
  tilesBelowThreshold: z.number().int(),
  tilesVerified: z.number().int(),
  tilesTotal: z.number().int(),
  replicasRendered: z.number().int(),
  replicasIssued: z.number().int(),
  framesDone: z.number().int(),
  /** URL of the animated WebP once a multi-frame job is done. */
  animation: z.string().nullable(),
  /** Why a failed job failed. */
  error: z.string().nullable(),
});
export type JobStatus = z.infer<typeof JobStatus>;

export const ReplicaState = z.enum(['assigned', 'submitted', 'valid', 'invalid', 'timedout', 'handedback', 'rejected']);
export type ReplicaState = z.infer<typeof ReplicaState>;

export const ReplicaView = z.object({
  /** A spot check: a replica of an already verified tile, judged against its known hash. */
  spot: z.boolean(),
  replica: z.string(),
  worker: z.string(),
  state: ReplicaState,
  cid: z.string().nullable(),
  assignedAt: z.number(),
  submittedAt: z.number().nullable(),
});
export type ReplicaView = z.infer<typeof ReplicaView>;

export const TaskView = z.object({
  task: z.string(),
  frame: z.number().int(),
  tile: z.number().int(),
  rect: Rect,
  state: z.enum(['pending', 'verified']),
  cid: z.string().nullable(),
  /** Credibility of the accepted group (credibility scheme). */
  credibility: z.number().nullable(),
  belowThreshold: z.boolean(),
  replicas: z.array(ReplicaView),
});
export type TaskView = z.infer<typeof TaskView>;

/** POST /api/workers: the body is signed with the key it registers (proof of possession). */
export const WorkerRegistration = z.object({
  /** Ed25519 public key, SPKI DER in base64. */
  publicKey: z.string().min(40).max(200),
  name: z.string().min(1).max(64),
  /** Determinism class: renderer version + backend (+ GPU model). */
  deviceClass: z.string().min(1).max(200),
});
export type WorkerRegistration = z.infer<typeof WorkerRegistration>;

export const WorkerView = z.object({
  id: z.string(),
  name: z.string(),
  deviceClass: z.string(),
  registeredAt: z.number(),
  lastSeen: z.number(),
  online: z.boolean(),
  valid: z.number().int(),
  invalid: z.number().int(),
  timedOut: z.number().int(),
  rejected: z.number().int(),
  inFlight: z.number().int(),
  credibility: z.number(),
  passed: z.number().int(),
  consecutiveValid: z.number().int(),
  faults: z.number().int(),
  trusted: z.boolean(),
  spotChecksPassed: z.number().int(),
  spotChecksFailed: z.number().int(),
  /** Credits. */
  balance: z.number(),
  stake: z.number(),
});
export type WorkerView = z.infer<typeof WorkerView>;

/** GET /api/workers: the public leaderboard. */
export const Leaderboard = z.object({ total: z.number().int(), offset: z.number().int(), workers: z.array(WorkerView) });
export type Leaderboard = z.infer<typeof Leaderboard>;

/** One disagreement or spot check, as kept on the worker's public record. */
export const EvidenceEntry = z.object({
  kind: z.enum(['outvoted', 'outvoted-others', 'spot-check-passed', 'spot-check-failed']),
  task: z.string(),
  at: z.number(),
  /** The worker's own result. */
  cid: z.string().optional(),
  /** outvoted: the result that won. */
  winner: z.string().optional(),
  /** outvoted-others: the workers it outvoted. */
  against: z.unknown().optional(),
});
export type EvidenceEntry = z.infer<typeof EvidenceEntry>;

/** GET /api/workers/:id */
export const WorkerDetail = WorkerView.extend({ evidence: z.array(EvidenceEntry) });
export type WorkerDetail = z.infer<typeof WorkerDetail>;

export const LedgerEntry = z.object({
  at: z.number(),
  /** grant, deposit, withdraw, reward, slash, slash-share, penalty, … */
  kind: z.string(),
  amount: z.number(),
  balance: z.number(),
  stake: z.number(),
  ref: z.string().optional(),
});
export type LedgerEntry = z.infer<typeof LedgerEntry>;

/** GET /api/workers/:id/ledger */
export const WorkerLedger = z.object({ balance: z.number(), stake: z.number(), entries: z.array(LedgerEntry) });
export type WorkerLedger = z.infer<typeof WorkerLedger>;

/** GET /api/scenes: the sample scenes the orchestrator ships. */
export const SampleScene = z.object({
  file: z.string(),
  name: z.string(),
  width: z.number().int(),
  height: z.number().int(),
  spp: z.number().int(),
  frames: z.number().int(),
  scene: z.unknown(),
});
export type SampleScene = z.infer<typeof SampleScene>;

/** POST /api/session: trades an API token for an HttpOnly cookie (browsers: images, SSE). */
export const SessionRequest = z.object({ token: z.string().min(8).max(200) });

/** Server-sent events of GET /api/jobs/:id/events. */
export const JOB_EVENTS = { job: 'job', tiles: 'tiles' } as const;

/** POST /api/work/heartbeat: the replicas the worker is rendering right now. */
export const Heartbeat = z.object({ replicas: z.array(z.string().max(200)).max(64).default([]) });

/** One replica handed to a worker by POST /api/work/next. */
export const Assignment = z.object({
  replica: z.string(),
  task: z.string(),
  job: z.string(),
  scene: z.string(),
  frame: z.number().int().min(0),
  tile: Rect,
  deadline: z.number(),
});
export type Assignment = z.infer<typeof Assignment>;

/** Header that carries the claimed CID of an uploaded result. */
export const RESULT_CID_HEADER = 'farm-result-cid';
