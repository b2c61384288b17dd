/**
 * glTF 2.0 import (first step): files written here with gltf-transform, read as `farm render`
 * reads them, and checked in the scene and in the render. What is not imported is named.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Document, NodeIO, Primitive } from '@gltf-transform/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSceneFile } from '../cli/scene-file.ts';
import { sceneFromGltf } from '../shared/gltf-scene.ts';
import { parseScene } from '../shared/scene.ts';
import { Renderer } from '../worker/render/renderer.ts';
import { ROOT } from './support/scenes.ts';

const dir = mkdtempSync(join(tmpdir(), 'farm-gltf-'));
let renderer: Renderer;
beforeAll(async () => {
  renderer = await Renderer.open('webasm');
});
afterAll(() => renderer.close());

/** A 2×2 quad in the XY plane facing +Z, red, on a node placed by `place`; a camera at z = 3 unless `camera` is false. */
function quadDocument(opts: { camera?: boolean; place?: (node: ReturnType<Document['createNode']>) => void } = {}) {
  const doc = new Document();
  const buffer = doc.createBuffer();
  const position = doc
    .createAccessor()
    .setType('VEC3')
    .setArray(new Float32Array([-1, -1, 0, 1, -1, 0, 1, 1, 0, -1, 1, 0]))
    .setBuffer(buffer);
  const indices = doc
    .createAccessor()
    .setType('SCALAR')
    .setArray(new Uint16Array([0, 1, 2, 0, 2, 3]))
    .setBuffer(buffer);
  const red = doc.createMaterial('red').setBaseColorFactor([0.9, 0.1, 0.1, 1]).setMetallicFactor(0).setRoughnessFactor(1);
  const mesh = doc
    .createMesh('quad')
    .addPrimitive(doc.createPrimitive().setAttribute('POSITION', position).setIndices(indices).setMaterial(red));
  const node = doc.createNode('quad').setMesh(mesh);
  opts.place?.(node);
  const scene = doc.createScene('main').addChild(node);
  if (opts.camera !== false) {
    const camera = doc
      .createCamera('cam')
      .setType('perspective')
      .setYFov((40 * Math.PI) / 180)
      .setZNear(0.1)
      .setAspectRatio(4 / 3);
    scene.addChild(doc.createNode('cam').setCamera(camera).setTranslation([0, 0, 3]));
  }
  doc.getRoot().setDefaultScene(scene);
  return doc;
}

async function writeGlb(doc: Document, name: string): Promise<string> {
  const path = join(dir, name);
  writeFileSync(path, await new NodeIO().writeBinary(doc));
  return path;
}

