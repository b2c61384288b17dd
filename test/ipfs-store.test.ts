/**
 * The IPFS content store on real Helia nodes and a real Redis: a blob is copied to a peer before
 * put() returns, so it outlives the node that took it in (once: not again when stored again soon;
 * a small one from its announcement, kept only under the CID it hashes to); a peer that lacks a blob fetches it;
 * a blob nobody has is a quiet miss; remove() spares a blob written again, and tidy() deletes
 * what no pin holds. A repo survives a restart, and one of the older layout (a file per block and
 * per record) is moved into LevelDB; a repo in use is refused to a second node.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsBlockstore } from 'blockstore-fs';
import { LevelBlockstore } from 'blockstore-level';
import { FsDatastore } from 'datastore-fs';
import { LevelDatastore } from 'datastore-level';
import type { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PrivateRedis, startRedisServer } from '../cli/redis-server.ts';
import { PUSHED_MAX_BYTES } from '../orchestrator/content/ipfs-peering.ts';
import { type IpfsContentStore, startIpfsStore } from '../orchestrator/content/ipfs-store.ts';
import { keys } from '../orchestrator/state/keys.ts';
import { connectRedis } from '../orchestrator/state/redis.ts';
import { cidOfBytes } from '../shared/unixfs.ts';
import { waitFor } from './support/farm.ts';

const log = pino({ level: 'silent' });
const CHUNK = 262_144;

/** A private Redis and the stores started on it, all closed by `stop`. */
async function farm(name: string) {
  const dir = mkdtempSync(join(tmpdir(), `farm-ipfs-${name}-`));
  const server: PrivateRedis = await startRedisServer({ dir: join(dir, 'redis') });
  const redis: Redis = connectRedis(server.url);
  const open = new Set<IpfsContentStore>();
  let n = 0;
  return {
    redis,
    async node(timeoutMs = 5000, dataDir = join(dir, `node-${n++}`), blobGraceMs = 3600_000): Promise<IpfsContentStore> {
      const store = await startIpfsStore({ dataDir, listen: '/ip4/127.0.0.1/tcp/0', redis, log, timeoutMs, blobGraceMs, copies: 2 });
      open.add(store);
      return store;
    },
    async close(store: IpfsContentStore): Promise<void> {
      open.delete(store);
      await store.close();
    },
    async stop(): Promise<void> {
      await Promise.allSettled([...open].map((s) => s.close()));
      redis.disconnect();
      await server.stop();
    },
  };
}

async function listed(store: IpfsContentStore): Promise<Map<string, { writtenAt: number; bytes: number }>> {
  const out = new Map<string, { writtenAt: number; bytes: number }>();
  for await (const { cid, ...rest } of store.list()) out.set(cid, rest);
  return out;
}

const same = (a: Uint8Array | undefined, b: Uint8Array) => a !== undefined && Buffer.from(a).equals(Buffer.from(b));

