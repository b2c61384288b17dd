/**
 * A job's new priority, carried to its slots already in the queues: every pending task's slots
 * are given the job's rank as it stands when this runs. A BullMQ job, so a crash half-way is
 * resumed; each step is idempotent, and a later change runs again with the newer priority.
 */
import type { Dispatcher } from './dispatch.ts';
import type { Jobs } from './state/jobs.ts';
import type { Tasks } from './state/tasks.ts';

export async function reprioritiseJob(deps: { jobs: Jobs; tasks: Tasks; dispatch: Dispatcher }, jobId: string): Promise<void> {
  const rank = await deps.jobs.rank(jobId);
  if (!rank) return;
  let cursor = '0';
  do {
    const [next, ids] = await deps.tasks.pendingOf(jobId, cursor);
    cursor = next;
    for (const id of ids) {
      const task = await deps.tasks.get(id);
      if (task) await deps.dispatch.reprioritise(id, 0, task.nextSlot, task.class, rank);
    }
  } while (cursor !== '0');
}
