/**
 * Start-up repair after a crash of the orchestrator or Redis. BullMQ keeps its own jobs, but a
 * crash between two steps can leave a replica slot with no BullMQ job, a result recorded but not
 * judged, a fully verified frame never stitched, a new priority (or a resume) that never
 * reached the queued slots, or a caught worker whose vouched verdicts were never weighed again.
 * This walks the active jobs' pending tasks and puts back exactly what is missing, then runs the
 * backtracking that is due; nothing verified is touched but what backtracking reopens.
 */
import type { Logger } from 'pino';
import { GAVE_UP } from '../shared/protocol.ts';
import { classQueue, type Dispatcher } from './dispatch.ts';
import type { SlotRank } from './market/priority.ts';
import { slotId } from './planner.ts';
import type { Jobs } from './state/jobs.ts';
import type { Tasks } from './state/tasks.ts';
import type { VerdictRunner } from './verdict/runner.ts';

export interface RecoveryDeps {
  jobs: Jobs;
  tasks: Tasks;
  dispatch: Dispatcher;
  runner: VerdictRunner;
  replan: (jobId: string) => Promise<void>;
  restitch: (jobId: string, frame: number) => Promise<void>;
  /** Winds down what a cancelled or failed job still has out. */
  close: (jobId: string) => Promise<void>;
  /** Brings a job's queued slots in line with its priority and pause (slot-refresh.ts). */
  refresh: (jobId: string) => Promise<void>;
  log: Logger;
}

export async function recover(deps: RecoveryDeps): Promise<void> {
  for (const id of await deps.jobs.closing()) await deps.close(id);
  for (const id of await deps.jobs.active()) {
    const job = await deps.jobs.get(id);
    if (!job) continue;
    if (job.state === 'queued') {
      await deps.replan(id);
      continue;
    }
    if (job.state !== 'running') continue;
    let reissued = 0;
    let cursor = '0';
    do {
      const [next, ids] = await deps.tasks.pendingOf(id, cursor);
      cursor = next;
      for (const taskId of ids) reissued += await repairTask(deps, taskId, job);
    } while (cursor !== '0');
    const [progress, stitched] = await Promise.all([deps.jobs.frameProgress(id), deps.jobs.frameCids(id)]);
    for (const frame of job.frames) {
      if (stitched[frame] === undefined && progress[frame] === job.tilesPerFrame) await deps.restitch(id, frame);
    }
    if (reissued) deps.log.warn({ job: id, reissued }, 'recovery re-issued replica slots');
    await deps.refresh(id);
  }
  // Every one due: none runs in this process yet (another orchestrator's, run twice, reopens nothing twice).
  for (const worker of await deps.tasks.backtracksDue(Date.now(), 10_000)) {
    deps.log.warn({ worker }, 'recovery: backtracking a caught worker that a crash interrupted');
    await deps.runner.backtrack(worker);
  }
}

/** Re-issues the task's slots that lost their BullMQ job, then judges what it has. */
async function repairTask(deps: RecoveryDeps, taskId: string, rank: SlotRank): Promise<number> {
  const task = await deps.tasks.get(taskId);
  if (!task) return 0;
  const replicas = await deps.tasks.replicas(taskId);
  let reissued = 0;
  for (let n = 0; n < task.nextSlot; n++) {
    const r = replicas.find((x) => x.n === n);
    if (r?.spot || (r && r.state !== 'assigned' && !GAVE_UP.has(r.state))) continue;
    const queue = await deps.dispatch.queueOf(slotId(taskId, n), task.class);
    // A classless tile's slot in a class's queue (`slots-<class>`).
    if (!task.class && queue?.startsWith(classQueue(''))) await deps.dispatch.unstrand(slotId(taskId, n), queue);
    if (queue) continue;
    await deps.dispatch.issue(taskId, [n], task.class, rank, n === task.arbiterSlot);
    reissued++;
  }
  await deps.runner.judge(taskId);
  return reissued;
}
