/**
 * Content ids as IPFS makes them: the UnixFS layout of Kubo's `ipfs add --cid-version 1` (raw
 * leaves, 256 KiB chunks, a balanced DAG of at most 174 links per node), so any IPFS node computes
 * the same CID for the same bytes. A blob of one chunk is its own raw block (`bafkrei…`); a bigger
 * one is a dag-pb root (`bafybei…`).
 *
 * Bytes travel between orchestrators and workers as CAR files (the trustless-gateway format):
 * `bytesFromCar` checks every block against its CID before it rebuilds the blob, so bytes from any
 * orchestrator or gateway are as good as the CID that names them.
 */
import { CarBlockIterator, CarWriter } from '@ipld/car';
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

/** The bytes as a CAR of their DAG, rooted at their CID. */
export async function carOf(bytes: Uint8Array): Promise<{ cid: string; car: Uint8Array }> {
  const blocks: { cid: CID; bytes: Uint8Array }[] = [];
  const root = await importInto(bytes, {
    put: async (cid, block) => {
      blocks.push({ cid, bytes: block as Uint8Array });
      return cid;
    },
  });
  const { writer, out } = CarWriter.create([root]);
  const chunks: Uint8Array[] = [];
  const collected = (async () => {
    for await (const chunk of out) chunks.push(chunk);
  })();
  // Root first, as a trustless gateway sends it: a reader can check the DAG as it streams.
  for (const block of blocks.reverse()) await writer.put(block);
  await writer.close();
  await collected;
  return { cid: root.toString(), car: Buffer.concat(chunks) };
}

/** Why a CAR does not hold the blob its CID names. */
export class UnverifiedContent extends Error {
  constructor(message: string) {
    super(message);
    this.name = this.constructor.name;
  }
}

/**
 * The blob `cid` names, rebuilt from a CAR whose every block is checked against its own CID
 * (sha2-256 only); throws UnverifiedContent when a block is forged, missing, or the blob would be
 * over `maxBytes`.
 */
export async function bytesFromCar(car: Uint8Array, cid: string, maxBytes: number): Promise<Uint8Array> {
  const root = CID.parse(cid);
  const store = new MemoryBlockstore();
  try {
    const blocks = await CarBlockIterator.fromBytes(car);
    if (!(await blocks.getRoots()).some((r) => r.equals(root))) throw new UnverifiedContent(`the CAR is not rooted at ${cid}`);
    let received = 0;
    for await (const block of blocks) {
      received += block.bytes.length;
      if (received > maxBytes * 2) throw new UnverifiedContent(`the CAR for ${cid} carries more than ${maxBytes * 2} bytes`);
      if (block.cid.multihash.code !== sha256.code) throw new UnverifiedContent(`block ${block.cid} is not hashed with sha2-256`);
      const digest = await sha256.digest(block.bytes);
      if (!equalBytes(digest.bytes, block.cid.multihash.bytes)) throw new UnverifiedContent(`block ${block.cid} does not hash to its CID`);
      await store.put(block.cid, block.bytes);
    }
    const entry = await exporter(root, store);
    if (entry.type !== 'file' && entry.type !== 'raw') throw new UnverifiedContent(`${cid} is a ${entry.type}, not a file`);
    if (Number(entry.size) > maxBytes) throw new UnverifiedContent(`${cid} is ${entry.size} bytes, more than ${maxBytes}`);
    const parts: Uint8Array[] = [];
    for await (const part of entry.content()) parts.push(part);
    return Buffer.concat(parts);
  } catch (e) {
    if (e instanceof UnverifiedContent) throw e;
    throw new UnverifiedContent(`the CAR for ${cid} is not its content: ${(e as Error).message}`);
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
