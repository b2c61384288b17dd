/**
 * Fans change notices (state/events.ts) out to live views: one Redis subscriber connection per
 * orchestrator, subscribed to a job's channel while at least one watcher of that job is open.
 */
import type { Redis } from 'ioredis';
import { keys } from './state/keys.ts';

export type ChangeListener = (subject: string) => void;

export class ChangeFeed {
  private readonly watchers = new Map<string, Set<ChangeListener>>();

  /** `subscriber` becomes a subscriber-mode connection: give it to nothing else. */
  constructor(private readonly subscriber: Redis) {
    subscriber.on('message', (channel: string, subject: string) => {
      for (const listener of this.watchers.get(channel) ?? []) listener(subject);
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

  async close(): Promise<void> {
    this.watchers.clear();
    await this.subscriber.quit().catch(() => undefined);
  }
}
