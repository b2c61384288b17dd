/**
 * The CARs the gateway's responses hold in memory in this process. A CAR is held from its build
 * until the last byte of its last response is handed to the socket, and a client that does not
 * read keeps it there whether or not the cache still does: keys each fetching a different large
 * blob and reading nothing would otherwise hold them all. Every fetch of a blob in flight is sent
 * the one CAR its first fetch built (or took from the cache), so a blob is held once however many
 * fetch it (a new job's herd, or keys fetching a CAR too large to cache one after another); it is
 * let go once its last response is over and its build has settled (a client that hangs up
 * mid-build leaves a build that still holds the blob). Distinct blobs add up, in all and per key.
 *
 * When the whole is full, the blobs whose every reader would still take long are let go to make
 * room (`slowestToLetGo`): keys reading at the least pace the gateway allows could otherwise keep
 * it full for as long as they read, and turn honest workers away.
 */
interface Entry<T = unknown> {
  bytes: number;
  fetches: number;
  /** The CAR (what it is made of is the caller's: `T`). */
  car?: Promise<T>;
  building: boolean;
  readers: Set<Reader>;
  /** Let go to make room: a fetch of it that begins sending now is cut off at once. */
  letGo?: boolean;
}

/** A response sending a CAR: how much of it its client has taken, and how to end it. */
export interface Sending {
  total: number;
  moved(): number;
  cutOff(): void;
}

/**
 * …and where it stood at its last two marks, one every `judgeAfterMs` from `judgeAfterMs` after it
 * began (once the sockets' buffers had taken what they take): its pace is measured from the older.
 */
export interface Reader extends Sending {
  marks: { at: number; moved: number }[];
}

export interface HeldCar<T> {
  /** The blob's CAR: the one in flight, else `build`'s (which a failure forgets, for the next fetch to try). */
  car(build: () => Promise<T>): Promise<T>;
  /** This fetch is sending its CAR: it may be cut off, if it is slow, to make room. */
  sending(sending: Sending): void;
  /** This fetch is over (once or more). */
  release(): void;
}

/**
 * When a blob in flight may be let go to make room: its readers marked every `judgeAfterMs` from
 * `judgeAfterMs` after they began, each judged once watched as long again, each judged one still
 * `leftMs` or more from done.
 */
export interface LetGoRule {
  judgeAfterMs: number;
  leftMs: number;
}

/**
 * What a reader still needs at the pace it kept over the last few seconds — since the older of its
 * last two marks — (Infinity when it has taken nothing since); undefined while it has not been
 * watched long enough. Not from its start: the sockets' buffers take a few MiB at once, so a
 * reader of a small blob that then reads nothing would look fast for minutes, and one that read
 * most of a large blob fast and then stopped short of its end would look fast for good.
 */
export function msLeft(reader: Reader, now: number, rule: LetGoRule): number | undefined {
  const mark = reader.marks[0];
  if (!mark || now - mark.at < rule.judgeAfterMs) return undefined;
  const moved = reader.moved();
  if (moved >= reader.total) return 0;
  return ((reader.total - moved) * (now - mark.at)) / (moved - mark.moved);
}

/**
 * Which blobs in flight to let go so that `need` more bytes fit beside `held` in `bound`: those
 * whose readers watched long enough would all still take long, the longest first; none when
 * letting all of them go would not make the room (no one is cut off for nothing). A blob being
 * built, or none of whose readers has been watched long enough, is not judged; its other fetches
 * go with it (a fresh fetch every few seconds must not shield a blob nobody reads).
 */
export function slowestToLetGo(
  blobs: ReadonlyMap<string, Pick<Entry, 'bytes' | 'building' | 'readers'>>,
  need: number,
  held: number,
  bound: number,
  now: number,
  rule: LetGoRule,
): string[] {
  const slow: { cid: string; bytes: number; left: number }[] = [];
  for (const [cid, blob] of blobs) {
    if (blob.building) continue;
    let left: number | undefined;
    for (const reader of blob.readers) {
      const its = msLeft(reader, now, rule);
      if (its !== undefined) left = Math.min(left ?? its, its);
    }
    if (left !== undefined && left >= rule.leftMs) slow.push({ cid, bytes: blob.bytes, left });
  }
  slow.sort((a, b) => b.left - a.left);
  const letGo: string[] = [];
  let room = bound - held;
  for (const { cid, bytes } of slow) {
    if (room >= need) break;
    letGo.push(cid);
    room += bytes;
  }
  return room >= need ? letGo : [];
}

export class CarsInFlight<T = Uint8Array> {
  private held = 0;
  private readonly byCid = new Map<string, Entry<T>>();
  private readonly byKey = new Map<string, number>();

  constructor(
    readonly bytes: number,
    readonly perKey: number,
    readonly letGo: LetGoRule,
  ) {}

  /** Holds `cid`'s `bytes` for `key` until released; or which bound that would pass. */
  hold(key: string, cid: string, bytes: number): HeldCar<T> | { over: 'key' | 'all' } {
    const mine = this.byKey.get(key) ?? 0;
    if (mine + bytes > this.perKey) return { over: 'key' };
    let entry = this.byCid.get(cid);
    if (!entry) {
      if (this.held + bytes > this.bytes) this.makeRoom(bytes);
      if (this.held + bytes > this.bytes) return { over: 'all' };
      entry = { bytes, fetches: 0, building: false, readers: new Set() };
      this.byCid.set(cid, entry);
      this.held += bytes;
    }
    const held = entry;
    held.fetches++;
    this.byKey.set(key, mine + bytes);
    let released = false;
    let reading: Reader | undefined;
    let marking: NodeJS.Timeout | undefined;
    let marks: NodeJS.Timeout | undefined;
    return {
      car: (build) => {
        if (!held.car) {
          held.building = true;
          const settled = () => {
            held.building = false;
            this.forgetIfIdle(cid, held);
          };
          const built: Promise<T> = Promise.resolve()
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
      sending: (sending) => {
        if (released || reading) return;
        if (held.letGo) return sending.cutOff();
        const reader: Reader = { ...sending, marks: [] };
        reading = reader;
        held.readers.add(reader);
        const mark = () => {
          reader.marks = [...reader.marks.slice(-1), { at: performance.now(), moved: reader.moved() }];
        };
        marking = setTimeout(() => {
          mark();
          marks = setInterval(mark, this.letGo.judgeAfterMs).unref();
        }, this.letGo.judgeAfterMs).unref();
      },
      release: () => {
        if (released) return;
        released = true;
        clearTimeout(marking);
        clearInterval(marks);
        if (reading) held.readers.delete(reading);
        const left = (this.byKey.get(key) ?? bytes) - bytes;
        if (left > 0) this.byKey.set(key, left);
        else this.byKey.delete(key);
        held.fetches--;
        this.forgetIfIdle(cid, held);
      },
    };
  }

  /** Lets the slowest blobs go, if that makes the room: their bytes count no more, their readers are cut off. */
  private makeRoom(need: number): void {
    for (const cid of slowestToLetGo(this.byCid, need, this.held, this.bytes, performance.now(), this.letGo)) {
      const entry = this.byCid.get(cid) as Entry<T>;
      this.byCid.delete(cid);
      this.held -= entry.bytes;
      entry.letGo = true;
      for (const reader of entry.readers) reader.cutOff();
    }
  }

  private forgetIfIdle(cid: string, entry: Entry<T>): void {
    if (entry.fetches > 0 || entry.building || this.byCid.get(cid) !== entry) return;
    this.byCid.delete(cid);
    this.held -= entry.bytes;
  }
}
