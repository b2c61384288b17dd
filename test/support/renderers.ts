/** One renderer per backend for a test file: opened before its tests, closed after. */
import { afterAll, beforeAll } from 'vitest';
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
