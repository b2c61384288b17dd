/**
 * Small farms must not hang: a credibility job whose tiles cannot reach θ (no further distinct
 * eligible worker) waits until its timeout, then follows the requester's choice — accept each
 * tile's leading group at the credibility it reached (marked in the API), or fail the job.
 */
import type { Logger } from 'pino';
import { groupCredibilities } from './credibility.ts';
import { planJob } from './planner.ts';
import { belowThreshold } from './results.ts';
import type { Jobs } from './state/jobs.ts';
import type { Tasks } from './state/tasks.ts';
import type { Workers } from './state/workers.ts';

export interface TimeoutDeps {
  jobs: Jobs;
  tasks: Tasks;
  workers: Workers;
  onFrameVerified: (job: string, frame: number, completion: number) => Promise<void>;
  log: Logger;
}

export async function settleTimedOutJobs(deps: TimeoutDeps, now = Date.now()): Promise<void> {
  for (const id of await deps.jobs.active()) {
    const job = await deps.jobs.get(id);
    if (job?.state !== 'running' || job.verification !== 'credibility' || now < job.createdAt + job.timeoutMs) continue;
    for (const planned of planJob(id, job.frames, job.width, job.height, job.tileSize)) {
      const task = await deps.tasks.get(planned.id);
      if (task?.state !== 'pending') continue;
      const results = (await deps.tasks.replicas(task.id)).filter((r) => r.cid && (r.state === 'submitted' || r.state === 'valid'));
      if (results.length === 0) continue;
      const known = await deps.workers.credibilities(results.map((r) => r.worker));
      const weighed = results.map((r) => ({
        replica: r.replica,
        worker: r.worker,
        cid: r.cid as string,
        credibility: known.get(r.worker)?.credibility ?? 0,
      }));
      const groups = [...new Set(weighed.map((r) => r.cid))].map((cid) => weighed.filter((r) => r.cid === cid).map((r) => r.credibility));
      const reached = Math.max(...groupCredibilities(groups));
      const settlement =
        job.onTimeout === 'accept'
          ? belowThreshold(weighed, reached)
          : ({ kind: 'exhausted', message: `tile ${task.id} reached credibility ${reached.toFixed(4)} before the job's timeout` } as const);
      const settled = await deps.tasks.settle(task, settlement, job.tilesPerFrame);
      deps.log.warn({ job: id, task: task.id, credibility: reached, policy: job.onTimeout }, 'job timeout: tile settled under θ');
      if (settled.status === 'verified' && settled.value > 0) await deps.onFrameVerified(id, task.frame, settled.value);
      if (settled.status === 'failed') break;
    }
  }
}
