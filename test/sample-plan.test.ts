/**
 * The sample plan decides how a tile's samples become kernel calls; pixels must not depend on it.
 * Checked on thousands of random tiles (fast-check): every pixel's samples are traced exactly once,
 * calls are equal and padded by less than one call, and small tiles still fill the threads, each
 * thread's run of rows holding its share of the units.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { spreadRows } from '../worker/render/renderer.ts';
import { callUnits, groupSize, planSamples, unitAt, unitRows } from '../worker/render/sample-plan.ts';

const tiles = fc.record({
  width: fc.integer({ min: 1, max: 300 }),
  height: fc.integer({ min: 1, max: 300 }),
  spp: fc.integer({ min: 1, max: 4096 }),
  samplesPerCall: fc.integer({ min: 1, max: 1 << 21 }),
  threads: fc.constantFrom(1, 2, 3, 4, 16),
});

describe('sample plan', () => {
  it('traces each pixel row’s samples exactly once, in groups that do not depend on the tile', () => {
    fc.assert(
      fc.property(tiles, ({ width, height, spp, samplesPerCall, threads }) => {
        const plan = planSamples(width, height, spp, { samplesPerCall, threads });
        expect(plan.group).toBe(groupSize(spp));
        const perRow = new Array(height).fill(0);
        const traced = new Uint8Array(plan.units);
        let oversized = 0;
        for (let i = 0; i < plan.calls * plan.unitsPerCall; i++) {
          const u = unitAt(plan, spp, i);
          if (u.samples === 0) continue;
          if (u.samples > plan.group) oversized++;
          traced[u.row * plan.groups + u.group]++;
          perRow[u.row] += u.samples;
        }
        expect(oversized).toBe(0);
        expect(traced.every((n) => n === 1)).toBe(true);
        expect(perRow).toEqual(new Array(height).fill(spp));
      }),
    );
  });

  it('makes equal calls, padded by less than one call, with whole SIMD quads of columns', () => {
    fc.assert(
      fc.property(tiles, ({ width, height, spp, samplesPerCall, threads }) => {
        const plan = planSamples(width, height, spp, { samplesPerCall, threads });
        expect(plan.calls * plan.unitsPerCall).toBeGreaterThanOrEqual(plan.units);
        expect(plan.calls * plan.unitsPerCall - plan.units).toBeLessThan(plan.calls);
        expect(plan.columns % 4).toBe(0);
        expect(plan.columns - width).toBeLessThan(4);
        // Enough cells per call to occupy the threads (padding rows where the units are fewer), and
        // no more padding than that.
        expect(plan.rows).toBeGreaterThanOrEqual(plan.unitsPerCall);
        if (threads > 1) expect(plan.rows * plan.columns).toBeGreaterThanOrEqual(threads * 4096);
        if (plan.rows > plan.unitsPerCall) expect(plan.rows).toBe(threads * Math.ceil(4096 / plan.columns));
        // And enough samples to be worth a call's fixed cost: an eighth of the budget, where the tile has it.
        const samples = (units: number) => units * plan.columns * plan.group;
        expect(samples(plan.unitsPerCall)).toBeGreaterThanOrEqual(Math.min(samplesPerCall / 8, samples(plan.units)));
      }),
    );
  });

  it('places each of a call’s units on its own row, spread so that every thread’s run of rows gets its share', () => {
    fc.assert(
      fc.property(tiles, fc.integer({ min: 0, max: 7 }), ({ width, height, spp, samplesPerCall, threads }, callPick) => {
        const plan = planSamples(width, height, spp, { samplesPerCall, threads });
        const rowOf = unitRows(plan, spreadRows(plan.unitsPerCall));
        expect(new Set(rowOf).size).toBe(plan.unitsPerCall);
        const call = callPick % plan.calls;
        const placed = callUnits(plan, spp, call, rowOf);
        expect(placed).toHaveLength(plan.rows);
        rowOf.forEach((row, u) => {
          expect(placed[row]).toEqual(unitAt(plan, spp, call * plan.unitsPerCall + u));
        });
        expect(placed.filter((u) => u.samples > 0).length).toBeLessThanOrEqual(plan.unitsPerCall);
        // Split as gpu.js splits a call: min(threads, cells / 4,096) runs of equal cells, each start
        // a multiple of 4. Each run holds its share of the call's real cells, within a row (and the
        // last call's few empty units, fewer than the calls, and gpu.js's rounding to whole quads).
        const cells = plan.rows * plan.columns;
        const runs = Math.min(threads, Math.ceil(cells / 4096));
        const chunk = Math.max(4, Math.ceil(cells / runs) & ~3);
        // A padded call's runs end on row boundaries: no unit is cut between two threads.
        if (plan.rows > plan.unitsPerCall) expect(chunk % plan.columns).toBe(0);
        const real = placed.map((u) => (u.samples > 0 ? plan.columns : 0));
        const realCells = real.reduce((a, b) => a + b, 0);
        for (let t = 0; t < runs; t++) {
          const [from, to] = [t * chunk, t === runs - 1 ? cells : Math.min((t + 1) * chunk, cells)];
          let held = 0;
          real.forEach((n, row) => {
            held += n && Math.max(0, Math.min(to, (row + 1) * plan.columns) - Math.max(from, row * plan.columns));
          });
          const emptyUnits = plan.calls * plan.unitsPerCall - plan.units;
          expect(Math.abs(held - realCells / runs)).toBeLessThanOrEqual(plan.columns * (1 + emptyUnits) + 4 * runs);
        }
      }),
    );
  });

  it('traces a low sample count in whole groups, padding the call rather than cutting its groups smaller', () => {
    const plan = planSamples(64, 48, 16, { samplesPerCall: 1 << 19, threads: 2 });
    expect(plan).toMatchObject({ group: 16, groups: 1, calls: 1, unitsPerCall: 48, rows: 128 });
  });

  it('cuts a 64 px tile at 256 spp into four calls that each fill four threads', () => {
    const plan = planSamples(64, 64, 256, { samplesPerCall: 1 << 21, threads: 4 });
    expect(plan).toMatchObject({ group: 16, groups: 16, calls: 4 });
    expect(plan.unitsPerCall * plan.columns).toBe(16384);
  });
});
