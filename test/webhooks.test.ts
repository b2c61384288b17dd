/**
 * Webhooks end to end, with a real HTTP receiver: a finished job's frame.done (one per frame) and
 * job.done, and a failed job's job.failed, each arrive once, signed with the hook's secret, even
 * when the receiver answers 503 or is down for the first attempts; another requester's hooks get
 * nothing; bad and non-public URLs are refused by path; the CLI manages hooks; and an event whose
 * orchestrator is killed -9 between the outbox and the queue is delivered after all.
 */
import { execFile } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keys } from '../orchestrator/state/keys.ts';
import { AddressRefused } from '../orchestrator/webhooks/addresses.ts';
import { deliver } from '../orchestrator/webhooks/deliver.ts';
import type { JobStatus } from '../shared/protocol.ts';
import { WebhookCreated, WebhookEvent, WebhookList } from '../shared/webhooks.ts';
import { TestFarm, waitFor } from './support/farm.ts';
import { type ApiFarm, startApiFarm, uploadShade } from './support/orchestrator.ts';
import { problem } from './support/problem.ts';
import { parsePrometheus, sumOf } from './support/prometheus.ts';
import { ROOT, shippedRaw } from './support/scenes.ts';

interface Received {
  path: string;
  id: string;
  timestamp: string;
  signature: string;
  body: string;
  /** What the receiver answered. */
  status: number;
}

/** A real HTTP receiver that records every request; it answers 503 to the next `failNext` ones. */
class Receiver {
  readonly requests: Received[] = [];
  failNext = 0;
  private server?: Server;

  constructor(public port = 0) {}

  async listen(): Promise<this> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const status = this.failNext > 0 ? 503 : 200;
        if (status === 503) this.failNext--;
        this.requests.push({
          path: req.url ?? '',
          id: String(req.headers['farm-webhook-id']),
          timestamp: String(req.headers['farm-webhook-timestamp']),
          signature: String(req.headers['farm-webhook-signature']),
          body: Buffer.concat(chunks).toString('utf8'),
          status,
        });
        res.writeHead(status).end(status === 503 ? 'down for maintenance' : 'ok');
      });
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    return this;
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** The requests to `path` it answered 200. */
  delivered(path: string): Received[] {
    return this.requests.filter((r) => r.path === path && r.status === 200);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.server) return resolve();
      this.server.close(() => resolve());
      this.server.closeAllConnections();
      this.server = undefined;
    });
  }
}

/** What a receiver checks, as README's example does: the signature over id.timestamp.body, and a recent timestamp. */
function signedBy(secret: string, r: Received): boolean {
  const expected = `v1=${createHmac('sha256', secret).update(`${r.id}.${r.timestamp}.${r.body}`).digest('hex')}`;
  return r.signature === expected && Math.abs(Date.now() / 1000 - Number(r.timestamp)) < 300;
}

const events = (rs: Received[]) => rs.map((r) => WebhookEvent.parse(JSON.parse(r.body)));

let api: ApiFarm;
const receiver = new Receiver();
beforeAll(async () => {
  api = await startApiFarm({ webhookAllowPrivate: true, webhookBackoffMs: 100, webhookClaimMs: 500, pollMs: 100 });
  await receiver.listen();
});
afterAll(async () => {
  await receiver.close();
  await api.stop();
});

