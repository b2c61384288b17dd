/**
 * Content-addressed blob storage. Blobs are named by the CID of their bytes, so a put is
 * idempotent and a corrupted file is detectable. The interface is what an IPFS (kubo-rpc-client)
 * or object-store backend would implement.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cidOfBytes } from '../shared/image.ts';
import { CID_PATTERN } from '../shared/protocol.ts';
import { isOutOfSpace, StorageFull } from './storage.ts';

export interface BlobStore {
  /** Stores the bytes and returns their CID; `cid`, when the caller has just computed it from these bytes, saves hashing twice. */
  put(bytes: Uint8Array, cid?: string): Promise<string>;
  get(cid: string): Promise<Uint8Array | undefined>;
  /** Every stored blob and when it was last written (a put of stored bytes writes them again). */
  list(): AsyncIterable<{ cid: string; writtenAt: number; bytes: number }>;
  /** Removes the blob unless it was written again since `writtenAt` (as list() gave it). */
  remove(cid: string, writtenAt: number): Promise<void>;
}

export class FsBlobStore implements BlobStore {
  private readonly made = new Set<string>();

  constructor(private readonly dir: string) {}

  async put(bytes: Uint8Array, known?: string): Promise<string> {
    const cid = known ?? (await cidOfBytes(bytes));
    const path = this.path(cid);
    const parent = join(path, '..');
    if (!this.made.has(parent)) {
      await mkdir(parent, { recursive: true });
      this.made.add(parent);
    }
    // Write then rename, so a crash never leaves a truncated blob under its CID.
    const tmp = `${path}.${randomUUID()}.tmp`;
    try {
      await writeFile(tmp, bytes);
      await rename(tmp, path);
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      if (isOutOfSpace(e)) throw new StorageFull([`disk: ${(e as Error).message}`]);
      throw e;
    }
    return cid;
  }

  async get(cid: string): Promise<Uint8Array | undefined> {
    if (!CID_PATTERN.test(cid)) return undefined;
    try {
      return new Uint8Array(await readFile(this.path(cid)));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async *list(): AsyncIterable<{ cid: string; writtenAt: number; bytes: number }> {
    for await (const file of this.files()) {
      if (CID_PATTERN.test(file.name)) yield { cid: file.name, writtenAt: file.mtimeMs, bytes: file.size };
    }
  }

  async remove(cid: string, writtenAt: number): Promise<void> {
    if (!CID_PATTERN.test(cid)) return;
    // A put of the same bytes since it was listed (a new job with an old scene) keeps it.
    const info = await stat(this.path(cid)).catch(() => undefined);
    if (info?.mtimeMs === writtenAt) await unlink(this.path(cid)).catch(() => undefined);
  }

  /**
   * Deletes temporary files a crash left between write and rename, once they are older than
   * `olderThanMs` (another orchestrator sharing the directory may be writing a young one).
   */
  async removeOrphans(olderThanMs: number): Promise<number> {
    const before = Date.now() - olderThanMs;
    let removed = 0;
    for await (const file of this.files()) {
      if (!file.name.endsWith('.tmp') || file.mtimeMs >= before) continue;
      if (
        await unlink(file.path).then(
          () => true,
          () => false,
        )
      )
        removed++;
    }
    return removed;
  }

  /** The files under blobs/, shard by shard; one that vanishes meanwhile is skipped. */
  private async *files(): AsyncIterable<{ name: string; path: string; mtimeMs: number; size: number }> {
    const root = join(this.dir, 'blobs');
    for (const shard of await readdir(root).catch(() => [])) {
      for (const name of await readdir(join(root, shard)).catch(() => [])) {
        const path = join(root, shard, name);
        const info = await stat(path).catch(() => undefined);
        if (info?.isFile()) yield { name, path, mtimeMs: info.mtimeMs, size: info.size };
      }
    }
  }

  private path(cid: string): string {
    return join(this.dir, 'blobs', cid.slice(-2), cid);
  }
}
