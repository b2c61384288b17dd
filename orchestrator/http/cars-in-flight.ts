/**
 * The CARs the gateway's responses hold in memory in this process. A CAR is held from its build
 * until the last byte of its last response is handed to the socket, and a client that does not
 * read keeps it there whether or not the cache still does: keys each fetching a different large
 * blob and reading nothing would otherwise hold them all. Every fetch of a blob in flight is sent
 * the one CAR its first fetch built (or took from the cache), so a blob is held once however many
 * fetch it (a new job's herd, or keys fetching a CAR too large to cache one after another); it is
 * let go once its last response is over and its build has settled (a client that hangs up
 * mid-build leaves a build that still holds the blob). Distinct blobs add up, in all and per key.
 */
interface Entry {
  bytes: number;
  fetches: number;
  car?: Promise<Uint8Array>;
  building: boolean;
}

export interface HeldCar {
  /** The blob's CAR: the one in flight, else `build`'s (which a failure forgets, for the next fetch to try). */
  car(build: () => Promise<Uint8Array>): Promise<Uint8Array>;
  /** This fetch is over (once or more). */
  release(): void;
}

export class CarsInFlight {
  private held = 0;
  private readonly byCid = new Map<string, Entry>();
  private readonly byKey = new Map<string, number>();

  constructor(
    readonly bytes: number,
    readonly perKey: number,
  ) {}

  /** Holds `cid`'s `bytes` for `key` until released; or which bound that would pass. */
  hold(key: string, cid: string, bytes: number): HeldCar | { over: 'key' | 'all' } {
    const mine = this.byKey.get(key) ?? 0;
    if (mine + bytes > this.perKey) return { over: 'key' };
    let entry = this.byCid.get(cid);
    if (!entry) {
      if (this.held + bytes > this.bytes) return { over: 'all' };
      entry = { bytes, fetches: 0, building: false };
      this.byCid.set(cid, entry);
      this.held += bytes;
    }
    const held = entry;
    held.fetches++;
    this.byKey.set(key, mine + bytes);
    let released = false;
    return {
      car: (build) => {
        if (!held.car) {
          held.building = true;
          const settled = () => {
            held.building = false;
            this.forgetIfIdle(cid, held);
          };
          const built: Promise<Uint8Array> = Promise.resolve()
            .then(build)
            .then(
              (car) => {
                settled();
                return car;
              },
              (err: unknown) => {
                if (held.car === built) held.car = undefined;
                settled();
                throw err;
              },
            );
          held.car = built;
        }
        return held.car;
      },
      release: () => {
        if (released) return;
        released = true;
        const left = (this.byKey.get(key) ?? bytes) - bytes;
        if (left > 0) this.byKey.set(key, left);
        else this.byKey.delete(key);
        held.fetches--;
        this.forgetIfIdle(cid, held);
      },
    };
  }

  private forgetIfIdle(cid: string, entry: Entry): void {
    if (entry.fetches > 0 || entry.building || this.byCid.get(cid) !== entry) return;
    this.byCid.delete(cid);
    this.held -= entry.bytes;
  }
}
