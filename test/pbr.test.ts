/**
 * glTF's metallic-roughness material and normal maps: the blend is metal with probability
 * metallic (× the texture's blue), so its ends equal the plain materials bit for bit and its middle
 * darkens a light a mirror cannot see by exactly (1 − metallic); a normal map tilts the shading
 * normal the way its texels say (+u across, +Y up the image); a glTF file's textures import as
 * linear data with its normal scale.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Document, NodeIO } from '@gltf-transform/core';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { readSceneFile } from '../cli/scene-file.ts';
import { type Material, parseScene, type SceneInput } from '../shared/scene.ts';
import { withTriangle } from './support/gltf.ts';
import { useRenderers } from './support/renderers.ts';

const on = useRenderers(['webasm', 'cpu']);

/** One 1×1 texel as a linear texture. */
const texel = (name: string, [r, g, b]: number[]) => ({
  name,
  width: 1,
  height: 1,
  encoding: 'linear' as const,
  rgba: Buffer.from([r, g, b, 255]).toString('base64'),
});

/** A 2×2 quad at z = 0 facing the camera (+Z), u across and v down the image, under `light`. */
function quadScene(
  material: Material | SceneInput['materials'][number],
  light: Partial<SceneInput>,
  textures: SceneInput['textures'] = [],
): SceneInput {
  return {
    version: 1,
    render: { width: 16, height: 16, spp: 64, maxBounces: 1 },
    camera: { position: [0, 0, 1 / Math.tan((10 * Math.PI) / 180)], lookAt: [0, 0, 0], fov: 20 },
    textures,
    materials: [material],
    objects: [
      {
        type: 'mesh',
        material: material.name,
        positions: [-1, -1, 0, 1, -1, 0, 1, 1, 0, -1, 1, 0],
        indices: [0, 1, 2, 0, 2, 3],
        uvs: [0, 1, 1, 1, 1, 0, 0, 0],
      },
    ],
    ...light,
  };
}

const sun = (direction: [number, number, number]) => ({ lights: [{ type: 'directional' as const, direction, intensity: Math.PI }] });
const skyGradient = { sky: { top: [1, 0.8, 0.6] as [number, number, number], bottom: [0.1, 0.2, 0.4] as [number, number, number] } };

async function linear(backend: 'webasm' | 'cpu', input: SceneInput): Promise<Float32Array> {
  return (await on(backend).render(parseScene(input), 0)).linear;
}
const mean = (img: Float32Array, c = 0) => img.filter((_, i) => i % 3 === c).reduce((a, b) => a + b, 0) / (img.length / 3);

describe('metallic-roughness material', () => {
  it.each(['webasm', 'cpu'] as const)(
    '%s: at metallic 0 it is the diffuse material, at 1 (× a texture) the metal one, bit for bit',
    async (backend) => {
      const albedo: [number, number, number] = [0.8, 0.6, 0.4];
      // At several sample counts: a difference of one ulp in one sample shows in some and not others.
      for (const spp of [16, 64, 128]) {
        const at = (input: SceneInput): SceneInput => ({ ...input, render: { width: 16, height: 16, spp, maxBounces: 1 } });
        const diffuse = await linear(backend, at(quadScene({ name: 'm', type: 'diffuse', albedo }, skyGradient)));
        const asDiffuse = await linear(
          backend,
          at(quadScene({ name: 'm', type: 'pbr', baseColor: albedo, metallic: 0, roughness: 0.3 }, skyGradient)),
        );
        expect(Buffer.from(asDiffuse.buffer).equals(Buffer.from(diffuse.buffer))).toBe(true);
        const metal = await linear(backend, at(quadScene({ name: 'm', type: 'metal', albedo, roughness: 0.5 }, skyGradient)));
        const asMetal = await linear(
          backend,
          at(
            quadScene(
              { name: 'm', type: 'pbr', baseColor: albedo, metallic: 1, roughness: 0.5, metallicRoughnessTexture: 'mr' },
              skyGradient,
              [texel('mr', [0, 255, 255])],
            ),
          ),
        );
        expect(Buffer.from(asMetal.buffer).equals(Buffer.from(metal.buffer))).toBe(true);
      }
    },
  );

  it('between, is metal with probability metallic × the texture’s blue: a mirror never sees a directional light', async () => {
    const light = sun([0, 0, -1]);
    const plain = mean(await linear('webasm', quadScene({ name: 'm', type: 'diffuse', albedo: [1, 1, 1] }, light)));
    expect(plain).toBeCloseTo(1, 5);
    const blended = quadScene(
      { name: 'm', type: 'pbr', baseColor: [1, 1, 1], metallic: 0.6, metallicRoughnessTexture: 'mr' },
      { ...light, render: { width: 32, height: 32, spp: 256, maxBounces: 1 } },
      [texel('mr', [0, 255, 128])],
    );
    const metallic = 0.6 * (128 / 255);
    expect(mean(await linear('webasm', blended)) / (1 - metallic)).toBeCloseTo(1, 2);
  });
});

