/**
 * The IPFS content store: a Helia node inside the orchestrator, blocks and pins on disk
 * (ipfs-repo.ts: LevelDB under <dataDir>/ipfs), speaking bitswap over libp2p TCP to the
 * farm's other orchestrators and to nothing else (no public bootstrap, DHT or gateways). A blob
 * is imported in the UnixFS layout (shared/unixfs.ts) and pinned; a blob this node lacks is
 * fetched from its peers, every block checked against its CID by bitswap. Each store is copied
 * to the other orchestrators before put() returns (ipfs-peering.ts: a small one sent along with
 * its announcement), so an orchestrator may die with blobs no other had yet fetched; a blob
 * stored again within a minute is not copied again.
 */
import './promise-with-resolvers.ts';
import { join } from 'node:path';
import { withBitswap } from '@helia/bitswap';
import { withLibp2pLight } from '@helia/libp2p';
import { identify } from '@libp2p/identify';
import { noise } from '@libp2p/noise';
import { tcp } from '@libp2p/tcp';
import { yamux } from '@libp2p/yamux';
import { multiaddr } from '@multiformats/multiaddr';
import { createHeliaLight } from 'helia';
import type { Redis } from 'ioredis';
import { exporter } from 'ipfs-unixfs-exporter';
import { createUnsafe } from 'multiformats/block';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import type { Logger } from 'pino';
import { CID_PATTERN } from '../../shared/protocol.ts';
import { cidOfBytes, importInto } from '../../shared/unixfs.ts';
import { IpfsPeering, isFarmNode } from './ipfs-peering.ts';
import { closeRepo, openRepo, type Repo } from './ipfs-repo.ts';
import type { ContentStore } from './store.ts';

export interface IpfsStoreOptions {
  dataDir: string;
  /** libp2p listen address, e.g. /ip4/127.0.0.1/tcp/4001. */
  listen: string;
  redis: Redis;
  log: Logger;
  /** How long a fetch from peers, or a copy to them, may take. */
  timeoutMs: number;
  /** How long a blob nothing refers to is kept (retention): a peer's copy is safe at least this long. */
  blobGraceMs: number;
  /** Orchestrators that hold each blob, this one included (as many as are alive, at most). */
  copies: number;
}

export async function startIpfsStore(opts: IpfsStoreOptions): Promise<IpfsContentStore> {
  const repo = await openRepo(join(opts.dataDir, 'ipfs'), opts.log);
  const helia = createNode(opts.listen, repo, (peer) => isFarmNode(opts.redis, peer));
  try {
    await helia.start();
  } catch (e) {
    await Promise.allSettled([helia.stop(), closeRepo(repo)]);
    throw e;
  }
  // Made once the node listens: its peering announces the addresses it got.
  const store = new IpfsContentStore(helia, repo, opts);
  await store.peering.start().catch(async (e) => {
    await store.close().catch(() => undefined);
    throw e;
  });
  opts.log.info({ peer: store.peerId, addrs: helia.libp2p.getMultiaddrs().map(String) }, 'ipfs node started');
  return store;
}

/**
 * Helia with bitswap over libp2p TCP, and nothing else, connected only to the farm's own nodes
 * (`farmNode`, by the peer id each proved in the handshake): bitswap serves any block to any peer
 * it is connected to and sends its wants to all of them, so an outsider let in could read any blob
 * (a result, which the gateway keeps from workers), learn the CIDs the nodes copy, and answer their
 * wants with blocks that fail the hash check, which fails the whole fetch.
 */
