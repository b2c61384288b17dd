/**
 * Background work under a fixed BullMQ id (a job's planning, a frame's stitch, a job's close):
 * the id makes queueing it again idempotent, which recovery relies on to put back what a crash
 * may have lost. But BullMQ keeps a job that failed all its attempts (7 days here) and takes an
 * add of its id as done, so recovery's re-queue of a planning that failed five times (Redis away
 * for longer than the backoff) was a no-op for a week, the job `queued` all along. A failed job
 * of that id is run again instead, with its attempts anew.
 */
import { Job, type JobsOptions, type Queue } from 'bullmq';

export async function enqueueOnce(queue: Queue, name: string, data: unknown, opts: JobsOptions & { jobId: string }): Promise<void> {
  await queue.add(name, data, opts);
  const job = await Job.fromId(queue, opts.jobId);
  if (!job || !(await job.isFailed())) return;
  // Two orchestrators recovering at once: the one that lost the race finds it waiting already.
  await job.retry('failed', { resetAttemptsMade: true }).catch(async (e: unknown) => {
    if (await job.isFailed()) throw e;
  });
}
