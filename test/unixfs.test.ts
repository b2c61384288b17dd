/**
 * Content ids in Kubo's UnixFS layout, and CARs checked block by block: the same bytes get the
 * CID `ipfs add --cid-version 1` gives them, a CAR round-trips, and a CAR that does not hold the
 * blob its CID names (forged, foreign, truncated, garbage, too big) is refused. CARs come in
 * depth-first order, and a reader cut off part-way gets the rest from any byte on (`carFrom`).
 */
import { randomBytes } from 'node:crypto';
import { CarBlockIterator, CarWriter } from '@ipld/car';
import * as dagPb from '@ipld/dag-pb';
import { BlackHoleBlockstore } from 'blockstore-core/black-hole';
import fc from 'fast-check';
import { UnixFS } from 'ipfs-unixfs';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { identity } from 'multiformats/hashes/identity';
import { sha256 } from 'multiformats/hashes/sha2';
import { describe, expect, it } from 'vitest';
import { BlobAssembly, carFrom, carOf, cidOfBytes, importInto, UnverifiedContent } from '../shared/unixfs.ts';

const CHUNK = 262_144;
const BIG = 10_000_000;
const DAG_PB = 0x70;

/** The CID Kubo gives a one-chunk blob, computed without the importer. */
const rawCid = async (bytes: Uint8Array) => CID.createV1(raw.code, await sha256.digest(bytes)).toString();

async function blocksOf(car: Uint8Array): Promise<{ roots: CID[]; blocks: { cid: CID; bytes: Uint8Array }[] }> {
  const it = await CarBlockIterator.fromBytes(car);
  const blocks: { cid: CID; bytes: Uint8Array }[] = [];
  for await (const b of it) blocks.push(b);
  return { roots: await it.getRoots(), blocks };
}

async function writeCar(roots: CID[], blocks: { cid: CID; bytes: Uint8Array }[]): Promise<Uint8Array> {
  const { writer, out } = CarWriter.create(roots);
  const chunks: Uint8Array[] = [];
  const collected = (async () => {
    for await (const c of out) chunks.push(c);
  })();
  for (const b of blocks) await writer.put(b);
  await writer.close();
  await collected;
  return Buffer.concat(chunks);
}

/** The blob `cid` names, rebuilt from one CAR. */
async function bytesFromCar(car: Uint8Array, cid: string, maxBytes: number): Promise<Uint8Array> {
  const blob = new BlobAssembly(cid, maxBytes);
  await blob.add(car);
  return blob.bytes();
}

/** Resolves to the error bytesFromCar threw, failing the test if it returned bytes. */
async function refusal(car: Uint8Array, cid: string, maxBytes = BIG): Promise<Error> {
  const e = await bytesFromCar(car, cid, maxBytes).then(
    () => undefined,
    (err: Error) => err,
  );
  if (!e) throw new Error('the CAR was accepted');
  return e;
}

describe('CIDs as Kubo makes them', () => {
  it('names a blob of one chunk by the raw sha2-256 CID of its bytes', async () => {
    expect(await cidOfBytes(new Uint8Array())).toBe('bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku');
    for (const size of [1, 1000, CHUNK - 1, CHUNK]) {
      const bytes = randomBytes(size);
      expect(await cidOfBytes(bytes), `size ${size}`).toBe(await rawCid(bytes));
    }
  });

  it("gives every size the importer's CID (one chunk is named without it)", async () => {
    const importer = async (bytes: Uint8Array) => (await importInto(bytes, new BlackHoleBlockstore())).toString();
    for (const size of [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK]) {
      const bytes = randomBytes(size);
      expect(await cidOfBytes(bytes), `size ${size}`).toBe(await importer(bytes));
    }
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 4096 }), async (bytes) => {
        expect(await cidOfBytes(bytes)).toBe(await importer(bytes));
      }),
      { numRuns: 200 },
    );
  });

  it('names a bigger blob by a dag-pb root over raw 256 KiB leaves', async () => {
    const bytes = randomBytes(2 * CHUNK + 1);
    const cid = await cidOfBytes(bytes);
    expect(cid).toMatch(/^bafybei/);
    expect(CID.parse(cid).code).toBe(DAG_PB);
    // The leaves are the raw CIDs of each chunk: the layout Kubo's balanced importer makes.
    const { roots, blocks } = await blocksOf((await carOf(bytes)).car);
    expect(roots.map(String)).toEqual([cid]);
    expect(blocks[0].cid.toString()).toBe(cid);
    const leaves = await Promise.all([0, 1, 2].map((i) => rawCid(bytes.subarray(i * CHUNK, (i + 1) * CHUNK))));
    expect(
      blocks
        .slice(1)
        .map((b) => b.cid.toString())
        .sort(),
    ).toEqual([...leaves].sort());
    expect(await cidOfBytes(randomBytes(CHUNK + 1))).toMatch(/^bafybei/);
  });
});

