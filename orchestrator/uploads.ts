/**
 * A worker's result for a replica: it must be for a replica the worker holds, decode to the
 * tile's size and hash to the CID the worker claims — checked before anything is stored, so a
 * refused upload leaves nothing behind. Then it is recorded, answered, and judged after the
 * answer (afterwards.ts): a real replica by the verdict runner at once, a spot check against its
 * known answer (within the published tolerance for a provisional class) when its verdict is due.
 */

import type { Logger } from 'pino';
import { canonicalBytes, pixelsOf } from '../shared/image.ts';
import { maxRays } from '../shared/render-units.ts';
import { cidOfBytes } from '../shared/unixfs.ts';
import type { Afterwards } from './afterwards.ts';
import type { ContentStore } from './content/store.ts';
import { crashPoint } from './crash-points.ts';
import type { Dispatcher } from './dispatch.ts';
import type { Metrics } from './metrics.ts';
import { parseTaskId } from './planner.ts';
import type { Jobs } from './state/jobs.ts';
import type { Tasks } from './state/tasks.ts';
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

export async function acceptResult(
  deps: UploadDeps,
  worker: WorkerRecord,
  rid: string,
  claimedCid: string,
  pixels: Uint8Array,
  rays: number,
): Promise<'accepted' | 'duplicate'> {
  const { tasks, workers, blobs, metrics } = deps;
  const refuse = async (status: number, message: string) => {
    await workers.reject(worker.id);
    metrics.verdict('rejected');
    return new ResultRejected(status, message);
  };
  const where = await tasks.resolve(rid);
  const { replica, rect } = where ? await tasks.slot(where.task, where.n) : {};
  if (!where || !replica || !rect) throw await refuse(403, `replica ${rid} is not assigned to worker ${worker.id}`);
  if (replica.previous?.some((p) => p.rid === rid && p.worker === worker.id))
    throw new ResultRejected(409, `replica ${rid} passed its deadline and was reassigned`);
  if (replica.rid !== rid || replica.worker !== worker.id) throw await refuse(403, `replica ${rid} is not assigned to worker ${worker.id}`);
  if (replica.state !== 'assigned') {
    // An upload retried after its first attempt was recorded: judge again, in case the
    // orchestrator died between recording it and judging — a spot check only when due, which
    // its lease says (the sweeper's; an upload must not hasten its verdict).
    if (replica.cid === claimedCid) {
      if (!replica.spot) judgeLater(deps, where.task);
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
  await blobs.put(bytes, cid);

  const submitted = await tasks.submit(where.task, where.n, rid, worker.id, cid, rays);
  switch (submitted.status) {
    case 'spot':
      metrics.rendered(worker.class, (Date.now() - replica.assignedAt) / 1000);
      deps.afterwards.at(submitted.due ?? Date.now(), 'spot check', () => judgeSpotCheck(deps, where.task, where.n));
      return 'accepted';
    case 'submitted':
      // Recorded, not yet judged: recovery and the sweeper must find it (test/crash.test.ts).
      crashPoint('after-submit');
      metrics.rendered(worker.class, (Date.now() - replica.assignedAt) / 1000);
      deps.afterwards.now('verdict', async () => {
        await deps.dispatch.complete(where.task, replica);
        await deps.runner.judge(where.task);
      });
      return 'accepted';
    case 'duplicate':
      judgeLater(deps, where.task);
      return 'duplicate';
    case 'expired':
      throw new ResultRejected(409, `replica ${rid} passed its deadline and was reassigned`);
    case 'obsolete':
      throw new ResultRejected(409, `replica ${rid} belongs to a job that has ended`);
    default:
      throw await refuse(409, `replica ${rid} cannot take this result (${submitted.status})`);
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
