/**
 * A least-recently-used map bounded by the bytes its values hold rather than by their number:
 * the gateway keeps the CARs it built within a memory budget (by CID, so an entry is never stale).
 */
export class ByteLru<V> {
  /** In use order, least recent first: a Map iterates in insertion order, and a use re-inserts. */
  private readonly entries = new Map<string, { value: V; bytes: number }>();
  private held = 0;

  constructor(readonly capacity: number) {}

  /** Bytes held now, never above the capacity. */
  get bytes(): number {
    return this.held;
  }

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  /**
   * Keeps `value`, which holds `bytes`, as the most recent, evicting the least recent to make
   * room; one larger than the capacity is not kept.
   */
  set(key: string, value: V, bytes: number): V {
    this.remove(key);
    if (bytes > this.capacity) return value;
    for (const [k, old] of this.entries) {
      if (this.held + bytes <= this.capacity) break;
      this.entries.delete(k);
      this.held -= old.bytes;
    }
    this.entries.set(key, { value, bytes });
    this.held += bytes;
    return value;
  }

  private remove(key: string): void {
    const old = this.entries.get(key);
    if (old === undefined) return;
    this.entries.delete(key);
    this.held -= old.bytes;
  }
}
