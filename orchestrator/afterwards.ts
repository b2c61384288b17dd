/**
 * Work an answer does not wait for. An upload is answered once its result is recorded, the same
 * way for every kind of replica; judging follows — a real replica's at once, a spot check's when
 * a real one's verdict would come (uploads.ts) — so neither the answer's content nor its timing
 * says which it was. Nothing here is the only record of what is owed: a crash loses the timers
 * and the work under way, and the sweeper finds what they left (tasks due a look, spot checks
 * due a verdict).
 */
import type { Logger } from 'pino';

export class Afterwards {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly running = new Set<Promise<void>>();
  private idleWaiters: (() => void)[] = [];
  private closed = false;

  constructor(private readonly log: Logger) {}

  /** Starts `work` now, without waiting for it; a failure is logged. */
  now(what: string, work: () => Promise<unknown>): void {
    if (this.closed) return;
    const run = work()
      .then(() => undefined)
      .catch((err: Error) => this.log.warn({ err: err.message, what }, 'deferred work failed; the sweeper retries it'))
      .finally(() => {
        this.running.delete(run);
        this.wakeIfIdle();
      });
    this.running.add(run);
  }

  /** Starts `work` at `when` (ms since the epoch), never before. */
  at(when: number, what: string, work: () => Promise<unknown>): void {
    if (this.closed) return;
    // A timer may fire a millisecond before the clock reads `when` (libuv's cached loop time):
    // then it waits again, or a spot check's verdict, not yet due, would wait for the sweeper.
    const timer = setTimeout(
      () => {
        this.timers.delete(timer);
        if (Date.now() < when) this.at(when, what, work);
        else this.now(what, work);
      },
      Math.max(0, when - Date.now()),
    ).unref();
    this.timers.add(timer);
  }

  /** Resolves once nothing is waiting or under way: every verdict the answers so far started is in. */
  idle(): Promise<void> {
    return new Promise((resolve) => {
      this.idleWaiters.push(resolve);
      this.wakeIfIdle();
    });
  }

  /** Drops what has not started and waits for what has, before the connections close. */
  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await Promise.all(this.running);
    this.wakeIfIdle();
  }

  private wakeIfIdle(): void {
    if (this.timers.size === 0 && this.running.size === 0) for (const wake of this.idleWaiters.splice(0)) wake();
  }
}
