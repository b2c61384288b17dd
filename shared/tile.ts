/** Rectangles of a frame and the tile grid that covers one. */
import { z } from 'zod';

export const Rect = z.object({
  x: z.number().int().min(0),
  y: z.number().int().min(0),
  width: z.number().int().min(1),
  height: z.number().int().min(1),
});
export type Rect = z.infer<typeof Rect>;

/** Row-major tiles of at most size × size; the last column and row are ragged. */
export function tileGrid(width: number, height: number, size: number): Rect[] {
  const tiles: Rect[] = [];
  for (let y = 0; y < height; y += size) {
    for (let x = 0; x < width; x += size) {
      tiles.push({ x, y, width: Math.min(size, width - x), height: Math.min(size, height - y) });
    }
  }
  return tiles;
}

/** How many tiles tileGrid() makes, without making them (estimates, limits). */
export function tileCount(width: number, height: number, size: number): number {
  return Math.ceil(width / size) * Math.ceil(height / size);
}

/** Parses the CLI's `x,y,w,h`. */
export function parseRect(spec: string): Rect {
  const parts = spec.split(',').map((p) => Number(p.trim()));
  if (parts.length !== 4 || parts.some((n) => !Number.isInteger(n))) throw new RangeError(`bad tile "${spec}": expected x,y,w,h`);
  return Rect.parse({ x: parts[0], y: parts[1], width: parts[2], height: parts[3] });
}
