/**
 * Crash points for the crash tests: with FARM_CRASH_AT naming one, the orchestrator kills itself
 * with SIGKILL when it reaches it — a kill -9 at exactly the worst moment, which a kill from
 * outside can only hit by luck. Unset (always, outside tests), each is one comparison.
 */
/**
 * after-submit: a result recorded, not yet judged. after-settle: a verdict applied and paid, its
 * effects (stitching, backtracking) not yet enqueued. during-stitch: a frame half written.
 * during-clearing: a market interval's lease taken and its book cleared at a trade, nothing
 * recorded.
 * before-webhook-queue: a webhook event read from the outbox, its deliveries not yet queued.
 * before-backtrack: a worker caught (by a verdict or a spot check), what it vouched for not yet
 * weighed again.
 */
export type CrashPoint =
  | 'after-submit'
  | 'after-settle'
  | 'during-stitch'
  | 'during-clearing'
  | 'before-webhook-queue'
  | 'before-backtrack';

const armed = process.env.FARM_CRASH_AT;

export function crashPoint(name: CrashPoint): void {
  if (armed === name) process.kill(process.pid, 'SIGKILL');
}
