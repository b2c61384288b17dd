/** One renderer per backend for a test file: opened before its tests, closed after. */
import { afterAll, beforeAll, expect } from 'vitest';
import type { Scene } from '../../shared/scene.ts';
import { tileGrid } from '../../shared/tile.ts';
import type { BackendName } from '../../worker/render/backend.ts';
import { Renderer } from '../../worker/render/renderer.ts';

export function useRenderers(names: readonly BackendName[]): (name: BackendName) => Renderer {
  const renderers = new Map<BackendName, Renderer>();
  beforeAll(async () => {
    for (const name of names) renderers.set(name, await Renderer.open(name));
  });
  afterAll(() => {
    for (const r of renderers.values()) r.close();
  });
  return (name) => renderers.get(name) as Renderer;
}

/** Renders `scene` twice and as tiles of `tileSize`: the two renders and every tile must equal the full frame bit for bit. */
export async function expectDeterministicTiles(r: Renderer, scene: Scene, tileSize: number): Promise<void> {
  const { width, height } = scene.render;
  const full = await r.render(scene, 0);
  expect(Buffer.from((await r.render(scene, 0)).linear.buffer).equals(Buffer.from(full.linear.buffer))).toBe(true);
  for (const t of tileGrid(width, height, tileSize)) {
    const tile = await r.render(scene, 0, { tile: t });
    for (let y = 0; y < t.height; y++) {
      const row = (t.y + y) * width + t.x;
      const want = full.linear.subarray(row * 3, (row + t.width) * 3);
      expect(Buffer.from(tile.linear.subarray(y * t.width * 3, (y + 1) * t.width * 3)).equals(Buffer.from(want))).toBe(true);
    }
  }
}
