/**
 * A job's slots already in the queues, brought in line with the job as it stands: each takes the
 * job's rank (a new priority), and a resumed job's parked slots go back to their queues at once
 * (dispatch.ts parks a paused job's slots). A BullMQ job, so a crash half-way is resumed; each
 * step is idempotent and reads the job afresh, and recovery refreshes every active job at start,
 * so a change whose refresh was never queued (a crash right after it) still reaches the slots.
 */
import type { Dispatcher } from './dispatch.ts';
import type { Jobs } from './state/jobs.ts';
import type { Tasks } from './state/tasks.ts';

export async function refreshSlots(deps: { jobs: Jobs; tasks: Tasks; dispatch: Dispatcher }, jobId: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, ids] = await deps.tasks.pendingOf(jobId, cursor);
    cursor = next;
    const job = await deps.jobs.get(jobId);
    if (!job) return;
    for (const id of ids) {
      const task = await deps.tasks.get(id);
      if (task) await deps.dispatch.refresh(id, task.nextSlot, task.class, job, !job.paused);
    }
  } while (cursor !== '0');
}
