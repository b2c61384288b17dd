/**
 * Linear radiance to display pixels: exposure, a tone curve, the sRGB transfer function, then
 * rounding to 8 bits with opaque alpha. This is the last step before the canonical hash, so it is
 * plain, deterministic TypeScript.
 */
export type ToneMap = 'clamp' | 'aces';

/** Krzysztof Narkowicz's fit of the ACES filmic curve. */
const aces = (x: number): number => Math.min(1, Math.max(0, (x * (2.51 * x + 0.03)) / (x * (2.43 * x + 0.59) + 0.14)));

export function linearToSrgb8(v: number): number {
  const c = Math.min(1, Math.max(0, v));
  const s = c <= 0.0031308 ? 12.92 * c : 1.055 * c ** (1 / 2.4) - 0.055;
  return Math.round(s * 255);
}

/** Converts RGB radiance (3 floats per pixel) to RGBA8. */
export function toneMap(linear: Float32Array, exposure: number, curve: ToneMap): Uint8Array {
  const pixels = linear.length / 3;
  const out = new Uint8Array(pixels * 4);
  for (let i = 0; i < pixels; i++) {
    for (let c = 0; c < 3; c++) {
      const v = linear[i * 3 + c] * exposure;
      out[i * 4 + c] = linearToSrgb8(curve === 'aces' ? aces(v) : v);
    }
    out[i * 4 + 3] = 255;
  }
  return out;
}
