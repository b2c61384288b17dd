/**
 * Content ids in Kubo's UnixFS layout, and CARs checked block by block: the same bytes get the
 * CID `ipfs add --cid-version 1` gives them, a CAR round-trips, and a CAR that does not hold the
 * blob its CID names (forged, foreign, truncated, garbage, too big) is refused.
 */
import { randomBytes } from 'node:crypto';
import { CarBlockIterator, CarWriter } from '@ipld/car';
import { BlackHoleBlockstore } from 'blockstore-core/black-hole';
import fc from 'fast-check';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { identity } from 'multiformats/hashes/identity';
import { sha256 } from 'multiformats/hashes/sha2';
import { describe, expect, it } from 'vitest';
import { bytesFromCar, carOf, cidOfBytes, importInto, UnverifiedContent } from '../shared/unixfs.ts';

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
