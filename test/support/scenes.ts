/** Scenes for tests: the shipped ones, and small analytic set-ups. */
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { parseScene, type Scene, SceneError, type SceneInput } from '../../shared/scene.ts';

export const ROOT = new URL('../../', import.meta.url).pathname;

export function shippedRaw(name: string): any {
  return JSON.parse(readFileSync(`${ROOT}scenes/${name}.json`, 'utf8'));
}

export function shipped(name: string, render: Partial<Scene['render']> = {}): Scene {
  const raw = shippedRaw(name);
  return parseScene({ ...raw, render: { ...raw.render, ...render } });
}

export function scene(partial: Partial<SceneInput> & Pick<SceneInput, 'objects' | 'materials'>): Scene {
  return parseScene({
    version: 1,
    render: { width: 8, height: 8, spp: 4, maxBounces: 4, seed: 1 },
    camera: { position: [0, 0, 5], lookAt: [0, 0, 0], fov: 40 },
    ...partial,
  });
}

/**
 * `n` large triangles stacked along the view, the farthest first in the BVH's fixed order, so that
 * every ray tests each of them: a scene whose rays cost a worker far more than it is paid for.
 */
export function stackedTriangles(n: number, render: Partial<SceneInput['render']> = {}): SceneInput {
  const positions = Array.from({ length: n }, (_, i) => [-10, -10, -i * 1e-5, 10, -10, -i * 1e-5, 0, 10, -i * 1e-5]).flat();
  return {
    version: 1,
    render: { width: 32, height: 32, spp: 1, maxBounces: 2, seed: 1, ...render },
    camera: { position: [0, 0, 5], lookAt: [0, 0, 0], fov: 40 },
    materials: [
      { name: 'white', type: 'diffuse', albedo: [0.8, 0.8, 0.8] },
      { name: 'lamp', type: 'emissive', color: [1, 1, 1], strength: 4 },
    ],
    objects: [
      { type: 'mesh', id: 'stack', material: 'white', positions, indices: Array.from({ length: 3 * n }, (_, i) => i) },
      { type: 'sphere', center: [0, 3, 3], radius: 0.5, material: 'lamp' },
    ],
  };
}

/** Peak signal-to-noise ratio of two RGBA8 images, over the colour channels. */
export function psnr(a: Uint8Array, b: Uint8Array): number {
  let se = 0;
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    if (i % 4 === 3) continue;
    se += (a[i] - b[i]) ** 2;
    n++;
  }
  return se === 0 ? Infinity : 10 * Math.log10((255 * 255) / (se / n));
}

/** The error's `path: message` entries, for asserting which field failed. */
export function issuesOf(input: unknown): string[] {
  try {
    parseScene(input);
  } catch (e) {
    expect(e).toBeInstanceOf(SceneError);
    return (e as SceneError).issues.map((i) => `${i.path}: ${i.message}`);
  }
  throw new Error('scene was accepted');
}
