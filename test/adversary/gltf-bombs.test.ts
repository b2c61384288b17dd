/**
 * glTF bombs, tried and refused: files of a few hundred bytes whose accessors, animation samplers
 * or images declare millions of elements (a POSITION accessor without a bufferView is count zeros,
 * as the spec says; a PNG's header may declare 16383² pixels over 1 KB of data). The importer
 * sizes them from the JSON and the image headers before anything is expanded or decoded, and
 * refuses them as over the limits (`ImportLimitError`: 400 "Over the farm limits" on
 * POST /api/scenes/import, naming the accessor or texture), each within a fraction of a second.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import type { JSONDocument } from '@gltf-transform/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSceneFile } from '../../cli/scene-file.ts';
import { ImportLimitError, sceneFromJsonDocument } from '../../shared/gltf-scene.ts';
import { type ApiFarm, startApiFarm } from '../support/orchestrator.ts';
import { problem } from '../support/problem.ts';

type Json = JSONDocument['json'];
const FLOAT = 5126 as const;
const UINT = 5125 as const;

/** One node drawing one primitive: `accessors[0]` its POSITION, `accessors[1]` its indices if `indexed`. */
function meshFile(accessors: Json['accessors'], extra: Partial<Json> = {}, indexed = false): Json {
  return {
    asset: { version: '2.0' },
    scene: 0,
    scenes: [{ nodes: [0] }],
    nodes: [{ mesh: 0 }],
    meshes: [{ name: 'bomb', primitives: [{ attributes: { POSITION: 0 }, ...(indexed ? { indices: 1 } : {}) }] }],
    accessors,
    ...extra,
  };
}

/** A POSITION accessor of `count` zeros (no bufferView), and three indices: one triangle. */
const vertexBomb = (count: number) =>
  meshFile(
    [
      { componentType: FLOAT, count, type: 'VEC3', max: [0, 0, 0], min: [0, 0, 0] },
      { componentType: UINT, count: 3, type: 'SCALAR' },
    ],
    {},
    true,
  );

/** A triangle whose node is moved by a sampler of `count` zero keys (input) and values (output). */
const animationBomb = (count: number) =>
  meshFile(
    [
      { componentType: FLOAT, count: 3, type: 'VEC3', max: [0, 0, 0], min: [0, 0, 0] },
      { componentType: FLOAT, count, type: 'SCALAR', max: [0], min: [0] },
      { componentType: FLOAT, count, type: 'VEC3' },
    ],
    { animations: [{ channels: [{ sampler: 0, target: { node: 0, path: 'translation' } }], samplers: [{ input: 1, output: 2 }] }] },
  );

/** A PNG whose header says `width`×`height` (8-bit grey) over one row of pixel data: a few hundred bytes. */
function pngHeader(width: number, height: number): Uint8Array<ArrayBuffer> {
  const chunk = (type: string, data: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body) >>> 0);
    return Buffer.concat([length, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth; colour type 0 (grey), no interlace
  const signature = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]);
  return new Uint8Array(
    Buffer.concat([signature, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.alloc(width + 1))), chunk('IEND', Buffer.alloc(0))]),
  );
}

/** A triangle wearing one base-colour texture per image, each image's bytes given. */
function texturedFile(images: Uint8Array<ArrayBuffer>[]): JSONDocument {
  const json = meshFile([{ componentType: FLOAT, count: 3, type: 'VEC3', max: [0, 0, 0], min: [0, 0, 0] }]);
  json.meshes = [{ primitives: images.map((_, i) => ({ attributes: { POSITION: 0 }, material: i })) }];
  json.materials = images.map((_, i) => ({ pbrMetallicRoughness: { baseColorTexture: { index: i } } }));
  json.textures = images.map((_, i) => ({ source: i }));
  json.images = images.map((_, i) => ({ uri: `image${i}.png`, mimeType: 'image/png' }));
  return { json, resources: Object.fromEntries(images.map((bytes, i) => [`image${i}.png`, bytes])) };
}

