/**
 * A requester's upload (orchestrator/http/bodies.ts meteredUpload) on a real server and a real
 * Redis: one that trickles is cut off, and the budget it held is back for the next. And a download
 * its client stops reading (closed.ts sendPaced, as the gateway sends CARs) is cut off, so that
 * the orchestrator lets go of it.
 */
import { mkdtempSync } from 'node:fs';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { Redis } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PrivateRedis, startRedisServer } from '../cli/redis-server.ts';
import { meteredUpload, readRaw } from '../orchestrator/http/bodies.ts';
import { ByteBudget } from '../orchestrator/http/byte-budget.ts';
import { onClosed, sendPaced } from '../orchestrator/http/closed.ts';
import { problemHandler } from '../orchestrator/http/problem.ts';

const LIMIT = 1024 * 1024;
// Larger than what the sockets' buffers take in on loopback.
const DOWNLOAD = 16 * LIMIT;
const downloads: { closed: boolean }[] = [];
let redis: PrivateRedis;
let client: Redis;
let url: string;
let close: () => void;
beforeAll(async () => {
  redis = await startRedisServer({ dir: mkdtempSync(join(tmpdir(), 'farm-upload-')) });
  client = new Redis(redis.url);
  const meter = new RateLimiterRedis({ storeClient: client, keyPrefix: 'test:upload', points: 1000, duration: 60 });
  const budget = new ByteBudget(LIMIT, LIMIT);
  const app = express();
  app.use((req, _res, next) => {
    req.principal = { owner: 'requester', role: 'requester' } as typeof req.principal;
    next();
  });
  // A mebibyte must come within a second, after a fifth of a second.
  app.put('/upload', meteredUpload(budget, meter, LIMIT, readRaw(LIMIT), { minBytesPerSecond: LIMIT, graceMs: 200 }), (req, res) => {
    res.json({ bytes: (req.body as Buffer).length });
  });
  // A fifth of a second's grace, then a mebibyte a second: 16 MiB in 16 s at that pace.
  app.get('/download', (_req, res) => {
    const sent = { closed: false };
    downloads.push(sent);
    onClosed(res, () => {
      sent.closed = true;
    });
    void sendPaced(res, [Buffer.alloc(DOWNLOAD)], { minBytesPerSecond: LIMIT, graceMs: 200 });
  });
  app.use(problemHandler);
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  close = () => server.close();
});
afterAll(async () => {
  close();
  client.disconnect();
  await redis.stop();
});

/** Sends a PUT declaring `declared` bytes and writes `sent` of them; resolves with its status, or 'cut off'. */
function upload(declared: number, sent: number): Promise<number | 'cut off'> {
  return new Promise((resolve) => {
    const req = request(`${url}/upload`, { method: 'PUT', headers: { 'content-length': String(declared) } }, (res) => {
      res.resume();
      resolve(res.statusCode as number);
    });
    req.on('error', () => resolve('cut off'));
    req.write(Buffer.alloc(sent));
    if (sent === declared) req.end();
  });
}

describe('an upload that trickles', () => {
  it('is cut off past its pace, and the budget it held is back for the next', async () => {
    const started = performance.now();
    // It declares the whole budget and sends a byte.
    expect(await upload(LIMIT, 1)).toBe('cut off');
    const took = performance.now() - started;
    expect(took).toBeGreaterThanOrEqual(1000);
    expect(took).toBeLessThan(5000);
    expect(await upload(LIMIT, LIMIT)).toBe(200);
  });
});

describe('a download its client does not read', () => {
  it('is cut off once it falls behind its pace, long before the whole would be due; one read at once is sent whole', async () => {
    const read = await fetch(`${url}/download`);
    expect((await read.arrayBuffer()).byteLength).toBe(DOWNLOAD);
    const { hostname, port } = new URL(url);
    const stalled = connect(Number(port), hostname);
    stalled.write(`GET /download HTTP/1.1\r\nhost: ${hostname}\r\n\r\n`);
    let received = (await new Promise<Buffer>((resolve) => stalled.once('data', resolve))).length;
    stalled.pause();
    const started = performance.now();
    // The server lets go of the response (its 'close') once the socket's buffers, all it took in,
    // are behind the pace: in seconds, not the 16 the whole would take at it. Read now, it ends short.
    await expect.poll(() => downloads[1]?.closed, { timeout: 10_000 }).toBe(true);
    const took = performance.now() - started;
    expect(took).toBeGreaterThanOrEqual(500);
    expect(took).toBeLessThan(10_000);
    stalled.on('data', (chunk: Buffer) => {
      received += chunk.length;
    });
    await new Promise((resolve) => stalled.once('close', resolve).resume());
    expect(received).toBeLessThan(DOWNLOAD);
    expect(downloads[0].closed).toBe(true);
  });
});
