/**
 * Change notices for live views. A write that changes what a job's page shows publishes the
 * changed task's id (or `job`) on the job's Redis channel; the SSE route re-reads that state and
 * streams it, so any orchestrator process can serve any watcher. Publishing is fire-and-forget on
 * purpose: a notice lost while Redis restarts costs a watcher one stale tile until its
 * EventSource reconnects and reloads, never any state.
 *
 * The notices of one turn of the event loop go out as one message per job (subjects separated by
 * spaces): a busy orchestrator changes many tiles of a job at once, and one PUBLISH per change was
 * a tenth of the commands it sent per replica.
 */
import type { Redis } from 'ioredis';
import { keys } from './keys.ts';

/** The subject of a notice about the job as a whole (state, frames, animation). */
export const JOB_SUBJECT = 'job';

/** What each connection has still to publish this turn: subjects by job. */
const pending = new WeakMap<Redis, Map<string, Set<string>>>();

export function announce(redis: Redis, job: string, subject: string = JOB_SUBJECT): void {
  let jobs = pending.get(redis);
  if (!jobs) {
    const batch = new Map<string, Set<string>>();
    jobs = batch;
    pending.set(redis, batch);
    setImmediate(() => {
      pending.delete(redis);
      for (const [id, subjects] of batch) redis.publish(keys.jobEvents(id), [...subjects].join(' ')).catch(() => undefined);
    });
  }
  const subjects = jobs.get(job) ?? new Set<string>();
  jobs.set(job, subjects.add(subject));
}

/** The subjects one message names. */
export const subjectsOf = (message: string): string[] => message.split(' ');
