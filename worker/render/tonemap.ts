/**
 * Linear radiance to display pixels: exposure, a tone curve, the sRGB transfer function, then
 * rounding to 8 bits with opaque alpha. This is the last step before the canonical hash, so it is
 * plain, deterministic TypeScript.
 */
export type ToneMap = 'clamp' | 'aces';

/** Krzysztof Narkowicz's fit of the ACES filmic curve. */
const aces = (x: number): number => Math.min(1, Math.max(0, (x * (2.51 * x + 0.03)) / (x * (2.43 * x + 0.59) + 0.14)));

/** The sRGB transfer function rounded to 8 bits: what `toneMap` computes, written plainly. */
export function linearToSrgb8(v: number): number {
  const c = Math.min(1, Math.max(0, v));
  const s = c <= 0.0031308 ? 12.92 * c : 1.055 * c ** (1 / 2.4) - 0.055;
  return Math.round(s * 255);
}

/**
 * STARTS[b]: the least value `linearToSrgb8` takes to b (b = 1…255), found by bisection down to
 * adjacent doubles (about 14,000 evaluations, once); STARTS[256] = ∞. A value's level is then the
 * last start it reaches, instead of a `Math.pow`: the tone map was a tenth of a small render's
 * main-thread time, during which the render threads wait.
 */
const STARTS = (() => {
  const starts = new Float64Array(257).fill(Number.NEGATIVE_INFINITY);
  for (let b = 1; b < 256; b++) {
    let below = 0;
    let at = 1;
    for (let mid = 0.5; mid !== below && mid !== at; mid = below + (at - below) / 2) {
      if (linearToSrgb8(mid) >= b) at = mid;
      else below = mid;
    }
    starts[b] = at;
  }
  starts[256] = Number.POSITIVE_INFINITY;
  return starts;
})();

/**
 * The level at the start of each 1/CELLS of [0, 1]. Levels are at least 3·10⁻⁴ apart (the
 * steepest point of the curve), wider than a cell, so a cell holds at most one start: a value's
 * level is its cell's, or the next one.
 */
const CELLS = 8192;
const CELL_LEVEL = Uint8Array.from({ length: CELLS + 1 }, (_, i) => {
  let b = 0;
  while (STARTS[b + 1] <= i / CELLS) b++;
  return b;
});

/** `linearToSrgb8` by table (NaN: 0, as a Uint8Array stores it). */
export function srgbLevel(v: number): number {
  const c = Math.min(1, Math.max(0, v));
  const b = CELL_LEVEL[(c * CELLS) | 0];
  return STARTS[b + 1] <= c ? b + 1 : b;
}

/** Converts RGB radiance (3 floats per pixel) to RGBA8. */
export function toneMap(linear: Float32Array, exposure: number, curve: ToneMap): Uint8Array {
  const pixels = linear.length / 3;
  const out = new Uint8Array(pixels * 4);
  for (let i = 0; i < pixels; i++) {
    for (let c = 0; c < 3; c++) {
      const v = linear[i * 3 + c] * exposure;
      out[i * 4 + c] = srgbLevel(curve === 'aces' ? aces(v) : v);
    }
    out[i * 4 + 3] = 255;
  }
  return out;
}
