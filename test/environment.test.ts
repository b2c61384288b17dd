/**
 * HDRI skies: a Radiance map is looked up in the documented orientation, a white sphere it lights
 * shows what the map's integral says (a uniform map: its average; a map with a sun: the cosine-
 * weighted sum over its texels, rotated or not), renders stay deterministic and tile-invariant,
 * and broken or oversized files are refused with the failing path.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readSceneFile } from '../cli/scene-file.ts';
import { decodeRadiance, encodeRadiance, type RadianceImage } from '../shared/radiance.ts';
import { LIMITS, parseScene, type Scene, SceneError, type SceneInput } from '../shared/scene.ts';
import { environmentTables } from '../worker/render/environment.ts';
import { expectDeterministicTiles, useRenderers } from './support/renderers.ts';
import { issuesOf } from './support/scenes.ts';

const on = useRenderers(['webasm', 'cpu']);

function image(width: number, height: number, at: (x: number, y: number) => [number, number, number]): RadianceImage {
  const rgb = new Float32Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) rgb.set(at(x, y), (y * width + x) * 3);
  return { width, height, rgb };
}
const base64 = (img: RadianceImage) => Buffer.from(encodeRadiance(img)).toString('base64');

/** A dim blue-grey sky with a small bright sun above the +X +Z quarter. */
const SUNNY = image(32, 16, (x, y) => (x >= 19 && x <= 20 && y >= 4 && y <= 5 ? [400, 380, 300] : [0.2, 0.25, 0.35]));

/** A white sphere of radius 1 seen from +Z, nearly orthographically, under `hdr`. */
function litSphere(hdr: string, rotation = 0, size = 24, spp = 256): Scene {
  return parseScene({
    version: 1,
    render: { width: size, height: size, spp, maxBounces: 2 },
    camera: { position: [0, 0, 20], lookAt: [0, 0, 0], fov: 2 * Math.atan(1.05 / 20) * (180 / Math.PI) },
    materials: [{ name: 'white', type: 'diffuse', albedo: [1, 1, 1] }],
    objects: [{ type: 'sphere', material: 'white', center: [0, 0, 0], radius: 1 }],
    environment: { hdr, rotation },
  });
}

/** The oracle: the map's pixel in a direction, with the documented orientation and rotation. */
function lookup(map: RadianceImage, [x, y, z]: number[], rotation: number): number[] {
  const a = (rotation * Math.PI) / 180;
  const [lx, lz] = [x * Math.cos(a) - z * Math.sin(a), x * Math.sin(a) + z * Math.cos(a)];
  const u = 0.5 + Math.atan2(lz, lx) / (2 * Math.PI);
  const v = Math.acos(Math.max(-1, Math.min(1, y))) / Math.PI;
  const col = Math.min(map.width - 1, Math.floor(u * map.width));
  const row = Math.min(map.height - 1, Math.floor(v * map.height));
  return [0, 1, 2].map((c) => map.rgb[(row * map.width + col) * 3 + c]);
}

/** Radiance of a white Lambertian surface facing n: (1/π) ∫ L(ω) max(0, n·ω) dω over the map, numerically. */
function lambert(map: RadianceImage, n: number[], rotation: number): number[] {
  const steps = 64;
  const out = [0, 0, 0];
  for (let j = 0; j < steps; j++) {
    const theta = (Math.PI * (j + 0.5)) / steps;
    for (let i = 0; i < steps * 2; i++) {
      const phi = (2 * Math.PI * (i + 0.5)) / (steps * 2);
      const w = [Math.sin(theta) * Math.cos(phi), Math.cos(theta), Math.sin(theta) * Math.sin(phi)];
      const cos = n[0] * w[0] + n[1] * w[1] + n[2] * w[2];
      if (cos <= 0) continue;
      const dOmega = (Math.PI / steps) * (Math.PI / steps) * Math.sin(theta);
      const l = lookup(map, w, rotation);
      for (let c = 0; c < 3; c++) out[c] += (l[c] * cos * dOmega) / Math.PI;
    }
  }
  return out;
}

/** The normal at the sphere point a point of the image sees, or undefined when it sees the sky. */
function normalAt(scene: Scene, px: number, py: number): number[] | undefined {
  const half = Math.tan((scene.camera.fov * Math.PI) / 360);
  const size = scene.render.width;
  const d = [((2 * px) / size - 1) * half, (1 - (2 * py) / size) * half, -1];
  const len = Math.hypot(...d);
  const dir = d.map((v) => v / len);
  const o = [0, 0, 20];
  const b = o[2] * dir[2];
  const disc = b * b - (400 - 1);
  if (disc < 0) return undefined;
  const t = -b - Math.sqrt(disc);
  return [o[0] + t * dir[0], o[1] + t * dir[1], o[2] + t * dir[2]];
}

