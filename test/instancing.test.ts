/**
 * Instancing: a glTF mesh on several nodes is imported as one mesh and instances of it, a third of
 * the flattened scene's size, and the worker's expansion renders it bit-identical to the same file
 * with a copy of the mesh per node. An instance must name a mesh, its triangles count against the
 * limit before anything is expanded, and it is an object like any other for animation keys,
 * materials and determinism.
 */
import { Document, type Node } from '@gltf-transform/core';
import { KHRMaterialsTransmission, KHRMaterialsVolume } from '@gltf-transform/extensions';
import { describe, expect, it } from 'vitest';
import { packAssets } from '../shared/assets.ts';
import { sceneFromGltf } from '../shared/gltf-scene.ts';
import { LIMITS, parseScene, type SceneInput } from '../shared/scene.ts';
import { compileScene } from '../worker/render/compile.ts';
import { expectDeterministicTiles, useRenderers } from './support/renderers.ts';
import { issuesOf } from './support/scenes.ts';

const on = useRenderers(['cpu']);

/** An n × n grid of quads (2n² triangles) in the XY plane, gently rippled so its smooth normals vary. */
function grid(n: number) {
  const positions: number[] = [];
  const indices: number[] = [];
  for (let y = 0; y <= n; y++) for (let x = 0; x <= n; x++) positions.push(x / n - 0.5, y / n - 0.5, 0.1 * Math.sin(x + 2 * y));
  for (let y = 0; y < n; y++)
    for (let x = 0; x < n; x++) {
      const a = y * (n + 1) + x;
      indices.push(a, a + 1, a + n + 2, a, a + n + 2, a + n + 1);
    }
  return { positions, indices };
}

/** Where the three nodes stand: turned, sheared by a parent's non-uniform scale, and mirrored. */
const PLACES: ((node: Node) => Node)[] = [
  (n) => n.setTranslation([-1.1, 0.1, 0]).setRotation([0.1, 0.3, 0.2, Math.sqrt(1 - 0.14)]),
  (n) => n.setTranslation([0, -0.2, -0.4]).setScale([0.8, 1.3, 1.1]),
  (n) => n.setTranslation([1.1, 0, 0]).setScale([-1, 1, 1]),
];

/**
 * A rippled glass sheet (solid glass: its winding says which side is inside) and a white one on
 * three nodes: one mesh on all three (`shared`), or a copy of it per node.
 */
function sheets(shared: boolean): Document {
  const doc = new Document();
  const buffer = doc.createBuffer();
  const { positions, indices } = grid(12);
  const glass = doc
    .createMaterial('glass')
    .setExtension('KHR_materials_transmission', doc.createExtension(KHRMaterialsTransmission).createTransmission().setTransmissionFactor(1))
    .setExtension('KHR_materials_volume', doc.createExtension(KHRMaterialsVolume).createVolume().setThicknessFactor(0.1));
  const white = doc.createMaterial('white').setBaseColorFactor([0.9, 0.9, 0.9, 1]);
  const accessor = (type: 'VEC3' | 'SCALAR', array: Float32Array | Uint16Array) =>
    doc.createAccessor().setType(type).setArray(array).setBuffer(buffer);
  const mesh = () =>
    doc.createMesh('sheet').addPrimitive(
      doc
        .createPrimitive()
        .setAttribute('POSITION', accessor('VEC3', new Float32Array(positions)))
        .setAttribute('NORMAL', accessor('VEC3', new Float32Array(positions.length)))
        .setIndices(accessor('SCALAR', new Uint16Array(indices)))
        .setMaterial(glass),
    );
  const one = mesh();
  const scene = doc.createScene('sheets');
  for (const place of PLACES) scene.addChild(place(doc.createNode('sheet').setMesh(shared ? one : mesh())));
  const floor = doc.createMesh('floor').addPrimitive(
    doc
      .createPrimitive()
      .setAttribute('POSITION', accessor('VEC3', new Float32Array([-3, -1, -3, 3, -1, -3, 3, -1, 3, -3, -1, 3])))
      .setIndices(accessor('SCALAR', new Uint16Array([0, 2, 1, 0, 3, 2])))
      .setMaterial(white),
  );
  scene.addChild(doc.createNode('floor').setMesh(floor));
  doc.getRoot().setDefaultScene(scene);
  return doc;
}

const small = (s: SceneInput): SceneInput => ({ ...s, name: 'sheets', render: { ...s.render, width: 32, height: 24, spp: 6 } });

