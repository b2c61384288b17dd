/**
 * Change notices for live views. A write that changes what a job's page shows publishes the
 * changed task's id (or `job`) on the job's Redis channel; the SSE route re-reads that state and
 * streams it, so any orchestrator process can serve any watcher. Publishing is fire-and-forget on
 * purpose: a notice lost while Redis restarts costs a watcher one stale tile until its
 * EventSource reconnects and reloads, never any state.
 */
import type { Redis } from 'ioredis';
import { keys } from './keys.ts';

/** The subject of a notice about the job as a whole (state, frames, animation). */
export const JOB_SUBJECT = 'job';

export function announce(redis: Redis, job: string, subject: string = JOB_SUBJECT): void {
  redis.publish(keys.jobEvents(job), subject).catch(() => undefined);
}
