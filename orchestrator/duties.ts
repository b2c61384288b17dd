/**
 * Periodic duties, run once per period across the farm however many orchestrators share its
 * Redis: every orchestrator looks a few times a period, and the one that takes the period's lease
 * (`SET NX` on `farm:duty:<name>:<period start>`) does the work. A duty that crashes or fails
 * halfway is done again next period by whoever takes that lease. Each run is counted in Redis
 * (`farm:duty:runs`) and on /metrics, so "once per period" can be checked.
 */
import type { Logger } from 'pino';
import type { Metrics } from './metrics.ts';
import { keys } from './state/keys.ts';
import type { FarmRedis } from './state/redis.ts';

/** How often an orchestrator looks, per period: a lease lost to a crash delays a run by a fifth of a period at most. */
const LOOKS_PER_PERIOD = 5;

export interface Duty {
  name: string;
  periodMs: number;
  /** The work, given the start of the period it runs for. */
  run: (periodStart: number) => Promise<unknown>;
}

export interface DutyDeps {
  redis: FarmRedis;
  log: Logger;
  metrics: Pick<Metrics, 'dutyRun'>;
  /** This orchestrator, as the leases name it. */
  self: string;
}

/** Takes the period's lease for `duty` and runs it; false when another orchestrator has the period. */
export async function runIfDue(deps: DutyDeps, duty: Duty, now = Date.now()): Promise<boolean> {
  const start = Math.floor(now / duty.periodMs) * duty.periodMs;
  const lease = keys.dutyLease(`${duty.name}:${start}`);
  if ((await deps.redis.set(lease, deps.self, 'PX', 2 * duty.periodMs, 'NX')) !== 'OK') return false;
  await deps.redis.hincrby(keys.dutyRuns, duty.name, 1);
  deps.metrics.dutyRun(duty.name);
  await duty.run(start);
  return true;
}

/** Looks for `duty` a few times a period until stopped; one look at a time, failures logged. */
export function schedule(deps: DutyDeps, duty: Duty): () => void {
  let busy = false;
  const timer = setInterval(
    () => {
      if (busy) return;
      busy = true;
      runIfDue(deps, duty)
        .catch((err) => deps.log.warn({ duty: duty.name, err: (err as Error).message }, 'duty failed'))
        .finally(() => {
          busy = false;
        });
    },
    Math.max(20, Math.floor(duty.periodMs / LOOKS_PER_PERIOD)),
  );
  return () => clearInterval(timer);
}