describe('instancing on glTF import', () => {
  it('imports one mesh on three nodes as a mesh and two instances, a third of the size, rendering bit-identical to three copies', async () => {
    const instanced = await sceneFromGltf(sheets(true), [], 'sheets');
    const flattened = await sceneFromGltf(sheets(false), [], 'sheets');
    expect(instanced.scene.objects.map((o) => o.type)).toEqual(['mesh', 'instance', 'instance', 'mesh']);
    expect(flattened.scene.objects.map((o) => o.type)).toEqual(['mesh', 'mesh', 'mesh', 'mesh']);
    const [first, ...copies] = instanced.scene.objects;
    expect(copies.slice(0, 2)).toEqual([
      { type: 'instance', of: first.id, matrix: expect.any(Array) },
      { type: 'instance', of: first.id, matrix: expect.any(Array) },
    ]);
    expect(instanced.warnings).toEqual(flattened.warnings);
    const size = (s: SceneInput) => JSON.stringify(s).length;
    expect(size(instanced.scene) / size(flattened.scene)).toBeLessThan(0.4);

    const a = parseScene(small(instanced.scene));
    const b = parseScene(small(flattened.scene));
    // The same camera (framed from the same bounds), and the same world-space triangles, mirrored ones wound back.
    expect(a.camera).toEqual(b.camera);
    const [ca, cb] = [compileScene(a, 0), compileScene(b, 0)];
    expect(Buffer.from(ca.prims.buffer).equals(Buffer.from(cb.prims.buffer))).toBe(true);
    expect(Buffer.from(ca.nodes.buffer).equals(Buffer.from(cb.nodes.buffer))).toBe(true);
    const [ra, rb] = [await on('cpu').render(a, 0), await on('cpu').render(b, 0)];
    expect(Buffer.from(ra.linear.buffer).equals(Buffer.from(rb.linear.buffer))).toBe(true);
    expect(new Set(ra.rgba).size).toBeGreaterThan(8); // something was drawn
  });

  it('stores and transfers the mesh once: its assets are one mesh’s', async () => {
    const instanced = (await sceneFromGltf(sheets(true), [], 'sheets')).scene;
    const flattened = (await sceneFromGltf(sheets(false), [], 'sheets')).scene;
    const [a, b] = [(await packAssets(instanced, 0)).assets, (await packAssets(flattened, 0)).assets];
    // The sheet's positions and indices, and the floor's; against three sheets' positions, and
    // their indices twice (the mirrored copy's are wound the other way).
    expect([a.size, b.size]).toEqual([4, 7]);
    const bytes = (assets: Map<string, Uint8Array>) => [...assets.values()].reduce((n, x) => n + x.length, 0);
    expect(bytes(a) / bytes(b)).toBeLessThan(0.45);
  });

  it('moves an instance on its own node by its keys, like a moving mesh', async () => {
    const { scene } = await sceneFromGltf(lifted(sheets(true)), [], 'lift');
    const instance = scene.objects[1] as Extract<SceneInput['objects'][number], { type: 'instance' }>;
    expect(instance).toMatchObject({ type: 'instance', id: expect.any(String), of: scene.objects[0].id });
    expect(instance.matrix).toBeUndefined();
    expect(scene.animation?.objects?.[instance.id as string]).toHaveLength(25);
    const parsed = parseScene(small(scene));
    const rest = compileScene(parsed, 0).prims;
    const up = compileScene(parsed, 24).prims;
    expect(Buffer.from(rest.buffer).equals(Buffer.from(up.buffer))).toBe(false);
  });

  it('places a moving instance by its keys alone, not again by the matrix of its mesh’s static first node', async () => {
    // The first sheet stands still: its mesh gets its node's matrix; the second, moving, is an instance without one.
    const instanced = await sceneFromGltf(lifted(sheets(true)), [], 'lift');
    const flattened = await sceneFromGltf(lifted(sheets(false)), [], 'lift');
    expect(instanced.scene.objects[0]).toMatchObject({ type: 'mesh', matrix: expect.any(Array) });
    expect(instanced.scene.objects[1]).toMatchObject({ type: 'instance', matrix: undefined });
    const [a, b] = [parseScene(small(instanced.scene)), parseScene(small(flattened.scene))];
    expect(a.camera).toEqual(b.camera);
    for (let frame = 0; frame < 25; frame++) {
      const [ca, cb] = [compileScene(a, frame), compileScene(b, frame)];
      expect(Buffer.from(ca.prims.buffer).equals(Buffer.from(cb.prims.buffer)), `frame ${frame}`).toBe(true);
    }
    for (const frame of [0, 12, 24]) {
      const [ra, rb] = [await on('cpu').render(a, frame), await on('cpu').render(b, frame)];
      expect(Buffer.from(ra.linear.buffer).equals(Buffer.from(rb.linear.buffer)), `frame ${frame}`).toBe(true);
    }
  });
});

