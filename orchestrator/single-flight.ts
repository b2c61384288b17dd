/** Work shared by its callers. */

/**
 * Work by key that runs once at a time: a caller asking for a key whose work is under way shares
 * that work's promise (a new job's workers fetching its scene at once read it and build its CAR
 * once, not once each). Nothing is kept once the work settles: caching is the caller's.
 */
export class SingleFlight<T> {
  private readonly running = new Map<string, Promise<T>>();

  run(key: string, work: () => Promise<T>): Promise<T> {
    let shared = this.running.get(key);
    if (!shared) {
      shared = work().finally(() => this.running.delete(key));
      this.running.set(key, shared);
    }
    return shared;
  }
}

/**
 * `compute`'s answer, computed one at a time and at most once every `ms`: calls while it is
 * computed share it, however long that takes, and calls within `ms` of its start get it as it was
 * (a failure is not kept).
 */
export function sharedFor<T>(ms: number, compute: () => Promise<T>): () => Promise<T> {
  let last: { at: number; settled: boolean; answer: Promise<T> } | undefined;
  return () => {
    if (last && (!last.settled || performance.now() - last.at < ms)) return last.answer;
    const entry = { at: performance.now(), settled: false, answer: compute() };
    last = entry;
    entry.answer.then(
      () => {
        entry.settled = true;
      },
      () => {
        if (last === entry) last = undefined;
      },
    );
    return entry.answer;
  };
}
