/**
 * A worker fetching a scene from a hostile orchestrator: an answer past what a verifiable CAR of
 * the largest blob can be is refused without being read into memory, whatever it claims; and one
 * that cuts every answer off is not asked again and again.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPrivateKey, newKeyPair, workerIdOf } from '../shared/signing.ts';
import { CAR_CONTENT_TYPE, carFrom, carOf, cidOfBytes, UnverifiedContent } from '../shared/unixfs.ts';
import { MAX_FETCH_BYTES, WorkerClient } from '../worker/client.ts';

let server: Server;
let sent = 0;
let url: string;
beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/api/farm') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"id":"f0000000000000000"}');
    // Claims 8 GiB, and sends a mebibyte at a time until the client goes.
    res.writeHead(200, { 'content-type': CAR_CONTENT_TYPE, 'content-length': String(8 * 1024 ** 3) });
    const chunk = Buffer.alloc(1024 * 1024, 1);
    const more = () => {
      while (!res.destroyed && sent < 8 * 1024 ** 3) {
        sent += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', more);
      }
    };
    more();
  }).listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => server.closeAllConnections());

describe('a worker fetching from a hostile orchestrator', () => {
  it('refuses an answer claiming more than a CAR of the largest blob can be, before reading it', async () => {
    const { privateKeyPem, publicKeyDer } = newKeyPair();
    const client = new WorkerClient(url, { id: workerIdOf(publicKeyDer), key: loadPrivateKey(privateKeyPem).key, publicKeyDer });
    const cid = await cidOfBytes(new Uint8Array([1, 2, 3]));
    await expect(client.blob(cid)).rejects.toThrow(UnverifiedContent);
    expect(sent).toBeLessThan(2 * MAX_FETCH_BYTES);
  });

  it('gives a fetch up when the gateway cuts each answer off: after two tries without progress, 16 with it; the next fetch goes on', async () => {
    // 64 chunks; each answer is cut off after its first chunk or, without progress, always the first one.
    const blob = Uint8Array.from({ length: 64 * 262_144 }, (_, i) => (i * 13 + (i >> 18)) & 0xff);
    const { cid, car, layout } = await carOf(blob);
    for (const progress of [false, true]) {
      const asked: string[] = [];
      const cutting = createServer((req, res) => {
        if (req.url === '/api/farm')
          return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"id":"f0000000000000000"}');
        asked.push(req.url as string);
        const from = progress ? Number(/entity-bytes=(\d+)/.exec(req.url as string)?.[1] ?? 0) : 0;
        const answer = Buffer.concat(from === 0 ? [car] : carFrom(car, layout, from));
        res.writeHead(200, { 'content-type': CAR_CONTENT_TYPE });
        // The first chunk of the answer and a little more, then the connection drops.
        const next = layout.chunks[from / 262_144 + 1].at;
        res.write(answer.subarray(0, answer.length - (car.length - next) + 100), () => res.destroy());
      }).listen(0, '127.0.0.1');
      await once(cutting, 'listening');
      try {
        const { privateKeyPem, publicKeyDer } = newKeyPair();
        const client = new WorkerClient(`http://127.0.0.1:${(cutting.address() as AddressInfo).port}`, {
          id: workerIdOf(publicKeyDer),
          key: loadPrivateKey(privateKeyPem).key,
          publicKeyDer,
        });
        await expect(client.blob(cid)).rejects.toThrow();
        expect(asked).toHaveLength(progress ? 16 : 3);
        // Fetched again, it goes on from what it holds.
        await expect(client.blob(cid)).rejects.toThrow();
        expect(asked[progress ? 16 : 3]).toBe(`/ipfs/${cid}?entity-bytes=${(progress ? 16 : 1) * 262_144}:*`);
      } finally {
        cutting.closeAllConnections();
        cutting.close();
      }
    }
  });
});
