/**
 * Content ids as IPFS makes them: the UnixFS layout of Kubo's `ipfs add --cid-version 1` (raw
 * leaves, 256 KiB chunks, a balanced DAG of at most 174 links per node), so any IPFS node computes
 * the same CID for the same bytes. A blob of one chunk is its own raw block (`bafkrei…`); a bigger
 * one is a dag-pb root (`bafybei…`).
 *
 * Bytes travel between orchestrators and workers as CAR files (the trustless-gateway format, its
 * blocks in depth-first order, root first): `BlobAssembly` checks every block against its CID as it
 * arrives before it rebuilds the blob, so bytes from any orchestrator or gateway are as good as the
 * CID that names them; and a reader cut off part-way asks for the rest only (`carFrom`, the
 * gateway's `entity-bytes=from:*`), the blocks it has checked already kept.
 */
import { CarBlockIterator, CarIndexer, CarWriter } from '@ipld/car';
import * as dagPb from '@ipld/dag-pb';
import { BlackHoleBlockstore } from 'blockstore-core/black-hole';
import { MemoryBlockstore } from 'blockstore-core/memory';
import { exporter } from 'ipfs-unixfs-exporter';
import { type ImporterOptions, importBytes, type WritableStorage } from 'ipfs-unixfs-importer';
import { fixedSize } from 'ipfs-unixfs-importer/chunker';
import { balanced } from 'ipfs-unixfs-importer/layout';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { sha256 } from 'multiformats/hashes/sha2';

export const CAR_CONTENT_TYPE = 'application/vnd.ipld.car';

const CHUNK_BYTES = 262_144;
const LAYOUT: ImporterOptions = {
  cidVersion: 1,
  rawLeaves: true,
  reduceSingleLeafToSelf: true,
  chunker: fixedSize({ chunkSize: CHUNK_BYTES }),
  layout: balanced({ maxChildrenPerNode: 174 }),
};

/** Imports the bytes into `blockstore` (every block of their DAG) and returns their CID. */
export async function importInto(bytes: Uint8Array, blockstore: WritableStorage): Promise<CID> {
  return (await importBytes(bytes, blockstore, LAYOUT)).cid;
}

/** The CID of the bytes, in base32 (`bafk…` or `bafy…`). */
export async function cidOfBytes(bytes: Uint8Array): Promise<string> {
  // One chunk is its own raw block: its CID is its hash, without the importer's DAG machinery
  // (a tile's CID in 7 µs instead of 58: every upload computes one, on both sides).
  if (bytes.length <= CHUNK_BYTES) return CID.createV1(raw.code, await sha256.digest(bytes)).toString();
  return (await importInto(bytes, new BlackHoleBlockstore())).toString();
}

/** The links of a dag-pb node; none for a raw leaf. */
const linksOf = (cid: CID, block: Uint8Array): CID[] => (cid.code === dagPb.code ? dagPb.decode(block).Links.map((l) => l.Hash) : []);

/**
 * Where a CAR (carOf's) holds what a reader of the blob from any byte on needs: the end of its
 * header and, for each chunk in the blob's order, where it starts in the blob (`from`), where its
 * section starts in the CAR (`at`), and the sections ([start, end)) of the nodes above it.
 * Positions, not CIDs: a blob may hold the same chunk twice.
 */
export interface CarLayout {
  headerEnd: number;
  chunks: { from: number; at: number; above: [number, number][] }[];
}

/**
 * The bytes as a CAR of their DAG, rooted at their CID, its blocks in depth-first order (a node,
 * then each of its children's subtrees in turn; a block the DAG links twice is there twice), as a
 * trustless gateway sends `order=dfs`: a reader checks the DAG as it streams, and the blob's bytes
 * come in order. With its layout, for carFrom.
 */
