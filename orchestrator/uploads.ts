/**
 * A worker's results for replicas: each must be for a replica the worker holds, decode to the
 * tile's size and hash to the CID the worker claims — checked before anything is stored, so a
 * refused result leaves nothing behind. Then it is recorded, answered, and judged after the
 * answer (afterwards.ts): a real replica by the verdict runner at once, a spot check against its
 * known answer (within the published tolerance for a provisional class) when its verdict is due.
 */

import type { Logger } from 'pino';
import { canonicalBytes, pixelsOf } from '../shared/image.ts';
import { maxRays } from '../shared/render-units.ts';
import type { BatchedResult } from '../shared/result-batch.ts';
import { cidOfBytes } from '../shared/unixfs.ts';
import type { Afterwards } from './afterwards.ts';
import type { ContentStore } from './content/store.ts';
import { crashPoint } from './crash-points.ts';
import type { Dispatcher } from './dispatch.ts';
import { lapsed } from './lease-terms.ts';
import type { Metrics } from './metrics.ts';
import { parseTaskId } from './planner.ts';
import type { Jobs } from './state/jobs.ts';
import type { Located, ReplicaRecord, SubmitResult, Tasks } from './state/tasks.ts';
import type { WorkerRecord, Workers } from './state/workers.ts';
import type { VerdictRunner } from './verdict/runner.ts';
import { nearlyEqual, type Tolerance } from './verdict/tolerance.ts';

export class ResultRejected extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = this.constructor.name;
  }
}

export interface UploadDeps {
  tasks: Tasks;
  jobs: Jobs;
  workers: Workers;
  blobs: ContentStore;
  dispatch: Dispatcher;
  runner: VerdictRunner;
  tolerance: Tolerance;
  metrics: Metrics;
  afterwards: Afterwards;
  log: Logger;
}

/** What became of one result of an upload. */
export type ResultOutcome = 'accepted' | 'duplicate' | ResultRejected;

/** A result that passed its checks and is stored, ready to be recorded. */
interface Checked {
  where: Located & { replica: ReplicaRecord };
  cid: string;
  rays: number;
}

/**
 * A worker's results, one upload's: where their replicas stand is read in one round trip, each is
 * checked and stored on its own, and those that pass are recorded by one script; each outcome is
 * what an upload of it alone would have had.
 */
export async function acceptResults(deps: UploadDeps, worker: WorkerRecord, results: readonly BatchedResult[]): Promise<ResultOutcome[]> {
  const found = await deps.tasks.locate(results.map((r) => r.replica));
  const settled = await Promise.allSettled(results.map((r, i) => check(deps, worker, r, found[i])));
  const checked = settled.map((s) => (s.status === 'fulfilled' ? s.value : s.reason instanceof ResultRejected ? s.reason : undefined));
  const toRecord = checked.filter(isChecked);
  const submitted = await deps.tasks.submit(
    toRecord.map(({ where, cid, rays }) => ({ task: where.task, n: where.n, rid: where.replica.rid, worker: worker.id, cid, rays })),
  );
  // Recorded, not yet judged: recovery and the sweeper must find it (test/crash.test.ts).
  if (submitted.some((s) => s.status === 'submitted')) crashPoint('after-submit');
  const outcomes = await Promise.all(toRecord.map((c, i) => recorded(deps, worker, c, submitted[i])));
  // A result that failed for the farm's own reason (its store, say) fails the upload, once the
  // others are recorded: the worker's retry finds them duplicates, as separate uploads would.
  const failed = settled.find((s) => s.status === 'rejected' && !(s.reason instanceof ResultRejected));
  if (failed) throw (failed as PromiseRejectedResult).reason;
  let next = 0;
  return checked.map((c) => (isChecked(c) ? outcomes[next++] : (c as ResultOutcome)));
}

const isChecked = (c: Checked | ResultOutcome | undefined): c is Checked => typeof c === 'object' && !(c instanceof ResultRejected);

/** Counts a refusal against the worker (its reputation shows them) and makes the error. */
async function refusal(deps: UploadDeps, worker: WorkerRecord, status: number, message: string): Promise<ResultRejected> {
  await deps.workers.reject(worker.id);
  deps.metrics.verdict('rejected');
  return new ResultRejected(status, message);
}

/**
 * A result for a replica the worker holds, decoding to the tile's size and hashing to the CID it
 * claims, is stored; a retried upload of one recorded already is a duplicate.
 */