/** The import's refusal, and how long it took. */
async function refusal(doc: JSONDocument): Promise<{ error: Error; ms: number }> {
  const t0 = performance.now();
  const error = await sceneFromJsonDocument(doc, 'bomb').then(
    () => new Error('imported'),
    (e: Error) => e,
  );
  return { error, ms: performance.now() - t0 };
}

describe('a glTF file whose accessors declare millions of elements', () => {
  it('is refused from its JSON before anything is read: a zero-filled POSITION of 40,000,000 vertices under one triangle', async () => {
    const { error, ms } = await refusal({ json: vertexBomb(40_000_000), resources: {} });
    expect(error).toBeInstanceOf(ImportLimitError);
    expect(error).toMatchObject({ path: 'objects' });
    expect(error.message).toBe(
      'accessor 0 (POSITION of mesh 0 "bomb" primitive 0) holds 40000000 vertices: a scene\'s meshes hold at most 750000 (3 a triangle, 250000 triangles)',
    );
    expect(ms).toBeLessThan(1000);
  });

  it('counts every primitive that reads a shared accessor against the scene’s vertices, before expanding it', async () => {
    // 400,000 zeros pass alone; the second mesh reading them again is past 750,000 vertices.
    const json = vertexBomb(400_000);
    json.nodes = [{ mesh: 0 }, { mesh: 1 }];
    json.scenes = [{ nodes: [0, 1] }];
    json.meshes = [0, 1].map((m) => ({ name: `m${m}`, primitives: [{ attributes: { POSITION: 0 }, indices: 1 }] }));
    const { error, ms } = await refusal({ json, resources: {} });
    expect(error).toBeInstanceOf(ImportLimitError);
    expect(error.message).toBe(
      'primitive 0 of mesh "m1" has 400000 vertices: a scene\'s meshes hold at most 750000 (3 a triangle, 250000 triangles), 400000 are already read',
    );
    expect(ms).toBeLessThan(1000);
  });

  it('refuses more numbers across all accessors than a scene could draw, and malformed counts', async () => {
    const json = vertexBomb(3);
    json.accessors = [
      ...(json.accessors ?? []),
      ...Array.from({ length: 9 }, () => ({ componentType: FLOAT, count: 750_000, type: 'VEC4' as const })),
    ];
    const { error } = await refusal({ json, resources: {} });
    expect(error).toBeInstanceOf(ImportLimitError);
    expect(error.message).toBe("the file's accessors hold 27000012 numbers together, the importer reads at most 24000000");
    for (const [count, sparse] of [[-1], ['9'], [3, { count: 4 }]] as const) {
      const bad = vertexBomb(3);
      Object.assign(bad.accessors?.[1] ?? {}, { count, sparse });
      const { error: malformed } = await refusal({ json: bad, resources: {} });
      expect(malformed).not.toBeInstanceOf(ImportLimitError);
      expect(malformed.message).toMatch(/^accessor 1 has (sparse )?count/);
    }
  });

  it('refuses an animation sampler of 20,000,000 keys, and channels that share a sampler past the keys an animation may hold', async () => {
    const { error, ms } = await refusal({ json: animationBomb(20_000_000), resources: {} });
    expect(error).toBeInstanceOf(ImportLimitError);
    expect(error).toMatchObject({ path: 'animation' });
    expect(error.message).toBe(
      'accessor 1 (input of animation 0 sampler 0) holds 20000000 keys: a sampler holds at most 50000 (5 a frame over 10000 frames)',
    );
    expect(ms).toBeLessThan(1000);

    const shared = animationBomb(40_000);
    shared.animations = [
      {
        name: 'many',
        samplers: [{ input: 1, output: 2 }],
        channels: Array.from({ length: 20 }, () => ({ sampler: 0, target: { node: 0, path: 'translation' as const } })),
      },
    ];
    const again = await refusal({ json: shared, resources: {} });
    expect(again.error).toBeInstanceOf(ImportLimitError);
    expect(again.error.message).toBe('animation "many" has 20 channels holding 800000 keys together: the importer reads at most 500000');
    expect(again.ms).toBeLessThan(1000);
    // The same channels on bones that move nothing drawn (a rig: skins are not imported) are not read, so not refused.
    const rig = structuredClone(shared);
    rig.nodes = [{ mesh: 0 }, { name: 'bone' }];
    rig.scenes = [{ nodes: [0, 1] }];
    for (const channel of rig.animations?.[0].channels ?? []) channel.target.node = 1;
    expect((await sceneFromJsonDocument({ json: rig, resources: {} }, 'rig')).scene.objects).toHaveLength(1);
  });

  it('refuses a node hierarchy nested past 1,000 levels, or past 40,000 nodes, from its JSON', async () => {
    // A chain of 20,000 nodes overflowed the stack of gltf-transform's recursive traversal, after reading them all.
    const chain = (length: number) => {
      const json = vertexBomb(3);
      json.nodes = Array.from({ length }, (_, i) => (i < length - 1 ? { children: [i + 1] } : { mesh: 0 }));
      return json;
    };
    const deep = await refusal({ json: chain(20_000), resources: {} });
    expect(deep.error).toBeInstanceOf(ImportLimitError);
    expect(deep.error.message).toBe('node 1000 is nested 1001 deep: the importer reads at most 1000 levels');
    expect(deep.ms).toBeLessThan(1000);
    const many = vertexBomb(3);
    many.nodes = [{ mesh: 0 }, ...Array.from({ length: 40_000 }, () => ({}))];
    expect((await refusal({ json: many, resources: {} })).error.message).toBe('the file has 40001 nodes, the importer reads at most 40000');
    // 1,000 levels are read (the triangle hangs at the bottom).
    expect((await sceneFromJsonDocument({ json: chain(1_000), resources: {} }, 'deep')).scene.objects).toHaveLength(1);
    // Nor may a depth checked along one parent hide another: glTF's nodes form trees.
    const twoParents = chain(3);
    twoParents.nodes?.push({ children: [2] });
    expect((await refusal({ json: twoParents, resources: {} })).error.message).toBe(
      "node 2 is a child of nodes 1 and 3: glTF's nodes form trees",
    );
    const cycle = chain(3);
    cycle.nodes?.push({ children: [4] }, { children: [3] });
    expect((await refusal({ json: cycle, resources: {} })).error.message).toBe("2 nodes are their own ancestors: glTF's nodes form trees");
  });

  it('bakes an animation of 2,000 channels on one sampler for about a second: its first frames, and says so', async () => {
    const times = Buffer.from(new Float32Array([0, 416]).buffer);
    const moves = Buffer.from(new Float32Array([0, 0, 0, 1, 1, 1]).buffer);
    const json = meshFile(
      [
        { componentType: FLOAT, count: 3, type: 'VEC3', max: [0, 0, 0], min: [0, 0, 0] },
        { bufferView: 0, componentType: FLOAT, count: 2, type: 'SCALAR', max: [416], min: [0] },
        { bufferView: 1, componentType: FLOAT, count: 2, type: 'VEC3' },
      ],
      {
        buffers: [{ uri: 'keys.bin', byteLength: 32 }],
        bufferViews: [
          { buffer: 0, byteOffset: 0, byteLength: 8 },
          { buffer: 0, byteOffset: 8, byteLength: 24 },
        ],
        animations: [
          {
            name: 'crowd',
            samplers: [{ input: 1, output: 2 }],
            channels: Array.from({ length: 2000 }, () => ({ sampler: 0, target: { node: 0, path: 'translation' as const } })),
          },
        ],
      },
    );
    const t0 = performance.now();
    const { scene, warnings } = await sceneFromJsonDocument({ json, resources: { 'keys.bin': Buffer.concat([times, moves]) } }, 'crowd');
    expect(performance.now() - t0).toBeLessThan(4000);
    expect(scene.animation?.frameCount).toBe(99);
    expect(warnings).toEqual([
      'animation "crowd" samples 2000 channels and composes 1 node matrix a frame: its first 99 frames are rendered (5000000 steps at most, a channel counts 25)',
    ]);
  });

  it('is refused through farm submit’s reader with the file named', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'farm-gltf-bombs-')), 'bomb.gltf');
    writeFileSync(path, JSON.stringify(vertexBomb(40_000_000)));
    const t0 = performance.now();
    await expect(readSceneFile(path)).rejects.toThrow(
      `${path}: accessor 0 (POSITION of mesh 0 "bomb" primitive 0) holds 40000000 vertices`,
    );
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});