export async function carOf(bytes: Uint8Array): Promise<{ cid: string; car: Uint8Array; layout: CarLayout }> {
  const blocks = new Map<string, Uint8Array>();
  const root = await importInto(bytes, {
    put: async (cid, block) => {
      blocks.set(cid.toString(), block as Uint8Array);
      return cid;
    },
  });
  const { writer, out } = CarWriter.create([root]);
  const chunks: Uint8Array[] = [];
  const collected = (async () => {
    for await (const chunk of out) chunks.push(chunk);
  })();
  // Each section written, in order: a chunk's start in the blob and the sections above it.
  const written: { from?: number; above: number[] }[] = [];
  let blobAt = 0;
  const put = async (cid: CID, above: number[]): Promise<void> => {
    const block = blocks.get(cid.toString()) as Uint8Array;
    const index = written.length;
    written.push(cid.code === raw.code ? { from: blobAt, above } : { above });
    if (cid.code === raw.code) blobAt += block.byteLength;
    await writer.put({ cid, bytes: block });
    for (const child of linksOf(cid, block)) await put(child, [...above, index]);
  };
  await put(root, []);
  await writer.close();
  await collected;
  const car = Buffer.concat(chunks);
  const sections: { offset: number; end: number }[] = [];
  for await (const s of await CarIndexer.fromBytes(car)) sections.push({ offset: s.offset, end: s.blockOffset + s.blockLength });
  const layout: CarLayout = {
    headerEnd: sections[0].offset,
    chunks: written.flatMap((w, i) =>
      w.from === undefined
        ? []
        : [{ from: w.from, at: sections[i].offset, above: w.above.map((k) => [sections[k].offset, sections[k].end]) }],
    ),
  };
  return { cid: root.toString(), car, layout };
}

/**
 * What of a blob's CAR a reader needs for the blob's bytes from byte `from` on — the trustless
 * gateway's `entity-bytes=from:*`: the CAR's header, the nodes on the way down to the chunk that
 * holds byte `from` (each checks the links below it), and the whole CAR from that chunk on (in
 * depth-first order, the rest of the blob and the nodes above it). Slices of `car`, not copies;
 * a search of the layout, not a read of the CAR.
 */
export function carFrom(car: Uint8Array, layout: CarLayout, from: number): Uint8Array[] {
  const { chunks } = layout;
  let lo = 0;
  let hi = chunks.length - 1;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (chunks[mid].from <= from) lo = mid;
    else hi = mid - 1;
  }
  const chunk = chunks[lo];
  return [car.subarray(0, layout.headerEnd), ...chunk.above.map(([start, end]) => car.subarray(start, end)), car.subarray(chunk.at)];
}

/** Why a CAR does not hold the blob its CID names. */
export class UnverifiedContent extends Error {
  constructor(message: string) {
    super(message);
    this.name = this.constructor.name;
  }
}

/**
 * A blob being rebuilt from CARs of its DAG: each block is checked against its CID as it arrives
 * (sha2-256 only) and kept, so that a CAR cut off part-way leaves what came before it usable, and
 * the rest (`from`: the bytes it holds in order) can be asked for. Throws UnverifiedContent when a
 * CAR is rooted elsewhere, a block is forged or missing, or the blob (or what its CARs carry, twice
 * it) would be over `maxBytes`.
 */
export class BlobAssembly {
  private readonly root: CID;
  /** Checked blocks by CID: the exporter reads them through `store`. */
  private readonly blocks = new Map<string, Uint8Array>();
  private readonly store = new MemoryBlockstore();
  private received = 0;

  constructor(
    readonly cid: string,
    private readonly maxBytes: number,
  ) {
    this.root = CID.parse(cid);
  }

  /** Checks and keeps the blocks of one CAR (a stream: a failure part-way keeps what came before it). */
  async add(car: Uint8Array | AsyncIterable<Uint8Array>): Promise<void> {
    try {
      const blocks = car instanceof Uint8Array ? await CarBlockIterator.fromBytes(car) : await CarBlockIterator.fromIterable(car);
      if (!(await blocks.getRoots()).some((r) => r.equals(this.root))) throw new UnverifiedContent(`the CAR is not rooted at ${this.cid}`);
      for await (const block of blocks) {
        this.received += block.bytes.length;
        if (this.received > this.maxBytes * 2)
          throw new UnverifiedContent(`the CARs for ${this.cid} carry more than ${this.maxBytes * 2} bytes`);
        if (block.cid.multihash.code !== sha256.code) throw new UnverifiedContent(`block ${block.cid} is not hashed with sha2-256`);
        const digest = await sha256.digest(block.bytes);
        if (!equalBytes(digest.bytes, block.cid.multihash.bytes))
          throw new UnverifiedContent(`block ${block.cid} does not hash to its CID`);
        this.blocks.set(block.cid.toString(), block.bytes);
        await this.store.put(block.cid, block.bytes);
      }
    } catch (e) {
      throw unverified(e, this.cid);
    }
  }

