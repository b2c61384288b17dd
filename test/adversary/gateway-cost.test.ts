/**
 * The trustless gateway cannot be made to burn CPU and memory: what it sends a key is metered in
 * MiB a minute (charged before the blob is read), and a CAR it built is kept, so fetching the same
 * blob again costs no hashing; a herd of first fetches reads and hashes it once; a key past its
 * allowance is refused before the blob is read; the CARs being sent are bounded in memory. A fetch
 * cut off part-way asks for the rest only.
 */
import { randomBytes } from 'node:crypto';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, type MockInstance, onTestFinished, vi } from 'vitest';
import { FsContentStore } from '../../orchestrator/content/fs-store.ts';
import type { TaskView } from '../../shared/protocol.ts';
import { SIGNATURE_HEADERS, signRequest } from '../../shared/signing.ts';
import { CAR_CONTENT_TYPE, cidOfBytes } from '../../shared/unixfs.ts';
import { WorkerClient } from '../../worker/client.ts';
import { waitFor } from '../support/farm.ts';
import { type ApiFarm, flatAgent, nextAssignment, OPERATOR_TOKEN, startApiFarm, type TestClient } from '../support/orchestrator.ts';
import { problem } from '../support/problem.ts';
import { shippedRaw } from '../support/scenes.ts';

const MIB = 1024 * 1024;
let api: ApiFarm;
// The blobs the orchestrators (in this process) read: the gateway reads a blob only to build its
// CAR, so once a job is submitted (which reads its scene's assets) these count the CARs built.
let reads: MockInstance<FsContentStore['get']>;
const readsOf = (cid: string) => reads.mock.calls.filter(([read]) => read === cid).length;
beforeAll(async () => {
  api = await startApiFarm({ gatewayMiBPerMinute: 2 });
  reads = vi.spyOn(FsContentStore.prototype, 'get');
});
afterAll(async () => {
  // Test files may share this process: the spy goes with this one.
  reads.mockRestore();
  await api.stop();
});

/** The headers of a GET of the gateway signed by hand (`query` after the CID), to read the refusal's headers. */
const gatewayHeaders = (w: TestClient, cid: string, query = '') => {
  const { timestamp, signature } = signRequest(w.identity.key, w.farmId, 'GET', `/ipfs/${cid}${query}`, new Uint8Array());
  return {
    accept: CAR_CONTENT_TYPE,
    [SIGNATURE_HEADERS.worker]: w.id,
    [SIGNATURE_HEADERS.timestamp]: timestamp,
    [SIGNATURE_HEADERS.signature]: signature,
  };
};
const gatewayGet = (w: TestClient, cid: string, on = api) => fetch(`${on.farm.url}/ipfs/${cid}`, { headers: gatewayHeaders(w, cid) });

/**
 * A job of `tiles` one-replica tiles whose scene has a texture of new bytes, `side` texels square
 * (512: 1 MiB, so each fetch costs 1 of a key's 2 MiB a minute); returns its CID.
 */
async function jobWithLargeAsset(tiles: number, side = 512, on = api): Promise<{ asset: Uint8Array; cid: string; id: string }> {
  const asset = randomBytes(side * side * 4);
  const cid = await cidOfBytes(asset);
  const put = await fetch(`${on.farm.url}/api/assets/${cid}`, {
    method: 'PUT',
    body: asset,
    headers: { authorization: `Bearer ${OPERATOR_TOKEN}`, 'content-type': 'application/octet-stream' },
  });
  expect(put.status).toBe(201);
  const scene = { ...shippedRaw('cornell'), textures: [{ name: 'big', width: side, height: side, rgba: { cid } }] };
  const job = await on.operator('/api/jobs', {
    scene,
    width: 16 * tiles,
    height: 16,
    spp: 1,
    tileSize: 16,
    verification: 'quorum',
    replicas: 1,
  });
  expect(job.status).toBe(201);
  return { asset, cid, id: ((await job.json()) as { id: string }).id };
}

