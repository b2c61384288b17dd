/**
 * Per-pixel random seeds. The kernel's Wichmann–Hill generator has three small states; they are
 * derived here, in exact 32-bit integer arithmetic, from (scene seed, frame, global x, global y,
 * sample group), so a pixel draws the same numbers whichever tile, call or backend renders it.
 */
export const WH_MODULI = [30269, 30307, 30323] as const;
export const WH_MULTIPLIERS = [171, 172, 170] as const;

/** Chris Wellons' lowbias32 integer hash: a full-avalanche 32-bit mixer. */
export function mix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

export function pixelSeed(seed: number, frame: number, x: number, y: number, group: number): [number, number, number] {
  const out = new Float32Array(3);
  writeSeed(out, 0, x, rowHash(seed, frame, y, group));
  return [out[0], out[1], out[2]];
}

/** The part of a pixel's hash that a whole row of cells shares. */
const rowHash = (seed: number, frame: number, y: number, group: number): number =>
  mix32(seed ^ mix32(frame ^ mix32(y ^ mix32(group + 0x9e3779b9))));

/** Each generator's salt of a pixel's hash. */
const SALTS = [1, 2, 3].map((i) => Math.imul(0x632be5ab, i));

/**
 * `u % m` for a u32 `u` and m < 2^15, a 16-bit half at a time so that every step stays a small
 * integer: a u32 of 2^31 or more is a double to V8, and its modulo was about half the time
 * cellSeeds takes on the main thread, where every call's seeds are made.
 */
const modU32 = (u: number, m: number): number => ((((u >>> 16) % m) << 16) | (u & 0xffff)) % m;

function writeSeed(out: Float32Array, at: number, x: number, row: number): void {
  const h = mix32(x ^ row);
  out[at] = 1 + modU32(mix32(h ^ SALTS[0]), WH_MODULI[0] - 1);
  out[at + 1] = 1 + modU32(mix32(h ^ SALTS[1]), WH_MODULI[1] - 1);
  out[at + 2] = 1 + modU32(mix32(h ^ SALTS[2]), WH_MODULI[2] - 1);
}

/**
 * Seeds for `width` cells from `x0` on each of the given frame rows and sample groups, row after
 * row, three floats per cell (all below 2^15, so exact in f32); zeros for a padding row.
 */
export function cellSeeds(
  seed: number,
  frame: number,
  x0: number,
  width: number,
  rows: readonly ({ y: number; group: number } | undefined)[],
): Float32Array {
  const out = new Float32Array(width * rows.length * 3);
  rows.forEach((at, i) => {
    if (!at) return;
    const row = rowHash(seed, frame, at.y, at.group);
    for (let x = 0; x < width; x++) writeSeed(out, (i * width + x) * 3, x0 + x, row);
  });
  return out;
}

/** Reference Wichmann–Hill stream in plain TypeScript (f64), for testing the kernel's generator. */
export function whReference(state: [number, number, number], n: number): { states: [number, number, number][]; values: number[] } {
  const s = [...state];
  const states: [number, number, number][] = [];
  const values: number[] = [];
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < 3; k++) s[k] = (s[k] * WH_MULTIPLIERS[k]) % WH_MODULI[k];
    states.push([s[0], s[1], s[2]]);
    const t = s[0] / WH_MODULI[0] + s[1] / WH_MODULI[1] + s[2] / WH_MODULI[2];
    values.push(t - Math.floor(t));
  }
  return { states, values };
}
