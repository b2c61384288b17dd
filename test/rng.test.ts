/**
 * The kernel's Wichmann–Hill generator, compiled from the kernel's own source text on each
 * backend, must reproduce the integer reference exactly (states) and to f32 rounding (values).
 */
import { readFileSync } from 'node:fs';
import gpujs from 'gpu.js';
import { describe, expect, it } from 'vitest';
import { pixelSeed, whReference } from '../worker/render/seeds.ts';
import { ROOT } from './support/scenes.ts';

const source = readFileSync(`${ROOT}worker/render/kernel.ts`, 'utf8');
const block = source.slice(source.indexOf('// rng:begin'), source.indexOf('// rng:end'));
const DRAWS = 600;

/** Runs DRAWS draws per cell; returns the final states and the last value. */
const kernelSource = `function (seeds) {
  const i = this.thread.x * 3;
  let s1 = seeds[i];
  let s2 = seeds[i + 1];
  let s3 = seeds[i + 2];
  let last = 0;
  for (let k = 0; k < ${DRAWS}; k++) {
    let r0 = 0; let r1 = 0; let r2 = 0; let r3 = 0; let r4 = 0; let r5 = 0;
    ${block}
    last = u;
  }
  return [s1, s2, s3, last];
}`;

describe('Wichmann–Hill generator', () => {
  const cells = 64;
  const states = Array.from({ length: cells }, (_, x) => pixelSeed(12345, 7, x, 3, 0));

  it.each(['webasm', 'cpu'] as const)('matches the integer reference on %s', async (mode) => {
    const gpu = new gpujs.GPU({ mode });
    try {
      const kernel = gpu.createKernel(kernelSource, { output: [cells], asyncMode: true });
      const out = (await kernel(Float32Array.from(states.flat()))) as unknown as Float32Array[];
      states.forEach((state, x) => {
        const ref = whReference(state, DRAWS);
        const [s1, s2, s3, last] = out[x];
        expect([s1, s2, s3]).toEqual(ref.states[DRAWS - 1]);
        expect(Math.abs(last - ref.values[DRAWS - 1])).toBeLessThan(1e-6);
      });
    } finally {
      gpu.destroy();
    }
  });

  it('seeds every pixel with valid, distinct states', () => {
    const seen = new Set<string>();
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) {
        const s = pixelSeed(1, 0, x, y, 0);
        expect(s[0]).toBeGreaterThanOrEqual(1);
        expect(s[0]).toBeLessThan(30269);
        expect(s[1]).toBeLessThan(30307);
        expect(s[2]).toBeLessThan(30323);
        seen.add(s.join());
      }
    }
    expect(seen.size).toBe(1024);
    expect(pixelSeed(1, 0, 5, 5, 0)).not.toEqual(pixelSeed(2, 0, 5, 5, 0));
    expect(pixelSeed(1, 0, 5, 5, 0)).not.toEqual(pixelSeed(1, 1, 5, 5, 0));
    expect(pixelSeed(1, 0, 5, 5, 0)).not.toEqual(pixelSeed(1, 0, 5, 5, 1));
  });
});
