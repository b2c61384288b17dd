/**
 * Webhooks end to end, with a real HTTP receiver: a finished job's frame.done (one per frame) and
 * job.done, and a failed job's job.failed, each arrive once, signed with the hook's secret as
 * Standard Webhooks sign, even when the receiver answers 503 or is down for the first attempts;
 * another requester's hooks get nothing; bad and non-public URLs are refused by path, without
 * telling what a name resolves to, and registrations are rate-limited; the CLI manages hooks; a
 * hook whose receiver keeps failing is disabled until its owner enables it, and one hook's
 * pending deliveries are capped; and an event whose orchestrator is killed -9 between the outbox
 * and the queue is delivered after all.
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
import { connectRedis } from '../orchestrator/state/redis.ts';
import { Webhooks } from '../orchestrator/state/webhooks.ts';
import { AddressRefused, HostResolver } from '../orchestrator/webhooks/addresses.ts';
import { deliver } from '../orchestrator/webhooks/deliver.ts';
import type { JobStatus } from '../shared/protocol.ts';
import { WebhookCreated, WebhookEvent, WebhookList } from '../shared/webhooks.ts';
import { DnsServer } from './support/dns.ts';
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
          id: String(req.headers['webhook-id']),
          timestamp: String(req.headers['webhook-timestamp']),
          signature: String(req.headers['webhook-signature']),
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

/**
 * What a receiver checks, as Standard Webhooks and README's example do: one of the signature
 * header's `v1,` entries is the base64 HMAC-SHA256 of id.timestamp.body keyed with the bytes of
 * the secret's base64 after `whsec_`, and the timestamp is recent.
 */
