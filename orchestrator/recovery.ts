/**
 * Start-up repair after a crash of the orchestrator or Redis. BullMQ keeps its own jobs, but a
 * crash between a state change and the matching queue write can leave a replica slot with no
 * BullMQ job, or a fully verified frame never stitched. This walks the active jobs and puts back
 * exactly what is missing; nothing verified is touched.
 */
import type { Logger } from 'pino';
import { classQueueName, type Dispatcher, SHARED_QUEUE } from './dispatch.ts';
import { planJob, slotId } from './planner.ts';
import type { Jobs } from './state/jobs.ts';
import type { Tasks } from './state/tasks.ts';

export interface RecoveryDeps {
  jobs: Jobs;
  tasks: Tasks;
  dispatch: Dispatcher;
  replan: (jobId: string) => Promise<void>;
  restitch: (jobId: string, frame: number) => Promise<void>;
  log: Logger;
}

export async function recover(deps: RecoveryDeps): Promise<void> {
  for (const id of await deps.jobs.active()) {
    const job = await deps.jobs.get(id);
    if (!job) continue;
    if (job.state === 'queued') {
      await deps.replan(id);
      continue;
    }
    if (job.state !== 'running') continue;
    let reissued = 0;
    const framesDone = await deps.jobs.frameCids(id);
    const verifiedPerFrame = new Map<number, number>();
    for (const planned of planJob(id, job.frames, job.width, job.height, job.tileSize)) {
      const task = await deps.tasks.get(planned.id);
      if (!task) {
        await deps.replan(id);
        break;
      }
      if (task.state === 'verified') {
        verifiedPerFrame.set(task.frame, (verifiedPerFrame.get(task.frame) ?? 0) + 1);
        continue;
      }
      const replicas = await deps.tasks.replicas(task.id);
      for (let n = 0; n < task.issued; n++) {
        const r = replicas.find((x) => x.replica === slotId(task.id, n));
        if (r && r.state !== 'assigned' && r.state !== 'timedout' && r.state !== 'handedback') continue;
        const queue = r?.queue ?? (task.class ? classQueueName(task.class) : SHARED_QUEUE);
        if (await deps.dispatch.exists(queue, slotId(task.id, n))) continue;
        await deps.dispatch.issue(task.id, [n], task.class);
        reissued++;
      }
    }
    for (const frame of job.frames) {
      if (framesDone[frame] === undefined && verifiedPerFrame.get(frame) === job.tilesPerFrame) await deps.restitch(id, frame);
    }
    if (reissued) deps.log.warn({ job: id, reissued }, 'recovery re-issued replica slots');
  }
}
