/**
 * Stitching: verified tiles into one frame buffer (pure row copies, no sharp composite, which
 * is ~10× slower with hundreds of inputs), then one encode.
 */
import type { Rect } from '../shared/tile.ts';

export interface TilePixels {
  rect: Rect;
  rgba: Uint8Array;
}

/** Copies each tile's rows into a width × height RGBA frame; every pixel must be covered once. */
export function assembleFrame(width: number, height: number, tiles: readonly TilePixels[]): Uint8Array {
  const frame = Buffer.alloc(width * height * 4);
  let covered = 0;
  for (const { rect, rgba } of tiles) {
    if (rect.x + rect.width > width || rect.y + rect.height > height)
      throw new RangeError(`tile ${JSON.stringify(rect)} is outside the frame`);
    if (rgba.length !== rect.width * rect.height * 4) throw new RangeError(`tile ${JSON.stringify(rect)} has ${rgba.length} bytes`);
    const rowBytes = rect.width * 4;
    // Buffer.copy per row: no view object per row (2,040 tiles × 64 rows for a 4K frame).
    const source = Buffer.from(rgba.buffer, rgba.byteOffset, rgba.length);
    for (let y = 0; y < rect.height; y++) {
      source.copy(frame, ((rect.y + y) * width + rect.x) * 4, y * rowBytes, (y + 1) * rowBytes);
    }
    covered += rect.width * rect.height;
  }
  if (covered !== width * height) throw new RangeError(`tiles cover ${covered} of ${width * height} pixels`);
  return frame;
}