/** The second sheet rises by 1 over a second (25 frames). */
function lifted(doc: Document): Document {
  const moving = doc.getRoot().listNodes()[1];
  const times = doc
    .createAccessor()
    .setType('SCALAR')
    .setArray(new Float32Array([0, 1]));
  const path = doc
    .createAccessor()
    .setType('VEC3')
    .setArray(new Float32Array([0, 0, 0, 0, 1, 0]));
  const sampler = doc.createAnimationSampler().setInput(times).setOutput(path);
  doc
    .createAnimation('lift')
    .addSampler(sampler)
    .addChannel(doc.createAnimationChannel().setTargetNode(moving).setTargetPath('translation').setSampler(sampler));
  return doc;
}

/**
 * `count` nodes in rows, some scaled and some mirrored (no turns: a box's corners are then exactly
 * its vertices' extremes), drawing one n × n grid or (`shared` false) a copy of it each.
 */
function crowd(count: number, n: number, shared: boolean): Document {
  const doc = new Document();
  const buffer = doc.createBuffer();
  const { positions, indices } = grid(n);
  const mesh = () =>
    doc.createMesh('tile').addPrimitive(
      doc
        .createPrimitive()
        .setAttribute('POSITION', doc.createAccessor().setType('VEC3').setArray(new Float32Array(positions)).setBuffer(buffer))
        .setIndices(doc.createAccessor().setType('SCALAR').setArray(new Uint16Array(indices)).setBuffer(buffer)),
    );
  const one = mesh();
  const scene = doc.createScene('crowd');
  for (let i = 0; i < count; i++)
    scene.addChild(
      doc
        .createNode(`tile${i}`)
        .setMesh(shared ? one : mesh())
        .setTranslation([(i % 50) * 1.5, Math.floor(i / 50) * 1.5, -(i % 7)])
        .setScale([i % 3 === 0 ? -1 : 1, 1 + (i % 5) / 4, 1]),
    );
  doc.getRoot().setDefaultScene(scene);
  return doc;
}

describe('importing many nodes that share a mesh', () => {
  it('refuses, as soon as they pass it, a file whose nodes draw more triangles or objects than the limits', async () => {
    // 20,000 nodes on one 5,000-triangle mesh: a small file asking for 100 million triangles.
    await expect(sceneFromGltf(crowd(20_000, 50, true), [], 'crowd')).rejects.toThrow(
      `scene has over ${LIMITS.maxTriangles} triangles (a mesh counts again on each node that draws it), limit is ${LIMITS.maxTriangles}`,
    );
    await expect(sceneFromGltf(crowd(20_000, 1, true), [], 'crowd')).rejects.toThrow(
      `scene has over ${LIMITS.maxObjects} objects (one per primitive on each node), limit is ${LIMITS.maxObjects}`,
    );
  });

  it('frames 2,000 of them from the same bounds as 2,000 copies of the mesh', async () => {
    const instanced = (await sceneFromGltf(crowd(2000, 2, true), [], 'crowd')).scene;
    const flattened = (await sceneFromGltf(crowd(2000, 2, false), [], 'crowd')).scene;
    expect(instanced.objects.filter((o) => o.type === 'instance')).toHaveLength(1999);
    expect(instanced.camera).toEqual(flattened.camera);
    expect(parseScene(instanced).objects).toHaveLength(2000);
  });
});

/** A small hand-written scene: a 2-triangle mesh with id "tile", and what `extra` adds. */
function handScene(extra: SceneInput['objects'], animation?: SceneInput['animation']): SceneInput {
  return {
    version: 1,
    render: { width: 16, height: 16, spp: 4, maxBounces: 3 },
    camera: { position: [0, 0, 6], lookAt: [0, 0, 0], fov: 50 },
    sky: { top: [0.8, 0.9, 1], bottom: [0.2, 0.2, 0.2] },
    materials: [
      { name: 'white', type: 'diffuse', albedo: [0.8, 0.8, 0.8] },
      { name: 'red', type: 'diffuse', albedo: [0.9, 0.1, 0.1] },
      { name: 'paint', type: 'diffuse', albedo: [1, 1, 1], albedoTexture: 'dots' },
    ],
    textures: [{ name: 'dots', width: 1, height: 1, rgba: Buffer.from([255, 0, 0, 255]).toString('base64') }],
    objects: [
      { type: 'mesh', id: 'tile', material: 'white', positions: [-1, -1, 0, 1, -1, 0, 1, 1, 0, -1, 1, 0], indices: [0, 1, 2, 0, 2, 3] },
      ...extra,
    ],
    animation,
  };
}
const SHIFT = [1, 0, 0, 2.5, 0, 1, 0, 0, 0, 0, 1, 0];

