/**
 * Periodic upkeep, safe to run on every orchestrator at once: jobs past their timeout have their
 * pending tiles judged (they decide with what they have; again each minute while the job runs,
 * so a sweep that died part-way is made good), tiles due a look are judged (the
 * small-farm grace), spot checks whose lease lapsed are timed out like any replica, answered ones
 * whose verdict is due are judged (whoever took them, crashed or not), backtracking that a crash
 * stopped is run again, unbonding stake that is due is paid out, and ended jobs past their
 * retention (or asked to be deleted) are deleted.
 */
import type { Logger } from 'pino';
import type { Jobs } from './state/jobs.ts';
import type { Ledger } from './state/ledger.ts';
import type { Tasks } from './state/tasks.ts';
import type { VerdictRunner } from './verdict/runner.ts';

export interface SweepDeps {
  runner: VerdictRunner;
  tasks: Tasks;
  jobs: Jobs;
  ledger: Ledger;
  /** Judges a spot check whose result is recorded (uploads.ts). */
  judgeSpotCheck: (task: string, n: number) => Promise<void>;
  /** Deletes the ended jobs that are due (retention/duty.ts). */
  deleteDueJobs: (now: number) => Promise<number>;
  log: Logger;
}

/**
 * A catch's backtracking runs right after its verdict, in the process that caught the worker; the
 * sweep runs it only once it is this late, so as not to do the same work beside it.
 */
export const BACKTRACK_RETRY_MS = 60_000;
/** A timed-out job's pending tiles are judged again this often while it runs (one sweep at a time). */
const TIMEOUT_RETRY_MS = 60_000;

export async function sweep(deps: SweepDeps, now = Date.now()): Promise<void> {
  for (const job of await deps.jobs.takeTimedOut(now, TIMEOUT_RETRY_MS)) {
    deps.log.warn({ job }, 'job timed out: its pending tiles decide with what they have');
    await judgePending(deps, job);
  }
  for (const task of await deps.tasks.idle(now, 200)) await deps.runner.judge(task);
  for (const rid of await deps.tasks.lapsedSpotChecks(now)) {
    const check = await spotCheck(deps, rid);
    if (check?.state === 'assigned') await deps.tasks.expire(check.task, check.n, rid);
    // Answered before due times existed: its lease entry waited for the verdict.
    else if (check?.state === 'submitted') await deps.judgeSpotCheck(check.task, check.n);
    else await deps.tasks.forgetSpotLease(rid);
  }
  for (const rid of await deps.tasks.dueSpotChecks(now)) {
    const check = await spotCheck(deps, rid);
    if (check?.state === 'submitted') await deps.judgeSpotCheck(check.task, check.n);
    else await deps.tasks.forgetSpotDue(rid);
  }
  for (const worker of await deps.tasks.backtracksDue(now - BACKTRACK_RETRY_MS, 10)) {
    deps.log.warn({ worker }, 'backtracking a caught worker that a crash interrupted');
    await deps.runner.backtrack(worker);
  }
  await deps.ledger.payOutDue(now);
  await deps.deleteDueJobs(now);
}

/** Where spot check `rid` is and its state, while its record is still that replica's. */
async function spotCheck(deps: Pick<SweepDeps, 'tasks'>, rid: string) {
  const [where] = await deps.tasks.locate([rid]);
  return where?.replica?.rid === rid ? { task: where.task, n: where.n, state: where.replica.state } : undefined;
}

/** Judges every pending tile of a job whose timeout passed. */
async function judgePending(deps: Pick<SweepDeps, 'runner' | 'tasks'>, job: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, ids] = await deps.tasks.pendingOf(job, cursor);
    for (const id of ids) await deps.runner.judge(id);
    cursor = next;
  } while (cursor !== '0');
}
