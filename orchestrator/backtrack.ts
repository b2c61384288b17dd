/**
 * Backtracking (Sarmenta): when a worker is caught, every tile accepted on its word is weighed
 * again without it. Tiles that still reach θ stand; the others are reopened and re-verified, so a
 * provider that built trust and then cheated cannot leave its earlier lies behind.
 */
import { groupCredibilities } from './credibility.ts';
import { judgeTask, type ResultDeps } from './results.ts';

export async function backtrack(deps: ResultDeps, caught: string): Promise<number> {
  let reopened = 0;
  for (const id of await deps.tasks.takeVouched(caught)) {
    const task = await deps.tasks.get(id);
    if (task?.state !== 'verified' || !task.cid) continue;
    const job = await deps.jobs.plan(task.job);
    if (job?.verification !== 'credibility') continue;
    const others = (await deps.tasks.replicas(id)).filter(
      (r) => r.cid && r.worker !== caught && (r.state === 'valid' || r.state === 'submitted'),
    );
    const known = await deps.workers.credibilities(others.map((r) => r.worker));
    const weighed = others.map((r) => ({ cid: r.cid as string, credibility: known.get(r.worker)?.credibility ?? 0 }));
    const cids = [...new Set([task.cid, ...weighed.map((r) => r.cid)])];
    const standing = groupCredibilities(cids.map((cid) => weighed.filter((r) => r.cid === cid).map((r) => r.credibility)))[0];
    if (standing >= 1 - job.epsilon) continue;
    if (!(await deps.tasks.reopen(task, caught))) continue;
    reopened++;
    deps.log.warn({ job: job.id, task: id, caught, standing }, 'backtracking: tile reopened');
    const fresh = await deps.tasks.get(id);
    if (fresh) await judgeTask(deps, fresh, await deps.tasks.replicas(id));
  }
  return reopened;
}
