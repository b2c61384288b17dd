/**
 * Textures: a glTF quad's base-colour texture seen through its camera matches the texture
 * (sRGB decoded, bilinear), wrap modes read what glTF says outside [0, 1], textured renders are
 * deterministic and tile-invariant on every backend, and bad textures get clear errors.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Document, NodeIO, TextureInfo } from '@gltf-transform/core';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { readSceneFile } from '../cli/scene-file.ts';
import { parseScene, type Scene, type SceneInput, type Texture } from '../shared/scene.ts';
import type { Renderer } from '../worker/render/renderer.ts';
import { expectDeterministicTiles, useRenderers } from './support/renderers.ts';
import { issuesOf } from './support/scenes.ts';

const on = useRenderers(['webasm', 'cpu']);

/** 4×4 texels of distinct colours (RGBA8, sRGB-encoded). */
const TEXELS = Uint8Array.from({ length: 64 }, (_, i) => (i % 4 === 3 ? 255 : (i * 37 + (i >> 2) * 11) % 256));
const srgbToLinear = (c: number) => (c / 255 <= 0.04045 ? c / 255 / 12.92 : ((c / 255 + 0.055) / 1.055) ** 2.4);

/** The oracle: glTF's bilinear lookup with wrap modes, in f64. */
function sample(u: number, v: number, wrapS: Texture['wrapS'], wrapT: Texture['wrapT']): number[] {
  const wrap = (q: number, mode: Texture['wrapS']) => {
    if (mode === 'clamp') return Math.min(Math.max(q, 0), 3);
    if (mode === 'repeat') return ((q % 4) + 4) % 4;
    const p = ((q % 8) + 8) % 8;
    return p >= 4 ? 7 - p : p;
  };
  const fx = u * 4 - 0.5;
  const fy = v * 4 - 0.5;
  const [x0, y0] = [Math.floor(fx), Math.floor(fy)];
  const [ax, ay] = [fx - x0, fy - y0];
  const texel = (x: number, y: number) => [0, 1, 2].map((c) => srgbToLinear(TEXELS[(wrap(y, wrapT) * 4 + wrap(x, wrapS)) * 4 + c]));
  const [a, b, c, d] = [texel(x0, y0), texel(x0 + 1, y0), texel(x0, y0 + 1), texel(x0 + 1, y0 + 1)];
  return [0, 1, 2].map((k) => (1 - ax) * (1 - ay) * a[k] + ax * (1 - ay) * b[k] + (1 - ax) * ay * c[k] + ax * ay * d[k]);
}

/**
 * A 2×2 quad at z = 0 facing a camera that it fills exactly, under a uniform white sky, so a pixel
 * shows albedo × texture. Its uvs run from `lo` to `hi` (v downwards, as glTF's).
 */
function texturedQuad(wrapS: Texture['wrapS'], wrapT: Texture['wrapT'], lo = 0, hi = 1, size = 32): Scene {
  return parseScene({
    version: 1,
    render: { width: size, height: size, spp: 16, maxBounces: 1 },
    camera: { position: [0, 0, 1 / Math.tan((20 * Math.PI) / 180)], lookAt: [0, 0, 0], fov: 40 },
    sky: { top: [1, 1, 1], bottom: [1, 1, 1] },
    textures: [{ name: 'checker', width: 4, height: 4, wrapS, wrapT, rgba: Buffer.from(TEXELS).toString('base64') }],
    materials: [{ name: 'paper', type: 'diffuse', albedo: [1, 1, 1], albedoTexture: 'checker' }],
    objects: [
      {
        type: 'mesh',
        material: 'paper',
        positions: [-1, -1, 0, 1, -1, 0, 1, 1, 0, -1, 1, 0],
        indices: [0, 1, 2, 0, 2, 3],
        uvs: [lo, hi, hi, hi, hi, lo, lo, lo],
      },
    ],
  });
}

/** Every pixel against the oracle at its centre's uv. */
async function expectTexture(r: Renderer, scene: Scene, lo: number, hi: number): Promise<void> {
  const { linear, width } = await r.render(scene, 0);
  let worst = 0;
  for (let py = 0; py < width; py++) {
    for (let px = 0; px < width; px++) {
      const u = lo + ((px + 0.5) / width) * (hi - lo);
      const v = lo + ((py + 0.5) / width) * (hi - lo);
      const want = sample(u, v, scene.textures[0].wrapS, scene.textures[0].wrapT);
      for (let c = 0; c < 3; c++) worst = Math.max(worst, Math.abs(linear[(py * width + px) * 3 + c] - want[c]));
    }
  }
  // Samples jitter within their pixel; the bilinear surface is linear there but for its kinks.
  expect(worst).toBeLessThan(0.05);
}