describe('glTF import', () => {
  it('renders a .glb as farm render reads it: the quad through its camera, the viewer sky around it', async () => {
    const { scene } = await readSceneFile(await writeGlb(quadDocument(), 'quad.glb'));
    expect(scene.camera).toMatchObject({ position: [0, 0, 3], lookAt: [0, 0, 2], fov: expect.closeTo(40, 6) });
    expect(scene.render).toMatchObject({ width: 640, height: 480 });
    expect(scene.materials).toEqual([
      { name: 'm0-red', type: 'diffuse', albedo: [expect.closeTo(0.9, 6), expect.closeTo(0.1, 6), expect.closeTo(0.1, 6)] },
    ]);
    const small = { ...scene, render: { ...scene.render, width: 40, height: 30, spp: 8 } };
    const { rgba, width } = await renderer.render(small, 0);
    const at = (x: number, y: number) => Array.from(rgba.subarray((y * width + x) * 4, (y * width + x) * 4 + 3));
    const [r, g, b] = at(20, 15);
    expect(r).toBeGreaterThan(2 * Math.max(g, b)); // the red quad, lit by the sky
    const corner = at(1, 1);
    expect(corner[2]).toBeGreaterThanOrEqual(corner[0]); // the sky is blue-white, not red
  });

  it("applies each node's world transform, and winds a mirrored node's triangles back", async () => {
    const placed = quadDocument({ place: (n) => n.setTranslation([1, 2, -1]).setScale([2, 2, 2]) });
    const { scene } = await sceneFromGltf(placed, [], 'placed');
    const mesh = parseScene(scene).objects[0];
    if (mesh.type !== 'mesh') throw new Error('expected a mesh');
    expect(mesh.positions.slice(0, 3)).toEqual([-1, 0, -1]);
    expect(mesh.positions.slice(6, 9)).toEqual([3, 4, -1]);
    expect(mesh.indices).toEqual([0, 1, 2, 0, 2, 3]);
    const mirrored = (await sceneFromGltf(quadDocument({ place: (n) => n.setScale([-1, 1, 1]) }), [], 'mirrored')).scene.objects[0] as {
      indices: number[];
    };
    expect(mirrored.indices).toEqual([0, 2, 1, 0, 3, 2]);
  });

  it('frames a file with no camera, as a viewer does', async () => {
    const { scene } = await sceneFromGltf(quadDocument({ camera: false, place: (n) => n.setTranslation([5, 0, 0]) }), [], 'bare');
    expect(scene.camera.lookAt).toEqual([5, 0, 0]);
    expect(scene.camera.position[2]).toBeGreaterThan(2);
    expect(parseScene(scene).objects).toHaveLength(1);
  });

  it('names what it does not import: extensions, textures, morph-weight animations, other primitive modes, orthographic cameras', async () => {
    const doc = quadDocument({ camera: false });
    const root = doc.getRoot();
    const node = root.listNodes()[0];
    doc
      .createTexture('albedo')
      .setImage(new Uint8Array([0x89, 0x50, 0x4e, 0x47]))
      .setMimeType('image/png');
    const sampler = doc
      .createAnimationSampler()
      .setInput(
        doc
          .createAccessor()
          .setType('SCALAR')
          .setArray(new Float32Array([0, 1])),
      )
      .setOutput(
        doc
          .createAccessor()
          .setType('VEC3')
          .setArray(new Float32Array([0, 0, 0, 1, 0, 0])),
      );
    doc
      .createAnimation('slide')
      .addSampler(sampler)
      .addChannel(doc.createAnimationChannel().setTargetNode(node).setTargetPath('weights').setSampler(sampler));
    const points = doc.createPrimitive().setMode(Primitive.Mode.POINTS).setAttribute('POSITION', root.listAccessors()[0]);
    node.getMesh()?.addPrimitive(points);
    root.listScenes()[0].addChild(doc.createNode('ortho').setCamera(doc.createCamera('ortho').setType('orthographic')));
    const { scene, warnings } = await sceneFromGltf(doc, ['KHR_lights_punctual', 'KHR_materials_clearcoat'], 'busy');
    expect(warnings).toEqual(
      expect.arrayContaining([
        'extension KHR_materials_clearcoat is not supported yet: ignored',
        '1 occlusion or unused texture not supported yet: not read (the path tracer finds occlusion itself)',
        'an animation channel of "slide" targets weights, which is not played',
        expect.stringMatching(/mode 0, not triangles: skipped/),
        expect.stringMatching(/orthographic, which is not supported/),
      ]),
    );
    expect(warnings.join()).not.toMatch(/KHR_lights_punctual/);
    // What it could import still renders.
    expect(parseScene(scene).objects).toHaveLength(1);
  });

  it('renders through a chosen camera, by its name or its node’s, and names the cameras when none matches', async () => {
    const doc = quadDocument();
    const side = doc.createCamera('side lens').setType('perspective').setYFov(0.5).setZNear(0.1);
    doc
      .getRoot()
      .listScenes()[0]
      .addChild(doc.createNode('side').setCamera(side).setTranslation([3, 0, 0]));
    const path = await writeGlb(doc, 'two-cameras.glb');
    expect((await readSceneFile(path)).scene.camera.position).toEqual([0, 0, 3]);
    expect((await readSceneFile(path, { camera: 'side' })).scene.camera.position).toEqual([3, 0, 0]);
    expect((await readSceneFile(path, { camera: 'side lens' })).scene.camera.position).toEqual([3, 0, 0]);
    await expect(readSceneFile(path, { camera: 'nope' })).rejects.toThrow(
      'no perspective camera named "nope" (its cameras: "cam", "side lens")',
    );
    await expect(readSceneFile(join(ROOT, 'scenes/cornell.json'), { camera: 'side' })).rejects.toThrow(
      /--camera chooses among a glTF file's cameras/,
    );
  });

  it('refuses what is not glTF, or has nothing to render, with a clear error', async () => {
    const bogus = join(dir, 'bogus.glb');
    writeFileSync(bogus, 'not a glb at all');
    await expect(readSceneFile(bogus)).rejects.toThrow(/not a glTF 2.0 file the farm can read/);
    const empty = new Document();
    empty.getRoot().setDefaultScene(empty.createScene('empty'));
    await expect(readSceneFile(await writeGlb(empty, 'empty.glb'))).rejects.toThrow(/no triangle mesh/);
  });
});
