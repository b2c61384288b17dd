/**
 * What a request may hold or cost the farm beyond its own answer (an attacker's review of the
 * HTTP API): a live view sent with a body does not hold the submissions' byte budget; the public
 * price history is not read whole for each anonymous request; a key's requests over its rate
 * leave nothing in Redis; one key waits in one long poll at a time; a connection that pipelines
 * is closed; per-address limits count an IPv6 host by its /64; the dashboard cannot be framed,
 * and a static file's miss does not say where the farm is installed.
 */
import { request } from 'node:http';
import { connect } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { limitedAs } from '../../orchestrator/http/limits.ts';
import { keys } from '../../orchestrator/state/keys.ts';
import { SIGNATURE_HEADERS, signRequest } from '../../shared/signing.ts';
import { type ApiFarm, OPERATOR_TOKEN, startApiFarm, type TestClient } from '../support/orchestrator.ts';

const MAX_SCENE = 1024 * 1024;

let api: ApiFarm;
beforeAll(async () => {
  // The farm's default rate for a key's signed requests (50 a second), and a long poll as long as by default.
  api = await startApiFarm({ maxSceneBytes: MAX_SCENE, workerRequestsPerSecond: 50, pollMs: 20_000, marketIntervalMs: 1000 });
}, 60_000);
afterAll(() => api.stop());

const mint = async (name: string) => ((await (await api.operator('/api/tokens', { name })).json()) as { token: string }).token;

/** Opens a live view sent with a JSON body of `bytes`; resolves once it is answered (its headers, sent once its body was read). */
function viewWithBody(path: string, token: string, bytes: number): Promise<{ status: number; close(): void }> {
  const body = Buffer.from(`{"p":"${'a'.repeat(bytes - 8)}"}`);
  const u = new URL(api.farm.url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        method: 'GET',
        path,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': String(body.length) },
      },
      (res) => resolve({ status: res.statusCode ?? 0, close: () => req.destroy() }),
    );
    req.on('error', reject);
    req.end(body);
  });
}

const signed = (w: TestClient, method: string, path: string, at: number) => {
  const { timestamp, signature, digest } = signRequest(w.identity.key, w.farmId, method, path, new Uint8Array(), at);
  return {
    [SIGNATURE_HEADERS.worker]: w.id,
    [SIGNATURE_HEADERS.timestamp]: timestamp,
    [SIGNATURE_HEADERS.signature]: signature,
    [SIGNATURE_HEADERS.body]: digest,
  };
};

describe('what a request holds', () => {
  it('holds the submissions’ byte budget only while a submission or an estimate is answered, not for a live view sent with a body', async () => {
    const [a, b, victim] = [await mint('a'), await mint('b'), await mint('victim')];
    // Two requesters' live views, each sent with a body at the scene limit, stay open…
    const views = [await viewWithBody('/api/jobs/events', a, MAX_SCENE), await viewWithBody('/api/jobs/events', b, MAX_SCENE)];
    try {
      expect(views.map((v) => v.status)).toEqual([200, 200]);
      // …and another requester's estimate is read and judged (an invalid scene), not turned away
      // because others' uploads fill the budget (503): the views had held it while they stayed open.
      const estimate = await fetch(`${api.farm.url}/api/jobs/estimate`, {
        method: 'POST',
        headers: { authorization: `Bearer ${victim}`, 'content-type': 'application/json' },
        body: JSON.stringify({ scene: { version: 1 } }),
      });
      expect(estimate.status).toBe(400);
      expect(((await estimate.json()) as { title: string }).title).toBe('Invalid scene');
    } finally {
      for (const v of views) v.close();
    }
  });

  it('ends a key’s waiting poll when the key polls again: one poll waits per key', async () => {
    const w = await api.worker('poller');
    const started = Date.now();
    const first = w.client.next();
    await new Promise((r) => setTimeout(r, 300));
    const second = new AbortController();
    const again = w.client.next(second.signal).catch(() => 'aborted');
    // The first answers "nothing" at once (204), long before its 20 s; the second waits on.
    expect(await first).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(5000);
    second.abort();
    expect(await again).toBe('aborted');
  });

  it('leaves no replay record for a signed request its key’s rate refuses', async () => {
    const w = await api.worker('flooder', { stake: 0 });
    const redis = new Redis(api.redisUrl);
    try {
      const records = async () => (await redis.keys(keys.replay('*'))).length;
      const before = await records();
      const path = '/api/work/calibration';
      const base = Date.now() - 60_000;
      const statuses: number[] = [];
      // 400 distinct signed requests at once (a signature is deterministic: each its own millisecond).
      await Promise.all(
        Array.from({ length: 400 }, async (_, i) => {
          const res = await fetch(`${api.farm.url}${path}`, { headers: signed(w, 'GET', path, base + i) });
          await res.arrayBuffer();
          statuses.push(res.status);
        }),
      );
      const admitted = statuses.filter((s) => s === 200).length;
      expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(200);
      // One record a request admitted; each refused one had left a 10-minute record too.
      expect((await records()) - before).toBe(admitted);
    } finally {
      redis.disconnect();
    }
  });
});

