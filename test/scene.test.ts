import { describe, expect, it } from 'vitest';
import { parseFrameRange } from '../shared/frames.ts';
import { frameCount, LIMITS, parseScene, withOverrides } from '../shared/scene.ts';
import { issuesOf, shippedRaw } from './support/scenes.ts';

const cornell = () => structuredClone(shippedRaw('cornell'));

describe('scene schema', () => {
  it('refuses lights that cannot shine: a zero direction, a spot cone inside out, a negative intensity', () => {
    const light = (l: object) => issuesOf({ ...cornell(), lights: [l] });
    expect(light({ type: 'directional', direction: [0, 0, 0], intensity: 1 })).toEqual([
      'lights[0].direction: a direction must not be zero',
    ]);
    expect(
      light({ type: 'spot', position: [0, 1, 0], direction: [0, -1, 0], innerConeAngle: 40, outerConeAngle: 30, intensity: 1 }),
    ).toEqual(['lights[0].innerConeAngle: must be smaller than outerConeAngle']);
    expect(light({ type: 'point', position: [0, 1, 0], intensity: -1 })[0]).toMatch(/^lights\[0\]\.intensity/);
    expect(issuesOf({ ...cornell(), lights: new Array(65).fill({ type: 'point', position: [0, 1, 0], intensity: 1 }) })[0]).toMatch(
      /^lights/,
    );
  });

  it('refuses a camera at its own lookAt, in the scene or at any frame its keys reach', () => {
    const still = cornell();
    still.camera.lookAt = [...still.camera.position];
    expect(issuesOf(still)).toEqual(["camera.lookAt: must differ from the camera's position: the camera has no direction to look in"]);
    // The position moves through a fixed lookAt (offset by z): they meet at frame 5, between keys.
    const through = (z: number) => ({
      ...cornell(),
      camera: { position: [0, 0, 0], lookAt: [5, 0, 0], fov: 40 },
      animation: {
        frameCount: 12,
        camera: [
          { frame: 0, position: [0, 0, z] },
          { frame: 10, position: [10, 0, z] },
        ],
      },
    });
    expect(issuesOf(through(0))).toEqual([
      "animation.camera: at frame 5 the camera's position is its lookAt: it has no direction to look in",
    ]);
    // Passing beside it renders every frame.
    expect(parseScene(through(0.5)).animation?.frameCount).toBe(12);
  });

  it.each(['cornell', 'bounce', 'knot'])('accepts the shipped scene %s', (name) => {
    const scene = parseScene(shippedRaw(name));
    expect(scene.objects.length).toBeGreaterThan(0);
  });

  it('fills defaults', () => {
    const raw = cornell();
    delete raw.render.maxBounces;
    const scene = parseScene(raw);
    expect(scene.render.maxBounces).toBe(5);
    expect(scene.camera.up).toEqual([0, 1, 0]);
    expect(frameCount(scene)).toBe(1);
  });

  it('names the path of a bad material field', () => {
    const raw = cornell();
    raw.materials[5].ior = 0.5;
    expect(issuesOf(raw)).toEqual([expect.stringMatching(/^materials\[5\]\.ior: .*1/)]);
  });

  it('names a missing section', () => {
    const raw = cornell();
    delete raw.camera;
    expect(issuesOf(raw)[0]).toMatch(/^camera: /);
  });

  it('rejects a wrong type deep inside an object', () => {
    const raw = cornell();
    raw.objects[6].center = [27, 'x', 47];
    expect(issuesOf(raw)[0]).toMatch(/^objects\[6\]\.center\[1\]: /);
  });

  it('rejects an unknown primitive kind', () => {
    const raw = cornell();
    raw.objects[0].type = 'torus';
    expect(issuesOf(raw)[0]).toMatch(/^objects\[0\]\.type: /);
  });

  it('rejects references to unknown materials and duplicate names', () => {
    const raw = cornell();
    raw.objects[2].material = 'chrome';
    raw.materials[1].name = 'red';
    expect(issuesOf(raw)).toEqual(
      expect.arrayContaining(['objects[2].material: unknown material "chrome"', 'materials[1].name: duplicate material name "red"']),
    );
  });

  it('rejects malformed meshes', () => {
    const raw = cornell();
    raw.objects.push({ type: 'mesh', material: 'grey', positions: [0, 0, 0, 1, 0, 0, 0, 1, 0], indices: [0, 1, 3] });
    expect(issuesOf(raw)).toEqual(['objects[9].indices[2]: vertex 3 out of range (mesh has 3)']);
  });

  it('enforces hard limits', () => {
    const big = cornell();
    big.render.width = LIMITS.maxWidth + 1;
    expect(issuesOf(big)[0]).toMatch(/^render\.width: /);
    const spp = cornell();
    spp.render.spp = LIMITS.maxSpp + 1;
    expect(issuesOf(spp)[0]).toMatch(/^render\.spp: /);
    const pixels = cornell();
    pixels.render.width = 8192;
    pixels.render.height = 8192;
    expect(issuesOf(pixels)[0]).toMatch(/^render\.width: width × height exceeds/);
    const frames = cornell();
    frames.animation = { frameCount: LIMITS.maxFrames + 1 };
    expect(issuesOf(frames)[0]).toMatch(/^animation\.frameCount: /);
    const objects = cornell();
    objects.objects = Array.from({ length: LIMITS.maxObjects + 1 }, () => objects.objects[0]);
    expect(issuesOf(objects)[0]).toMatch(/^objects: /);
    // Numbers the renderer's f32 arithmetic would overflow (a crash found by `npm run fuzz`).
    const far = cornell();
    far.camera.position = [0, 0, 1e308];
    expect(issuesOf(far)[0]).toMatch(/^camera\.position\[2\]: /);
  });

  it('answers a huge bad input with the first 100 problems and a count of the rest, never a crash', () => {
    const mesh = (positions: unknown[]) => ({ type: 'mesh', material: 'grey', positions, indices: [] });
    for (const n of [501, 125_001, 1_000_002]) {
      const raw = cornell();
      raw.objects.push(mesh(new Array(n).fill('x')));
      const issues = issuesOf(raw);
      expect(issues).toHaveLength(100);
      expect(issues[0]).toBe('objects[9].positions[0]: expected a number within ±1000000000');
      expect(issues[99]).toBe(`objects[9].positions: ${n - 99} more elements are not a number within ±1000000000`);
    }
    // Wrong everywhere at once: listed up to the cap, or, past what zod can collect, said in one line.
    const everywhere = cornell();
    everywhere.objects = new Array(LIMITS.maxObjects).fill({ type: 'sphere', material: 1, center: 'x', radius: 'y', id: 2 });
    const listed = issuesOf(everywhere);
    expect(listed).toHaveLength(101);
    expect(listed[100]).toMatch(/^\(root\): \d+ more problems not listed$/);
    const huge = cornell();
    huge.objects = new Array(300_000).fill(mesh(new Array(8).fill('x')));
    expect(issuesOf(huge).length).toBeLessThanOrEqual(101);
  });

  it('counts triangles across meshes against the limit', () => {
    const raw = cornell();
    const tris = LIMITS.maxTriangles / 2 + 1;
    const mesh = { type: 'mesh', material: 'grey', positions: [0, 0, 0, 1, 0, 0, 0, 1, 0], indices: new Array(tris * 3).fill(0) };
    raw.objects.push(mesh, mesh);
    expect(issuesOf(raw)).toEqual([`objects: scene has ${tris * 2} triangles, limit is ${LIMITS.maxTriangles}`]);
  });

  it('checks animation tracks name real objects', () => {
    const raw = shippedRaw('bounce');
    raw.animation.objects.ghost = [{ frame: 0, translate: [0, 0, 0] }];
    expect(issuesOf(raw)).toEqual(['animation.objects.ghost: no object has id "ghost"']);
  });

  it('applies preview overrides and revalidates them', () => {
    const scene = parseScene(cornell());
    expect(withOverrides(scene, { width: 64, height: 48, spp: 2 }).render).toMatchObject({ width: 64, height: 48, spp: 2 });
    expect(() => withOverrides(scene, { spp: 0 })).toThrow(/render\.spp/);
  });
});

describe('frame ranges', () => {
  it('parses Blender-style ranges', () => {
    expect(parseFrameRange('0-3', 24)).toEqual([0, 1, 2, 3]);
    expect(parseFrameRange('1,5,10-12', 24)).toEqual([1, 5, 10, 11, 12]);
    expect(parseFrameRange('0-20x5', 24)).toEqual([0, 5, 10, 15, 20]);
    expect(parseFrameRange('3, 1-2,3', 24)).toEqual([1, 2, 3]);
  });

  it('rejects malformed and out-of-range specs', () => {
    expect(() => parseFrameRange('5-2', 24)).toThrow(/end before start/);
    expect(() => parseFrameRange('0-24', 24)).toThrow(/outside the scene's 24 frame/);
    expect(() => parseFrameRange('a-b', 24)).toThrow(/expected N, A-B/);
    expect(() => parseFrameRange('0-4x0', 24)).toThrow(/step/);
  });
});
