/**
 * Who could still take a replica of a tile (state/availability.ts, availability.lua), on a real
 * Redis: only workers that take work count — a key that only beats does not — and a tile opened
 * to the other classes counts none of the classes set aside for it.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PrivateRedis, startRedisServer } from '../cli/redis-server.ts';
import { AvailabilityReader } from '../orchestrator/state/availability.ts';
import { Classes } from '../orchestrator/state/classes.ts';
import { keys } from '../orchestrator/state/keys.ts';
import { connectRedis, type FarmRedis } from '../orchestrator/state/redis.ts';

const WINDOW_MS = 60_000;
const STAKE = 10;

let server: PrivateRedis;
let redis: FarmRedis;
let availability: AvailabilityReader;

beforeAll(async () => {
  server = await startRedisServer({ dir: join(mkdtempSync(join(tmpdir(), 'farm-availability-')), 'redis') });
  redis = connectRedis(server.url);
  const classes = new Classes(redis);
  for (const id of ['rare', 'common']) await classes.save({ id, established: true, near: null, answers: [], at: 0, calibration: '' });
  availability = new AvailabilityReader(redis, classes, WINDOW_MS, STAKE, STAKE);
});
afterAll(async () => {
  redis.disconnect();
  await server.stop();
});

/** An established, staked, untrusted worker of `deviceClass` seen just now, with what else it did. */
async function seen(id: string, deviceClass: string, fields: Record<string, number> = {}): Promise<void> {
  const now = Date.now();
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
  await redis.zadd(keys.workersBy('lastSeen'), now, id);
  await redis.zadd(keys.classSeen(deviceClass), now, id);
}

const tile = (id: string, deviceClass: string, excluded: string[] = []) => ({ id: `${id}:t`, job: id, class: deviceClass, excluded });

describe('availability', () => {
  it('counts a worker of the class that holds a replica or looked for work in the window, not one that only beats', async () => {
    const of = () => availability.of(tile('j1', 'rare'), 64);
    await seen('beats', 'rare', { lookedAt: Date.now() - WINDOW_MS - 1000 });
    expect((await of()).eligible).toBe(0);
    await seen('busy', 'rare', { inFlight: 1 });
    expect((await of()).eligible).toBe(1);
    await seen('polls', 'rare', { lookedAt: Date.now() });
    expect((await of()).eligible).toBe(2);
  });

  it('counts, for a tile opened to the other classes, only workers of a class not set aside for it', async () => {
    await seen('rare-key', 'rare', { lookedAt: Date.now() });
    expect(await availability.of(tile('j2', '', ['rare']), 64)).toEqual({ trusted: 0, eligible: 0 });
    expect(await availability.of(tile('j2', ''), 64)).toEqual({ trusted: 0, eligible: 1 });
    await seen('common-key', 'common');
    expect(await availability.of(tile('j2', '', ['rare']), 64)).toEqual({ trusted: 0, eligible: 1 });
  });
});
