/**
 * The trustless gateway cannot be made to burn CPU and memory: what it sends a key is metered in
 * MiB a minute (charged before the blob is read), and a CAR it built is kept, so fetching the same
 * blob again costs no hashing; a herd of first fetches reads and hashes it once; a key past its
 * allowance is refused before the blob is read.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { FsContentStore } from '../../orchestrator/content/fs-store.ts';
import { SIGNATURE_HEADERS, signRequest } from '../../shared/signing.ts';
import { CAR_CONTENT_TYPE, carOf, cidOfBytes } from '../../shared/unixfs.ts';
import { type ApiFarm, nextAssignment, OPERATOR_TOKEN, startApiFarm, type TestClient } from '../support/orchestrator.ts';
import { problem } from '../support/problem.ts';
import { shippedRaw } from '../support/scenes.ts';

// Counts the CARs the orchestrator (in this process) builds.
vi.mock(import('../../shared/unixfs.ts'), async (original) => {
  const actual = await original();
  return { ...actual, carOf: vi.fn(actual.carOf) };
});

const MIB = 1024 * 1024;
let api: ApiFarm;
beforeAll(async () => {
  api = await startApiFarm({ gatewayMiBPerMinute: 2 });
});
afterAll(() => api.stop());

/** A GET of the gateway signed by hand, to read the refusal's headers. */
const gatewayGet = (w: TestClient, cid: string) => {
  const path = `/ipfs/${cid}`;
  const { timestamp, signature } = signRequest(w.identity.key, w.farmId, 'GET', path, new Uint8Array());
  return fetch(`${api.farm.url}${path}`, {
    headers: {
      accept: CAR_CONTENT_TYPE,
      [SIGNATURE_HEADERS.worker]: w.id,
      [SIGNATURE_HEADERS.timestamp]: timestamp,
      [SIGNATURE_HEADERS.signature]: signature,
    },
  });
};

/** A job of `tiles` one-replica tiles whose scene has a 1-MiB texture of new bytes; returns its CID. */
async function jobWithLargeAsset(tiles: number): Promise<{ asset: Uint8Array; cid: string }> {
  // A 512×512 RGBA texture: 1 MiB, so each fetch costs 1 of a key's 2 MiB a minute.
  const asset = randomBytes(MIB);
  const cid = await cidOfBytes(asset);
  const put = await fetch(`${api.farm.url}/api/assets/${cid}`, {
    method: 'PUT',
    body: asset,
    headers: { authorization: `Bearer ${OPERATOR_TOKEN}`, 'content-type': 'application/octet-stream' },
  });
  expect(put.status).toBe(201);
  const scene = { ...shippedRaw('cornell'), textures: [{ name: 'big', width: 512, height: 512, rgba: { cid } }] };
  const job = await api.operator('/api/jobs', {
    scene,
    width: 16 * tiles,
    height: 16,
    spp: 1,
    tileSize: 16,
    verification: 'quorum',
    replicas: 1,
  });
  expect(job.status).toBe(201);
  return { asset, cid };
}
const buildsOf = (asset: Uint8Array) =>
  vi.mocked(carOf).mock.calls.filter(([bytes]) => bytes === asset || Buffer.from(bytes).equals(asset)).length;

describe('a key holding a replica of a job with a large asset', () => {
  it('is sent its MiB a minute, then refused with Retry-After; the CAR is built once', async () => {
    const { asset, cid } = await jobWithLargeAsset(1);
    const greedy = await api.worker('greedy', { trusted: true });
    await nextAssignment(greedy.client);
    expect(Buffer.from(await greedy.client.blob(cid)).equals(asset)).toBe(true);
    expect(Buffer.from(await greedy.client.blob(cid)).equals(asset)).toBe(true);
    expect(buildsOf(asset)).toBe(1);
    const refused = await gatewayGet(greedy, cid);
    expect((await problem(refused, 429)).title).toBe('Too many requests');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);

    // The meter is the key's: another key's fetch is untouched.
    const other = await api.worker('other');
    const calibration = await other.client.calibration();
    expect((await other.client.blob(calibration.scene)).length).toBeGreaterThan(0);
  });

  it('read and hashed once for a herd of keys fetching it at once (a new job’s workers)', async () => {
    const { asset, cid } = await jobWithLargeAsset(6);
    const herd = await Promise.all(Array.from({ length: 6 }, (_, i) => api.worker(`herd-${i}`, { trusted: true })));
    await Promise.all(herd.map((w) => nextAssignment(w.client)));
    const reads = vi.spyOn(FsContentStore.prototype, 'get');
    const fetched = await Promise.all(herd.map((w) => w.client.blob(cid)));
    expect(fetched.every((bytes) => Buffer.from(bytes).equals(asset))).toBe(true);
    expect(buildsOf(asset)).toBe(1);
    expect(reads.mock.calls.filter(([read]) => read === cid)).toHaveLength(1);
  });

  it('past its MiB a minute is refused before the blob is read, whichever blobs it asks for', async () => {
    const assets = [await jobWithLargeAsset(1), await jobWithLargeAsset(1), await jobWithLargeAsset(1)];
    const thrifty = await api.worker('thrifty', { trusted: true });
    for (let i = 0; i < assets.length; i++) await nextAssignment(thrifty.client);
    // Submitting read them (checking the scene): only what the gateway reads from here on counts.
    const reads = vi.spyOn(FsContentStore.prototype, 'get');
    reads.mockClear();
    const readsOf = (cid: string) => reads.mock.calls.filter(([read]) => read === cid).length;
    for (const { asset, cid } of assets.slice(0, 2)) expect(Buffer.from(await thrifty.client.blob(cid)).equals(asset)).toBe(true);
    const third = assets[2].cid;
    expect((await problem(await gatewayGet(thrifty, third), 429)).title).toBe('Too many requests');
    expect(readsOf(third)).toBe(0);
    expect(buildsOf(assets[2].asset)).toBe(0);
  });
});
