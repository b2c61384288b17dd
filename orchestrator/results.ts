/**
 * Accepting a worker's result: the pixels must have the task's size and hash to the CID the
 * worker claims; then the replica is recorded, the task judged (verifier.ts) and the verdict
 * applied. Agreement verifies the tile and may complete its frame; disagreement issues another
 * replica to a fresh worker.
 */
import type { Logger } from 'pino';
import { canonicalBytes, cidOfBytes, provenanceOf } from '../shared/image.ts';
import { accept } from './acceptance.ts';
import type { BlobStore } from './blobstore.ts';
import { groupCredibilities } from './credibility.ts';
import type { Dispatcher } from './dispatch.ts';
import type { Metrics } from './metrics.ts';
import { parseSlotId, slotLogIds } from './planner.ts';
import type { JobPlan, Jobs } from './state/jobs.ts';
import type { ReplicaRecord, Settlement, TaskRecord, Tasks } from './state/tasks.ts';
import type { WorkerRecord, Workers } from './state/workers.ts';
import { judge } from './verifier.ts';

export class ResultRejected extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = this.constructor.name;
  }
}

export interface ResultDeps {
  tasks: Tasks;
  jobs: Jobs;
  workers: Workers;
  blobs: BlobStore;
  dispatch: Dispatcher;
  /** A frame's tiles are all verified (its nth completion): stitch it. */
  onFrameVerified: (job: string, frame: number, completion: number) => Promise<void>;
  /** Assumed saboteur fraction f. */
  saboteurFraction: number;
  /** Re-verifies what a caught worker vouched for (credibility jobs). */
  backtrack: (worker: string) => Promise<void>;
  metrics: Metrics;
  log: Logger;
}

export async function acceptResult(
  deps: ResultDeps,
  worker: WorkerRecord,
  slot: string,
  claimedCid: string,
  pixels: Uint8Array,
): Promise<'accepted' | 'duplicate'> {
  const { tasks, workers, blobs, dispatch, metrics } = deps;
  const reject = async (status: number, message: string) => {
    await workers.reject(worker.id);
    metrics.verdict('rejected');
    return new ResultRejected(status, message);
  };
  const parsed = parseSlotId(slot);
  const { replica, rect } = parsed ? await tasks.slot(parsed.task, parsed.n) : {};
  const held = replica?.worker === worker.id ? replica : replica?.previous?.find((p) => p.worker === worker.id);
  if (!parsed || !replica || !rect || !held) throw await reject(403, `replica ${slot} is not assigned to worker ${worker.id}`);
  const { width, height } = rect;
  if (pixels.length !== width * height * 4)
    throw await reject(422, `result has ${pixels.length} bytes; a ${width}×${height} RGBA tile has ${width * height * 4}`);
  const bytes = canonicalBytes({ width, height, rgba: pixels }, provenanceOf(worker.class));
  const cid = await cidOfBytes(bytes);
  if (cid !== claimedCid) throw await reject(422, `result hashes to ${cid}, not the claimed ${claimedCid}`);
  await blobs.put(bytes, cid);

  const now = Date.now();
  const submitted = await tasks.submit(slot, worker.id, cid, now);
  if (submitted.status === 'duplicate') return 'duplicate';
  if (submitted.status === 'spot' || submitted.status === 'submitted') metrics.rendered(worker.class, (now - held.assignedAt) / 1000);
  if (submitted.status === 'spot') {
    const pass = cid === submitted.expected;
    await tasks.spotVerdict(slot, worker.id, pass);
    metrics.verdict(pass ? 'agreed' : 'disputed');
    deps.log.info({ ...slotLogIds(slot), worker: worker.id, pass }, 'spot check');
    if (!pass) await deps.backtrack(worker.id);
    return 'accepted';
  }
  if (submitted.status === 'expired') throw new ResultRejected(409, `replica ${slot} passed its deadline and was reassigned`);
  if (submitted.status !== 'submitted') throw await reject(409, `replica ${slot} cannot take this result (${submitted.status})`);
  await dispatch.complete(replica, worker.id);

  await judgeTask(deps, submitted.task, submitted.replicas);
  return 'accepted';
}

/**
 * Judges a task from its current results and applies the verdict, retrying when a concurrent
 * submission changed the task first. Used after every result and after a reopen (backtracking).
 */
