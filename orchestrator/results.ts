/**
 * Accepting a worker's result: the pixels must have the task's size and hash to the CID the
 * worker claims; then the replica is recorded, the task judged (verifier.ts) and the verdict
 * applied. Agreement verifies the tile and may complete its frame; disagreement issues another
 * replica to a fresh worker.
 */
import type { Logger } from 'pino';
import { canonicalBytes, canonicalCid, provenanceOf } from '../shared/image.ts';
import type { BlobStore } from './blobstore.ts';
import type { Dispatcher } from './dispatch.ts';
import { parseSlotId } from './planner.ts';
import type { Jobs } from './state/jobs.ts';
import type { Tasks } from './state/tasks.ts';
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
  onFrameVerified: (job: string, frame: number) => Promise<void>;
  log: Logger;
}

export async function acceptResult(
  deps: ResultDeps,
  worker: WorkerRecord,
  slot: string,
  claimedCid: string,
  pixels: Uint8Array,
): Promise<'accepted' | 'duplicate'> {
  const { tasks, jobs, workers, blobs, dispatch, log } = deps;
  const parsed = parseSlotId(slot);
  const { replica, rect } = parsed ? await tasks.slot(parsed.task, parsed.n) : {};
  const heldBefore = replica?.worker === worker.id || replica?.previous?.some((p) => p.worker === worker.id);
  if (!parsed || !replica || !rect || !heldBefore) {
    await workers.reject(worker.id);
    throw new ResultRejected(403, `replica ${slot} is not assigned to worker ${worker.id}`);
  }
  const { width, height } = rect;
  if (pixels.length !== width * height * 4) {
    await workers.reject(worker.id);
    throw new ResultRejected(422, `result has ${pixels.length} bytes; a ${width}×${height} RGBA tile has ${width * height * 4}`);
  }
  const image = { width, height, rgba: pixels };
  const provenance = provenanceOf(worker.class);
  const cid = await canonicalCid(image, provenance);
  if (cid !== claimedCid) {
    await workers.reject(worker.id);
    throw new ResultRejected(422, `result hashes to ${cid}, not the claimed ${claimedCid}`);
  }
  await blobs.put(canonicalBytes(image, provenance));

  const submitted = await tasks.submit(slot, worker.id, cid, Date.now());
  if (submitted.status === 'duplicate') return 'duplicate';
  if (submitted.status === 'expired') throw new ResultRejected(409, `replica ${slot} passed its deadline and was reassigned`);
  if (submitted.status !== 'submitted') {
    await workers.reject(worker.id);
    throw new ResultRejected(409, `replica ${slot} cannot take this result (${submitted.status})`);
  }
  await dispatch.complete(replica, worker.id);

  const job = await jobs.plan(submitted.task.job);
  if (!job) return 'accepted';
  let { task: current, replicas } = submitted;
  for (;;) {
    const results = replicas
      .filter((r) => r.cid && r.state !== 'timedout' && r.state !== 'handedback')
      .map((r) => ({ replica: r.replica, worker: r.worker, cid: r.cid as string }));
    if (current.state !== 'pending') {
      // A replica that arrives after the verdict is judged against it.
      const verdictCid = current.cid;
      const late = results.filter((r) => replicas.find((x) => x.replica === r.replica)?.state === 'submitted');
      await tasks.settle(
        current,
        {
          kind: 'late',
          agree: late.filter((r) => r.cid === verdictCid).map((r) => r.replica),
          disagree: late.filter((r) => r.cid !== verdictCid).map((r) => r.replica),
        },
        job.tilesPerFrame,
        replicas,
      );
      return 'accepted';
    }
    const verdict = judge({ results, outstanding: current.outstanding, replicas: job.replicas, maxReplicas: job.maxReplicas });
    if (verdict.kind === 'undecided' && verdict.issue === 0) return 'accepted'; // waiting for replicas in flight
    const settled = await tasks.settle(current, verdict, job.tilesPerFrame, replicas);
    if (settled.status === 'stale') {
      const again = await tasks.get(current.id);
      if (!again) return 'accepted';
      current = again;
      replicas = await tasks.replicas(current.id);
      continue;
    }
    if (settled.status === 'verified') {
      log.info(
        { job: job.id, task: current.id, cid: verdict.kind === 'verified' ? verdict.cid : undefined, replicas: results.length },
        'tile verified',
      );
      if (settled.value === 1) await deps.onFrameVerified(job.id, current.frame);
    } else if (settled.status === 'issued' && verdict.kind === 'undecided') {
      log.warn({ job: job.id, task: current.id, results: results.length }, 'replicas disagree; issuing another');
      await dispatch.issue(
        current.id,
        Array.from({ length: verdict.issue }, (_, i) => settled.value + i),
        current.class,
      );
    } else if (settled.status === 'failed') {
      log.error({ job: job.id, task: current.id }, 'tile has no majority; job failed');
    }
    return 'accepted';
  }
}
