/**
 * Content-addressed blob storage. Blobs are named by the CID of their bytes, so a put is
 * idempotent and a corrupted file is detectable. The interface is what an IPFS (kubo-rpc-client)
 * or object-store backend would implement.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cidOfBytes } from '../shared/image.ts';
import { CID_PATTERN } from '../shared/protocol.ts';

export interface BlobStore {
  /** Stores the bytes and returns their CID; `cid`, when the caller has just computed it from these bytes, saves hashing twice. */
  put(bytes: Uint8Array, cid?: string): Promise<string>;
  get(cid: string): Promise<Uint8Array | undefined>;
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
    await writeFile(tmp, bytes);
    await rename(tmp, path);
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

  private path(cid: string): string {
    return join(this.dir, 'blobs', cid.slice(-2), cid);
  }
}
