/**
 * Background work under a fixed id, on a real Redis and real BullMQ: queueing it again is a no-op
 * while it waits, runs or has completed, and runs it again once it failed all its attempts —
 * recovery's re-queue of a planning that failed five times used to wait out BullMQ's 7 days.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PrivateRedis, startRedisServer } from '../cli/redis-server.ts';
import { enqueueOnce } from '../orchestrator/enqueue-once.ts';
import { waitFor } from './support/farm.ts';

let server: PrivateRedis;
let connection: Redis;
let queue: Queue;
let worker: Worker;
const runs = new Map<string, number>();
let failing = true;

beforeAll(async () => {
  server = await startRedisServer({ dir: join(mkdtempSync(join(tmpdir(), 'farm-enqueue-')), 'redis') });
  connection = new Redis(server.url, { maxRetriesPerRequest: null });
  queue = new Queue('plans', { connection });
  worker = new Worker(
    'plans',
    async (job) => {
      runs.set(job.id as string, (runs.get(job.id as string) ?? 0) + 1);
      if (failing) throw new Error('Redis was away');
    },
    { connection },
  );
});

afterAll(async () => {
  await worker.close();
  await queue.close();
  connection.disconnect();
  await server.stop();
});

const RETRIED = { attempts: 3, backoff: { type: 'fixed', delay: 20 } };

describe('enqueueOnce', () => {
  it('runs a job that failed all its attempts again, with its attempts anew', async () => {
    failing = true;
    await enqueueOnce(queue, 'plan', { job: 'j1' }, { jobId: 'plan.j1', ...RETRIED });
    await waitFor(async () => (await queue.getJobState('plan.j1')) === 'failed', 10_000, 'plan.j1 failed');
    expect(runs.get('plan.j1')).toBe(3);

    await queue.add('plan', { job: 'j1' }, { jobId: 'plan.j1', ...RETRIED });
    expect(await queue.getJobState('plan.j1')).toBe('failed'); // what a plain add does

    failing = false;
    await enqueueOnce(queue, 'plan', { job: 'j1' }, { jobId: 'plan.j1', ...RETRIED });
    await waitFor(async () => (await queue.getJobState('plan.j1')) === 'completed', 10_000, 'plan.j1 completed');
    expect(runs.get('plan.j1')).toBe(4);
    expect((await queue.getJob('plan.j1'))?.attemptsMade).toBe(1);
  });

  it('does not run a job again that waits or completed, nor twice when two callers retry it at once', async () => {
    failing = false;
    await enqueueOnce(queue, 'plan', { job: 'j2' }, { jobId: 'plan.j2', ...RETRIED });
    await enqueueOnce(queue, 'plan', { job: 'j2' }, { jobId: 'plan.j2', ...RETRIED });
    await waitFor(async () => (await queue.getJobState('plan.j2')) === 'completed', 10_000, 'plan.j2 completed');
    await enqueueOnce(queue, 'plan', { job: 'j2' }, { jobId: 'plan.j2', ...RETRIED });
    await new Promise((r) => setTimeout(r, 200));
    expect(runs.get('plan.j2')).toBe(1);

    failing = true;
    await enqueueOnce(queue, 'plan', { job: 'j3' }, { jobId: 'plan.j3', ...RETRIED });
    await waitFor(async () => (await queue.getJobState('plan.j3')) === 'failed', 10_000, 'plan.j3 failed');
    failing = false;
    await Promise.all([1, 2, 3].map(() => enqueueOnce(queue, 'plan', { job: 'j3' }, { jobId: 'plan.j3', ...RETRIED })));
    await waitFor(async () => (await queue.getJobState('plan.j3')) === 'completed', 10_000, 'plan.j3 completed');
    await new Promise((r) => setTimeout(r, 200));
    expect(runs.get('plan.j3')).toBe(4);
  });
});