describe('CARs', () => {
  it('round-trips any blob, under the CID cidOfBytes gives it', async () => {
    // Sizes straddle one, two and three chunks; random bytes stay small, the rest is a pattern.
    const blob = fc
      .tuple(fc.integer({ min: 0, max: 700_000 }), fc.uint8Array({ maxLength: 64 }))
      .map(([size, seed]) => Uint8Array.from({ length: size }, (_, i) => (seed.length ? seed[i % seed.length] ^ (i >> 8) : i) & 0xff));
    await fc.assert(
      fc.asyncProperty(blob, async (bytes) => {
        const { cid, car } = await carOf(bytes);
        expect(cid).toBe(await cidOfBytes(bytes));
        expect(Buffer.from(await bytesFromCar(car, cid, BIG)).equals(Buffer.from(bytes))).toBe(true);
      }),
      { numRuns: 25 },
    );
  });

  it('accepts a blob of exactly maxBytes and refuses one a byte over', async () => {
    const bytes = randomBytes(CHUNK + 10);
    const { cid, car } = await carOf(bytes);
    expect((await bytesFromCar(car, cid, bytes.length)).length).toBe(bytes.length);
    expect(await refusal(car, cid, bytes.length - 1)).toBeInstanceOf(UnverifiedContent);
    const small = await carOf(randomBytes(10));
    expect(await refusal(small.car, small.cid, 9)).toBeInstanceOf(UnverifiedContent);
  });

  it('refuses a CAR with one byte of a block flipped', async () => {
    for (const size of [100, 3 * CHUNK]) {
      const { cid, car } = await carOf(randomBytes(size));
      // The CAR ends inside the last block's data.
      const forged = Uint8Array.from(car);
      forged[forged.length - 1] ^= 1;
      expect(await refusal(forged, cid)).toBeInstanceOf(UnverifiedContent);
      // And in the root, for a DAG: the links it holds are what name the leaves.
      const { roots, blocks } = await blocksOf(car);
      const root = Uint8Array.from(blocks[0].bytes);
      root[root.length - 1] ^= 1;
      const forgedRoot = await writeCar(roots, [{ cid: blocks[0].cid, bytes: root }, ...blocks.slice(1)]);
      expect(await refusal(forgedRoot, cid)).toBeInstanceOf(UnverifiedContent);
    }
  });

  it('refuses a CAR for other bytes, whether rooted elsewhere or claiming this root', async () => {
    for (const size of [100, 2 * CHUNK]) {
      const { cid } = await carOf(randomBytes(size));
      const other = await carOf(randomBytes(size));
      expect(await refusal(other.car, cid)).toBeInstanceOf(UnverifiedContent);
      // The header lies (says this root) and the blocks are the other blob's, each valid for its own CID.
      const { blocks } = await blocksOf(other.car);
      expect(await refusal(await writeCar([CID.parse(cid)], blocks), cid)).toBeInstanceOf(UnverifiedContent);
      // A block that claims this CID but carries the other bytes.
      const swapped = await writeCar([CID.parse(cid)], [{ cid: CID.parse(cid), bytes: blocks[0].bytes }, ...blocks.slice(1)]);
      expect(await refusal(swapped, cid)).toBeInstanceOf(UnverifiedContent);
    }
  });

  it('refuses a CAR missing a block of a multi-block blob, or cut short', async () => {
    const bytes = randomBytes(3 * CHUNK);
    const { cid, car } = await carOf(bytes);
    const { roots, blocks } = await blocksOf(car);
    expect(blocks).toHaveLength(4);
    for (let missing = 0; missing < blocks.length; missing++) {
      const holed = await writeCar(
        roots,
        blocks.filter((_, i) => i !== missing),
      );
      expect(await refusal(holed, cid), `block ${missing} missing`).toBeInstanceOf(UnverifiedContent);
    }
    for (const cut of [1, 1000, CHUNK, car.length - 10]) {
      expect(await refusal(car.subarray(0, car.length - cut), cid), `${cut} bytes cut`).toBeInstanceOf(UnverifiedContent);
    }
  });

  it('refuses garbage', async () => {
    const { cid } = await carOf(randomBytes(100));
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 4096 }), async (garbage) => {
        expect(await refusal(garbage, cid)).toBeInstanceOf(UnverifiedContent);
      }),
      { numRuns: 200 },
    );
  });

  it('refuses blocks not hashed with sha2-256', async () => {
    // An identity "hash" is the bytes themselves: it would vouch for anything.
    const bytes = randomBytes(100);
    const weak = CID.createV1(raw.code, identity.digest(bytes));
    const car = await writeCar([weak], [{ cid: weak, bytes }]);
    expect(await refusal(car, weak.toString())).toBeInstanceOf(UnverifiedContent);
  });
});

