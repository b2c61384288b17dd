/**
 * The published tolerance for results that cannot be compared bit for bit (a provisional class:
 * a GPU model whose maths differ from every established class by a few ULPs). Pure.
 */
export interface Tolerance {
  /** Largest difference in any 8-bit channel that still counts as the same pixel. */
  levels: number;
  /** Least share of pixels that must be the same. */
  share: number;
}

export const DEFAULT_TOLERANCE: Tolerance = { levels: 2, share: 0.999 };

/** Whether two RGBA8 images of one size nearly match under the tolerance. */
export function nearlyEqual(a: Uint8Array, b: Uint8Array, tolerance: Tolerance): boolean {
  if (a.length !== b.length || a.length % 4 !== 0) return false;
  const pixels = a.length / 4;
  const allowed = Math.floor(pixels * (1 - tolerance.share));
  let off = 0;
  for (let i = 0; i < a.length; i += 4) {
    if (
      Math.abs(a[i] - b[i]) > tolerance.levels ||
      Math.abs(a[i + 1] - b[i + 1]) > tolerance.levels ||
      Math.abs(a[i + 2] - b[i + 2]) > tolerance.levels ||
      Math.abs(a[i + 3] - b[i + 3]) > tolerance.levels
    ) {
      off++;
      if (off > allowed) return false;
    }
  }
  return true;
}