describe('a key holding a replica of a job with a large asset', () => {
  it('is sent its MiB a minute, then refused with Retry-After; the CAR is built once', async () => {
    const { asset, cid } = await jobWithLargeAsset(1);
    const greedy = await api.worker('greedy', { trusted: true });
    await nextAssignment(greedy.client);
    reads.mockClear();
    expect(Buffer.from(await greedy.client.blob(cid)).equals(asset)).toBe(true);
    expect(Buffer.from(await greedy.client.blob(cid)).equals(asset)).toBe(true);
    expect(readsOf(cid)).toBe(1);
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
    reads.mockClear();
    const fetched = await Promise.all(herd.map((w) => w.client.blob(cid)));
    expect(fetched.every((bytes) => Buffer.from(bytes).equals(asset))).toBe(true);
    expect(readsOf(cid)).toBe(1);
  });

  it('taken up where a fetch was cut off: the rest only is sent, from the last whole chunk, and the blob is whole', async () => {
    const { asset, cid } = await jobWithLargeAsset(1);
    const w = await api.worker('resumer', { trusted: true });
    await nextAssignment(w.client);
    // Between the worker and the orchestrator, a link that drops the first fetch 600 KB into its answer.
    const asked: string[] = [];
    let sent = 0;
    const sockets = new Set<Socket>();
    const link = createServer((down) => {
      const up = connect(Number(new URL(api.farm.url).port), '127.0.0.1');
      for (const socket of [up, down]) sockets.add(socket);
      let cut = false;
      down.on('data', (data) => {
        const line = data.toString('latin1').split('\r\n')[0];
        if (line.startsWith('GET /ipfs/')) {
          asked.push(line);
          cut = asked.length === 1;
        }
        up.write(data);
      });
      up.on('data', (data: Buffer) => {
        if (cut && sent + data.length > 600_000) {
          down.destroy();
          up.destroy();
          return;
        }
        sent += data.length;
        down.write(data);
      });
      for (const end of [up, down]) end.on('error', () => undefined);
      up.on('close', () => down.destroy());
      down.on('close', () => up.destroy());
    });
    await new Promise<void>((resolve) => link.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => {
      for (const socket of sockets) socket.destroy();
      link.close();
    });
    const through = new WorkerClient(`http://127.0.0.1:${(link.address() as AddressInfo).port}`, w.identity);
    expect(Buffer.from(await through.blob(cid)).equals(asset)).toBe(true);
    // Two whole chunks (512 KiB) had come: the second fetch asked for what follows them.
    expect(asked).toEqual([`GET /ipfs/${cid} HTTP/1.1`, `GET /ipfs/${cid}?entity-bytes=524288:* HTTP/1.1`]);
    // What reached the worker: under 600 KB of the first answer, then the half it lacked.
    expect(sent).toBeLessThan(600_000 + asset.length - 524_288 + 4_000);
  });

  it('charges a range of a CAR not at hand as the whole blob, which building it costs', async () => {
    const w = await api.worker('last-byte', { trusted: true });
    // Two blobs of 2 MiB (724 texels square), each a whole minute of the key's 2 MiB.
    const blobs = [];
    for (let i = 0; i < 2; i++) {
      blobs.push(await jobWithLargeAsset(1, 724));
      await nextAssignment(w.client);
    }
    const lastByte = (b: { asset: Uint8Array; cid: string }) => {
      const query = `?entity-bytes=${b.asset.length - 1}:*`;
      return fetch(`${api.farm.url}/ipfs/${b.cid}${query}`, { headers: gatewayHeaders(w, b.cid, query) });
    };
    // The last byte of the first costs the minute (its CAR built whole); the second is refused
    // before it is built, where each had cost a mebibyte's charge and a build.
    reads.mockClear();
    expect((await lastByte(blobs[0])).status).toBe(200);
    expect((await lastByte(blobs[1])).status).toBe(429);
    expect(blobs.map((b) => readsOf(b.cid))).toEqual([1, 0]);
  });

  it('refuses a malformed or unsatisfiable range, naming it', async () => {
    const { asset, cid } = await jobWithLargeAsset(1);
    const w = await api.worker('ranger', { trusted: true });
    await nextAssignment(w.client);
    const get = (query: string) => fetch(`${api.farm.url}/ipfs/${cid}${query}`, { headers: gatewayHeaders(w, cid, query) });
    for (const query of [
      '?entity-bytes=abc',
      '?entity-bytes=5:10',
      '?entity-bytes=-1:*',
      '?entity-bytes=1:*&entity-bytes=2:*',
      '?entity-bytes=1e3:*',
    ])
      expect((await problem(await get(query), 400)).errors?.[0]?.path, query).toBe('entity-bytes');
    expect((await problem(await get(`?entity-bytes=${asset.length}:*`), 416)).errors?.[0]?.path).toBe('entity-bytes');
  });

  it('past its MiB a minute is refused before the blob is read, whichever blobs it asks for', async () => {
    const assets = [await jobWithLargeAsset(1), await jobWithLargeAsset(1), await jobWithLargeAsset(1)];
    const thrifty = await api.worker('thrifty', { trusted: true });
    for (let i = 0; i < assets.length; i++) await nextAssignment(thrifty.client);
    reads.mockClear();
    for (const { asset, cid } of assets.slice(0, 2)) expect(Buffer.from(await thrifty.client.blob(cid)).equals(asset)).toBe(true);
    const third = assets[2].cid;
    expect((await problem(await gatewayGet(thrifty, third), 429)).title).toBe('Too many requests');
    expect(readsOf(third)).toBe(0);
  });
});