export async function judgeTask(deps: ResultDeps, task: TaskRecord, taskReplicas: ReplicaRecord[]): Promise<void> {
  const { tasks, jobs, dispatch, log, metrics } = deps;
  const job = await jobs.plan(task.job);
  if (!job) return;
  let current = task;
  let replicas = taskReplicas;
  for (;;) {
    const results = replicas
      // Outvoted, caught and abandoned replicas do not vote.
      .filter((r) => r.cid && r.state !== 'timedout' && r.state !== 'handedback' && r.state !== 'invalid')
      .map((r) => ({ replica: r.replica, worker: r.worker, cid: r.cid as string }));
    let settlement: Settlement | undefined;
    if (current.state !== 'pending') {
      // A replica that arrives after the verdict is judged against it.
      const late = results.filter((r) => replicas.find((x) => x.replica === r.replica)?.state === 'submitted');
      settlement = {
        kind: 'late',
        agree: late.filter((r) => r.cid === current.cid).map((r) => r.replica),
        disagree: late.filter((r) => r.cid !== current.cid).map((r) => r.replica),
      };
    } else {
      settlement = job.verification === 'quorum' ? byQuorum(job, current, results) : await byCredibility(deps, job, current, results);
    }
    if (!settlement) return; // waiting for replicas in flight
    const settled = await tasks.settle(current, settlement, job.tilesPerFrame, job.verification === 'credibility');
    if (settled.status === 'stale') {
      const again = await tasks.get(current.id);
      if (!again) return;
      current = again;
      replicas = await tasks.replicas(current.id);
      continue;
    }
    const judged = settlement.kind === 'verified' || settlement.kind === 'late' ? settlement : undefined;
    if (judged && settled.status !== 'failed' && judged.agree.length + judged.disagree.length > 0)
      metrics.verdict(judged.disagree.length > 0 ? 'disputed' : 'agreed');
    if (settled.status === 'verified' && settlement.kind === 'verified') {
      log.info(
        { job: job.id, task: current.id, cid: settlement.cid, replicas: results.length, credibility: settlement.credibility },
        'tile verified',
      );
      if (settled.value > 0) await deps.onFrameVerified(job.id, current.frame, settled.value);
    } else if (settled.status === 'issued' && settlement.kind === 'issue') {
      log.info({ job: job.id, task: current.id, results: results.length, issue: settlement.issue }, 'issuing more replicas');
      await dispatch.issue(
        current.id,
        Array.from({ length: settlement.issue }, (_, i) => settled.value + i),
        current.class,
      );
    } else if (settled.status === 'failed') {
      metrics.verdict('failed');
      log.error({ job: job.id, task: current.id }, 'tile cannot be verified; job failed');
    }
    // After this verdict's own effects: what the caught workers vouched for is re-verified.
    if (job.verification === 'credibility') for (const worker of settled.caught) await deps.backtrack(worker);
    return;
  }
}

type Result = { replica: string; worker: string; cid: string };

/** Fixed replication: R agreeing, or a strict majority of at least two after a disagreement. */
function byQuorum(job: JobPlan, task: TaskRecord, results: Result[]): Settlement | undefined {
  const verdict = judge({ results, outstanding: task.outstanding, replicas: job.replicas, maxReplicas: job.maxReplicas });
  if (verdict.kind === 'verified') return verdict;
  if (verdict.kind === 'exhausted') return { kind: 'exhausted', message: `tile ${task.id}: no majority among ${results.length} replicas` };
  return verdict.issue > 0 ? { kind: 'issue', issue: verdict.issue } : undefined;
}

/** Replicas issued at once while a task is short of θ: fewer wasted if a credible worker answers. */
const MAX_PARALLEL = 3;

/**
 * Credibility: accept when a group reaches θ = 1 − ε. A result accepted alone is still
 * re-replicated with probability 1/CV (BOINC's adaptive replication), so the trusted stay audited.
 */
async function byCredibility(deps: ResultDeps, job: JobPlan, task: TaskRecord, results: Result[]): Promise<Settlement | undefined> {
  const known = await deps.workers.credibilities(results.map((r) => r.worker));
  const weighed = results.map((r) => ({ ...r, credibility: known.get(r.worker)?.credibility ?? 0 }));
  const verdict = accept({
    results: weighed,
    outstanding: task.outstanding,
    f: deps.saboteurFraction,
    theta: 1 - job.epsilon,
    maxReplicas: job.maxReplicas,
  });
  if (verdict.kind === 'verified') {
    if (results.length === 1 && task.outstanding === 0) {
      const cv = Math.max(1, known.get(results[0].worker)?.record.cv ?? 0);
      if (await deps.tasks.rollAudit(task.id, 1 / cv)) return { kind: 'issue', issue: 1 };
    }
    const basis = Object.fromEntries([...known].map(([id, w]) => [id, w.record.faults]));
    return { ...verdict, credibility: verdict.credibility, basis };
  }
  if (verdict.kind === 'exhausted') {
    if (job.onTimeout === 'fail')
      return {
        kind: 'exhausted',
        message: `tile ${task.id}: credibility ${verdict.credibility.toFixed(4)} after ${results.length} replicas`,
      };
    return belowThreshold(weighed, verdict.credibility);
  }
  const issue = Math.min(verdict.issue, Math.max(0, MAX_PARALLEL - task.outstanding));
  return issue > 0 ? { kind: 'issue', issue } : undefined;
}

/** The leading group accepted under θ, marked as such (the requester's `onTimeout: accept`). */
export function belowThreshold(results: readonly (Result & { credibility: number })[], credibility: number): Settlement {
  const cids = [...new Set(results.map((r) => r.cid))];
  const groups = cids.map((cid) => results.filter((r) => r.cid === cid).map((r) => r.credibility));
  const cr = groupCredibilities(groups);
  const leader = cids[cr.indexOf(Math.max(...cr))];
  return {
    kind: 'verified',
    cid: leader,
    credibility,
    below: true,
    agree: results.filter((r) => r.cid === leader).map((r) => r.replica),
    disagree: results.filter((r) => r.cid !== leader).map((r) => r.replica),
  };
}
