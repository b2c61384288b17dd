/**
 * How the farm's IPFS nodes (one per orchestrator) find and copy each other, through the farm's
 * Redis: each says where it listens (`farm:ipfs:peers`, refreshed every few seconds, forgotten
 * when stale) and dials the others; a blob one stores is announced on `farm:ipfs:stored`, every
 * other node copies it and says so on `farm:ipfs:held`, so a blob outlives the orchestrator that
 * took it in. A small blob (a tile's result) travels with its announcement, checked against its
 * CID by each node that stores it; a bigger one is fetched over bitswap.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { z } from 'zod';
import { safeJson } from '../../shared/safe-json.ts';
import { keys } from '../state/keys.ts';

/** A node that has not refreshed its entry for this long is gone. */
const ALIVE_MS = 15_000;
const REFRESH_MS = 3_000;

/**
 * Blobs up to this size travel with their announcement instead of over bitswap: a put copied to
 * one peer over bitswap cost 13 ms of CPU in all, 4 ms with the blob in its announcement (a tile's
 * result of 272 bytes). Big enough for a result of a tile up to 127 px (a 64-px one is 16 KiB);
 * small enough that a subscriber's backlog of them stays far from Redis's limits for one (by
 * default a subscriber 32 MB behind, or 8 MB behind for a minute, is disconnected: hundreds of
 * these, at most 87 KB each in base64). A node that falls behind that far misses the announcements
 * meanwhile: the nodes that heard them copy them, and a put none answered returns after the
 * timeout with fewer copies, logged.
 */
export const PUSHED_MAX_BYTES = 65_536;
const PeerEntry = z.object({ addrs: z.array(z.string()).max(16), at: z.number() });
const Stored = z.object({
  cid: z.string().max(120),
  from: z.string().max(100),
  /** The blob itself, base64, when it is at most PUSHED_MAX_BYTES. */
  bytes: z
    .string()
    .max(Math.ceil(PUSHED_MAX_BYTES / 3) * 4)
    .optional(),
});
const Held = z.object({ cid: z.string().max(120), by: z.string().max(100) });

export interface PeeringDeps {
  redis: Redis;
  log: Logger;
  /** This node's peer id and listen addresses. */
  self: string;
  addrs: string[];
  /** Connects to a peer (idempotent: an open connection is reused). */
  dial(addrs: string[]): Promise<void>;
  /** Copies a blob another node stored (`pushed`: its bytes came with the announcement, unchecked); resolves once this node holds it. */
  copy(cid: string, pushed: Uint8Array | undefined): Promise<void>;
}

/** A node's entry in `farm:ipfs:peers`, if it is one of a node alive now. */
function liveEntry(json: string | null, now: number): z.infer<typeof PeerEntry> | undefined {
  const entry = json === null ? undefined : PeerEntry.safeParse(safeJson(json));
  return entry?.success && now - entry.data.at < ALIVE_MS ? entry.data : undefined;
}

/**
 * Whether `peer` is one of the farm's nodes alive now: listed by its orchestrator in the farm's
 * Redis, which outsiders cannot write (a dead one's key, left on its disk, opens nothing).
 */
export const isFarmNode = async (redis: Redis, peer: string): Promise<boolean> =>
  liveEntry(await redis.hget(keys.ipfsPeers, peer), Date.now()) !== undefined;

export class IpfsPeering {
  private readonly subscriber: Redis;
  private readonly waiting = new Map<string, { by: Set<string>; need: number; held: Promise<void>; done: () => void }>();
  private timer?: NodeJS.Timeout;

  constructor(private readonly deps: PeeringDeps) {
    this.subscriber = deps.redis.duplicate();
  }

  async start(): Promise<void> {
    this.subscriber.on('message', (channel, message) => this.heard(channel, message));
    await this.subscriber.subscribe(keys.ipfsStored, keys.ipfsHeld);
    await this.refresh();
    this.timer = setInterval(
      () => void this.refresh().catch((err) => this.deps.log.warn({ err: err.message }, 'ipfs peering refresh failed')),
      REFRESH_MS,
    );
  }

  /** The other nodes alive now: peer id → addresses. */
  async peers(): Promise<Map<string, string[]>> {
    const now = Date.now();
    const out = new Map<string, string[]>();
    for (const [id, json] of Object.entries(await this.deps.redis.hgetall(keys.ipfsPeers))) {
      const entry = liveEntry(json, now);
      if (id !== this.deps.self && entry) out.set(id, entry.addrs);
    }
    return out;
  }

  /** Dials every other live node. */
  async connect(): Promise<void> {
    await Promise.all(
      [...(await this.peers()).values()].map((addrs) =>
        this.deps.dial(addrs).catch((err) => this.deps.log.debug({ addrs, err: err.message }, 'ipfs peer unreachable')),
      ),
    );
  }

  /**
   * Announces a stored blob (`bytes`: the blob, sent along when small) and waits until `copies`
   * other nodes hold it (as many as are alive, at most), or `timeoutMs`; returns how many said they do.
   */
  async replicate(cid: string, bytes: Uint8Array, copies: number, timeoutMs: number): Promise<number> {
    const need = Math.min(copies, (await this.peers()).size);
    if (need <= 0) return 0;
    let wait = this.waiting.get(cid);
    if (!wait) {
      const by = new Set<string>();
      let done: () => void = () => undefined;
      const held = new Promise<void>((resolve) => {
        done = resolve;
      });
      wait = { by, need, held, done };
      this.waiting.set(cid, wait);
      const pushed = bytes.length <= PUSHED_MAX_BYTES ? Buffer.from(bytes).toString('base64') : undefined;
      await this.deps.redis.publish(keys.ipfsStored, JSON.stringify({ cid, from: this.deps.self, bytes: pushed }));
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([wait.held, new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    this.waiting.delete(cid);
    if (wait.by.size < need)
      this.deps.log.warn({ cid, copies: wait.by.size, wanted: need }, 'blob not copied to enough orchestrators in time');
    return wait.by.size;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.deps.redis.hdel(keys.ipfsPeers, this.deps.self).catch(() => undefined);
    this.subscriber.disconnect();
  }

  private async refresh(): Promise<void> {
    await this.deps.redis.hset(keys.ipfsPeers, this.deps.self, JSON.stringify({ addrs: this.deps.addrs, at: Date.now() }));
    await this.connect();
  }

  private heard(channel: string, message: string): void {
    if (channel === keys.ipfsStored) {
      const stored = Stored.safeParse(safeJson(message));
      if (!stored.success || stored.data.from === this.deps.self) return;
      const { bytes } = stored.data;
      void this.deps
        .copy(stored.data.cid, bytes === undefined ? undefined : Buffer.from(bytes, 'base64'))
        .then(() => this.deps.redis.publish(keys.ipfsHeld, JSON.stringify({ cid: stored.data.cid, by: this.deps.self })))
        .catch((err) => this.deps.log.warn({ cid: stored.data.cid, err: err.message }, 'could not copy a blob from a peer'));
    } else if (channel === keys.ipfsHeld) {
      const held = Held.safeParse(safeJson(message));
      const wait = held.success ? this.waiting.get(held.data.cid) : undefined;
      if (!wait || !held.success) return;
      wait.by.add(held.data.by);
      if (wait.by.size >= wait.need) wait.done();
    }
  }
}
