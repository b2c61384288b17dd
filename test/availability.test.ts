/**
 * Who could still take a replica of a tile (state/availability.ts, availability.lua), on a real
 * Redis: only workers of its class that take work count — one that looked for work or holds a
 * replica, not a key that only beats, nor one asking more than the job pays — and a tile opened
 * to the other classes counts none of the classes set aside for it.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PrivateRedis, startRedisServer } from '../cli/redis-server.ts';
import type { Prices } from '../orchestrator/dispatch.ts';
import { AvailabilityReader } from '../orchestrator/state/availability.ts';
import { Classes } from '../orchestrator/state/classes.ts';
import { keys } from '../orchestrator/state/keys.ts';
import { connectRedis, type FarmRedis } from '../orchestrator/state/redis.ts';
import { type WorkerRecord, Workers } from '../orchestrator/state/workers.ts';

const WINDOW_MS = 60_000;
const STAKE = 10;
/** The last clearing traded at 1,000 ticks per RU. */
let prices: Prices = { spot: 1000, traded: 1000, marketLimit: null };

let server: PrivateRedis;
let redis: FarmRedis;
let workers: Workers;
let availability: AvailabilityReader;

beforeAll(async () => {
  server = await startRedisServer({ dir: join(mkdtempSync(join(tmpdir(), 'farm-availability-')), 'redis') });
  redis = connectRedis(server.url);
  workers = new Workers(redis, WINDOW_MS, 0.2);
  const classes = new Classes(redis);
  for (const id of ['rare', 'common', 'crowded', 'flooded'])
    await classes.save({ id, established: true, near: null, answers: [], at: 0, calibration: '' });
  availability = new AvailabilityReader(redis, classes, WINDOW_MS, STAKE, STAKE, async () => prices);
});
afterAll(async () => {
  redis.disconnect();
  await server.stop();
});

/** An established, staked, untrusted worker of `deviceClass`, as its record reads now. */
async function worker(id: string, deviceClass: string, fields: Record<string, number> = {}): Promise<WorkerRecord> {
  await redis.hset(keys.worker(id), {
    id,
    class: deviceClass,
    classState: 'established',
    trusted: 0,
    stake: 100,
    locked: 0,
    unbonding: 0,
    ...fields,
  });
  return (await workers.get(id)) as WorkerRecord;
}

/** A running job of one 16×16 tile at 1 spp, its escrow in µc (a credit by default), and its bid in ticks per RU (none: a market order). */
async function job(id: string, bid?: number, escrow = 1_000_000): Promise<string> {
  await redis.hset(keys.job(id), { id, state: 'running', spp: 1, escrow, committed: 0, ...(bid === undefined ? {} : { bid }) });
  await redis.hset(keys.task(`${id}.f0.t0`), { id: `${id}.f0.t0`, job: id, rect: JSON.stringify({ x: 0, y: 0, width: 16, height: 16 }) });
  return id;
}

const tile = (id: string, deviceClass: string, excluded: string[] = []) => ({ id: `${id}.f0.t0`, job: id, class: deviceClass, excluded });

describe('availability', () => {
  it('counts a worker of the class that looked for work or beats holding a replica, not one that only beats', async () => {
    const of = async () => (await availability.of(tile(await job('j1'), 'rare'), 64)).eligible;
    await workers.touch(await worker('beats', 'rare'));
    expect(await of()).toBe(0);
    await workers.touch(await worker('busy', 'rare', { inFlight: 1 }));
    expect(await of()).toBe(1);
    await redis.del(keys.classWorking('rare'));
    await workers.looked(await worker('polls', 'rare'));
    expect(await of()).toBe(1);
  });

  it('finds the worker that can take a tile behind 200 keys that took work since and cannot', async () => {
    const of = async () => (await availability.of(tile(await job('j6', 1000), 'crowded'), 64)).eligible;
    await workers.looked(await worker('honest', 'crowded'));
    // The keys are recorded after it, ahead of it in the order availability reads.
    await new Promise((r) => setTimeout(r, 5));
    for (let i = 0; i < 200; i++) await workers.looked(await worker(`dear${i}`, 'crowded', { ask: 1_000_000 }));
    expect(await of()).toBe(1);
  });

  it('says one can take it when the 256 that took work last all cannot: a flood makes a tile wait, never decided on its word', async () => {
    const of = async () => (await availability.of(tile(await job('j7', 1000), 'flooded'), 64)).eligible;
    for (let i = 0; i < 255; i++) await workers.looked(await worker(`flood${i}`, 'flooded', { ask: 1_000_000 }));
    expect(await of()).toBe(0);
    await workers.looked(await worker('flood255', 'flooded', { ask: 1_000_000 }));
    expect(await of()).toBe(1);
  });

  it('counts no worker whose ask the job’s bid or the price does not reach', async () => {
    const of = async (id: string) => (await availability.of(tile(id, 'common'), 64)).eligible;
    await workers.looked(await worker('dear', 'common', { ask: 5000 }));
    expect([await of(await job('j2', 8000)), await of(await job('j3', 2000))]).toEqual([0, 0]);
    // No clearing crossed: at the worker's ask, where the job's bid reaches it and its escrow pays a tile at it.
    prices = { spot: null, traded: 1000, marketLimit: null };
    expect([await of('j2'), await of('j3'), await of(await job('j5', undefined, 1))]).toEqual([1, 0, 0]);
  });

  it('counts, for a tile opened to the other classes, only workers of a class not set aside for it', async () => {
    await redis.del(keys.classWorking('common'), keys.classWorking('crowded'), keys.classWorking('flooded'));
    expect(await availability.of(tile('j4', '', ['common']), 64)).toEqual({ trusted: 0, eligible: 1 });
    expect(await availability.of(tile('j4', '', ['rare']), 64)).toEqual({ trusted: 0, eligible: 0 });
    await workers.looked(await worker('common-key', 'common'));
    expect(await availability.of(tile('j4', '', ['rare']), 64)).toEqual({ trusted: 0, eligible: 1 });
  });
});
