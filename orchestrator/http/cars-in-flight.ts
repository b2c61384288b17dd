/**
 * The CARs the gateway's responses hold in memory in this process. A CAR is held from its build
 * until its last byte is handed to the socket, and a client that does not read keeps it there
 * whether or not the cache still does: many keys each fetching a different large blob and reading
 * nothing would otherwise hold them all. Fetches of one blob share its CAR, so a blob counts once
 * however many fetch it at once (a new job's herd); distinct blobs add up, in all and per key.
 */
export class CarsInFlight {
  private held = 0;
  private readonly byCid = new Map<string, { bytes: number; fetches: number }>();
  private readonly byKey = new Map<string, number>();

  constructor(
    readonly bytes: number,
    readonly perKey: number,
  ) {}

  /** Holds `cid`'s `bytes` for `key` until `release` is called (once or more); or which bound it would pass. */
  hold(key: string, cid: string, bytes: number): { release: () => void } | { over: 'key' | 'all' } {
    const mine = this.byKey.get(key) ?? 0;
    if (mine + bytes > this.perKey) return { over: 'key' };
    const shared = this.byCid.get(cid);
    if (!shared && this.held + bytes > this.bytes) return { over: 'all' };
    if (shared) shared.fetches++;
    else {
      this.byCid.set(cid, { bytes, fetches: 1 });
      this.held += bytes;
    }
    this.byKey.set(key, mine + bytes);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        const left = (this.byKey.get(key) ?? bytes) - bytes;
        if (left > 0) this.byKey.set(key, left);
        else this.byKey.delete(key);
        const entry = this.byCid.get(cid);
        if (entry && --entry.fetches === 0) {
          this.byCid.delete(cid);
          this.held -= entry.bytes;
        }
      },
    };
  }
}
