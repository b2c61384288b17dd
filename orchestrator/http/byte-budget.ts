/**
 * Bytes that requests of one kind may hold in memory at once in this process. A scene at the
 * asset limit costs about twice its asset bytes while it is decoded and parsed (0.5 GB and 2 s at
 * the default 256 MiB), and an estimate is free: drafts past the budget are refused before a byte
 * is read, rather than let a requester's parallel estimates take the orchestrator's memory.
 */
export class ByteBudget {
  private held = 0;

  constructor(readonly bytes: number) {}

  /** Runs `work` holding `n` bytes of the budget; undefined, without running it, when they are not free. */
  async hold<T>(n: number, work: () => Promise<T>): Promise<{ value: T } | undefined> {
    if (n > 0 && this.held + n > this.bytes) return undefined;
    this.held += n;
    try {
      return { value: await work() };
    } finally {
      this.held -= n;
    }
  }
}
