/**
 * Polls waiting for work cost Redis next to nothing, however many wait: a waiting poll wakes every
 * second, and looks (its worker's record read again, a fetch from each of its queues) only when a
 * look has not just found its queues empty; a queue found empty a while ago is looked in by one
 * poll at a time; and a slot added wakes as many waiting polls as it brings work for, the
 * longest-waiting first — not every one of them. Counted with MONITOR on a real orchestrator,
 * Redis and signed HTTP: a swarm of 10,000 idle workers had made one worker read and up to three
 * fetches a second each (bench:swarm).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keys } from '../orchestrator/state/keys.ts';
import { WorkerClient } from '../worker/client.ts';
import { type ApiFarm, oneTileJob, startApiFarm, type TestClient } from './support/orchestrator.ts';

const POLL_MS = 3000;
const WAITING = 20;

let api: ApiFarm;
let workers: TestClient[];
beforeAll(async () => {
  api = await startApiFarm({ pollMs: POLL_MS });
  // Trusted: no stake to set up, and three queues each (arbiter, class, shared) to look in.
  workers = await Promise.all(Array.from({ length: WAITING + 1 }, (_, i) => api.worker(`w${i}`, { trusted: true })));
});
afterAll(() => api.stop());

/** Counts, while `during` runs, the reads of these workers' records and the fetches from slot queues (BullMQ's moveToActive). */
async function counted<T>(ids: readonly string[], during: () => Promise<T>): Promise<{ value: T; workerReads: number; fetches: number }> {
  const records = new Set(ids.map((id) => `"${keys.worker(id)}"`));
  // redis-cli's MONITOR: one line a command, `<time> [<db> <client>] "command" "arg" …`.
  const monitor = spawn('redis-cli', ['-u', api.redisUrl, 'monitor']);
  const seen = { workerReads: 0, fetches: 0 };
  createInterface({ input: monitor.stdout }).on('line', (line) => {
    const [command, key, , first, second] = line.slice(line.indexOf('] ') + 2).split(' ');
    if (command === '"hgetall"' && records.has(key)) seen.workerReads++;
    // moveToActive (sha, key count, keys…): its keys begin with the queue's wait list, then its active list.
    if (command === '"evalsha"' && first?.endsWith(':wait"') && second?.endsWith(':active"')) seen.fetches++;
  });
  await once(monitor.stdout, 'data'); // "OK": watching
  try {
    const value = await during();
    await new Promise((r) => setTimeout(r, 100));
    return { value, ...seen };
  } finally {
    monitor.kill();
  }
}

/** One poll waiting first (it finds the queues empty), then the others, which all wake in step. */
async function pollTogether(): Promise<unknown[]> {
  const [first, ...rest] = workers;
  const warm = first.client.next();
  await new Promise((r) => setTimeout(r, 200));
  return Promise.all([warm, ...rest.map((w) => w.client.next())]);
}

describe('waiting polls', () => {
  it('on an empty farm read neither their workers nor the queues every second each', async () => {
    const { value, workerReads, fetches } = await counted(
      workers.map((w) => w.id),
      pollTogether,
    );
    expect(value.every((a) => a === undefined)).toBe(true);
    // Each poll's signature check reads its worker once (21); every second of the wait had read
    // each again (84 reads in all, measured), and the queues are looked in at most every
    // quarter second, by one poll at a time, however many wait.
    expect(workerReads).toBeLessThan(WAITING + 1 + 15);
    expect(fetches).toBeLessThan(40);
  });

  it('are woken for a new slot one at a time, and one of them gets it', async () => {
    const { value, fetches } = await counted(
      workers.map((w) => w.id),
      async () => {
        const polls = pollTogether();
        await new Promise((r) => setTimeout(r, 500));
        const submitted = await api.operator('/api/jobs', oneTileJob(1));
        expect(submitted.status).toBe(201);
        return polls;
      },
    );
    expect(value.filter((a) => a !== undefined)).toHaveLength(1);
    // Waking all 21 had each look in its three queues at once, and again at every wake (222 fetches).
    expect(fetches).toBeLessThan(40);
  });

  it('on another orchestrator find the slots one adds, though no wake-up reaches them', async () => {
    const other = await api.another();
    try {
      const there = workers.map((w) => new WorkerClient(other.url, w.identity));
      const polls = Promise.all(there.map((c) => c.next()));
      await new Promise((r) => setTimeout(r, 500));
      expect((await api.operator('/api/jobs', { ...oneTileJob(1), width: 16 * workers.length })).status).toBe(201);
      expect((await polls).filter((a) => a !== undefined)).toHaveLength(workers.length);
    } finally {
      await other.close();
    }
  });
});