  /**
   * The bytes under each block it holds whole, and the chunks they are read from (null: not
   * whole), each block looked at once for one look: a DAG may link a node many times, and walking
   * every path (or exporting every copy) would take as long as a hostile gateway likes (a 9-KB CAR
   * held a worker for 47 s).
   */
  private sizes(): (cid: CID) => Size | null {
    const whole = new Map<string, Size | null>();
    const sizeOf = (cid: CID): Size | null => {
      const key = cid.toString();
      if (whole.has(key)) return whole.get(key) as Size | null;
      const block = this.blocks.get(key);
      let size: Size | null = null;
      if (block && cid.code === raw.code) size = { bytes: block.byteLength, chunks: 1 };
      else if (block) {
        const children = this.leading(cid, block, sizeOf);
        size = children.short ? null : children;
      }
      whole.set(key, size);
      return size;
    };
    return sizeOf;
  }

  /** The size of a node's children held whole before the first that is not, and that one. */
  private leading(cid: CID, block: Uint8Array, sizeOf: (cid: CID) => Size | null): Size & { short?: CID } {
    let bytes = 0;
    let chunks = 0;
    for (const child of linksOf(cid, block)) {
      const under = sizeOf(child);
      if (under === null) return { bytes, chunks, short: child };
      bytes += under.bytes;
      chunks += under.chunks;
    }
    return { bytes, chunks };
  }

  /** Bytes of the blob it holds in order from its start: where the rest begins. */
  from(): number {
    const sizeOf = this.sizes();
    // Down the one path where the held prefix ends: whole subtrees before it count whole.
    let held = 0;
    for (let cid: CID | undefined = this.root; cid; ) {
      const under = sizeOf(cid);
      if (under !== null) return held + under.bytes;
      const block = this.blocks.get(cid.toString());
      if (!block) return held;
      const children = this.leading(cid, block, sizeOf);
      held += children.bytes;
      cid = children.short;
    }
    return held;
  }

  /**
   * The blob, once every block of it came. Its size is counted first: a DAG over `maxBytes`, or read
   * from more chunks than the layout cuts it into (256 KiB each: a node linked many times is read
   * as many times), is not exported.
   */
  async bytes(): Promise<Uint8Array> {
    try {
      const size = this.sizes()(this.root);
      if (size === null) throw new UnverifiedContent(`the CARs for ${this.cid} lack some of its blocks`);
      if (size.bytes > this.maxBytes) throw new UnverifiedContent(`${this.cid} is ${size.bytes} bytes, more than ${this.maxBytes}`);
      if (size.chunks > Math.max(1, Math.ceil(size.bytes / CHUNK_BYTES)))
        throw new UnverifiedContent(`${this.cid} is read from ${size.chunks} chunks for ${size.bytes} bytes: not the layout of a blob`);
      const entry = await exporter(this.root, this.store);
      if (entry.type !== 'file' && entry.type !== 'raw') throw new UnverifiedContent(`${this.cid} is a ${entry.type}, not a file`);
      if (Number(entry.size) !== size.bytes)
        throw new UnverifiedContent(`${this.cid} says it is ${entry.size} bytes, its blocks hold ${size.bytes}`);
      const parts: Uint8Array[] = [];
      for await (const part of entry.content()) parts.push(part);
      return Buffer.concat(parts);
    } catch (e) {
      throw unverified(e, this.cid);
    }
  }
}

/** Bytes under a block, and the chunks (raw leaves, each copy) they are read from. */
interface Size {
  bytes: number;
  chunks: number;
}

const unverified = (e: unknown, cid: string): UnverifiedContent =>
  e instanceof UnverifiedContent ? e : new UnverifiedContent(`the CAR for ${cid} is not its content: ${(e as Error).message}`);

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
