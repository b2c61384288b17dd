/**
 * Fans change notices (state/events.ts) out to live views over one Redis subscriber connection
 * per orchestrator: subscribed to a job's channel while a view of that job is open, and to every
 * job's channel (a pattern) while a job list is open.
 */
import type { Redis } from 'ioredis';
import { subjectsOf } from './state/events.ts';
import { jobOfEvents, keys } from './state/keys.ts';

export type ChangeListener = (subject: string) => void;
export type AnyChangeListener = (job: string, subject: string) => void;

const ALL_JOBS = keys.jobEvents('*');

export class ChangeFeed {
  private readonly watchers = new Map<string, Set<ChangeListener>>();
  private readonly allWatchers = new Set<AnyChangeListener>();

  /** `subscriber` becomes a subscriber-mode connection: give it to nothing else. */
  constructor(private readonly subscriber: Redis) {
    subscriber.on('message', (channel: string, message: string) => {
      for (const listener of this.watchers.get(channel) ?? []) for (const subject of subjectsOf(message)) listener(subject);
    });
    subscriber.on('pmessage', (_pattern: string, channel: string, message: string) => {
      const job = jobOfEvents(channel);
      if (job) for (const listener of this.allWatchers) for (const subject of subjectsOf(message)) listener(job, subject);
    });
  }

  /** Calls `listener` with each changed task id (or `job`) until the returned function is called. */
  async watch(job: string, listener: ChangeListener): Promise<() => Promise<void>> {
    const channel = keys.jobEvents(job);
    let set = this.watchers.get(channel);
    if (!set) {
      set = new Set();
      this.watchers.set(channel, set);
      await this.subscriber.subscribe(channel);
    }
    set.add(listener);
    return async () => {
      set.delete(listener);
      if (set.size > 0 || this.watchers.get(channel) !== set) return;
      this.watchers.delete(channel);
      await this.subscriber.unsubscribe(channel).catch(() => undefined);
    };
  }

  /** Calls `listener` with every job's notices until the returned function is called. */
  async watchAll(listener: AnyChangeListener): Promise<() => Promise<void>> {
    if (this.allWatchers.size === 0) await this.subscriber.psubscribe(ALL_JOBS);
    this.allWatchers.add(listener);
    return async () => {
      if (!this.allWatchers.delete(listener) || this.allWatchers.size > 0) return;
      await this.subscriber.punsubscribe(ALL_JOBS).catch(() => undefined);
    };
  }

  async close(): Promise<void> {
    this.watchers.clear();
    this.allWatchers.clear();
    await this.subscriber.quit().catch(() => undefined);
  }
}
