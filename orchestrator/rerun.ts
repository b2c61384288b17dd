/**
 * A requester's re-run of a verified tile: a trusted worker renders it again and its result
 * decides, as in a dispute (reopen.lua marks it suspect; decide.ts sends a suspect tile to an
 * arbiter). A different earlier result is then caught, and backtracking re-checks the rest of its
 * worker's work. Untrusted re-renders would prove nothing the verdict had not weighed, so without
 * a trusted worker online a re-run is refused, as is one of a tile a trusted worker already backs.
 * The arbiter's replica is the farm's to pay (includes/escrow.lua), so re-runs are rate-limited.
 */
import { shareCap } from './dispatch.ts';
import type { AvailabilityReader } from './state/availability.ts';
import type { Jobs } from './state/jobs.ts';
import type { TaskRecord, Tasks } from './state/tasks.ts';
import type { VerdictRunner } from './verdict/runner.ts';

export type RerunRefusal = 'unverified' | 'anchored' | 'no-arbiter';

export const RERUN_REFUSALS: Record<RerunRefusal, string> = {
  unverified: 'it is not verified yet: it is still being rendered or judged',
  anchored: 'a trusted worker’s result already backs it',
  'no-arbiter': 'no trusted worker is online to render it again; try again when one is',
};

/** Why a tile may not be re-run now (pure); null: it may. */
export function rerunRefusal(task: Pick<TaskRecord, 'state' | 'anchored'>, trustedOnline: number): RerunRefusal | null {
  if (task.state !== 'verified') return 'unverified';
  if (task.anchored) return 'anchored';
  return trustedOnline > 0 ? null : 'no-arbiter';
}

export interface RerunDeps {
  jobs: Jobs;
  tasks: Tasks;
  runner: Pick<VerdictRunner, 'judge'>;
  availability: AvailabilityReader;
  jobShare: number;
  jobShareFloor: number;
}

/** Each task that may be re-run, with the refusal of each that may not. */
export async function rerunnable(deps: RerunDeps, ids: readonly string[]): Promise<{ tasks: TaskRecord[]; refused: RerunRefusal[] }> {
  const tasks: TaskRecord[] = [];
  const refused: RerunRefusal[] = [];
  // Trusted workers online, per class: a frame's tiles share a few classes.
  const trustedOf = new Map<string, Promise<number>>();
  for (const id of ids) {
    const task = await deps.tasks.get(id);
    const plan = task && (await deps.jobs.plan(task.job));
    if (!task || !plan) continue;
    let trusted = trustedOf.get(task.class);
    if (!trusted) {
      const cap = shareCap(plan.tilesTotal, deps.jobShare, deps.jobShareFloor);
      trusted = deps.availability.of(task, cap).then((a) => a.trusted);
      trustedOf.set(task.class, trusted);
    }
    const refusal = rerunRefusal(task, await trusted);
    if (refusal) refused.push(refusal);
    else tasks.push(task);
  }
  return { tasks, refused };
}

/** Reopens the tasks as suspect and judges them (an arbiter slot is issued); the ids reopened. */
export async function rerun(deps: RerunDeps, tasks: readonly TaskRecord[]): Promise<string[]> {
  const reopened: string[] = [];
  for (const task of tasks) {
    if (!(await deps.tasks.reopen(task, ''))) continue;
    reopened.push(task.id);
    await deps.runner.judge(task.id);
  }
  return reopened;
}

/**
 * Re-runs the finished jobs' tiles that backtracking marked below θ because no trusted worker was
 * online to render them again (reopen.lua), once one is for their class: a trusted worker renders
 * each again and its result decides (the treasury pays it), catching whoever agreed with the liar.
 * Those still waiting go to the back of the line; those no longer marked (re-run, or their job
 * deleted) are forgotten. The number re-run.
 */
export async function rerunMarked(deps: RerunDeps, limit: number, now = Date.now()): Promise<number> {
  let reopened = 0;
  for (const id of await deps.tasks.marked(limit)) {
    const { tasks, refused } = await rerunnable(deps, [id]);
    if (tasks.length > 0 && (await rerun(deps, tasks)).length > 0) reopened++;
    else await deps.tasks.lookedAtMarked(id, refused[0] === 'no-arbiter' ? now : undefined);
  }
  return reopened;
}
