/**
 * Money's arithmetic: costs and fees exact to the micro-credit where doubles are not, and the Lua
 * scripts' copy (includes/escrow.lua mulDiv) agreeing with it on a real Redis over the whole range
 * the farm accepts (a 512 × 512 tile at 65,536 spp, 10^6 credits per RU); the estimate a job holds.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PrivateRedis, startRedisServer } from '../cli/redis-server.ts';
import { estimate } from '../orchestrator/market/estimate.ts';
import { connectRedis, type FarmRedis } from '../orchestrator/state/redis.ts';
import { Credits, costMicros, feeMicros, formatCredits, toMicros } from '../shared/money.ts';
import { maxRays } from '../shared/render-units.ts';

let server: PrivateRedis;
let redis: FarmRedis;
beforeAll(async () => {
  server = await startRedisServer({ dir: join(mkdtempSync(join(tmpdir(), 'farm-money-')), 'redis') });
  redis = connectRedis(server.url);
});
afterAll(async () => {
  redis.disconnect();
  await server.stop();
});

const MAX_RAYS = maxRays(512 * 512, 65_536);
const MAX_TICKS = 1_000_000_000;

describe('money', () => {
  it('prices rays exactly, rounding payments down and holds up', () => {
    expect(costMicros(10_000, 50_000)).toBe(500);
    expect(costMicros(1, 1)).toBe(0);
    expect(costMicros(1, 1, 'up')).toBe(1);
    expect(costMicros(MAX_RAYS, MAX_TICKS)).toBe(MAX_RAYS * 1000);
    expect(feeMicros(500, 20_000)).toBe(10);
    expect(feeMicros(49, 20_000)).toBe(0);
    expect(toMicros(0.1 + 0.2)).toBe(300_000);
    expect([formatCredits(10), formatCredits(0.00049), formatCredits(1.5)]).toEqual(['10', '0.00049', '1.5']);
  });

  it('takes amounts on the wire of a micro-credit at least, six decimals at most', () => {
    expect([0.000001, 1, 1e8].map((c) => Credits.safeParse(c).success)).toEqual([true, true, true]);
    // 1e-13 is positive and has "six decimals" within the check's tolerance, and is 0 µc: a stake
    // of nothing had reached Redis as "-0" (a 500), and a job of budget 1e-13 held nothing.
    expect([1e-13, 4e-7, 0, -1, 1.0000001, 1e8 + 1].map((c) => Credits.safeParse(c).success)).toEqual([
      false,
      false,
      false,
      false,
      false,
      false,
    ]);
  });

  it('computes in Lua exactly what it computes in TypeScript, over the whole accepted range', async () => {
    const source = readFileSync(new URL('../orchestrator/state/lua/includes/escrow.lua', import.meta.url), 'utf8');
    const mulDiv = /local function mulDiv[\s\S]*?\nend\n/.exec(source)?.[0];
    expect(mulDiv).toBeDefined();
    const script = `${mulDiv}return {string.format('%d', mulDiv(tonumber(ARGV[1]), tonumber(ARGV[2]), false)), string.format('%d', mulDiv(tonumber(ARGV[1]), tonumber(ARGV[2]), true))}`;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: MAX_RAYS }), fc.integer({ min: 0, max: MAX_TICKS }), async (rays, ticks) => {
        const [down, up] = (await redis.eval(script, 0, rays, ticks)) as [string, string];
        expect([Number(down), Number(up)]).toEqual([costMicros(rays, ticks), costMicros(rays, ticks, 'up')]);
      }),
      { numRuns: 2000 },
    );
  });

  it('holds the budget, else the most work × the expected replicas at the limit, else at the quote', () => {
    const job = { pixels: 64 * 64, frames: 2, spp: 4, verification: 'quorum' as const, replicas: 3, bid: null, budget: null };
    const rays = maxRays(64 * 64 * 2, 4);
    expect(estimate({ ...job, budget: 7_000_000, bid: 1500 }, 900)).toMatchObject({ hold: 7_000_000, basis: 'budget' });
    expect(estimate({ ...job, bid: 1500 }, 900)).toMatchObject({ hold: costMicros(rays * 3, 1500, 'up'), basis: 'bid', redundancy: 3 });
    expect(estimate(job, 900)).toMatchObject({ hold: costMicros(rays * 3, 900, 'up'), basis: 'quote', price: 900 });
    expect(estimate({ ...job, verification: 'credibility' }, null)).toMatchObject({ hold: 0, price: null, redundancy: 2 });
  });
});