function signedBy(secret: string, r: Received): boolean {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const expected = `v1,${createHmac('sha256', key).update(`${r.id}.${r.timestamp}.${r.body}`).digest('base64')}`;
  return r.signature.split(' ').includes(expected) && Math.abs(Date.now() / 1000 - Number(r.timestamp)) < 300;
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
  farm: ApiFarm;
  call(path: string, init?: { method?: string; body?: unknown }): Promise<Response>;
}
async function requester(name: string, farm = api): Promise<Requester> {
  const { token, owner } = (await (await farm.operator('/api/tokens', { name })).json()) as { token: string; owner: string };
  expect((await farm.operator('/api/credits', { account: owner, amount: 100 })).status).toBe(201);
  const call = (path: string, init: { method?: string; body?: unknown } = {}) =>
    fetch(`${farm.farm.url}${path}`, {
      method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
  return { owner, token, farm, call };
}
/** `farm webhooks …` as the requester. */
const cli = (r: Requester, ...args: string[]) =>
  promisify(execFile)(process.execPath, [join(ROOT, 'bin/farm.js'), 'webhooks', ...args, '--orchestrator', r.farm.farm.url], {
    env: { ...process.env, FARM_TOKEN: r.token },
  });
async function addHook(r: Requester, url: string, events?: string[]): Promise<WebhookCreated> {
  const res = await r.call('/api/webhooks', { body: { url, events } });
  expect(res.status).toBe(201);
  return WebhookCreated.parse(await res.json());
}
const statusOf = async (r: Requester, id: string) => (await (await r.call(`/api/jobs/${id}`)).json()) as JobStatus;
const hooksOf = async (r: Requester) => WebhookList.parse(await (await r.call('/api/webhooks')).json()).webhooks;

/** Submits a two-frame job as `r` and renders it to done with a trusted worker: frame.done twice, then job.done. */
async function finishJob(r: Requester): Promise<string> {
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
  const submitted = await r.call('/api/jobs', { body: job });
  expect(submitted.status).toBe(201);
  const { id } = (await submitted.json()) as { id: string };
  const worker = await r.farm.worker('renderer', { trusted: true });
  while ((await statusOf(r, id)).state !== 'done') {
    const a = await worker.client.next();
    if (a) expect(await uploadShade(worker.client, a, 90)).toBe('accepted');
  }
  return id;
}

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
const metric = async (outcome: string, farm = api) =>
  sumOf(parsePrometheus(await (await farm.operator('/metrics')).text()), 'farm_webhook_deliveries_total', { outcome });

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

    const id = await finishJob(alice);
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
    const listed = await hooksOf(carol);
    expect(listed).toEqual([{ id: mine.id, url: mine.url, events: mine.events, createdAt: mine.createdAt }]);
    expect(JSON.stringify(listed)).not.toContain('whsec_');
    // Alice sees only hers, and cannot delete or enable Carol's.
    expect((await hooksOf(alice)).map((h) => h.id)).not.toContain(mine.id);
    await problem(await alice.call(`/api/webhooks/${mine.id}`, { method: 'DELETE' }), 404);
    await problem(await alice.call(`/api/webhooks/${mine.id}/enable`, { body: {} }), 404);
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
    const added = (await cli(dave, 'add', receiver.url('/dave'), '--events', 'job.done', 'job.failed')).stdout;
    const id = /webhook (wh_[0-9a-f]{16}): job\.done, job\.failed to /.exec(added)?.[1] as string;
    expect(added.trim().split('\n').pop()).toMatch(/^whsec_/);
    expect((await cli(dave, 'list')).stdout).toMatch(new RegExp(`\\| ${id} \\| ${receiver.url('/dave')} \\| job.done,job.failed \\|`));
    expect((await cli(dave, 'remove', id)).stdout).toMatch(/removed/);
    expect(await hooksOf(dave)).toEqual([]);
  });

  it('admits at most maxPending deliveries per hook, each counted once however often it is queued, until one ends', async () => {
    const redis = connectRedis(api.redisUrl);
    const hooks = new Webhooks(redis);
    try {
      const owner = '0123456789abcdef';
      const hook = (await hooks.add(owner, 'https://8.8.8.8/hook', ['job.done'])) as WebhookCreated;
      const limits = { maxPending: 2, maxAgeMs: 60_000 };
      // Stand-ins for the deliveries' BullMQ job hashes.
      const jobKey = (d: string) => `test:bull:${hook.id}:${d}`;
      const admit = (d: string, now?: number) => hooks.admit(hook.id, d, jobKey(d), limits, now);
      expect([await admit('a'), await admit('b'), await admit('c')]).toEqual(['queue', 'queue', 'full']);
      // An outbox entry handled again after a crash: its delivery is queued again (a no-op) and still counted once.
      expect(await admit('a')).toBe('queue');
      expect(await admit('c')).toBe('full');
      // A delivery that ended frees its place; its job, kept a while, is not counted again if its entry comes back.
      await hooks.delivered(hook.id, 'a');
      await redis.hset(jobKey('a'), 'finishedOn', Date.now());
      expect(await admit('a')).toBe('queue');
      expect([await admit('c'), await admit('d')]).toEqual(['queue', 'full']);
      // Entries older than any delivery lasts (their jobs removed from the queue by hand) stop counting.
      expect(await admit('d', Date.now() + limits.maxAgeMs + 1)).toBe('queue');

      // Failed attempts in a row disable it; a delivered one starts the count again.
      expect(await hooks.failed(hook.id, 2, 'one')).toBe(false);
      await hooks.delivered(hook.id, 'b');
      expect(await hooks.failed(hook.id, 2, 'one again')).toBe(false);
      expect(await hooks.failed(hook.id, 2, 'two in a row')).toBe(true);
      expect(await hooks.failed(hook.id, 2, 'three')).toBe(false);
      expect((await hooks.get(hook.id))?.disabled).toEqual({ at: expect.any(Number), reason: 'two in a row' });
      expect(await admit('e')).toBe('off');
      expect(await hooks.enable(owner, hook.id)).toBe(true);
      expect((await hooks.get(hook.id))?.disabled).toBeUndefined();
      expect(await hooks.failed(hook.id, 2, 'one')).toBe(false);

      // A deleted hook leaves nothing, and a late attempt's outcome brings nothing back.
      expect(await hooks.remove(owner, hook.id)).toBe(true);
      expect(await hooks.failed(hook.id, 2, 'late')).toBe(false);
      await hooks.delivered(hook.id, 'd');
      expect(await admit('f')).toBe('off');
      expect(await redis.exists(keys.webhook(hook.id), keys.webhookPending(hook.id), keys.webhooksOf(owner))).toBe(0);
    } finally {
      redis.disconnect();
    }
  });
});

