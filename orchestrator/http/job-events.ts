/**
 * GET /api/jobs/:id/events: the job's live view as server-sent events. On connect it sends the
 * job's status; then each change notice marks a task (or the job) dirty, and at most every
 * COALESCE_MS the stream sends the dirty tasks' views (`tiles`) and the job's status (`job`).
 * Coalescing keeps a busy job to a few messages a second whatever its tile rate.
 */
import type { Request, Response } from 'express';
import { JOB_EVENTS, type JobStatus, type TaskView } from '../../shared/protocol.ts';
import type { ChangeFeed } from '../change-feed.ts';
import { JOB_SUBJECT } from '../state/events.ts';
import type { Jobs } from '../state/jobs.ts';
import type { Tasks } from '../state/tasks.ts';

const COALESCE_MS = 150;
/** A comment line now and then keeps proxies from closing an idle stream. */
const KEEPALIVE_MS = 15_000;

export interface JobEventsDeps {
  feed: ChangeFeed;
  jobs: Jobs;
  tasks: Tasks;
  animationUrl: (id: string) => string;
}

export async function streamJobEvents(deps: JobEventsDeps, jobId: string, req: Request, res: Response): Promise<void> {
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  const send = (event: string, data: JobStatus | TaskView[]) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  const status = async () => {
    const job = await deps.jobs.get(jobId);
    return job && deps.jobs.status(job, deps.animationUrl);
  };

  const dirty = new Set<string>();
  let changed = false;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const flush = async () => {
    const ids = [...dirty];
    dirty.clear();
    changed = false;
    const views = (await Promise.all(ids.map((id) => deps.tasks.view(id)))).filter((v): v is TaskView => v !== undefined);
    const current = await status();
    if (closed) return;
    if (views.length) send(JOB_EVENTS.tiles, views);
    if (current) send(JOB_EVENTS.job, current);
  };
  const schedule = () => {
    timer ??= setTimeout(() => {
      flush()
        .catch((err) => req.log?.warn({ job: jobId, err: err.message }, 'live view update failed'))
        .finally(() => {
          timer = undefined;
          if (changed && !closed) schedule();
        });
    }, COALESCE_MS);
  };

  const unwatch = await deps.feed.watch(jobId, (subject) => {
    // Every tile change moves the job's counters too, so the status is always re-sent.
    if (subject !== JOB_SUBJECT) dirty.add(subject);
    changed = true;
    schedule();
  });
  const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
  req.on('close', () => {
    closed = true;
    clearInterval(keepalive);
    clearTimeout(timer);
    void unwatch();
  });
  const initial = await status();
  if (initial && !closed) send(JOB_EVENTS.job, initial);
}