async function check(
  deps: UploadDeps,
  worker: WorkerRecord,
  { replica: rid, cid: claimedCid, rgba: pixels, rays }: BatchedResult,
  where: Located | undefined,
): Promise<Checked | 'duplicate'> {
  const refuse = (status: number, message: string) => refusal(deps, worker, status, message);
  const replica = where?.replica;
  const rect = where?.rect;
  if (!where || !replica || !rect) throw await refuse(403, `replica ${rid} is not assigned to worker ${worker.id}`);
  // A slot given to another since says how this holder lost it, as a spot check's record would.
  const before = replica.previous?.find((p) => p.rid === rid && p.worker === worker.id);
  if (before) throw new ResultRejected(409, `replica ${rid} is no longer held (${before.state})`);
  if (replica.rid !== rid || replica.worker !== worker.id) throw await refuse(403, `replica ${rid} is not assigned to worker ${worker.id}`);
  // Its lease lapsed: no longer held, as if the sweep (or BullMQ's stalled check) had got to it already.
  if (lapsed(replica, Date.now())) throw new ResultRejected(409, `replica ${rid} is no longer held (timedout)`);
  if (replica.state !== 'assigned') {
    // An upload retried after its first attempt was recorded: judge again, in case the
    // orchestrator died between recording it and judging — not once it is judged (a key
    // re-sending answered replicas would have the farm run verdicts for nothing), and a spot check
    // only when due, which its lease says (the sweeper's; an upload must not hasten its verdict).
    if (replica.cid === claimedCid) {
      if (!replica.spot && replica.state === 'submitted') judgeLater(deps, where.task);
      return 'duplicate';
    }
    // One answered already: its state is not named (whether it was judged yet, and how, would
    // tell a spot check by its verdict's timing, one probe at a time).
    throw new ResultRejected(
      409,
      replica.cid === undefined ? `replica ${rid} is no longer held (${replica.state})` : `replica ${rid} was answered with another result`,
    );
  }
  const { width, height } = rect;
  if (pixels.length !== width * height * 4)
    throw await refuse(422, `result has ${pixels.length} bytes; a ${width}×${height} RGBA tile has ${width * height * 4}`);
  const spp = (await deps.jobs.plan(parseTaskId(where.task)?.job ?? ''))?.spp ?? 0;
  if (rays > maxRays(width * height, spp))
    throw await refuse(
      422,
      `result claims ${rays} rays; a ${width}×${height} tile at ${spp} spp traces at most ${maxRays(width * height, spp)}`,
    );
  const bytes = canonicalBytes({ width, height, rgba: pixels, rays });
  const cid = await cidOfBytes(bytes);
  if (cid !== claimedCid) throw await refuse(422, `result hashes to ${cid}, not the claimed ${claimedCid}`);
  await deps.blobs.put(bytes, cid);
  return { where: { ...where, replica }, cid, rays };
}

/** What recording a checked result came to; its verdict comes after the answer (afterwards.ts). */
async function recorded(deps: UploadDeps, worker: WorkerRecord, { where }: Checked, submitted: SubmitResult): Promise<ResultOutcome> {
  const { task, n, replica } = where;
  const rid = replica.rid;
  switch (submitted.status) {
    case 'spot':
      deps.metrics.rendered(worker.class, (Date.now() - replica.assignedAt) / 1000);
      deps.afterwards.at(submitted.due ?? Date.now(), 'spot check', () => judgeSpotCheck(deps, task, n));
      return 'accepted';
    case 'submitted':
      deps.metrics.rendered(worker.class, (Date.now() - replica.assignedAt) / 1000);
      deps.afterwards.now('verdict', async () => {
        await deps.dispatch.complete(task, replica);
        await deps.runner.judge(task);
      });
      return 'accepted';
    case 'duplicate':
      judgeLater(deps, task);
      return 'duplicate';
    case 'expired':
      return new ResultRejected(409, `replica ${rid} passed its deadline and was reassigned`);
    case 'obsolete':
      return new ResultRejected(409, `replica ${rid} belongs to a job that has ended`);
    default:
      return refusal(deps, worker, 409, `replica ${rid} cannot take this result (${submitted.status})`);
  }
}

const judgeLater = (deps: UploadDeps, task: string) => deps.afterwards.now('verdict', () => deps.runner.judge(task));

/**
 * The verdict on a spot check whose result is recorded: its hash against the known answer, or,
 * for a provisional class, its pixels within the published tolerance. Idempotent (the script
 * judges once, and not before it is due), so the sweeper can finish one a crash interrupted.
 */
export async function judgeSpotCheck(deps: UploadDeps, task: string, n: number): Promise<void> {
  const [{ replica, rect }, record] = await Promise.all([deps.tasks.slot(task, n), deps.tasks.get(task)]);
  if (!replica?.spot || replica.state !== 'submitted' || !replica.cid || !rect || !record?.cid) return;
  const pass = replica.provisional ? await nearKnown(deps, record.cid, replica.cid, rect) : replica.cid === record.cid;
  if (!(await deps.tasks.spotVerdict(task, n, pass))) return;
  deps.metrics.verdict(pass ? 'agreed' : 'disputed');
  deps.log.info({ task, replica: replica.rid, worker: replica.worker, pass }, 'spot check');
  if (!pass) await deps.runner.backtrack(replica.worker);
}

/** A provisional class's result against the verified tile, within the published tolerance. */
async function nearKnown(deps: UploadDeps, expected: string, actual: string, rect: { width: number; height: number }): Promise<boolean> {
  const [known, mine] = await Promise.all([deps.blobs.get(expected), deps.blobs.get(actual)]);
  return (
    known !== undefined &&
    mine !== undefined &&
    nearlyEqual(pixelsOf(known, rect.width, rect.height), pixelsOf(mine, rect.width, rect.height), deps.tolerance)
  );
}
