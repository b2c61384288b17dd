/** The blob store: content-addressed puts, and the temporary files a crash leaves behind. */
import { existsSync, mkdtempSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FsContentStore } from '../orchestrator/content/fs-store.ts';

describe('blob store', () => {
  it('removes temporary files a crash left behind, not young ones nor blobs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'farm-blobs-'));
    const blobs = new FsContentStore(dir);
    const cid = await blobs.put(new TextEncoder().encode('a verified tile'));
    const shard = join(dir, 'blobs', cid.slice(-2));
    const old = join(shard, `${cid}.crashed.tmp`);
    const young = join(shard, `${cid}.writing.tmp`);
    writeFileSync(old, 'half a blob');
    writeFileSync(young, 'being written');
    const hourAgo = (Date.now() - 3_600_000) / 1000;
    utimesSync(old, hourAgo, hourAgo);
    expect(await blobs.tidy(10 * 60_000)).toBe(1);
    expect(existsSync(old)).toBe(false);
    expect(existsSync(young)).toBe(true);
    expect(new TextDecoder().decode(await blobs.get(cid))).toBe('a verified tile');
  });

  it('writes a blob once: storing it again marks it written again, which a collection under way spares', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'farm-blobs-'));
    const blobs = new FsContentStore(dir);
    const bytes = new TextEncoder().encode('a tile two replicas agree on');
    const cid = await blobs.put(bytes);
    const file = join(dir, 'blobs', cid.slice(-2), cid);
    const hourAgo = (Date.now() - 3_600_000) / 1000;
    utimesSync(file, hourAgo, hourAgo);
    let listed: number | undefined;
    for await (const blob of blobs.list()) if (blob.cid === cid) listed = blob.writtenAt;
    const before = statSync(file);
    expect(await blobs.put(bytes, cid)).toBe(cid);
    const after = statSync(file);
    expect(after.ino).toBe(before.ino); // not written anew
    expect(after.mtimeMs).toBeGreaterThan(before.mtimeMs);
    await blobs.remove(cid, listed ?? 0);
    expect(new TextDecoder().decode(await blobs.get(cid))).toBe('a tile two replicas agree on');
  });
});