/** Bytes as a stream of 64-KiB parts, as a response's body comes. */
async function* chunked(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += 65_536) yield bytes.subarray(at, at + 65_536);
}

describe('CARs from a byte on', () => {
  /** Bytes of a pattern (cheap to make at 46 MB) that differ in every chunk. */
  const patterned = (size: number) => Uint8Array.from({ length: size }, (_, i) => (i * 7 + (i >> 18)) & 0xff);
  // 175 chunks: a root over two nodes of leaves (174 links a node at most).
  const twoLevels = patterned(175 * CHUNK + 1000);

  it('sends blocks depth-first: each node before its subtrees, leaves in the order of the bytes', async () => {
    const { cid, car } = await carOf(twoLevels);
    const { blocks } = await blocksOf(car);
    expect(blocks[0].cid.toString()).toBe(cid);
    const expected: string[] = [];
    const byCid = new Map(blocks.map((b) => [b.cid.toString(), b.bytes]));
    const walk = (c: CID) => {
      expected.push(c.toString());
      if (c.code === DAG_PB) for (const link of dagPb.decode(byCid.get(c.toString()) as Uint8Array).Links) walk(link.Hash);
    };
    walk(CID.parse(cid));
    expect(blocks.map((b) => b.cid.toString())).toEqual(expected);
    // Two nodes under the root, and the leaves carry the bytes in order.
    expect(blocks.filter((b) => b.cid.code === DAG_PB)).toHaveLength(3);
    const leaves = blocks.filter((b) => b.cid.code === raw.code).map((b) => b.bytes);
    expect(Buffer.concat(leaves).equals(Buffer.from(twoLevels))).toBe(true);
  });

  it('answers from any byte on with the nodes down to it and the leaves from the one that holds it', async () => {
    for (const size of [CHUNK + 1, 3 * CHUNK + 5, twoLevels.length]) {
      const bytes = size === twoLevels.length ? twoLevels : patterned(size);
      const { cid, car, layout } = await carOf(bytes);
      const froms = [1, CHUNK - 1, CHUNK, CHUNK + 1, 174 * CHUNK - 1, 174 * CHUNK, 174 * CHUNK + 999, size - 1];
      for (const from of froms.filter((f) => f < size)) {
        const ranged = Buffer.concat(carFrom(car, layout, from));
        const { roots, blocks } = await blocksOf(ranged);
        expect(roots.map(String)).toEqual([cid]);
        const first = Math.floor(from / CHUNK) * CHUNK;
        const leaves = Buffer.concat(blocks.filter((b) => b.cid.code === raw.code).map((b) => b.bytes));
        expect(leaves.equals(Buffer.from(bytes.subarray(first))), `size ${size} from ${from}`).toBe(true);
        // The nodes on the way down come first: a reader checks each leaf as it arrives.
        expect(blocks[0].cid.toString()).toBe(cid);
      }
    }
  });

  it('lets a reader cut off anywhere keep what it checked and rebuild the blob from the rest', async () => {
    // The same chunk twice, apart (B in A B C B): the rest follows where the reader was, not the
    // chunk's last copy — runs of one colour in a texture make such blobs.
    const [a, b, c] = [0, 1, 2].map((k) => patterned(CHUNK).map((x) => x ^ k));
    const repeated = Buffer.concat([a, b, c, b, a]);
    for (const bytes of [patterned(3 * CHUNK + 5), twoLevels, repeated]) {
      const { cid, car, layout } = await carOf(bytes);
      for (const cut of [CHUNK + 20_000, 2 * CHUNK + 300, 3 * CHUNK, car.length - 10]) {
        const reader = new BlobAssembly(cid, BIG * 5);
        // A stream that stops part-way fails; the blocks before the cut are kept.
        expect(await reader.add(chunked(car.subarray(0, cut))).catch((e) => e)).toBeInstanceOf(UnverifiedContent);
        const from = reader.from();
        expect(from % CHUNK, `cut at ${cut}`).toBe(0);
        expect(from).toBeGreaterThan(0);
        expect(from).toBeLessThanOrEqual(cut);
        await reader.add(chunked(Buffer.concat(carFrom(car, layout, from))));
        expect(Buffer.from(await reader.bytes()).equals(Buffer.from(bytes))).toBe(true);
      }
    }
  });

  it('refuses the rest when it is for other bytes, and a blob still missing a block', async () => {
    const bytes = patterned(3 * CHUNK);
    const { cid, car } = await carOf(bytes);
    const reader = new BlobAssembly(cid, BIG);
    await reader.add(car.subarray(0, 2 * CHUNK)).catch(() => undefined);
    const other = await carOf(patterned(3 * CHUNK + 1));
    expect(await reader.add(Buffer.concat(carFrom(other.car, other.layout, reader.from()))).catch((e) => e)).toBeInstanceOf(
      UnverifiedContent,
    );
    expect(await reader.bytes().catch((e) => e)).toBeInstanceOf(UnverifiedContent);
  });

  it('counts what it holds, and sizes the blob, in time linear in the blocks, whatever DAG a hostile gateway names', async () => {
    // Twenty levels, each node linking the one below 174 times: 174^20 paths from the root.
    const leaf = randomBytes(1000);
    const leafCid = CID.createV1(raw.code, await sha256.digest(leaf));
    const blocks: { cid: CID; bytes: Uint8Array }[] = [{ cid: leafCid, bytes: leaf }];
    let below: CID = leafCid;
    for (let level = 0; level < 20; level++) {
      const bytes = dagPb.encode({ Links: Array.from({ length: 174 }, () => ({ Hash: below, Tsize: 1 })) });
      below = CID.createV1(dagPb.code, await sha256.digest(bytes));
      blocks.unshift({ cid: below, bytes });
    }
    const reader = new BlobAssembly(below.toString(), BIG);
    await reader.add(await writeCar([below], blocks));
    // Each block looked at once: walking every path would not end in this test's lifetime, nor
    // would exporting every copy; the blob is refused by its size before a byte is exported.
    expect(reader.from()).toBeCloseTo(1000 * 174 ** 20, -35);
    expect(await reader.bytes().catch((e) => e)).toBeInstanceOf(UnverifiedContent);
  });

  it('exports no DAG read from more chunks than the layout cuts its bytes into', async () => {
    // A valid UnixFS file of 40⁴ one-byte chunks in 7.5 KB: four nodes, each linking the one below
    // 40 times. Its blob would be 2.56 MB, read a byte at a time (36 s of a worker's CPU).
    const leaf = new Uint8Array([7]);
    let below: { cid: CID; size: number } = { cid: CID.createV1(raw.code, await sha256.digest(leaf)), size: 1 };
    const blocks: { cid: CID; bytes: Uint8Array }[] = [{ cid: below.cid, bytes: leaf }];
    for (let level = 0; level < 4; level++) {
      const data = new UnixFS({ type: 'file' });
      for (let i = 0; i < 40; i++) data.addBlockSize(BigInt(below.size));
      const links = Array.from({ length: 40 }, () => ({ Hash: below.cid, Tsize: below.size }));
      const bytes = dagPb.encode(dagPb.prepare({ Data: data.marshal(), Links: links }));
      below = { cid: CID.createV1(dagPb.code, await sha256.digest(bytes)), size: below.size * 40 };
      blocks.unshift({ cid: below.cid, bytes });
    }
    const reader = new BlobAssembly(below.cid.toString(), BIG);
    await reader.add(await writeCar([below.cid], blocks));
    expect(reader.from()).toBe(40 ** 4);
    expect(String(await reader.bytes().catch((e) => e))).toMatch(/read from 2560000 chunks for 2560000 bytes/);
  });
});
