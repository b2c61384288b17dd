/**
 * Crash points for the crash tests: with FARM_CRASH_AT naming one, the orchestrator kills itself
 * with SIGKILL when it reaches it — a kill -9 at exactly the worst moment, which a kill from
 * outside can only hit by luck. Unset (always, outside tests), each is one comparison.
 */
export type CrashPoint = 'after-submit' | 'during-stitch';

const armed = process.env.FARM_CRASH_AT;

export function crashPoint(name: CrashPoint): void {
  if (armed === name) process.kill(process.pid, 'SIGKILL');
}
