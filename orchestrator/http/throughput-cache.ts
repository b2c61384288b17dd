/**
 * GET /api/jobs/:id/throughput's answers, kept in this orchestrator's memory: one reads two keys
 * per tile of the whole job (some 40k commands for 20k tiles), and the job page asks again as
 * tiles verify, from every tab that shows it. Requests for a job while its answer is computed
 * share that computation; a running job's answer then serves everyone for FRESH_MS, and a
 * finished job's, which no longer changes, until its record says otherwise (a re-run reopens it).
 */
import type { JobThroughput } from '../../shared/throughput.ts';
import type { JobRecord } from '../state/jobs.ts';

/** How long a running job's answer serves: about as often as one tab asks (the dashboard's REFRESH_MS). */
export const FRESH_MS = 2_000;
/** How long a finished job's answer serves while its record is unchanged. */
export const FINISHED_MS = 10 * 60_000;
/** Jobs whose answers are kept; the one stored longest ago makes way. */
const JOBS_KEPT = 256;

/** What a job's answer depends on besides the clock: a tile verified or reopened, its end (each end has its own time). */
type Version = Pick<JobRecord, 'state' | 'tilesVerified' | 'finishedAt'>;
const versionOf = (job: Version): string => `${job.state} ${job.tilesVerified} ${job.finishedAt}`;

export interface CachedAnswer {
  /** The job's record when the computation began (versionOf). */
  version: string;
  /** When the computation began. */
  at: number;
  /** Whether it has finished: until then every request for the job shares it. */
  settled: boolean;
}

/** Whether a cached answer may serve a request for `job` at `now`. */
export function mayServe(cached: CachedAnswer, job: Version, now: number): boolean {
  if (!cached.settled) return true;
  if (job.finishedAt !== null) return cached.version === versionOf(job) && now - cached.at < FINISHED_MS;
  return now - cached.at < FRESH_MS;
}

/** `compute`, answered from memory where mayServe allows. */
export function cachedThroughput(compute: (job: JobRecord) => Promise<JobThroughput>): (job: JobRecord) => Promise<JobThroughput> {
  const answers = new Map<string, CachedAnswer & { answer: Promise<JobThroughput> }>();
  return (job) => {
    const now = Date.now();
    const cached = answers.get(job.id);
    if (cached && mayServe(cached, job, now)) return cached.answer;
    answers.delete(job.id);
    if (answers.size >= JOBS_KEPT) answers.delete(answers.keys().next().value as string);
    const entry = { version: versionOf(job), at: now, settled: false, answer: compute(job) };
    answers.set(job.id, entry);
    entry.answer.then(
      () => {
        entry.settled = true;
      },
      // A failure is not kept: the next request tries again.
      () => answers.get(job.id) === entry && answers.delete(job.id),
    );
    return entry.answer;
  };
}