describe('a glTF texture whose image declares more pixels than a scene may hold', () => {
  it('is refused from its header, not decoded: a PNG of a few hundred bytes declaring 16383×16383', async () => {
    const png = pngHeader(16383, 16383);
    expect(png.length).toBeLessThan(1000);
    const { error, ms } = await refusal(texturedFile([png]));
    expect(error).toBeInstanceOf(ImportLimitError);
    expect(error).toMatchObject({ path: 'textures[0].width' });
    expect(error.message).toBe('texture "t0-texture" (image "image0.png") is 16383×16383: a texture is at most 4096 texels a side');
    expect(ms).toBeLessThan(1000);
  });

  it('refuses textures past the texels a scene may hold together, and images that are not PNG, JPEG or WebP', async () => {
    const { error, ms } = await refusal(texturedFile([pngHeader(2048, 2048), pngHeader(4096, 1024)]));
    expect(error).toBeInstanceOf(ImportLimitError);
    expect(error).toMatchObject({ path: 'textures', message: 'textures hold 8388608 texels, limit is 4194304' });
    expect(ms).toBeLessThan(1000);
    const svg = new TextEncoder().encode('<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"></svg>');
    const { error: vector } = await refusal(texturedFile([svg]));
    expect(vector).not.toBeInstanceOf(ImportLimitError);
    expect(vector.message).toBe('texture "t0-texture" (image "image0.png") is svg: glTF textures are PNG, JPEG or WebP');
  });
});

