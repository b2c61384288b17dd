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