/**
 * Average rendered and expected radiance over the sphere pixels whose centre's normal `where`
 * selects. A pixel's expectation averages 3×3 points in it: near the sun's terminator the
 * radiance bends too sharply for its centre's value to stand for the pixel.
 */
async function compare(scene: Scene, map: RadianceImage, where: (n: number[]) => boolean) {
  const { linear, width } = await on('webasm').render(scene, 0);
  const got = [0, 0, 0];
  const want = [0, 0, 0];
  let pixels = 0;
  const offsets = [1 / 6, 1 / 2, 5 / 6];
  for (let py = 0; py < width; py++) {
    for (let px = 0; px < width; px++) {
      const centre = normalAt(scene, px + 0.5, py + 0.5);
      const normals = offsets.flatMap((oy) => offsets.map((ox) => normalAt(scene, px + ox, py + oy)));
      // A pixel on the rim straddles sphere and sky: all its corners must see the sphere.
      const corners = [0, 1].flatMap((oy) => [0, 1].map((ox) => normalAt(scene, px + ox, py + oy)));
      if (!centre || !where(centre) || corners.some((n) => !n)) continue;
      pixels++;
      for (const n of normals) {
        const e = lambert(map, n as number[], scene.environment?.rotation ?? 0);
        for (let c = 0; c < 3; c++) want[c] += e[c] / normals.length;
      }
      for (let c = 0; c < 3; c++) got[c] += linear[(py * width + px) * 3 + c];
    }
  }
  return { got: got.map((v) => v / pixels), want: want.map((v) => v / pixels), pixels };
}