describe('pipelined requests', () => {
  it('answers the first request of a connection that pipelines, and closes it rather than answer the rest into memory', async () => {
    const url = new URL(api.farm.url);
    const socket = connect({ host: url.hostname, port: Number(url.port) });
    await new Promise((r) => socket.once('connect', r));
    let received = '';
    socket.on('data', (chunk) => {
      received += chunk.toString();
    });
    const closed = new Promise<boolean>((resolve) => {
      socket.once('close', () => resolve(true));
      setTimeout(() => resolve(false), 3000);
    });
    socket.write(`GET /api/farm HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`.repeat(3));
    expect(await closed).toBe(true);
    expect(received.match(/^HTTP\/1\.1 200/gm)).toHaveLength(1);
  });
});

describe('the public price history', () => {
  it('is kept in memory and brought up to date from its last intervals’ clearings, not read whole for each request', async () => {
    const redis = new Redis(api.redisUrl);
    const monitor = await redis.monitor();
    try {
      const seed = new Redis(api.redisUrl);
      const now = Date.now();
      // A day of clearings at 10 s, 20 buyers each, before anything read them.
      const buyers = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`o${String(i).padStart(20, '0')}`, 1000 + i]));
      const m = seed.multi();
      for (let i = 0; i < 8640; i++) {
        const at = now - (8640 - i) * 10_000;
        m.zadd(keys.marketClearings, at, JSON.stringify({ at, price: 1000 + (i % 7), volume: 5000, buyers }));
      }
      await m.exec();
      seed.disconnect();
      const reads: number[] = [];
      monitor.on('monitor', (_time: string, args: string[]) => {
        if (args[0].toLowerCase() === 'zrangebyscore' && args[1] === keys.marketClearings) reads.push(Number(args[2]));
      });
      const history = async (interval: string) =>
        ((await (await fetch(`${api.farm.url}/api/market/history?interval=${interval}`)).json()) as { candles: unknown[] }).candles;
      expect((await history('1h')).length).toBeGreaterThanOrEqual(24);
      // Past the market's interval (the series is read at most once one): read again, only the recent part.
      await new Promise((r) => setTimeout(r, 1100));
      expect((await history('1d')).length).toBeGreaterThanOrEqual(1);
      expect((await history('1m')).length).toBeGreaterThan(0);
      await new Promise((r) => setTimeout(r, 200));
      // The first read takes the whole history kept; none after it reaches further back than the
      // hour the market's own clearing reads (market/interval.ts), where day candles had read 120
      // days back, hour candles 5 days, for each request.
      const whole = reads.filter((from) => from <= now - 8640 * 10_000);
      expect(whole).toHaveLength(1);
      expect(reads.filter((from) => from < now - 61 * 60_000)).toEqual(whole);
    } finally {
      monitor.disconnect();
      redis.disconnect();
    }
  });
});

describe('addresses and static files', () => {
  it('counts an IPv6 host by its /64 in per-address limits, and an IPv4-mapped address as its IPv4 one', () => {
    expect(limitedAs('2001:db8:1:2:3:4:5:6')).toBe(limitedAs('2001:db8:1:2::9'));
    expect(limitedAs('2001:db8:1:2::9')).not.toBe(limitedAs('2001:db8:1:3::9'));
    expect(limitedAs('::ffff:10.0.0.1')).toBe('10.0.0.1');
    expect([limitedAs('10.0.0.1'), limitedAs('10.0.0.2')]).toEqual(['10.0.0.1', '10.0.0.2']);
  });

  it('serves the dashboard and the queue board for no other page to frame', async () => {
    // The board is read-write: framed by a sibling subdomain's page with the operator's cookie,
    // two clicks on buttons laid over it had paused every queue (an attacker's review).
    for (const [path, auth] of [
      ['/', {}],
      ['/admin/queues', { authorization: `Bearer ${OPERATOR_TOKEN}` }],
    ] as const) {
      const page = await fetch(`${api.farm.url}${path}`, { headers: auth });
      expect(page.status, path).toBe(200);
      expect(page.headers.get('content-type'), path).toMatch(/^text\/html/);
      expect(page.headers.get('x-frame-options'), path).toBe('DENY');
      expect(page.headers.get('content-security-policy'), path).toBe("frame-ancestors 'none'");
    }
  });

  it('answers a missing dashboard file with a problem that does not say where the farm is installed', async () => {
    const res = await fetch(`${api.farm.url}/assets/nope.js`);
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const problem = (await res.json()) as { title: string; detail?: string };
    expect(problem.title).toBe('Not Found');
    expect(JSON.stringify(problem)).not.toMatch(/ENOENT|dashboard|\/work\//);
  });
});