describe('keys fetching different large blobs at once and reading none of them', () => {
  // Room for one CAR of a 4-MiB texture in flight, not two (a socket not read takes in about 2 MiB
  // of it: the rest waits in the orchestrator); the meter out of the way.
  let roomy: ApiFarm;
  beforeEach(async () => {
    // No cache: what a fetch is sent while another of the blob is under way is that one's CAR.
    roomy = await startApiFarm({
      maxAssetBytes: 4 * MIB,
      maxSceneBytes: MIB,
      gatewayInFlightMiB: 6,
      gatewayMiBPerMinute: 1024,
      gatewayCacheMiB: 0,
    });
  });
  afterEach(() => roomy.stop());

  /** A fetch that reads the answer's first bytes and then nothing: what it was sent stays in the orchestrator. */
  async function stalledFetch(w: TestClient, cid: string): Promise<Socket> {
    const { hostname, port } = new URL(roomy.farm.url);
    const socket = connect(Number(port), hostname);
    const headers = Object.entries(gatewayHeaders(w, cid)).map(([k, v]) => `${k}: ${v}\r\n`);
    socket.write(`GET /ipfs/${cid} HTTP/1.1\r\nhost: ${hostname}\r\n${headers.join('')}\r\n`);
    const first = await new Promise<Buffer>((resolve) => socket.once('data', resolve));
    socket.pause();
    expect(first.toString('latin1')).toMatch(/^HTTP\/1\.1 200/);
    return socket;
  }

  it('hold at most the bound in memory: another blob waits (503), the same blob is shared, and a hang-up frees it', async () => {
    // Two tiles of the first job (two keys hold one each), one of the second.
    const first = await jobWithLargeAsset(2, 1024, roomy);
    const [stalling, sharing] = await Promise.all([
      roomy.worker('stalling', { trusted: true }),
      roomy.worker('sharing', { trusted: true }),
    ]);
    await Promise.all([nextAssignment(stalling.client), nextAssignment(sharing.client)]);
    const second = await jobWithLargeAsset(1, 1024, roomy);
    const waiting = await roomy.worker('waiting', { trusted: true });
    await nextAssignment(waiting.client);

    reads.mockClear();
    const stalled = await stalledFetch(stalling, first.cid);
    const refused = await gatewayGet(waiting, second.cid, roomy);
    expect((await problem(refused, 503)).title).toBe('Busy');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    // The CAR in flight is the one a fetch of the same blob is sent: built once, held once.
    expect(Buffer.from(await sharing.client.blob(first.cid)).equals(first.asset)).toBe(true);
    expect(readsOf(first.cid)).toBe(1);

    stalled.destroy();
    const fetched = () =>
      waiting.client.blob(second.cid).then(
        (bytes) => Buffer.from(bytes).equals(second.asset),
        () => false,
      );
    await expect.poll(fetched).toBe(true);
  });

  it('cannot hold a CAR behind another request on its connection: a pipelined fetch closes the connection', async () => {
    const first = await jobWithLargeAsset(1, 1024, roomy);
    const piping = await roomy.worker('piping', { trusted: true });
    await nextAssignment(piping.client);
    const { hostname, port } = new URL(roomy.farm.url);
    const socket = connect(Number(port), hostname);
    socket.on('error', () => undefined);
    socket.on('data', () => undefined);
    const closed = new Promise((resolve) => socket.once('close', resolve));
    const fetchOf = (cid: string) =>
      `GET /ipfs/${cid} HTTP/1.1\r\nhost: ${hostname}\r\n${Object.entries(gatewayHeaders(piping, cid))
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('')}\r\n`;
    // Behind a live view that never ends, a fetch of the large blob.
    socket.write(
      `GET /api/jobs/${first.id}/events HTTP/1.1\r\nhost: ${hostname}\r\nauthorization: Bearer ${OPERATOR_TOKEN}\r\n\r\n${fetchOf(first.cid)}`,
    );
    await closed;
    // Nothing of it is held: another blob as large is sent at once.
    const other = await jobWithLargeAsset(1, 1024, roomy);
    const next = await roomy.worker('next', { trusted: true });
    await nextAssignment(next.client);
    expect(Buffer.from(await next.client.blob(other.cid)).equals(other.asset)).toBe(true);
  });

  it('keep an honest worker waiting, not giving its replica up, until the blob in the way is let go for it', async () => {
    const pinned = await jobWithLargeAsset(1, 1024, roomy);
    const pinning = await roomy.worker('pinning', { trusted: true });
    await nextAssignment(pinning.client);
    const stalled = await stalledFetch(pinning, pinned.cid);
    onTestFinished(() => {
      stalled.destroy();
    });
    const wanted = await jobWithLargeAsset(1, 1024, roomy);
    const agent = await flatAgent(roomy.farm.url, 'honest');
    onTestFinished(() => agent.stop());
    // Its fetch of the wanted job's texture is turned away (503) while the stalled fetch is young;
    // it tries again, and once that one has been sending 5 s without reading, it is let go.
    await waitFor(async () => (await (await roomy.operator(`/api/jobs/${wanted.id}`)).json()).state === 'done', 30_000, 'the job');
    const { tasks } = (await (await roomy.operator(`/api/jobs/${wanted.id}/tasks`)).json()) as { tasks: TaskView[] };
    // One replica: it was never handed back to be bound again.
    expect(tasks[0].replicas).toHaveLength(1);
    // The stalled fetch was cut off short of its 4-MiB texture.
    let received = 0;
    stalled.on('data', (chunk: Buffer) => (received += chunk.length));
    stalled.resume();
    await new Promise((resolve) => stalled.once('close', resolve));
    expect(received).toBeLessThan(pinned.asset.byteLength);
  });
});