describe('orchestrators sharing blobs', () => {
  let f: Awaited<ReturnType<typeof farm>>;
  beforeAll(async () => {
    f = await farm('peers');
  });
  afterAll(() => f?.stop());

  it('copies a blob to a peer before put returns, so it outlives the node that took it in', async () => {
    const a = await f.node();
    const b = await f.node();
    // Three chunks: a dag-pb root and its leaves all have to travel.
    const bytes = randomBytes(3 * CHUNK + 17);
    const cid = await a.put(bytes);
    expect(cid).toBe(await cidOfBytes(bytes));
    expect((await listed(a)).get(cid)?.bytes).toBe(bytes.length);
    // B never stored it, yet holds it (pinned) once A's put has returned.
    expect((await listed(b)).get(cid)?.bytes).toBe(bytes.length);
    await f.close(a);
    expect(same(await b.get(cid), bytes)).toBe(true);
  });

  it('sends a small blob with its announcement, and a peer keeps only what hashes to the CID announced', async () => {
    const a = await f.node();
    const b = await f.node(1000);
    const heard: { channel: string; message: { cid: string; bytes?: string } }[] = [];
    const sub = f.redis.duplicate();
    try {
      sub.on('message', (channel: string, message: string) => heard.push({ channel, message: JSON.parse(message) }));
      await sub.subscribe(keys.ipfsStored, keys.ipfsHeld);
      // Announced as another node would, with bytes that are not the blob its CID names.
      const forgedCid = await cidOfBytes(randomBytes(1000));
      const junk = randomBytes(1000);
      await f.redis.publish(keys.ipfsStored, JSON.stringify({ cid: forgedCid, from: 'a-forger', bytes: junk.toString('base64') }));
      // And one whose bytes are the blob, from a node that is not there: B can have it from the announcement alone.
      const genuine = randomBytes(1000);
      const genuineCid = await cidOfBytes(genuine);
      await f.redis.publish(keys.ipfsStored, JSON.stringify({ cid: genuineCid, from: 'gone', bytes: genuine.toString('base64') }));
      await waitFor(async () => (await listed(b)).has(genuineCid), 5000, 'B to store the blob announced with its bytes');
      expect(same(await b.get(genuineCid), genuine)).toBe(true);
      // Copied by every other node (a node of an earlier test may be the one A's put waited for).
      const copiedToB = (cid: string, bytes: number) =>
        waitFor(async () => (await listed(b)).get(cid)?.bytes === bytes, 5000, 'B to hold the blob');
      const small = randomBytes(PUSHED_MAX_BYTES);
      const cid = await a.put(small);
      await copiedToB(cid, small.length);
      const stored = heard.find((h) => h.channel === keys.ipfsStored && h.message.cid === cid);
      expect(Buffer.from(stored?.message.bytes ?? '', 'base64').equals(small)).toBe(true);
      // B handled the forgery before A's announcement (in order on one channel), and refused it.
      expect((await listed(b)).has(forgedCid)).toBe(false);
      // Not a block of it kept either: B has nothing under the junk's own CID to serve.
      expect(await b.get(await cidOfBytes(junk))).toBeUndefined();
      const held = heard.filter((h) => h.channel === keys.ipfsHeld).map((h) => h.message.cid);
      expect(held).toEqual(expect.arrayContaining([cid, genuineCid]));
      expect(held).not.toContain(forgedCid);
      // A bigger blob is announced without its bytes (its peers fetch it over bitswap).
      const big = randomBytes(PUSHED_MAX_BYTES + 1);
      const bigCid = await a.put(big);
      await copiedToB(bigCid, big.length);
      expect(heard.find((h) => h.channel === keys.ipfsStored && h.message.cid === bigCid)?.message.bytes).toBeUndefined();
    } finally {
      sub.disconnect();
    }
  });

  it('does not copy a blob stored again within a minute (nor past the blob grace), unless it was removed here meanwhile', async () => {
    const a = await f.node();
    await f.node();
    const announced: string[] = [];
    const sub = f.redis.duplicate();
    try {
      sub.on('message', (_channel: string, message: string) => announced.push(JSON.parse(message).cid));
      await sub.subscribe(keys.ipfsStored);
      const bytes = randomBytes(CHUNK + 3);
      const cid = await a.put(bytes);
      // A tile's agreeing replica: the same bytes again, its copy already pinned at the peer.
      expect(await a.put(bytes)).toBe(cid);
      // Collected here, then stored again: copied again.
      const writtenAt = (await listed(a)).get(cid)?.writtenAt as number;
      await a.remove(cid, writtenAt);
      expect(await a.put(bytes)).toBe(cid);
      await waitFor(async () => announced.length >= 2, 2000, 'the second announcement');
      expect(announced).toEqual([cid, cid]);
      // Where a peer may collect an unreferenced copy at once (no blob grace), every store is copied.
      const graceless = await f.node(5000, undefined, 0);
      const other = randomBytes(CHUNK + 5);
      const otherCid = await graceless.put(other);
      await graceless.put(other);
      await waitFor(async () => announced.length >= 4, 2000, 'both announcements');
      expect(announced.slice(2)).toEqual([otherCid, otherCid]);
    } finally {
      sub.disconnect();
    }
  });

  it('fetches a blob it lacks, or its size, from a peer, without keeping it', async () => {
    const a = await f.node();
    const bytes = randomBytes(CHUNK + 1);
    const cid = await a.put(bytes);
    // C starts after the announce: it never copied the blob, so its get has to ask A.
    const c = await f.node();
    expect((await listed(c)).has(cid)).toBe(false);
    // Its size from its root block (what the gateway meters before it reads a blob).
    expect(await c.size(cid)).toBe(bytes.length);
    expect(same(await c.get(cid), bytes)).toBe(true);
    // Fetched for a moment, not pinned: collection here is A's and its copies' business.
    expect((await listed(c)).has(cid)).toBe(false);
  });

  it('misses quietly on a blob nobody has, within about the timeout, and on a malformed CID', async () => {
    const d = await f.node(1000);
    const nobody = await cidOfBytes(randomBytes(64));
    const started = Date.now();
    expect(await d.get(nobody)).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(4000);
    for (const bad of [
      '',
      'not a cid',
      'QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG',
      `b${'a'.repeat(58)}`,
      'bafy!!',
      'b'.repeat(101),
    ]) {
      expect(await d.get(bad), bad).toBeUndefined();
      expect(await d.size(bad), bad).toBeUndefined();
    }
    expect(await d.size(nobody)).toBeUndefined();
  });
});