describe('normal maps', () => {
  /** A flat map whose every texel holds the tangent-space normal n (linear, 8-bit). */
  const map = (n: number[]) =>
    texel(
      'normals',
      n.map((v) => Math.round(((v + 1) / 2) * 255)),
    );
  const decoded = (n: number[]) => n.map((v) => (2 * Math.round(((v + 1) / 2) * 255)) / 255 - 1);
  const tilted = [0.6, 0, 0.8];

  it('tilts the shading normal toward +u by its texels: the light falls at the bent angle', async () => {
    const textured = (light: Partial<SceneInput>, normalScale = 1) =>
      quadScene({ name: 'm', type: 'pbr', baseColor: [1, 1, 1], normalTexture: 'normals', normalScale }, light, [map(tilted)]);
    const [x, y, z] = decoded(tilted);
    const len = Math.hypot(x, y, z);
    // Head-on light: cos between the bent normal and the light is its z.
    expect(mean(await linear('webasm', textured(sun([0, 0, -1]))))).toBeCloseTo(z / len, 5);
    // Light from +X, 45° off the surface normal: the normal bent toward +X (+u) faces it better.
    const s = Math.SQRT1_2;
    expect(mean(await linear('webasm', textured(sun([-s, 0, -s]))))).toBeCloseTo((x * s + z * s) / len, 5);
    expect(mean(await linear('webasm', textured(sun([s, 0, -s]))))).toBeCloseTo((-x * s + z * s) / len, 5);
    // normalScale 0 leaves it flat.
    expect(mean(await linear('webasm', textured(sun([s, 0, -s]), 0)))).toBeCloseTo(s, 5);
  });

  it('tilts toward +Y up the image (glTF’s convention) for a map’s green', async () => {
    const up = [0, 0.6, 0.8];
    const [, y, z] = decoded(up);
    const len = Math.hypot(decoded(up)[0], y, z);
    const s = Math.SQRT1_2;
    // The image's top is the quad's +Y (v = 0 there): light from above is met better.
    const fromAbove = quadScene({ name: 'm', type: 'pbr', baseColor: [1, 1, 1], normalTexture: 'normals' }, sun([0, -s, -s]), [map(up)]);
    expect(mean(await linear('webasm', fromAbove))).toBeCloseTo((y * s + z * s) / len, 5);
  });

  it('imports a glTF material’s metallic-roughness and normal textures as linear data, with its normal scale', async () => {
    const doc = new Document();
    const png = await sharp(Buffer.from([128, 128, 255, 255]), { raw: { width: 1, height: 1, channels: 4 } })
      .png()
      .toBuffer();
    const image = doc.createTexture('bumps').setImage(png).setMimeType('image/png');
    const brushed = doc
      .createMaterial('brushed')
      .setMetallicFactor(1)
      .setRoughnessFactor(0.4)
      .setMetallicRoughnessTexture(image)
      .setNormalTexture(image)
      .setNormalScale(0.5);
    withTriangle(doc, brushed);
    const path = join(mkdtempSync(join(tmpdir(), 'farm-pbr-')), 'pbr.glb');
    writeFileSync(path, await new NodeIO().writeBinary(doc));
    const { scene } = await readSceneFile(path);
    expect(scene.materials[0]).toEqual({
      name: 'm0-brushed',
      type: 'pbr',
      baseColor: [1, 1, 1],
      metallic: 1,
      roughness: expect.closeTo(0.4, 6),
      metallicRoughnessTexture: 't0-bumps',
      normalTexture: 't0-bumps',
      normalScale: 0.5,
    });
    expect(scene.textures).toEqual([expect.objectContaining({ name: 't0-bumps', encoding: 'linear' })]);
  });
});
