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
export function stackedTriangles(n: number, render: Partial<SceneInput['render']> = {}, material = 'white'): SceneInput {
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
      { type: 'mesh', id: 'stack', material, positions, indices: Array.from({ length: 3 * n }, (_, i) => i) },
      { type: 'sphere', center: [0, 3, 3], radius: 0.5, material: 'lamp' },
    ],
  };
}

/**
 * `n` thin rods of 12 sides crossing a 10 m cube in every direction: long thin triangles whose
 * boxes overlap, the costliest honest geometry an attacker's review found for the BVH (its worst
 * pixels' rays test thousands of boxes and triangles, the frame's a few hundred).
 */
export function crossingRods(n: number, render: Partial<SceneInput['render']> = {}): SceneInput {
  let seed = 12345;
  const random = () => {
    seed = (seed * 16807) % 2147483647;
    return seed / 2147483647;
  };
  const positions: number[] = [];
  const indices: number[] = [];
  for (let rod = 0; rod < n; rod++) {
    const axis = rod % 3;
    const [from, to] = [0, 1].map((end) => [0, 1, 2].map((i) => (i === axis ? 10 * end - 5 : 10 * random() - 5)));
    const dir = to.map((x, i) => x - from[i]);
    const len = Math.hypot(...dir);
    const a = dir.map((x) => x / len);
    const h = Math.abs(a[0]) > 0.9 ? [0, 1, 0] : [1, 0, 0];
    const u0 = [a[1] * h[2] - a[2] * h[1], a[2] * h[0] - a[0] * h[2], a[0] * h[1] - a[1] * h[0]];
    const u = u0.map((x) => x / Math.hypot(...u0));
    const v = [a[1] * u[2] - a[2] * u[1], a[2] * u[0] - a[0] * u[2], a[0] * u[1] - a[1] * u[0]];
    const base = positions.length / 3;
    for (let k = 0; k < 12; k++) {
      const t = (2 * Math.PI * k) / 12;
      const o = [0, 1, 2].map((i) => 0.03 * (Math.cos(t) * u[i] + Math.sin(t) * v[i]));
      positions.push(...from.map((x, i) => x + o[i]), ...to.map((x, i) => x + o[i]));
      const [p, q] = [base + 2 * k, base + 2 * ((k + 1) % 12)];
      indices.push(p, q, p + 1, p + 1, q, q + 1);
    }
  }
  return {
    version: 1,
    render: { width: 48, height: 36, spp: 16, maxBounces: 4, seed: 1, ...render },
    camera: { position: [14, 9, 16], lookAt: [0, 0, 0], fov: 45 },
    materials: [
      { name: 'steel', type: 'metal', albedo: [0.8, 0.8, 0.8], roughness: 0.3 },
      { name: 'ground', type: 'diffuse', albedo: [0.5, 0.45, 0.4] },
    ],
    objects: [
      { type: 'quad', corner: [-20, -6, -20], u: [0, 0, 40], v: [40, 0, 0], material: 'ground' },
      { type: 'mesh', material: 'steel', positions, indices, smooth: true },
    ],
    lights: [{ type: 'directional', direction: [-0.3, -1, -0.2], intensity: 3 }],
  } as SceneInput;
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
