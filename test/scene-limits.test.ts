/**
 * Scenes at the documented limits compile and render: a 250,000-triangle mesh, 10,000 objects,
 * and animation tracks for objects whose ids are Object.prototype's property names.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS, parseScene, type SceneInput } from '../shared/scene.ts';
import { compileScene } from '../worker/render/compile.ts';
import { Renderer } from '../worker/render/renderer.ts';
import { shippedRaw } from './support/scenes.ts';

let renderer: Renderer;
beforeAll(async () => {
  renderer = await Renderer.open('cpu');
});
afterAll(() => renderer.close());

const base = (): SceneInput => {
  const raw = structuredClone(shippedRaw('cornell')) as SceneInput;
  return { ...raw, render: { ...raw.render, width: 8, height: 8, spp: 1 } };
};

/** A grid of n × n quads (2n² triangles) in the box, sharing vertices. */
function gridMesh(n: number, material: string) {
  const positions: number[] = [];
  const indices: number[] = [];
  for (let y = 0; y <= n; y++) for (let x = 0; x <= n; x++) positions.push(100 + (x / n) * 300, 100 + (y / n) * 300, 300);
  for (let y = 0; y < n; y++)
    for (let x = 0; x < n; x++) {
      const a = y * (n + 1) + x;
      indices.push(a, a + 1, a + n + 1, a + 1, a + n + 2, a + n + 1);
    }
  return { type: 'mesh' as const, material, positions, indices };
}

describe('scenes at the limits', () => {
  it('compiles and renders a mesh of 250,000 triangles', async () => {
    const raw = base();
    const n = Math.floor(Math.sqrt(LIMITS.maxTriangles / 2));
    const scene = parseScene({ ...raw, objects: [...raw.objects.slice(0, LIMITS.maxObjects - 1), gridMesh(n, raw.materials[0].name)] });
    const compiled = compileScene(scene, 0);
    expect(compiled.prims.length / 24).toBeGreaterThanOrEqual(2 * n * n);
    expect((await renderer.render(scene, 0)).rgba).toHaveLength(8 * 8 * 4);
  }, 60_000);

  it('compiles and renders 10,000 objects', async () => {
    const raw = base();
    const spheres = Array.from({ length: LIMITS.maxObjects - raw.objects.length }, (_, i) => ({
      type: 'sphere' as const,
      material: raw.materials[0].name,
      center: [50 + (i % 100) * 4, 50 + Math.floor(i / 100) * 4, 400],
      radius: 1,
    }));
    const scene = parseScene({ ...raw, objects: [...raw.objects, ...spheres] });
    expect(scene.objects).toHaveLength(LIMITS.maxObjects);
    expect((await renderer.render(scene, 0)).rgba).toHaveLength(8 * 8 * 4);
  }, 60_000);

  it('animates objects whose ids are names on Object.prototype, and refuses "__proto__"', async () => {
    const raw = base();
    const ids = ['constructor', 'toString', 'hasOwnProperty', 'valueOf'];
    const objects = raw.objects.map((o, i) => (i < ids.length ? { ...o, id: ids[i] } : o));
    // Only "constructor" has a track: the others must find none, not Object.prototype's methods.
    const animation = { frameCount: 2, objects: { constructor: [{ frame: 1, translate: [0, 10, 0] }] } };
    const scene = parseScene({ ...raw, objects, animation });
    for (const frame of [0, 1]) expect(compileScene(scene, frame).prims.length).toBeGreaterThan(0);
    expect(() => parseScene({ ...raw, objects: raw.objects.map((o, i) => (i === 0 ? { ...o, id: '__proto__' } : o)) })).toThrow(
      /objects\[0\]\.id: the id "__proto__" is reserved/,
    );
  });
});