function createNode(listen: string, repo: Repo, farmNode: (peer: string) => Promise<boolean>) {
  const outsider = async (peer: { toString(): string }) => !(await farmNode(peer.toString()));
  return withBitswap(
    withLibp2pLight(createHeliaLight(repo), {
      addresses: { listen: [listen] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionGater: { denyInboundEncryptedConnection: outsider, denyOutboundEncryptedConnection: outsider },
      // Given, so that none of the defaults (mDNS, public bootstrap, DHT, relays) come back.
      peerDiscovery: [],
      services: { identify: identify() },
    }),
  );
}

type Node = ReturnType<typeof createNode>;
type PinWalker = NonNullable<NonNullable<Parameters<Node['pins']['add']>[1]>['walker']>;

/**
 * A walk of a one-block blob whose bytes are in hand: Helia's own walker would read the block back
 * from disk (four filesystem calls; a small blob stored here 2.2 → 1.6 ms of CPU). Cast: Helia types a
 * walker generic in the decoded value, and a raw block's is its bytes.
 */
const rawBlockInHand = (cid: CID, bytes: Uint8Array): PinWalker =>
  (() => ({
    async *walk() {
      yield { block: createUnsafe({ cid, bytes, codec: raw }), depth: 0, path: [cid] };
    },
  })) as unknown as PinWalker;

/**
 * A blob stored again soon after it was copied to enough peers (a tile's agreeing replica, a
 * scene sent twice) is not copied again for this long, nor longer than the blob grace (a peer
 * keeps its pinned copy at least that long even while nothing refers to it).
 */
const COPIED_LATELY_MS = 60_000;

export class IpfsContentStore implements ContentStore {
  readonly peering: IpfsPeering;
  /** Stores, copies and removals under way: garbage collection waits for them, and they for it. */
  private readonly writes = new Set<Promise<unknown>>();
  private collecting?: Promise<unknown>;
  /** The last operation on each blob's pin: a store and a removal of one blob never interleave. */
  private readonly pinQueue = new Map<string, Promise<unknown>>();
  /** When a pinned blob was stored again (its pin is kept, not rewritten): collection spares it. */
  private readonly rewrittenAt = new Map<string, number>();
  /** When (performance.now()) each blob stored lately was copied to enough peers, oldest first (COPIED_LATELY_MS). */
  private readonly copiedAt = new Map<string, number>();

  constructor(
    private readonly helia: Node,
    /** Helia stops without closing it: LevelDB's lock stays until it is closed. */
    private readonly repo: Repo,
    private readonly opts: IpfsStoreOptions,
  ) {
    this.peering = new IpfsPeering({
      redis: opts.redis,
      log: opts.log,
      self: helia.libp2p.peerId.toString(),
      addrs: helia.libp2p.getMultiaddrs().map(String),
      dial: async (addrs) => {
        await helia.libp2p.dial(
          addrs.map((a) => multiaddr(a)),
          { signal: AbortSignal.timeout(opts.timeoutMs) },
        );
      },
      copy: (cid, pushed) =>
        this.writing(async () => {
          const parsed = CID.parse(cid);
          // Redis is the farm's own, yet bytes are taken only under the CID they hash to (a raw
          // block's: the pushed blob is one chunk); others are fetched over bitswap instead.
          if (pushed !== undefined && (await cidOfBytes(pushed)) === cid) {
            await this.helia.blockstore.put(parsed, pushed);
            await this.pin(parsed, pushed);
          } else await this.pin(parsed, await this.read(parsed));
        }),
    });
  }

  /** This node's peer id (stable across restarts: it lives in the datastore). */
  get peerId(): string {
    return this.helia.libp2p.peerId.toString();
  }

  get scope(): string {
    return this.peerId;
  }

  async put(bytes: Uint8Array): Promise<string> {
    const cid = await this.writing(async () => {
      const imported = await importInto(bytes, this.helia.blockstore);
      await this.pin(imported, bytes);
      return imported;
    });
    const id = cid.toString();
    if (this.copiedLately(id)) return id;
    const wanted = this.opts.copies - 1;
    if ((await this.peering.replicate(id, bytes, wanted, this.opts.timeoutMs)) >= wanted) this.rememberCopied(id);
    return id;
  }

  async get(cid: string): Promise<Uint8Array | undefined> {
    const parsed = parseCid(cid);
    if (!parsed) return undefined;
    if (!(await this.helia.blockstore.has(parsed))) await this.peering.connect();
    return this.read(parsed).catch((err) => {
      this.opts.log.warn({ cid, err: (err as Error).message }, 'blob not found here or at any peer');
      return undefined;
    });
  }

  /** From the blob's root block alone (a UnixFS file names its size), fetched from a peer if need be. */
  async size(cid: string): Promise<number | undefined> {
    const parsed = parseCid(cid);
    if (!parsed) return undefined;
    if (!(await this.helia.blockstore.has(parsed))) await this.peering.connect();
    try {
      const entry = await exporter(parsed, this.helia.blockstore, { signal: AbortSignal.timeout(this.opts.timeoutMs) });
      return entry.type === 'file' || entry.type === 'raw' ? Number(entry.size) : undefined;
    } catch {
      return undefined;
    }
  }

  async *list(): AsyncIterable<{ cid: string; writtenAt: number; bytes: number }> {
    for await (const pin of this.helia.pins.ls()) {
      const cid = pin.cid.toString();
      yield { cid, writtenAt: this.writtenAt(cid, pin.metadata), bytes: Number(pin.metadata.bytes ?? 0) };
    }
  }

  async remove(cid: string, writtenAt: number): Promise<void> {
    const parsed = parseCid(cid);
    if (!parsed) return;
    await this.writing(() =>
      this.onPin(cid, async () => {
        const pin = await this.helia.pins.get(parsed).catch(() => undefined);
        if (!pin || this.writtenAt(cid, pin.metadata) !== writtenAt) return;
        for await (const _ of this.helia.pins.rm(parsed));
        this.rewrittenAt.delete(cid);
        this.copiedAt.delete(cid);
      }),
    );
  }

  private get copiedLatelyMs(): number {
    return Math.min(COPIED_LATELY_MS, this.opts.blobGraceMs);
  }

  private copiedLately(cid: string): boolean {
    const at = this.copiedAt.get(cid);
    return at !== undefined && performance.now() - at < this.copiedLatelyMs;
  }

  private rememberCopied(cid: string): void {
    const now = performance.now();
    this.copiedAt.delete(cid);
    this.copiedAt.set(cid, now);
    for (const [old, at] of this.copiedAt) {
      if (now - at < this.copiedLatelyMs) break;
      this.copiedAt.delete(old);
    }
  }

  /** Deletes the blocks no pin holds (collected blobs, and copies fetched for a moment). */
  async tidy(): Promise<number> {
    while (this.collecting) await this.collecting;
    this.collecting = (async () => {
      await Promise.allSettled([...this.writes]);
      await this.helia.gc();
    })();
    try {
      await this.collecting;
    } finally {
      this.collecting = undefined;
    }
    return 0;
  }

  /** After the stores, copies and collection under way; the repo is closed (its lock let go) whatever fails before. */
  async close(): Promise<void> {
    try {
      await this.peering.stop();
      await Promise.allSettled([...this.writes, this.collecting]);
      await this.helia.stop();
    } finally {
      await closeRepo(this.repo);
    }
  }

  /** The blob's bytes, from this node's blocks or its peers', within the timeout. */
  private async read(cid: CID): Promise<Uint8Array> {
    const signal = AbortSignal.timeout(this.opts.timeoutMs);
    const entry = await exporter(cid, this.helia.blockstore, { signal });
    if (entry.type !== 'file' && entry.type !== 'raw') throw new Error(`${cid} is a ${entry.type}, not a file`);
    const parts: Uint8Array[] = [];
    for await (const part of entry.content({ signal })) parts.push(part);
    return Buffer.concat(parts);
  }

  /**
   * Pins the blob, stored here, its `bytes` in hand; one pinned already is noted as written again
   * now. Its own pin, even where its block is pinned already as a chunk of a bigger blob
   * (pins.isPinned would say so): collecting that one must not take this one with it.
   */
  private pin(cid: CID, bytes: Uint8Array): Promise<void> {
    const key = cid.toString();
    const walker = cid.code === raw.code ? rawBlockInHand(cid, bytes) : undefined;
    return this.onPin(key, async () => {
      try {
        for await (const _ of this.helia.pins.add(cid, { metadata: { writtenAt: Date.now(), bytes: bytes.length }, walker }));
      } catch (e) {
        if ((e as Error).name !== 'AlreadyPinnedError') throw e;
        this.rewrittenAt.set(key, Date.now());
      }
    });
  }

  /** When a pinned blob was last written: its pin's time, or a later store of the same bytes. */
  private writtenAt(cid: string, metadata: Record<string, unknown>): number {
    return Math.max(Number(metadata.writtenAt ?? 0), this.rewrittenAt.get(cid) ?? 0);
  }

  /** Runs a store, copy or removal, after any garbage collection under way and before the next. */
  private async writing<T>(fn: () => Promise<T>): Promise<T> {
    while (this.collecting) await this.collecting;
    const run = fn();
    this.writes.add(run);
    try {
      return await run;
    } finally {
      this.writes.delete(run);
    }
  }

  /** Runs `fn` after the blob's previous pin operation. */
  private onPin<T>(cid: string, fn: () => Promise<T>): Promise<T> {
    const run = (this.pinQueue.get(cid) ?? Promise.resolve()).then(fn, fn);
    const settled = run.catch(() => undefined);
    this.pinQueue.set(cid, settled);
    void settled.then(() => {
      if (this.pinQueue.get(cid) === settled) this.pinQueue.delete(cid);
    });
    return run;
  }
}

/** A CID of the farm's shape that parses, else undefined (ids from outside are checked, never trusted). */
function parseCid(cid: string): CID | undefined {
  if (!CID_PATTERN.test(cid)) return undefined;
  try {
    return CID.parse(cid);
  } catch {
    return undefined;
  }
}
