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
  minCells: fc.constantFrom(1, 4096, 8192, 65536),
});

describe('sample plan', () => {
  it('traces each pixel row’s samples exactly once, in groups that do not depend on the tile', () => {
    fc.assert(
      fc.property(tiles, ({ width, height, spp, samplesPerCall, minCells }) => {
        const plan = planSamples(width, height, spp, { samplesPerCall, minCells });
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
      fc.property(tiles, ({ width, height, spp, samplesPerCall, minCells }) => {
        const plan = planSamples(width, height, spp, { samplesPerCall, minCells });
        expect(plan.calls * plan.unitsPerCall).toBeGreaterThanOrEqual(plan.units);
        expect(plan.calls * plan.unitsPerCall - plan.units).toBeLessThan(plan.calls);
        expect(plan.columns % 4).toBe(0);
        expect(plan.columns - width).toBeLessThan(4);
        // Enough cells per call to occupy the threads: padding rows where the units are fewer.
        expect(plan.rows).toBeGreaterThanOrEqual(plan.unitsPerCall);
        expect(plan.rows * plan.columns).toBeGreaterThanOrEqual(minCells);
        expect((plan.rows - 1) * plan.columns).toBeLessThan(Math.max(minCells, plan.unitsPerCall * plan.columns));
        // And enough samples to be worth a call's fixed cost: an eighth of the budget, where the tile has it.
        const samples = (units: number) => units * plan.columns * plan.group;
        expect(samples(plan.unitsPerCall)).toBeGreaterThanOrEqual(Math.min(samplesPerCall / 8, samples(plan.units)));
      }),
    );
  });

  it('places each of a call’s units on its own row, spread so that every thread’s run of rows gets its share', () => {
    fc.assert(
      fc.property(tiles, fc.integer({ min: 0, max: 7 }), ({ width, height, spp, samplesPerCall, minCells }, callPick) => {
        const plan = planSamples(width, height, spp, { samplesPerCall, minCells });
        const rowOf = unitRows(plan, spreadRows(plan.unitsPerCall));
        expect(new Set(rowOf).size).toBe(plan.unitsPerCall);
        const call = callPick % plan.calls;
        const placed = callUnits(plan, spp, call, rowOf);
        expect(placed).toHaveLength(plan.rows);
        rowOf.forEach((row, u) => {
          expect(placed[row]).toEqual(unitAt(plan, spp, call * plan.unitsPerCall + u));
        });
        expect(placed.filter((u) => u.samples > 0).length).toBeLessThanOrEqual(plan.unitsPerCall);
        // gpu.js's threads take equal contiguous runs of rows: each holds its share of units, ±2
        // (a run's ends fall inside rows).
        const threads = Math.max(1, Math.floor(minCells / 4096));
        for (let t = 0; t < threads; t++) {
          const [from, to] = [Math.floor((t * plan.rows) / threads), Math.floor(((t + 1) * plan.rows) / threads)];
          const held = [...rowOf].filter((row) => row >= from && row < to).length;
          expect(Math.abs(held - plan.unitsPerCall / threads)).toBeLessThanOrEqual(2);
        }
      }),
    );
  });

  it('traces a low sample count in whole groups, padding the call rather than cutting its groups smaller', () => {
    const plan = planSamples(64, 48, 16, { samplesPerCall: 1 << 19, minCells: 2 * 4096 });
    expect(plan).toMatchObject({ group: 16, groups: 1, calls: 1, unitsPerCall: 48, rows: 128 });
  });

  it('cuts a 64 px tile at 256 spp into four calls that each fill four threads', () => {
    const plan = planSamples(64, 64, 256, { samplesPerCall: 1 << 21, minCells: 4 * 4096 });
    expect(plan).toMatchObject({ group: 16, groups: 16, calls: 4 });
    expect(plan.unitsPerCall * plan.columns).toBe(16384);
  });
});
