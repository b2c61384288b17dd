/**
 * Live views as server-sent events (event-stream.ts), fed by the change notices of the jobs
 * they show (change-feed.ts):
 * - GET /api/jobs/:id/events: the job's status on connect; then the changed tiles' views
 *   (`tiles`) and the job's status (`job`, read once for all its views: SharedStatuses) at most
 *   every JOB_BATCH_MS;
 * - GET /api/jobs/events: the summary of each job the caller may see, as it changes (`job`).
 * Both subscribe before the response headers go out: a client that has its headers (the
 * browser's EventSource `open`, after which it reloads) hears of every later change.
 */
import type { Request, Response } from 'express';
import { framesChanged } from '../../shared/job-updates.ts';
import { type FrameStatus, JOB_EVENTS, type JobStatus, type JobSummary, type TaskView } from '../../shared/protocol.ts';
import type { ChangeFeed } from '../change-feed.ts';
import { JOB_SUBJECT } from '../state/events.ts';
import type { JobRecord, Jobs } from '../state/jobs.ts';
import type { Tasks } from '../state/tasks.ts';
import { batcher, type EventStream, openEventStream } from './event-stream.ts';

const JOB_BATCH_MS = 150;
/** The job list needs less: its rows show counts, not tiles. */
const LIST_BATCH_MS = 500;

export interface JobEventsDeps {
  feed: ChangeFeed;
  jobs: Jobs;
  tasks: Tasks;
  statusOf: (job: JobRecord) => Promise<JobStatus>;
  /** Jobs' summaries, with one read of what holds jobs up for them all. */
  summariesOf: (jobs: JobRecord[]) => Promise<JobSummary[]>;
  statuses: SharedStatuses;
}

/**
 * What the live views of one job share: one read of its status between two of its changes, where
 * each view read its own at each flush (a job of 10,000 frames is 600 KB to read, and a requester
 * may hold 16 views). A change moves the job's version on, so no view flushes a status read before
 * the change it flushes for.
 */
export class SharedStatuses {
  private readonly byJob = new Map<string, { views: number; version: number; read?: { version: number; status: Promise<unknown> } }>();

  /** A view of `job` opened: tell it of each change, ask it for the status, close it with the view. */
  view<T>(job: string) {
    const shared = this.byJob.get(job) ?? { views: 0, version: 0 };
    this.byJob.set(job, shared);
    shared.views++;
    return {
      changed: () => {
        shared.version++;
      },
      status: (read: () => Promise<T>): Promise<T> => {
        if (shared.read?.version !== shared.version) {
          const entry = { version: shared.version, status: read() };
          shared.read = entry;
          // A failed read is not shared: the next flush reads again.
          entry.status.catch(() => {
            if (shared.read === entry) shared.read = undefined;
          });
        }
        return shared.read?.status as Promise<T>;
      },
      close: () => {
        if (--shared.views === 0) this.byJob.delete(job);
      },
    };
  }
}

async function statusOf(deps: JobEventsDeps, id: string) {
  const job = await deps.jobs.get(id);
  return job && deps.statusOf(job);
}

export async function streamJobEvents(deps: JobEventsDeps, jobId: string, req: Request, res: Response): Promise<void> {
  let stream: EventStream | undefined;
  // The frames its client holds: a status goes with only those that changed since (job-updates.ts).
  let held: FrameStatus[] | undefined;
  const sendStatus = (status: JobStatus) => {
    const frames = held ? framesChanged(held, status.frames) : status.frames;
    held = status.frames;
    return stream?.send(JOB_EVENTS.job, { ...status, frames }) ?? 0;
  };
  const shared = deps.statuses.view<JobStatus | undefined>(jobId);
  const updates = batcher(
    JOB_BATCH_MS,
    async (tasks) => {
      // What changes while a slow client reads the last flush comes in the next one.
      await stream?.drained();
      const views = (await Promise.all(tasks.map((id) => deps.tasks.view(id, req.principal?.role === 'operator')))).filter(
        (v): v is TaskView => v !== undefined,
      );
      const status = await shared.status(() => statusOf(deps, jobId));
      let sent = 0;
      if (views.length) sent += stream?.send(JOB_EVENTS.tiles, views) ?? 0;
      if (status) sent += sendStatus(status);
      return sent;
    },
    (err) => req.log?.warn({ job: jobId, err: err.message }, 'live view update failed'),
  );
  // Every tile change moves the job's counters too, so each flush re-sends the status.
  const unwatch = await deps.feed
    .watch(jobId, (subject) => {
      shared.changed();
      updates.add(subject === JOB_SUBJECT ? undefined : subject);
    })
    .catch((err: unknown) => {
      shared.close();
      throw err;
    });
  stream = openEventStream(res, { stillAuthorized: req.stillAuthorized });
  stream.onClose(() => {
    updates.stop();
    shared.close();
    void unwatch();
  });
  // Read afresh: a change just before this view subscribed is not among those it hears of. A
  // flush that went out meanwhile read it later.
  const initial = await statusOf(deps, jobId);
  if (initial && !held) sendStatus(initial);
}

/** `visible` says whether the caller may see a job (operator: all; requester: its own). */
export async function streamJobListEvents(
  deps: JobEventsDeps,
  visible: (job: string) => Promise<boolean>,
  req: Request,
  res: Response,
): Promise<void> {
  let stream: EventStream | undefined;
  const updates = batcher(
    LIST_BATCH_MS,
    async (jobs) => {
      await stream?.drained();
      const records: JobRecord[] = [];
      for (const id of jobs) {
        const job = (await visible(id)) ? await deps.jobs.get(id) : undefined;
        if (job) records.push(job);
      }
      let sent = 0;
      for (const summary of await deps.summariesOf(records)) sent += stream?.send(JOB_EVENTS.job, summary) ?? 0;
      return sent;
    },
    (err) => req.log?.warn({ err: err.message }, 'job list update failed'),
  );
  const unwatch = await deps.feed.watchAll((job) => updates.add(job));
  stream = openEventStream(res, { stillAuthorized: req.stillAuthorized });
  stream.onClose(() => {
    updates.stop();
    void unwatch();
  });
}
