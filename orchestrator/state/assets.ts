/**
 * The CIDs uploaded as scene assets (PUT /api/assets, a glTF import, a sample scene's parts),
 * each with its size and when it was last uploaded. Asking whether an asset is stored, and a
 * scene naming one, go through this index, never the content store: the store also holds
 * results and the known answers of spot checks, and answering for those would let a worker ask
 * whether the tile it holds has been answered before — a spot check told apart from real work.
 */
import { keys } from './keys.ts';
import { runScript } from './lua/scripts.ts';
import type { FarmRedis } from './redis.ts';

export class AssetIndex {
  constructor(private readonly redis: FarmRedis) {}

  /** Records an asset once its blob is stored. */
  async record(cid: string, bytes: number, now = Date.now()): Promise<void> {
    await this.redis.hset(keys.assets, cid, `${now} ${bytes}`);
  }

  /** The asset's size, or undefined when no asset has that CID. */
  async size(cid: string): Promise<number | undefined> {
    const entry = await this.redis.hget(keys.assets, cid);
    return entry ? Number(entry.split(' ')[1]) : undefined;
  }

  /** The sizes of those of `cids` that are assets, in one round trip. */
  async sizes(cids: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    if (cids.length === 0) return out;
    const entries = await this.redis.hmget(keys.assets, ...cids);
    cids.forEach((cid, i) => {
      const entry = entries[i];
      if (entry) out.set(cid, Number(entry.split(' ')[1]));
    });
    return out;
  }

  /** After blob collection removed its blob: forgets it unless it was uploaded again since `collectionStart`. */
  async forget(cid: string, collectionStart: number): Promise<boolean> {
    return (await runScript(this.redis, 'asset-forget', [keys.assets], [cid, collectionStart])) === 1;
  }
}