describe('textures', () => {
  it('a glTF quad’s base-colour texture, seen through its camera, is the texture (sRGB decoded, bilinear)', async () => {
    const doc = new Document();
    const buffer = doc.createBuffer();
    const accessor = (type: 'VEC2' | 'VEC3' | 'SCALAR', array: Float32Array | Uint16Array) =>
      doc.createAccessor().setType(type).setArray(array).setBuffer(buffer);
    const png = await sharp(Buffer.from(TEXELS), { raw: { width: 4, height: 4, channels: 4 } })
      .png()
      .toBuffer();
    const texture = doc.createTexture('checker').setImage(png).setMimeType('image/png');
    const material = doc.createMaterial('paper').setBaseColorTexture(texture).setMetallicFactor(0);
    material.getBaseColorTextureInfo()?.setWrapS(TextureInfo.WrapMode.CLAMP_TO_EDGE).setWrapT(TextureInfo.WrapMode.MIRRORED_REPEAT);
    const primitive = doc
      .createPrimitive()
      .setAttribute('POSITION', accessor('VEC3', new Float32Array([-1, -1, 0, 1, -1, 0, 1, 1, 0, -1, 1, 0])))
      .setAttribute('TEXCOORD_0', accessor('VEC2', new Float32Array([0, 1, 1, 1, 1, 0, 0, 0])))
      .setIndices(accessor('SCALAR', new Uint16Array([0, 1, 2, 0, 2, 3])))
      .setMaterial(material);
    const camera = doc
      .createCamera('cam')
      .setType('perspective')
      .setYFov((40 * Math.PI) / 180)
      .setAspectRatio(1)
      .setZNear(0.1);
    const scene = doc
      .createScene('main')
      .addChild(doc.createNode('quad').setMesh(doc.createMesh('quad').addPrimitive(primitive)))
      .addChild(
        doc
          .createNode('cam')
          .setCamera(camera)
          .setTranslation([0, 0, 1 / Math.tan((20 * Math.PI) / 180)]),
      );
    doc.getRoot().setDefaultScene(scene);
    const path = join(mkdtempSync(join(tmpdir(), 'farm-textures-')), 'quad.glb');
    writeFileSync(path, await new NodeIO().writeBinary(doc));

    const { scene: imported } = await readSceneFile(path);
    expect(imported.textures).toEqual([
      {
        name: 't0-checker',
        width: 4,
        height: 4,
        encoding: 'srgb',
        wrapS: 'clamp',
        wrapT: 'mirror',
        rgba: Buffer.from(TEXELS).toString('base64'),
      },
    ]);
    expect(imported.materials[0]).toMatchObject({ type: 'diffuse', albedoTexture: 't0-checker' });
    const lit = parseScene({
      ...imported,
      render: { ...imported.render, width: 32, height: 32, spp: 16, maxBounces: 1 },
      sky: { top: [1, 1, 1], bottom: [1, 1, 1] },
    });
    await expectTexture(on('webasm'), lit, 0, 1);
  });

  it.each([
    ['repeat', 'repeat'],
    ['clamp', 'clamp'],
    ['mirror', 'mirror'],
    ['repeat', 'mirror'],
  ] as const)('wraps coordinates outside [0, 1]: %s across, %s down', async (wrapS, wrapT) => {
    await expectTexture(on('webasm'), texturedQuad(wrapS, wrapT, -1.25, 1.75, 96), -1.25, 1.75);
  });

  it.each(['webasm', 'cpu'] as const)(
    '%s renders a textured scene deterministically, and its tiles equal the full frame',
    async (backend) => {
      await expectDeterministicTiles(on(backend), texturedQuad('mirror', 'repeat', -0.5, 1.5, 40), 13);
    },
  );

  it('refuses bad textures with the failing path', () => {
    const base = texturedQuad('repeat', 'repeat') as SceneInput;
    const texture = base.textures?.[0] as Texture;
    expect(issuesOf({ ...base, textures: [{ ...texture, rgba: 'AAAA' }] })).toEqual([
      expect.stringMatching(/^textures\[0\]\.rgba: holds 3 bytes, not 4×4×4/),
    ]);
    expect(issuesOf({ ...base, textures: [{ ...texture, rgba: 'not base64!' }] })).toEqual([expect.stringMatching(/^textures\[0\]\.rgba/)]);
    // A texture of every texel the farm takes (2048 × 2048) is taken inline; a texel more is refused by count.
    const full = { ...texture, width: 2048, height: 2048, rgba: Buffer.alloc(2048 * 2048 * 4, 128).toString('base64') };
    expect(parseScene({ ...base, textures: [full] }).textures[0].width).toBe(2048);
    const more = { ...texture, name: 'more', width: 1, height: 1, rgba: Buffer.alloc(4).toString('base64') };
    expect(issuesOf({ ...base, textures: [full, more] })).toEqual([expect.stringMatching(/^textures: textures hold 4194305 texels/)]);
    expect(issuesOf({ ...base, textures: [{ ...texture, width: 5000 }] })).toEqual(
      expect.arrayContaining([expect.stringMatching(/^textures\[0\]\.width/)]),
    );
    expect(issuesOf({ ...base, materials: [{ ...base.materials[0], albedoTexture: 'nope' }] })).toEqual([
      'materials[0].albedoTexture: unknown texture "nope"',
    ]);
    expect(issuesOf({ ...base, objects: [{ type: 'sphere', center: [0, 0, 0], radius: 1, material: 'paper' }] })).toEqual([
      'objects[0].material: material "paper" has a texture: only a mesh with uvs can wear it',
    ]);
    expect(issuesOf({ ...base, objects: [{ ...base.objects[0], uvs: [0, 0] }] })).toEqual([
      'objects[0].uvs: must hold 2 numbers per vertex (8)',
    ]);
  });
});