describe('instances in the scene format', () => {
  it('refuses an instance naming a missing mesh, another instance or another kind of object, by path', () => {
    const scene = handScene([
      { type: 'sphere', id: 'ball', material: 'white', center: [0, 0, -2], radius: 1 },
      { type: 'instance', id: 'copy', of: 'tile', matrix: SHIFT },
      { type: 'instance', of: 'nothing' },
      { type: 'instance', of: 'copy' },
      { type: 'instance', of: 'ball' },
    ]);
    expect(issuesOf(scene)).toEqual([
      'objects[3].of: no object has id "nothing"',
      'objects[4].of: object "copy" is another instance, not a mesh: an instance names a mesh',
      'objects[5].of: object "ball" is a sphere, not a mesh: an instance names a mesh',
    ]);
    expect(issuesOf(handScene([{ type: 'instance', of: 'tile', matrix: [1, 0, 0] }]))[0]).toMatch(/^objects\[1\]\.matrix: /);
  });

  it('counts each instance’s triangles before expanding any: a few bytes cannot ask a worker for millions', () => {
    const mesh = { ...grid(20), type: 'mesh' as const, id: 'g', material: 'white' }; // 800 triangles
    const copies = (n: number) => Array.from({ length: n }, () => ({ type: 'instance' as const, of: 'g' }));
    const under = Math.floor(LIMITS.maxTriangles / 800) - 1; // with the mesh itself and "tile": just under the limit
    expect(parseScene(handScene([mesh, ...copies(under)])).objects).toHaveLength(under + 2);
    const over = 2 + 800 * (under + 2);
    expect(issuesOf(handScene([mesh, ...copies(under + 1)]))).toEqual([
      `objects: scene has ${over} triangles, limit is ${LIMITS.maxTriangles}`,
    ]);
    // As many objects as a scene may hold, all but two instances of a mesh at the limit: refused by count.
    const n = Math.floor(Math.sqrt(LIMITS.maxTriangles / 2));
    const huge = { ...mesh, ...grid(n) };
    expect(issuesOf(handScene([huge, ...copies(LIMITS.maxObjects - 2)]))).toEqual([
      `objects: scene has ${2 + 2 * n * n * (LIMITS.maxObjects - 1)} triangles, limit is ${LIMITS.maxTriangles}`,
    ]);
  });

  it('places only the vertices a mesh’s triangles use, once a copy: an accepted scene cannot hold a worker’s event loop', () => {
    // A one-triangle mesh with as many vertices as positions may hold, drawn nearly 10,000 times:
    // within every limit, and each copy had placed all 750,000 vertices, about 80 minutes a frame
    // on the worker's main thread, its heartbeats and leases lapsing meanwhile (an attacker's review).
    const positions = Array.from({ length: LIMITS.maxTriangles * 9 }, (_, i) => i % 5);
    const ghost = { type: 'mesh' as const, id: 'ghost', positions, indices: [0, 1, 2], smooth: true, material: 'white' };
    const copies = Array.from({ length: LIMITS.maxObjects - 3 }, (_, i) => ({
      type: 'instance' as const,
      of: 'ghost',
      matrix: [1, 0, 0, i, 0, 1, 0, 0, 0, 0, 1, 0],
    }));
    const scene = parseScene(handScene([ghost, ...copies]));
    const started = performance.now();
    expect(compileScene(scene, 0).prims.length).toBeGreaterThan(0);
    // Well inside a lease (30 s); a fraction of a second here.
    expect(performance.now() - started).toBeLessThan(15_000);
  });

  it('wears the mesh’s material unless it names its own, and only a mesh with uvs can lend a textured one', () => {
    const scene = parseScene(handScene([{ type: 'instance', of: 'tile', matrix: SHIFT, material: 'red' }]));
    const { prims } = compileScene(scene, 0);
    const materials = Array.from({ length: prims.length / 24 }, (_, i) => prims[i * 24 + 1]).sort();
    expect(materials).toEqual([0, 0, 1, 1]);
    expect(issuesOf(handScene([{ type: 'instance', of: 'tile', material: 'paint' }]))).toEqual([
      'objects[1].material: material "paint" has a texture: only a mesh with uvs can wear it',
    ]);
  });

  it('is placed by its matrix and then its own keys, exactly as a copy of the mesh would be', async () => {
    const animation: SceneInput['animation'] = {
      frameCount: 3,
      objects: {
        copy: [
          { frame: 0, rotate: [0, 0, 0] },
          { frame: 2, rotate: [0, 0, 90], translate: [0, 1, 0] },
        ],
      },
    };
    const base = handScene([], animation).objects[0] as Extract<SceneInput['objects'][number], { type: 'mesh' }>;
    const instanced = parseScene(handScene([{ type: 'instance', id: 'copy', of: 'tile', matrix: SHIFT }], animation));
    const copied = parseScene(handScene([{ ...base, id: 'copy', matrix: SHIFT }], animation));
    for (const frame of [0, 1, 2]) {
      const [a, b] = [compileScene(instanced, frame), compileScene(copied, frame)];
      expect(Buffer.from(a.prims.buffer).equals(Buffer.from(b.prims.buffer))).toBe(true);
    }
    expect(Buffer.from((await on('cpu').render(instanced, 1)).linear.buffer)).toEqual(
      Buffer.from((await on('cpu').render(copied, 1)).linear.buffer),
    );
  });

  it('refuses, by path, a placement that carries coordinates past ±maxMagnitude, where f32 overflows', () => {
    const far = { type: 'mesh' as const, id: 'far', material: 'white', positions: [1e9, 0, 0, 0, 1e9, 0, 0, 0, 1e9], indices: [0, 1, 2] };
    const scaled = (k: number) => [k, 0, 0, 0, 0, k, 0, 0, 0, 0, k, 0];
    const beyond = (reach: string) => `may place it up to ±${reach}, beyond ±${LIMITS.maxMagnitude} (the renderer works in f32)`;
    // Each number is within the limit; their products are not: an instance's matrix, a mesh's and then its transform, keys.
    expect(issuesOf(handScene([far, { type: 'instance', of: 'far', matrix: scaled(1e9) }]))).toEqual([
      `objects[2].matrix: its matrix ${beyond('1.00e+18')}`,
    ]);
    expect(issuesOf(handScene([{ ...far, matrix: scaled(0.5), transform: { scale: 4 } }]))).toEqual([
      `objects[1].transform: its transform ${beyond('2.00e+9')}`,
    ]);
    const keyed = (keys: NonNullable<SceneInput['animation']>['objects']) =>
      handScene([{ type: 'instance', id: 'copy', of: 'tile', matrix: scaled(1e5) }], { frameCount: 2, objects: keys });
    expect(
      issuesOf(
        keyed({
          copy: [
            { frame: 0, matrix: scaled(1) },
            { frame: 1, matrix: scaled(1e5) },
          ],
        }),
      ),
    ).toEqual([`animation.objects.copy[1].matrix: this key ${beyond('1.00e+10')}`]);
    expect(issuesOf(keyed({ copy: [{ frame: 1, rotate: [0, 45, 0], translate: [0, 0, 1e9] }] }))).toEqual([
      `animation.objects.copy: its keys ${beyond('1.00e+9')}`,
    ]);
    // Within it: the same mesh and placements, smaller.
    expect(parseScene(handScene([far, { type: 'instance', of: 'far', matrix: scaled(1) }])).objects).toHaveLength(3);
    expect(parseScene(keyed({ copy: [{ frame: 1, matrix: scaled(1e4) }] })).objects).toHaveLength(2);
    expect(parseScene(keyed({ copy: [{ frame: 1, rotate: [0, 45, 0], translate: [0, 0, 1e8] }] })).objects).toHaveLength(2);
  });

  it('renders deterministically and tile-invariantly', async () => {
    const scene = parseScene(
      handScene([
        { type: 'instance', of: 'tile', matrix: SHIFT, material: 'red' },
        { type: 'instance', of: 'tile', matrix: [-1, 0, 0, -2.5, 0, 0.5, 0, 0, 0, 0, 1, -1] },
      ]),
    );
    await expectDeterministicTiles(on('cpu'), scene, 8);
  });
});
