/**
 * The local-directory content store (the embedded default): one file per blob under blobs/,
 * named by its CID. Several orchestrators may share the directory (a shared volume); each with
 * its own directory needs the IPFS store (ipfs-store.ts).
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CID_PATTERN } from '../../shared/protocol.ts';
import { cidOfBytes } from '../../shared/unixfs.ts';
import { isOutOfSpace, StorageFull } from '../storage.ts';
import type { ContentStore } from './store.ts';

/** Temporary files older than this were left by a crash (a write in progress is younger). */
const ORPHAN_AGE_MS = 10 * 60_000;

export class FsContentStore implements ContentStore {
  readonly scope = 'farm';
  private readonly made = new Set<string>();

  constructor(private readonly dir: string) {}

  async put(bytes: Uint8Array, known?: string): Promise<string> {
    const cid = known ?? (await cidOfBytes(bytes));
    const path = this.path(cid);
    // Written once: a blob already stored (a tile's second replica, a scene sent again) is only
    // marked written again, which is what keeps it from a collection under way (remove()).
    if (await this.touch(path)) return cid;
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

  /**
   * Marks a stored blob written now; false when there is none, or when this process may not set
   * its times (another user's file in a shared directory: it is then written anew, as before).
   */
  private async touch(path: string): Promise<boolean> {
    const now = new Date();
    try {
      await utimes(path, now, now);
      return true;
    } catch (e) {
      if (['ENOENT', 'EPERM', 'EACCES'].includes((e as NodeJS.ErrnoException).code ?? '')) return false;
      throw e;
    }
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

  async size(cid: string): Promise<number | undefined> {
    if (!CID_PATTERN.test(cid)) return undefined;
    return (await stat(this.path(cid)).catch(() => undefined))?.size;
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
  async tidy(olderThanMs = ORPHAN_AGE_MS): Promise<number> {
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

  async close(): Promise<void> {}

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