interface Requester {
  owner: string;
  token: string;
  call(path: string, init?: { method?: string; body?: unknown }): Promise<Response>;
}
async function requester(name: string): Promise<Requester> {
  const { token, owner } = (await (await api.operator('/api/tokens', { name })).json()) as { token: string; owner: string };
  expect((await api.operator('/api/credits', { account: owner, amount: 100 })).status).toBe(201);
  const call = (path: string, init: { method?: string; body?: unknown } = {}) =>
    fetch(`${api.farm.url}${path}`, {
      method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
  return { owner, token, call };
}
async function addHook(r: Requester, url: string, events?: string[]): Promise<WebhookCreated> {
  const res = await r.call('/api/webhooks', { body: { url, events } });
  expect(res.status).toBe(201);
  return WebhookCreated.parse(await res.json());
}
const statusOf = async (r: Requester, id: string) => (await (await r.call(`/api/jobs/${id}`)).json()) as JobStatus;

/** Nothing left to deliver: the outbox is empty and the queue holds no delivery still to make. */
async function settled(redisUrl: string): Promise<void> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue('webhooks', { connection: redis });
  try {
    await expect
      .poll(
        async () => {
          const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
          return (await redis.xlen(keys.outbox)) + Object.values(counts).reduce((a, b) => a + b, 0);
        },
        { timeout: 30_000, interval: 100 },
      )
      .toBe(0);
  } finally {
    await queue.close();
    redis.disconnect();
  }
}
const metric = async (outcome: string) =>
  sumOf(parsePrometheus(await (await api.operator('/metrics')).text()), 'farm_webhook_deliveries_total', { outcome });

describe('webhooks', () => {
  let alice: Requester;
  let failuresHook: WebhookCreated;
  beforeAll(async () => {
    alice = await requester('alice');
  });

  it("delivers a job's frame.done per frame and job.done once each, signed, through a receiver outage; never to another requester", async () => {
    const bob = await requester('bob');
    const hook = await addHook(alice, receiver.url('/alice'));
    expect(hook).toMatchObject({ id: expect.stringMatching(/^wh_/), events: ['job.done', 'job.failed', 'frame.done'] });
    expect(hook.secret).toMatch(/^whsec_/);
    failuresHook = await addHook(alice, receiver.url('/alice-failures'), ['job.failed']);
    const bobs = await addHook(bob, receiver.url('/bob'));
    // The receiver is down for the first three attempts, whichever events they carry.
    receiver.failNext = 3;

    const job = {
      scene: shippedRaw('bounce'),
      frames: '0-1',
      width: 16,
      height: 16,
      spp: 1,
      tileSize: 16,
      verification: 'quorum',
      replicas: 1,
    };
    const submitted = await alice.call('/api/jobs', { body: job });
    expect(submitted.status).toBe(201);
    const { id } = (await submitted.json()) as { id: string };
    const worker = await api.worker('renderer', { trusted: true });
    while ((await statusOf(alice, id)).state !== 'done') {
      const a = await worker.client.next();
      if (a) expect(await uploadShade(worker.client, a, 90)).toBe('accepted');
    }
    await settled(api.redisUrl);

    const delivered = receiver.delivered('/alice');
    const got = events(delivered);
    expect(got.map((e) => `${e.type} ${e.frame ?? ''}`).sort()).toEqual(['frame.done 0', 'frame.done 1', 'job.done ']);
    for (const e of got) expect(e).toMatchObject({ job: id, createdAt: expect.any(Number) });
    expect(got.find((e) => e.type === 'job.done')).toMatchObject({ state: 'done' });
    // Each once: three distinct event ids, each the header's id too.
    expect(new Set(got.map((e) => e.id)).size).toBe(3);
    for (const r of delivered) {
      expect(JSON.parse(r.body).id).toBe(r.id);
      expect(signedBy(hook.secret, r)).toBe(true);
      expect(signedBy(bobs.secret, r)).toBe(false);
    }
    // The attempts the receiver refused were tried again, with the same event ids.
    const refused = receiver.requests.filter((r) => r.status === 503);
    expect(refused).toHaveLength(3);
    for (const r of refused) expect(delivered.map((d) => d.id)).toContain(r.id);
    expect(await metric('failed')).toBeGreaterThanOrEqual(3);
    expect(await metric('delivered')).toBeGreaterThanOrEqual(3);
    // Bob's hook heard nothing of Alice's job; the job.failed-only hook nothing of a finished job.
    expect(receiver.requests.filter((r) => r.path === '/bob' || r.path === '/alice-failures')).toEqual([]);
  });

  it('delivers job.failed once, after a receiver that was down comes back', async () => {
    const down = new Receiver();
    await down.listen();
    const downHook = await addHook(alice, down.url('/late'), ['job.failed']);
    await down.close();
    const failedBefore = await metric('failed');

    const res = await alice.call('/api/jobs', {
      body: { scene: shippedRaw('cornell'), width: 16, height: 16, spp: 1, tileSize: 16, timeoutSeconds: 1, onTimeout: 'fail' },
    });
    const { id } = (await res.json()) as { id: string };
    await expect.poll(async () => (await statusOf(alice, id)).state, { timeout: 20_000 }).toBe('failed');
    // Connections refused: at least two attempts fail before the receiver is back.
    await expect.poll(() => metric('failed'), { timeout: 20_000 }).toBeGreaterThanOrEqual(failedBefore + 2);
    await down.listen();
    await settled(api.redisUrl);

    const late = down.delivered('/late');
    expect(late).toHaveLength(1);
    expect(signedBy(downHook.secret, late[0])).toBe(true);
    expect(events(late)[0]).toMatchObject({ type: 'job.failed', job: id, state: 'failed', error: expect.stringMatching(/timed out/) });
    // Alice's other hooks that want job.failed get it too, once each, signed with their own secrets.
    const other = receiver.delivered('/alice-failures');
    expect(other).toHaveLength(1);
    expect(events(other)[0].id).toBe(events(late)[0].id);
    expect(signedBy(failuresHook.secret, other[0])).toBe(true);
    expect(receiver.delivered('/alice').filter((r) => JSON.parse(r.body).job === id)).toHaveLength(1);
    await down.close();
  });

  it('lists and deletes only its own hooks, caps them, and refuses bad input by path', async () => {
    const carol = await requester('carol');
    const mine = await addHook(carol, receiver.url('/carol'));
    const listed = WebhookList.parse(await (await carol.call('/api/webhooks')).json());
    expect(listed.webhooks).toEqual([{ id: mine.id, url: mine.url, events: mine.events, createdAt: mine.createdAt }]);
    expect(JSON.stringify(listed)).not.toContain('whsec_');
    // Alice sees only hers, and cannot delete Carol's.
    expect(WebhookList.parse(await (await alice.call('/api/webhooks')).json()).webhooks.map((h) => h.id)).not.toContain(mine.id);
    await problem(await alice.call(`/api/webhooks/${mine.id}`, { method: 'DELETE' }), 404);
    expect((await problem(await carol.call('/api/webhooks/nope', { method: 'DELETE' }), 400)).errors?.[0].path).toBe('id');

    const bad = async (body: unknown) => (await problem(await carol.call('/api/webhooks', { body }), 400)).errors?.[0];
    expect((await bad({ url: 'ftp://example.com/hook' }))?.path).toBe('url');
    expect((await bad({ url: 'https://user:secret@example.com/hook' }))?.message).toMatch(/credentials/);
    expect((await bad({ url: 'example.com/hook' }))?.path).toBe('url');
    expect((await bad({ url: `https://example.com/${'a'.repeat(2100)}` }))?.path).toBe('url');
    expect((await bad({ url: receiver.url('/x'), events: ['job.exploded'] }))?.path).toBe('events[0]');
    expect((await bad({ url: receiver.url('/x'), events: [] }))?.path).toBe('events');
    await problem(await fetch(`${api.farm.url}/api/webhooks`), 401);

    for (let i = 1; i < 10; i++) await addHook(carol, receiver.url(`/carol${i}`));
    expect((await problem(await carol.call('/api/webhooks', { body: { url: receiver.url('/eleventh') } }), 409)).detail).toMatch(
      /at most 10/,
    );
    expect((await carol.call(`/api/webhooks/${mine.id}`, { method: 'DELETE' })).status).toBe(200);
    await problem(await carol.call(`/api/webhooks/${mine.id}`, { method: 'DELETE' }), 404);
    await addHook(carol, receiver.url('/eleventh'));
  });

  it('is managed with `farm webhooks add|list|remove`', async () => {
    const dave = await requester('dave');
    const farm = (...args: string[]) =>
      promisify(execFile)(process.execPath, [join(ROOT, 'bin/farm.js'), 'webhooks', ...args, '--orchestrator', api.farm.url], {
        env: { ...process.env, FARM_TOKEN: dave.token },
      });
    const added = (await farm('add', receiver.url('/dave'), '--events', 'job.done', 'job.failed')).stdout;
    const id = /webhook (wh_[0-9a-f]{16}): job\.done, job\.failed to /.exec(added)?.[1] as string;
    expect(added.trim().split('\n').pop()).toMatch(/^whsec_/);
    expect((await farm('list')).stdout).toMatch(new RegExp(`\\| ${id} \\| ${receiver.url('/dave')} \\| job.done,job.failed \\|`));
    expect((await farm('remove', id)).stdout).toMatch(/removed/);
    expect(WebhookList.parse(await (await dave.call('/api/webhooks')).json()).webhooks).toEqual([]);
  });
});

describe('webhook SSRF rule', () => {
  it('refuses loopback, private and link-local receivers at registration without the setting', async () => {
    const strict = await startApiFarm();
    try {
      const refused = async (url: string) => {
        const p = await problem(await strict.operator('/api/webhooks', { url }), 400);
        expect(p.errors?.[0].path).toBe('url');
        return p.errors?.[0].message;
      };
      expect(await refused(receiver.url('/'))).toMatch(/loopback/);
      expect(await refused(`http://localhost:${receiver.port}/`)).toMatch(/localhost resolves to .* loopback/);
      expect(await refused('http://[::ffff:127.0.0.1]/')).toMatch(/loopback/);
      expect(await refused('http://169.254.169.254/latest/meta-data/')).toMatch(/linkLocal/);
      expect(await refused('http://10.0.0.1/')).toMatch(/private/);
      expect(await refused('http://[fd00::1]/')).toMatch(/uniqueLocal/);
    } finally {
      await strict.stop();
    }
  });

  it('checks the address a delivery connects to, so a name that resolves to loopback is refused then too', async () => {
    const target = await new Receiver().listen();
    const send = (url: string, allowPrivate: boolean) =>
      deliver({ url, secret: 'whsec_test', id: 'evt_1', body: '{}' }, { allowPrivate, timeoutMs: 2000 });
    try {
      await expect(send(`http://localhost:${target.port}/`, false)).rejects.toBeInstanceOf(AddressRefused);
      await expect(send(target.url('/'), false)).rejects.toBeInstanceOf(AddressRefused);
      expect(target.requests).toEqual([]);
      await send(`http://localhost:${target.port}/ok`, true);
      expect(target.requests.map((r) => r.path)).toEqual(['/ok']);
      // Anything but a 2xx is a failed attempt; the answer's start says why.
      target.failNext = 1;
      await expect(send(target.url('/'), true)).rejects.toThrow(/answered 503: down for maintenance/);
    } finally {
      await target.close();
    }
  });
});

describe('webhooks across a crash', () => {
  it('delivers an event read from the outbox by an orchestrator killed -9 before it queued it', async () => {
    const hooked = await new Receiver().listen();
    const env = { FARM_WEBHOOK_ALLOW_PRIVATE: '1', FARM_WEBHOOK_CLAIM_MS: '500', FARM_WEBHOOK_BACKOFF_MS: '100' };
    const farm = await TestFarm.start({ env: { ...env, FARM_CRASH_AT: 'before-webhook-queue' } });
    try {
      const hook = WebhookCreated.parse(await (await farm.client.call('POST', '/api/webhooks', { url: hooked.url('/crash') })).json());
      await farm.startWorker('a');
      const { id } = await farm.client.submit({ scene: shippedRaw('cornell'), width: 16, height: 16, spp: 1, tileSize: 16 });
      await farm.orchestratorExited(60_000);
      // It died holding the event: read by its consumer, never queued.
      const redis = new Redis(farm.redis.url);
      const [pending] = (await redis.xpending(keys.outbox, 'webhooks')) as [number];
      redis.disconnect();
      expect(pending).toBeGreaterThanOrEqual(1);
      expect(hooked.requests).toEqual([]);

      await farm.startOrchestrator(env);
      await farm.waitForJob(id, 60_000);
      await waitFor(async () => hooked.delivered('/crash').length >= 2, 30_000, 'frame.done and job.done');
      await settled(farm.redis.url);
      const got = events(hooked.delivered('/crash'));
      expect(got.map((e) => e.type).sort()).toEqual(['frame.done', 'job.done']);
      for (const r of hooked.delivered('/crash')) expect(signedBy(hook.secret, r)).toBe(true);
    } finally {
      await farm.stop();
      await hooked.close();
    }
  }, 240_000);
});