describe('HDRI environment', () => {
  it('is looked up with its centre facing +X, columns turning toward +Z, the top row straight up, rotated about +Y', async () => {
    const map = image(33, 15, (x, y) => (y === 0 ? [7, 7, 7] : [x + 1, y + 1, 0.5]));
    const hdr = base64(map);
    const decoded = decodeRadiance(Buffer.from(hdr, 'base64'), LIMITS.maxRadiance);
    const view = (lookAt: number[], rotation: number) =>
      parseScene({
        version: 1,
        render: { width: 4, height: 4, spp: 4, maxBounces: 1 },
        camera: { position: [0, 0, 0], lookAt, up: lookAt[1] === 0 ? [0, 1, 0] : [1, 0, 0], fov: 0.5 },
        materials: [{ name: 'm', type: 'diffuse', albedo: [1, 1, 1] }],
        objects: [{ type: 'sphere', material: 'm', center: [0, -1000, 0], radius: 1 }],
        environment: { hdr, rotation },
      });
    const seen = async (lookAt: number[], rotation = 0) =>
      Array.from((await on('cpu').render(view(lookAt, rotation), 0)).linear.slice(15, 18));
    const pixel = (col: number, row: number) => Array.from(decoded.rgb.slice((row * 33 + col) * 3, (row * 33 + col) * 3 + 3));
    expect(await seen([1, 0, 0])).toEqual(pixel(16, 7));
    expect(await seen([0, 0, 1])).toEqual(pixel(24, 7));
    expect(await seen([0, 1, 0])).toEqual(pixel(0, 0)); // the top row is one point: any column
    // Rotated 90° counter-clockwise seen from above, what faced +Z faces +X.
    expect(await seen([1, 0, 0], 90)).toEqual(pixel(24, 7));
  });

  it('a white sphere under a uniform sky shows the sky’s radiance', async () => {
    const map = image(16, 8, () => [0.5, 1, 2]);
    const decoded = decodeRadiance(encodeRadiance(map), LIMITS.maxRadiance);
    const { got, pixels } = await compare(litSphere(base64(map), 0, 24, 512), map, () => true);
    expect(pixels).toBeGreaterThan(300);
    for (let c = 0; c < 3; c++) expect(got[c] / decoded.rgb[c]).toBeCloseTo(1, 1.7); // within 1 %
  });

  it.each([0, 135])(
    'a white sphere under a sky with a sun (rotated %d°) matches the cosine-weighted integral of the map',
    async (rotation) => {
      const map = decodeRadiance(encodeRadiance(SUNNY), LIMITS.maxRadiance);
      const scene = litSphere(base64(SUNNY), rotation);
      for (const half of [(n: number[]) => n[0] > 0, (n: number[]) => n[0] <= 0]) {
        const { got, want } = await compare(scene, map, half);
        for (let c = 0; c < 3; c++) expect(got[c] / want[c]).toBeCloseTo(1, 1.5); // within 1.6 %
      }
    },
  );

  it.each(['webasm', 'cpu'] as const)(
    '%s renders an HDRI-lit scene deterministically, and its tiles equal the full frame',
    async (backend) => {
      await expectDeterministicTiles(on(backend), litSphere(base64(SUNNY), 30, 30, 16), 11);
    },
  );

  it('samples each pixel in proportion to its luminance × sin θ, and finds nothing to sample in a black sky', () => {
    const tables = environmentTables(SUNNY, 2) as NonNullable<ReturnType<typeof environmentTables>>;
    const { width, height, cdf } = tables;
    const p = (x: number, y: number) =>
      (cdf[y] - (y > 0 ? cdf[y - 1] : 0)) * (cdf[height + y * width + x] - (x > 0 ? cdf[height + y * width + x - 1] : 0));
    const weight = (x: number, y: number) => {
      const [r, g, b] = SUNNY.rgb.slice((y * width + x) * 3, (y * width + x) * 3 + 3);
      return (0.2126 * r + 0.7152 * g + 0.0722 * b) * Math.sin((Math.PI * (y + 0.5)) / height);
    };
    let total = 0;
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) total += weight(x, y);
    for (const [x, y] of [
      [19, 4],
      [0, 0],
      [31, 15],
      [7, 9],
    ])
      expect(p(x, y) / (weight(x, y) / total)).toBeCloseTo(1, 4);
    expect(tables.rgb[0]).toBeCloseTo(0.4, 6); // intensity applied
    expect(
      environmentTables(
        image(8, 4, () => [0, 0, 0]),
        1,
      ),
    ).toBeUndefined();
  });

  it('farm render --sky lights a scene file with an HDRI, keeping the file’s rotation', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'farm-sky-'));
    writeFileSync(join(dir, 'sky.hdr'), encodeRadiance(SUNNY));
    const json = { ...(litSphere(base64(image(2, 1, () => [1, 1, 1]))) as SceneInput), environment: { hdr: '', rotation: 40 } };
    writeFileSync(join(dir, 'scene.json'), JSON.stringify(json));
    const { scene } = await readSceneFile(join(dir, 'scene.json'), { sky: join(dir, 'sky.hdr') });
    expect(scene.environment).toEqual({ hdr: base64(SUNNY), intensity: 1, rotation: 40 });
  });

  it('refuses broken, oddly oriented and oversized files with the failing path', () => {
    const scene = (hdr: string): SceneInput => ({ ...(litSphere(base64(SUNNY)) as SceneInput), environment: { hdr } });
    const header = (size: string) => Buffer.from(`#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n${size}\n`).toString('base64');
    expect(issuesOf(scene(Buffer.from('P6 1 1 255\n').toString('base64')))).toEqual([
      'environment.hdr: not a Radiance .hdr file (it must start with "#?")',
    ]);
    expect(issuesOf(scene(header('+Y 4 +X 8')))).toEqual([
      expect.stringMatching(/^environment\.hdr: resolution "\+Y 4 \+X 8" is not read/),
    ]);
    expect(issuesOf(scene(header('-Y 4096 +X 8192')))).toEqual([
      `environment.hdr: 8192×4096 pixels exceeds the limit of ${LIMITS.maxEnvironmentPixels}; scale the sky down`,
    ]);
    expect(issuesOf(scene(header('-Y 4 +X 8')))).toEqual(['environment.hdr: the pixel data is shorter than 8×4']);
    expect(issuesOf(scene('not base64!'))).toEqual([expect.stringMatching(/^environment\.hdr/)]);
    // A second size line where three.js's decoder looks (the last before FORMAT) but the check
    // does not: decoded at the checked 1×1, not allocated at 12000×12000 (2.8 GB, 19 s).
    const lying = Buffer.concat([
      Buffer.from('#?RADIANCE\n\n-Y 1 +X 1\n-Y 12000 +X 12000\nFORMAT=32-bit_rle_rgbe\n', 'latin1'),
      Buffer.from([2, 2, 0x2e, 0xe0, 255, 100, 255, 100]),
    ]);
    const t0 = performance.now();
    parseScene(scene(lying.toString('base64')));
    expect(decodeRadiance(lying, LIMITS.maxRadiance)).toMatchObject({ width: 1, height: 1 });
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('any corruption of a file is refused with a reason or decodes to finite radiance within the limit', () => {
    const good = encodeRadiance(SUNNY);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
        fc.nat(good.length),
        (edits, cut) => {
          const bytes = good.slice(0, Math.max(cut, 1));
          for (const [at, value] of edits) if (at < bytes.length) bytes[at] = value;
          try {
            parseScene({ ...(litSphere(base64(SUNNY)) as SceneInput), environment: { hdr: Buffer.from(bytes).toString('base64') } });
          } catch (e) {
            expect(e).toBeInstanceOf(SceneError);
            return;
          }
          const { rgb } = decodeRadiance(bytes, LIMITS.maxRadiance);
          expect(rgb.every((v) => Number.isFinite(v) && v >= 0 && v <= LIMITS.maxRadiance)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});
