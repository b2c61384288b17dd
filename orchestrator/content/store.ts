/**
 * Content-addressed storage of scenes, results and frames. Blobs are named by their IPFS CID
 * (shared/unixfs.ts), so a put is idempotent and a corrupted or forged blob is detectable. Two
 * backends: the local directory (fs-store.ts) and an embedded IPFS node (ipfs-store.ts).
 */
export interface ContentStore {
  /** Stores the bytes and returns their CID; `cid`, when the caller has just computed it from these bytes, saves hashing twice. */
  put(bytes: Uint8Array, cid?: string): Promise<string>;
  get(cid: string): Promise<Uint8Array | undefined>;
  /** The blob's size, known without reading it (undefined: not stored, nor at any peer). */
  size(cid: string): Promise<number | undefined>;
  /** Every stored blob and when it was last written (a put of stored bytes writes them again). */
  list(): AsyncIterable<{ cid: string; writtenAt: number; bytes: number }>;
  /** Removes the blob unless it was written again since `writtenAt` (as list() gave it). */
  remove(cid: string, writtenAt: number): Promise<void>;
  /**
   * Housekeeping, at start and after each collection: temporary files a crash left (fs), blocks
   * no pin holds any more (ipfs). Returns what it removed, where it can count it.
   */
  tidy(): Promise<number>;
  /** Whose blobs these are: `farm` for a store every orchestrator shares, else this node's id (each collects its own). */
  readonly scope: string;
  close(): Promise<void>;
}
