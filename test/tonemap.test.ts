/**
 * The tone map looks each value's 8-bit level up among the levels' starts instead of computing
 * the sRGB curve; the pixels it makes are part of every canonical hash, so the lookup must agree
 * with the curve for every input: checked for the ±2,000 doubles around each of the 255 level
 * starts (where a wrong table would first show), for random values, and for the odd ones.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { linearToSrgb8, srgbLevel, toneMap } from '../worker/render/tonemap.ts';

const bits = new Float64Array(1);
const word = new BigInt64Array(bits.buffer);
/** The double `steps` doubles after v (within one sign and binade range, as here). */
const nextTo = (v: number, steps: bigint): number => {
  bits[0] = v;
  word[0] += steps;
  return bits[0];
};

/** The least value the curve takes to level b, by bisection down to adjacent doubles. */
function start(b: number): number {
  let below = 0;
  let at = 1;
  for (let mid = 0.5; mid !== below && mid !== at; mid = below + (at - below) / 2) {
    if (linearToSrgb8(mid) >= b) at = mid;
    else below = mid;
  }
  return at;
}

/** What the table must give: the curve's level, and 0 for NaN (what a Uint8Array stores). */
const expected = (v: number): number => {
  const level = linearToSrgb8(v);
  return Number.isNaN(level) ? 0 : level;
};

describe('tone map', () => {
  it('gives the sRGB curve’s level around every level’s start, to the double', () => {
    let mismatches = 0;
    for (let b = 1; b < 256; b++) {
      const at = start(b);
      for (let d = -2000n; d <= 2000n; d++) {
        const v = nextTo(at, d);
        if (srgbLevel(v) !== expected(v)) mismatches++;
      }
    }
    expect(mismatches).toBe(0);
  });

  it('gives the curve’s level for any value, and 0 for NaN', () => {
    fc.assert(
      fc.property(fc.double({ min: -2, max: 3 }), (v) => {
        expect(srgbLevel(v)).toBe(expected(v));
      }),
      { numRuns: 20_000 },
    );
    for (const v of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0, -0, 1, Number.MIN_VALUE, 0.0031308]) {
      expect(srgbLevel(v)).toBe(expected(v));
    }
  });

  it('makes opaque RGBA from exposed radiance, through the ACES curve when asked', () => {
    const linear = new Float32Array([0, 0.5, 1, 2, 0.18, Number.NaN]);
    expect([...toneMap(linear, 1, 'clamp')]).toEqual([0, 188, 255, 255, 255, 118, 0, 255]);
    const aces = toneMap(linear, 2, 'aces');
    expect(aces[3]).toBe(255);
    expect(aces[1]).toBe(linearToSrgb8((1 * (2.51 * 1 + 0.03)) / (1 * (2.43 * 1 + 0.59) + 0.14)));
  });
});
