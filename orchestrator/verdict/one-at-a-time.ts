/**
 * One run at a time per key, in this process, for work that reads some state and acts on it (a
 * verdict). A call is answered by the first run whose read of the state was sent after the call —
 * what the caller changed before calling is in what it read: by the run under way when its read
 * is still to come, else by one more run after it. Each caller hears how the run that answers it
 * ended, and no other.
 */
type Work<K> = (key: K, reading: () => void) => Promise<void>;

interface Caller {
  resolve: () => void;
  reject: (error: unknown) => void;
}

export class OneAtATime<K> {
  /** Per key with a run under way: the callers no read of it has answered yet. */
  private readonly unread = new Map<K, Caller[]>();

  /** `work` calls `reading` as it sends each read of the key's state (a retry reads again). */
  constructor(private readonly work: Work<K>) {}

  run(key: K): Promise<void> {
    return new Promise((resolve, reject) => {
      const waiting = this.unread.get(key);
      if (waiting) {
        waiting.push({ resolve, reject });
        return;
      }
      const callers = [{ resolve, reject }];
      this.unread.set(key, callers);
      void this.runWhileAsked(key, callers);
    });
  }

  private async runWhileAsked(key: K, unread: Caller[]): Promise<void> {
    while (unread.length > 0) {
      const answered: Caller[] = [];
      const reading = () => answered.push(...unread.splice(0));
      let failure: { error: unknown } | undefined;
      try {
        await this.work(key, reading);
      } catch (error) {
        failure = { error };
      }
      // A run that read nothing answers its callers all the same, rather than run forever.
      if (answered.length === 0) reading();
      for (const caller of answered) failure ? caller.reject(failure.error) : caller.resolve();
    }
    this.unread.delete(key);
  }
}