describe('a failing receiver', () => {
  it("disables its hook after webhookFailureLimit failed attempts in a row, drops the hook's events, until its owner enables it", async () => {
    const farm = await startApiFarm({
      webhookAllowPrivate: true,
      webhookBackoffMs: 100,
      webhookClaimMs: 500,
      webhookFailureLimit: 3,
      pollMs: 100,
    });
    const failing = await new Receiver().listen();
    failing.failNext = Number.POSITIVE_INFINITY;
    try {
      const erin = await requester('erin', farm);
      const hook = await addHook(erin, failing.url('/erin'));
      await finishJob(erin);
      await settled(farm.redisUrl);
      const [disabled] = await hooksOf(erin);
      expect(disabled.disabled).toEqual({
        at: expect.any(Number),
        reason: expect.stringMatching(/^3 delivery attempts in a row failed; the last: the receiver answered 503: down for maintenance/),
      });
      // Three failures disabled it, with at most the job's two other events' attempts under way then; what was left was dropped.
      const attempts = failing.requests.length;
      expect(attempts).toBeGreaterThanOrEqual(3);
      expect(attempts).toBeLessThanOrEqual(5);
      expect(await metric('dropped', farm)).toBeGreaterThanOrEqual(1);
      expect((await cli(erin, 'list')).stdout).toMatch(/since \S+: 3 delivery attempts in a row failed/);

      // A disabled hook is sent nothing of the next job.
      const droppedBefore = await metric('dropped', farm);
      await finishJob(erin);
      await settled(farm.redisUrl);
      expect(failing.requests).toHaveLength(attempts);
      expect(await metric('dropped', farm)).toBe(droppedBefore + 3);

      // Its owner enables it; the receiver is back, and the next job's events arrive.
      failing.failNext = 0;
      expect((await cli(erin, 'enable', hook.id)).stdout).toMatch(/enabled/);
      expect((await hooksOf(erin))[0].disabled).toBeUndefined();
      const id = await finishJob(erin);
      await settled(farm.redisUrl);
      const got = events(failing.delivered('/erin'));
      expect(got.map((e) => `${e.type} ${e.frame ?? ''} ${e.job}`).sort()).toEqual([
        `frame.done 0 ${id}`,
        `frame.done 1 ${id}`,
        `job.done  ${id}`,
      ]);
      for (const r of failing.delivered('/erin')) expect(signedBy(hook.secret, r)).toBe(true);
    } finally {
      await failing.close();
      await farm.stop();
    }
  }, 120_000);
});

describe('webhook SSRF rule', () => {
  let strict: ApiFarm;
  beforeAll(async () => {
    strict = await startApiFarm({ submissionsPerMinute: 20 });
  });
  afterAll(() => strict.stop());

  it('refuses loopback, private and link-local receivers at registration without the setting', async () => {
    const refused = async (url: string) => {
      const p = await problem(await strict.operator('/api/webhooks', { url }), 400);
      expect(p.errors?.[0].path).toBe('url');
      return p.errors?.[0].message;
    };
    expect(await refused(receiver.url('/'))).toMatch(/loopback/);
    // What a name resolves to is not told.
    const named = await refused(`http://localhost:${receiver.port}/`);
    expect(named).toMatch(/^localhost resolves to a non-public address/);
    expect(named).not.toMatch(/127\.0\.0\.1|::1|loopback/);
    expect(await refused('http://[::ffff:127.0.0.1]/')).toMatch(/loopback/);
    expect(await refused('http://169.254.169.254/latest/meta-data/')).toMatch(/linkLocal/);
    expect(await refused('http://10.0.0.1/')).toMatch(/private/);
    expect(await refused('http://[fd00::1]/')).toMatch(/uniqueLocal/);
  });

  it("counts registrations, refused ones too, against the requester's submission rate", async () => {
    const frank = await requester('frank', strict);
    for (let i = 0; i < 20; i++) await problem(await frank.call('/api/webhooks', { body: { url: 'http://10.0.0.1/' } }), 400);
    const limited = await frank.call('/api/webhooks', { body: { url: 'https://8.8.8.8/hook' } });
    await problem(limited, 429);
    expect(limited.headers.get('retry-after')).toMatch(/^\d+$/);
    // Per requester: another is not held up.
    const grace = await requester('grace', strict);
    expect((await grace.call('/api/webhooks', { body: { url: 'https://8.8.8.8/hook' } })).status).toBe(201);
  });

  it('checks the address a delivery connects to, so a name that resolves to loopback (now) is refused then too', async () => {
    const target = await new Receiver().listen();
    const dns = await new DnsServer().listen();
    const resolver = new HostResolver({ servers: [dns.server], timeoutMs: 500, tries: 1 });
    const send = (url: string, allowPrivate: boolean) =>
      deliver({ url, secret: 'whsec_dGVzdA==', id: 'evt_1', body: '{}' }, { allowPrivate, timeoutMs: 2000, resolver });
    try {
      await expect(send(`http://localhost:${target.port}/`, false)).rejects.toBeInstanceOf(AddressRefused);
      await expect(send(target.url('/'), false)).rejects.toBeInstanceOf(AddressRefused);
      // A name that resolved to a public address when its hook was added, and to loopback now.
      dns.records.set('hooks.test', ['127.0.0.1']);
      await expect(send(`http://hooks.test:${target.port}/`, false)).rejects.toBeInstanceOf(AddressRefused);
      expect(target.requests).toEqual([]);
      await send(`http://localhost:${target.port}/ok`, true);
      await send(`http://hooks.test:${target.port}/named`, true);
      expect(target.requests.map((r) => r.path)).toEqual(['/ok', '/named']);
      // Anything but a 2xx is a failed attempt; the answer's start says why.
      target.failNext = 1;
      await expect(send(target.url('/'), true)).rejects.toThrow(/answered 503: down for maintenance/);
    } finally {
      await target.close();
      await dns.close();
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
