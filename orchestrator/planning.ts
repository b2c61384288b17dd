/**
 * Planning a submitted job: create its tasks, mark it running, issue R replica slots per task
 * (frame after frame, each frame's tiles in a random order: planner.ts dispatchOrder).
 * Runs as a BullMQ job so a crash mid-way is retried; every step is idempotent. A job cancelled
 * while its slots are being issued stops the issuing, and the batch that crossed the cancel is
 * withdrawn again (the close job may already have passed those tasks).
 */
import { randomInt } from 'node:crypto';
import type { Dispatcher } from './dispatch.ts';
import { dispatchOrder, initialReplicas, planJob } from './planner.ts';
import type { Jobs } from './state/jobs.ts';
import type { Tasks } from './state/tasks.ts';

const BATCH = 1000;

export async function planJobTasks(deps: { jobs: Jobs; tasks: Tasks; dispatch: Dispatcher }, jobId: string): Promise<void> {
  const job = await deps.jobs.get(jobId);
  if (!job) return;
  const planned = planJob(job.id, job.frames, job.width, job.height, job.tileSize);
  const initial = initialReplicas(job);
  await deps.tasks.create(job.id, planned, initial);
  // Running before slots exist: a slot bound for a job that is not running is dropped.
  if (!(await deps.jobs.start(job.id))) return;
  const queued = dispatchOrder(planned, randomInt);
  for (let i = 0; i < queued.length; i += BATCH) {
    const batch = queued.slice(i, i + BATCH).map((t) => t.id);
    await deps.dispatch.issueNew(batch, initial, job);
    if ((await deps.jobs.progress(job.id)).state !== 'running') {
      await deps.dispatch.withdraw(
        batch.map((task) => [task, 0, initial]),
        [],
      );
      return;
    }
  }
}
