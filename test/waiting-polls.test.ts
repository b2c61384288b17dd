/**
 * Polls waiting for work cost Redis next to nothing, however many wait: a waiting poll wakes every
 * second, and looks (its worker's record read again, a fetch from each of its queues) only when a
 * look has not just found its queues empty; a queue found empty a while ago is looked in by one
 * poll at a time; and a slot added wakes as many waiting polls as it brings work for, the
 * longest-waiting first — not every one of them; another orchestrator's slots are found by those
 * looks. Counted with MONITOR on a real orchestrator, Redis and signed HTTP: a swarm of 10,000
 * idle workers had made a worker read a second each, and thousands of fetches from empty queues
 * (bench:swarm).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keys } from '../orchestrator/state/keys.ts';
import { WorkerClient } from '../worker/client.ts';
import { type ApiFarm, nextAssignment, oneTileJob, startApiFarm, type TestClient } from './support/orchestrator.ts';

const POLL_MS = 3000;
const WAITING = 40;

let api: ApiFarm;
let workers: TestClient[];
beforeAll(async () => {
  api = await startApiFarm({ pollMs: POLL_MS });
  // Trusted: no stake to set up, and three queues each (arbiter, class, shared) to look in.
  workers = await Promise.all(Array.from({ length: WAITING }, (_, i) => api.worker(`w${i}`, { trusted: true })));
}, 60_000);
afterAll(() => api.stop());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A fetch from a slot queue (BullMQ's moveToActive: its keys begin with the queue's wait list, then its active list). */
const SLOT_FETCH = /^"evalsha" "[0-9a-f]+" "\d+" "bull:(slots|arbiter-)[^:"]*:wait" "bull:[^:"]*:active"/;

/** Counts, while `during` runs, the reads of the workers' records and the fetches from slot queues. */
async function counted<T>(during: () => Promise<T>): Promise<{ value: T; workerReads: number; fetches: number }> {
  const records = new Set(workers.map((w) => `"hgetall" "${keys.worker(w.id)}"`));
  // redis-cli's MONITOR: one line a command, `<time> [<db> <client>] "command" "arg" …`.
  const monitor = spawn('redis-cli', ['-u', api.redisUrl, 'monitor']);
  const seen = { workerReads: 0, fetches: 0 };
  createInterface({ input: monitor.stdout }).on('line', (line) => {
    const command = line.slice(line.indexOf('] ') + 2);
    if (records.has(command)) seen.workerReads++;
    if (SLOT_FETCH.test(command)) seen.fetches++;
  });
  await once(monitor.stdout, 'data'); // "OK": watching
  try {
    const value = await during();
    await sleep(100);
    return { value, ...seen };
  } finally {
    monitor.kill();
  }
}

/** Every worker's long-poll, begun over a second as a swarm's are (not in step), on `clients`. */
async function pollSpread(clients: readonly WorkerClient[]): Promise<unknown[]> {
  return Promise.all(
    clients.map(async (c, i) => {
      await sleep((i * 1000) / clients.length);
      return c.next();
    }),
  );
}

describe('waiting polls', () => {
  it('on an empty farm read neither their workers nor the queues every second each', async () => {
    const { value, workerReads } = await counted(() => pollSpread(workers.map((w) => w.client)));
    expect(value.every((a) => a === undefined)).toBe(true);
    // Each poll's signature check reads its worker once (40); each second of its wait read it again
    // (40 × 3 more: 160 in all, measured). Now a look after a wake-up, the read included, comes only
    // when no look found its queues empty in the last quarter second: a few a second in all.
    expect(workerReads).toBeLessThan(WAITING + 60);
  });

  it('are woken for a new slot one at a time, and one of them gets it', async () => {
    const { value, fetches } = await counted(async () => {
      const polls = pollSpread(workers.map((w) => w.client));
      await sleep(1200);
      expect((await api.operator('/api/jobs', oneTileJob(1))).status).toBe(201);
      return polls;
    });
    expect(value.filter((a) => a !== undefined)).toHaveLength(1);
    // Waking all 40 had each look in its three queues at once, and at every wake after until one
    // found them empty (264 fetches, measured); now the queues are looked in by
    // one poll at a time, a few times a second each.
    expect(fetches).toBeLessThan(100);
  });

  it('on another orchestrator find a slot this one puts back, though no wake-up reaches them', async () => {
    const other = await api.another();
    try {
      const [holder, ...rest] = workers;
      expect((await api.operator('/api/jobs', oneTileJob(1))).status).toBe(201);
      const held = await nextAssignment(holder.client, 5000);
      // The job's one slot is held: the other orchestrator's polls find their queues empty and wait.
      const polls = pollSpread(rest.map((w) => new WorkerClient(other.url, w.identity)));
      await sleep(1200);
      await holder.client.release(held.replica);
      expect((await polls).filter((a) => a !== undefined)).toHaveLength(1);
    } finally {
      await other.close();
    }
  });
});