describe('POST /api/scenes/import of a glTF bomb', () => {
  let api: ApiFarm;
  beforeAll(async () => {
    api = await startApiFarm();
  });
  afterAll(() => api.stop());

  it('answers 400 "Over the farm limits" at once, naming the accessor or the texture', async () => {
    const base64 = (bytes: Uint8Array | string) => Buffer.from(bytes).toString('base64');
    const t0 = performance.now();
    const vertices = await problem(
      await api.operator('/api/scenes/import', { files: { 'b.gltf': base64(JSON.stringify(vertexBomb(40_000_000))) } }),
      400,
    );
    expect(vertices.title).toBe('Over the farm limits');
    expect(vertices.errors).toEqual([
      {
        path: 'scene.objects',
        message:
          'b.gltf: accessor 0 (POSITION of mesh 0 "bomb" primitive 0) holds 40000000 vertices: a scene\'s meshes hold at most 750000 (3 a triangle, 250000 triangles)',
      },
    ]);
    const { json, resources } = texturedFile([pngHeader(16383, 16383)]);
    const image = await problem(
      await api.operator('/api/scenes/import', {
        files: { 'b.gltf': base64(JSON.stringify(json)), 'image0.png': base64(resources['image0.png']) },
      }),
      400,
    );
    expect(image.title).toBe('Over the farm limits');
    expect(image.errors).toEqual([
      {
        path: 'scene.textures[0].width',
        message: 'b.gltf: texture "t0-texture" (image "image0.png") is 16383×16383: a texture is at most 4096 texels a side',
      },
    ]);
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});