// Each test closes its node, so the next one's has no peer to fetch a collected blob back from.
describe('an IPFS node outside the farm', () => {
  let f: Awaited<ReturnType<typeof farm>>;
  let other: Awaited<ReturnType<typeof farm>>;
  beforeAll(async () => {
    [f, other] = await Promise.all([farm('ours'), farm('outsider')]);
  });
  afterAll(() => Promise.all([f?.stop(), other?.stop()]));

  it('is not let in: it cannot read a blob (a result the gateway keeps from workers) over bitswap', async () => {
    const ours = await f.node();
    const bytes = randomBytes(CHUNK + 1);
    const cid = await ours.put(bytes);
    // A node of another farm that lists ours as its peer (it knows our address and peer id), so it dials us.
    const outsider = await other.node(1500);
    await other.redis.hset(keys.ipfsPeers, ours.peerId, (await f.redis.hget(keys.ipfsPeers, ours.peerId)) as string);
    await outsider.peering.connect();
    expect(await outsider.get(cid)).toBeUndefined();
    // A node of the farm reads it as before.
    expect(same(await (await f.node()).get(cid), bytes)).toBe(true);
  });
});

describe('a lone orchestrator collecting its blobs', () => {
  let f: Awaited<ReturnType<typeof farm>>;
  beforeAll(async () => {
    f = await farm('lone');
  });
  afterAll(() => f?.stop());

  it('removes a blob only at its listed writtenAt, and tidy deletes its blocks', async () => {
    const node = await f.node(1000);
    const gone = randomBytes(2 * CHUNK + 5);
    const kept = randomBytes(CHUNK + 5);
    const cid = await node.put(gone);
    const keptCid = await node.put(kept);
    const writtenAt = (await listed(node)).get(cid)?.writtenAt;
    expect(writtenAt).toBeGreaterThan(0);

    await node.remove(cid, (writtenAt as number) - 1);
    // A CID of the right shape that does not parse is no blob of this store: nothing happens.
    await expect(node.remove(`b${'a'.repeat(58)}`, writtenAt as number)).resolves.toBeUndefined();
    expect((await listed(node)).has(cid)).toBe(true);
    expect(same(await node.get(cid), gone)).toBe(true);

    await node.remove(cid, writtenAt as number);
    expect((await listed(node)).has(cid)).toBe(false);
    await node.tidy();
    expect(await node.get(cid)).toBeUndefined();
    // The pinned blob survives collection.
    expect((await listed(node)).has(keptCid)).toBe(true);
    expect(same(await node.get(keptCid), kept)).toBe(true);
    await f.close(node);
  });

  it('refreshes writtenAt on a put of stored bytes, so an older remove spares it', async () => {
    const node = await f.node(1000);
    const bytes = randomBytes(1000);
    const cid = await node.put(bytes);
    const first = (await listed(node)).get(cid)?.writtenAt as number;
    await new Promise((r) => setTimeout(r, 5));
    expect(await node.put(bytes)).toBe(cid);
    const entries = [...(await listed(node))].filter(([c]) => c === cid);
    expect(entries).toHaveLength(1);
    const second = entries[0][1].writtenAt;
    expect(second).toBeGreaterThan(first);
    // A collection that listed it before the second put must not take it.
    await node.remove(cid, first);
    await node.tidy();
    expect(same(await node.get(cid), bytes)).toBe(true);
    await f.close(node);
  });

  it('keeps a blob whose bytes are a chunk of another blob when that one is collected', async () => {
    const node = await f.node(1000);
    const big = randomBytes(2 * CHUNK + 5);
    const bigCid = await node.put(big);
    // Its first chunk, stored as a blob of its own: the same raw block as the big one's first leaf.
    const chunk = big.subarray(0, CHUNK);
    const chunkCid = await node.put(chunk);
    expect((await listed(node)).has(chunkCid)).toBe(true);
    await node.remove(bigCid, (await listed(node)).get(bigCid)?.writtenAt as number);
    await node.tidy();
    expect(await node.get(bigCid)).toBeUndefined();
    expect(same(await node.get(chunkCid), chunk)).toBe(true);
    await f.close(node);
  });

  it('keeps its blobs, pins and peer id across a restart', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'farm-ipfs-restart-'));
    const first = await f.node(1000, dataDir);
    const bytes = randomBytes(CHUNK + 3);
    const cid = await first.put(bytes);
    const { peerId } = first;
    await f.close(first);
    const again = await f.node(1000, dataDir);
    expect(again.peerId).toBe(peerId);
    expect((await listed(again)).get(cid)?.bytes).toBe(bytes.length);
    expect(same(await again.get(cid), bytes)).toBe(true);
  });

  it('moves a repo of a file per block and per record into LevelDB at start, blobs, pins and peer id kept', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'farm-ipfs-migrate-'));
    const first = await f.node(1000, dataDir);
    const bytes = randomBytes(CHUNK + 3);
    const cid = await first.put(bytes);
    const { peerId } = first;
    await f.close(first);
    // The same repo as the farm kept it before (blockstore-fs, datastore-fs), entry for entry.
    const ipfs = join(dataDir, 'ipfs');
    const [blocks, records] = [new LevelBlockstore(join(ipfs, 'blocks.level')), new LevelDatastore(join(ipfs, 'datastore.level'))];
    const [oldBlocks, oldRecords] = [new FsBlockstore(join(ipfs, 'blocks')), new FsDatastore(join(ipfs, 'datastore'))];
    await Promise.all([blocks.open(), records.open(), oldBlocks.open(), oldRecords.open()]);
    for await (const _ of oldBlocks.putMany(blocks.getAll()));
    for await (const _ of oldRecords.putMany(records.query({})));
    await Promise.all([blocks.close(), records.close(), oldBlocks.close(), oldRecords.close()]);
    await rm(join(ipfs, 'blocks.level'), { recursive: true });
    await rm(join(ipfs, 'datastore.level'), { recursive: true });

    const moved = await f.node(1000, dataDir);
    expect(moved.peerId).toBe(peerId);
    expect((await listed(moved)).get(cid)?.bytes).toBe(bytes.length);
    expect(same(await moved.get(cid), bytes)).toBe(true);
    expect(existsSync(join(ipfs, 'blocks')) || existsSync(join(ipfs, 'datastore'))).toBe(false);
    // Its repo is locked while it runs: a second orchestrator on the same directory is refused.
    await expect(f.node(1000, dataDir)).rejects.toThrow(/another orchestrator/);
    expect(same(await moved.get(cid), bytes)).toBe(true);
  });
});
