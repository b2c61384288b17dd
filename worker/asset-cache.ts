/**
 * The assets a worker has fetched (shared/assets.ts), by CID: each is fetched once per process
 * however many scenes, frames and tiles use it (requests for one in flight share the fetch), and
 * the least recently used are dropped past a byte budget. The client checks every asset against
 * its CID as it arrives, so what is cached is what its name says.
 */
export class AssetCache {
  private readonly entries = new Map<string, Promise<Uint8Array>>();
  private readonly sizes = new Map<string, number>();
  private bytes = 0;

  constructor(
    private readonly fetchAsset: (cid: string) => Promise<Uint8Array>,
    private readonly maxBytes: number,
  ) {}

  get(cid: string): Promise<Uint8Array> {
    let entry = this.entries.get(cid);
    if (entry) {
      this.entries.delete(cid); // most recently used goes last
    } else {
      entry = this.fetchAsset(cid).then((bytes) => {
        this.sizes.set(cid, bytes.length);
        this.bytes += bytes.length;
        this.evict(cid);
        return bytes;
      });
      // A failed fetch is not cached: the next scene that needs the asset asks again.
      entry.catch(() => this.entries.delete(cid));
    }
    this.entries.set(cid, entry);
    return entry;
  }

  private evict(keep: string): void {
    for (const cid of this.entries.keys()) {
      if (this.bytes <= this.maxBytes) return;
      if (cid === keep || !this.sizes.has(cid)) continue;
      this.bytes -= this.sizes.get(cid) as number;
      this.sizes.delete(cid);
      this.entries.delete(cid);
    }
  }
}
