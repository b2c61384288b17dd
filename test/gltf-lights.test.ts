/**
 * glTF lights and glTF materials by extension, each imported from a file written here and checked
 * in the render against what physics says: a point light falls off with the inverse square of the
 * distance, a spot light lights its cone and nothing outside it, a directional light casts a hard
 * shadow; glass (transmission + IOR) and emissive strength import as the renderer's materials.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Document, type Node, NodeIO } from '@gltf-transform/core';
import {
  KHRLightsPunctual,
  KHRMaterialsEmissiveStrength,
  KHRMaterialsIOR,
  KHRMaterialsTransmission,
  KHRMaterialsVolume,
} from '@gltf-transform/extensions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSceneFile } from '../cli/scene-file.ts';
import { SUPPORTED_EXTENSIONS, sceneFromGltf } from '../shared/gltf-scene.ts';
import type { Scene } from '../shared/scene.ts';
import { Renderer } from '../worker/render/renderer.ts';

const dir = mkdtempSync(join(tmpdir(), 'farm-gltf-lights-'));
let renderer: Renderer;
beforeAll(async () => {
  renderer = await Renderer.open('webasm');
});
afterAll(() => renderer.close());

const ALBEDO = 0.8;
/** The camera looks straight down from this height with this vertical field of view. */
const EYE = 10;
const FOV = 60;
const SIZE = 48;
/** Ray from the camera through a pixel's centre hits the ground (y = 0) at (x, z). */
function ground(px: number, py: number): { x: number; z: number } {
  const half = Math.tan((FOV * Math.PI) / 360) * EYE;
  return { x: ((2 * (px + 0.5)) / SIZE - 1) * half, z: -(1 - (2 * (py + 0.5)) / SIZE) * half };
}

/** A white 40 m ground square at y = 0, a camera looking down at it, and what `add` puts in. */
function groundDocument(add: (doc: Document, scene: ReturnType<Document['createScene']>, lights: KHRLightsPunctual) => void) {
  const doc = new Document();
  const buffer = doc.createBuffer();
  const square = (half: number, y: number, name: string, material = doc.createMaterial(name)) => {
    const position = doc
      .createAccessor()
      .setType('VEC3')
      .setArray(new Float32Array([-half, y, -half, -half, y, half, half, y, half, half, y, -half]))
      .setBuffer(buffer);
    const indices = doc
      .createAccessor()
      .setType('SCALAR')
      .setArray(new Uint16Array([0, 1, 2, 0, 2, 3]))
      .setBuffer(buffer);
    return doc
      .createNode(name)
      .setMesh(
        doc
          .createMesh(name)
          .addPrimitive(doc.createPrimitive().setAttribute('POSITION', position).setIndices(indices).setMaterial(material)),
      );
  };
  const white = doc.createMaterial('white').setBaseColorFactor([ALBEDO, ALBEDO, ALBEDO, 1]).setMetallicFactor(0);
  const scene = doc.createScene('main').addChild(square(20, 0, 'ground', white));
  const camera = doc
    .createCamera('down')
    .setType('perspective')
    .setYFov((FOV * Math.PI) / 180)
    .setAspectRatio(1)
    .setZNear(0.1);
  // −90° about X: the camera's −Z looks down −Y, its +Y (up in the image) points to −Z.
  scene.addChild(doc.createNode('eye').setCamera(camera).setTranslation([0, EYE, 0]).setRotation([-Math.SQRT1_2, 0, 0, Math.SQRT1_2]));
  add(doc, scene, doc.createExtension(KHRLightsPunctual));
  doc.getRoot().setDefaultScene(scene);
  return { doc, square };
}

async function imported(doc: Document, name: string): Promise<Scene> {
  const path = join(dir, `${name}.glb`);
  const io = new NodeIO().registerExtensions(SUPPORTED_EXTENSIONS);
  writeFileSync(path, await io.writeBinary(doc));
  const { scene } = await readSceneFile(path);
  return { ...scene, render: { ...scene.render, width: SIZE, height: SIZE, spp: 4, maxBounces: 2 } };
}

/** Linear red channel at a pixel. */
async function radiance(scene: Scene): Promise<(px: number, py: number) => number> {
  const { linear } = await renderer.render(scene, 0);
  return (px, py) => linear[(py * SIZE + px) * 3];
}

/** A light node at `position` whose −Z is turned to point straight down. */
const pointingDown = (doc: Document, light: ReturnType<KHRLightsPunctual['createLight']>, position: [number, number, number]): Node =>
  doc
    .createNode(light.getName())
    .setTranslation(position)
    .setRotation([-Math.SQRT1_2, 0, 0, Math.SQRT1_2])
    .setExtension('KHR_lights_punctual', light);

describe('glTF KHR_lights_punctual', () => {
  it('a point light falls off with the inverse square of the distance (L = ρ/π · I cos θ / d²)', async () => {
    const candela = 683 * 50;
    const { doc } = groundDocument((d, scene, ext) => {
      scene.addChild(pointingDown(d, ext.createLight('bulb').setType('point').setIntensity(candela), [0, 3, 0]));
    });
    const scene = await imported(doc, 'point');
    expect(scene.lights).toEqual([{ type: 'point', position: [0, 3, 0], color: [1, 1, 1], intensity: expect.closeTo(50, 9) }]);
    expect(scene.sky).toEqual({ top: [0, 0, 0], bottom: [0, 0, 0] }); // the file brings its own light
    const at = await radiance(scene);
    for (const [px, py] of [
      [24, 24],
      [30, 24],
      [36, 30],
      [44, 40],
      [4, 10],
    ]) {
      const { x, z } = ground(px, py);
      const d2 = x * x + z * z + 9;
      const expected = ((ALBEDO / Math.PI) * 50 * (3 / Math.sqrt(d2))) / d2;
      expect(at(px, py) / expected).toBeCloseTo(1, 1);
    }
  });

  it('a spot light lights its cone, ramps between its angles and leaves the rest dark', async () => {
    const { doc } = groundDocument((d, scene, ext) => {
      const spot = ext
        .createLight('spot')
        .setType('spot')
        .setIntensity(683 * 50)
        .setInnerConeAngle((20 * Math.PI) / 180)
        .setOuterConeAngle((30 * Math.PI) / 180);
      scene.addChild(pointingDown(d, spot, [0, 4, 0]));
    });
    const scene = await imported(doc, 'spot');
    expect(scene.lights[0]).toMatchObject({ type: 'spot', direction: [0, expect.closeTo(-1, 9), expect.closeTo(0, 9)] });
    const at = await radiance(scene);
    const angle = (px: number, py: number) => {
      const { x, z } = ground(px, py);
      return (Math.atan2(Math.hypot(x, z), 4) * 180) / Math.PI;
    };
    let inside = 0;
    let outside = 0;
    for (let py = 0; py < SIZE; py += 3) {
      for (let px = 0; px < SIZE; px += 3) {
        const a = angle(px, py);
        if (a < 19) {
          const { x, z } = ground(px, py);
          const d2 = x * x + z * z + 16;
          expect(at(px, py) / (((ALBEDO / Math.PI) * 50 * (4 / Math.sqrt(d2))) / d2)).toBeCloseTo(1, 1);
          inside++;
        } else if (a > 31) {
          expect(at(px, py)).toBe(0);
          outside++;
        } else {
          expect(at(px, py)).toBeGreaterThanOrEqual(0);
        }
      }
    }
    expect(inside).toBeGreaterThan(10);
    expect(outside).toBeGreaterThan(10);
  });

  it('a directional light lights the ground at ρ/π · E and casts a hard shadow', async () => {
    const { doc, square } = groundDocument((d, scene, ext) => {
      scene.addChild(
        pointingDown(
          d,
          ext
            .createLight('sun')
            .setType('directional')
            .setIntensity(683 * 2),
          [0, 50, 0],
        ),
      );
    });
    // A 4 m square hanging at 2 m over the middle of the ground.
    doc
      .getRoot()
      .listScenes()[0]
      .addChild(square(2, 2, 'roof'));
    const scene = await imported(doc, 'sun');
    expect(scene.lights[0]).toMatchObject({ type: 'directional', intensity: expect.closeTo(2, 9) });
    // Looking down, the roof hides its own shadow: look from the side of the roof instead.
    const eye = {
      ...scene.camera,
      position: [8, 6, 0] as [number, number, number],
      lookAt: [0, 0, 0] as [number, number, number],
      up: [0, 1, 0] as [number, number, number],
    };
    const { linear } = await renderer.render({ ...scene, camera: eye }, 0);
    const lit = ((ALBEDO / Math.PI) * 2) as number;
    const values = Array.from({ length: SIZE * SIZE }, (_, i) => linear[i * 3]);
    // Ground pixels are either fully lit or fully in shadow: nothing in between (a hard shadow).
    const shadowed = values.filter((v) => v === 0).length;
    const sunlit = values.filter((v) => Math.abs(v / lit - 1) < 1e-3).length;
    expect(shadowed).toBeGreaterThan(SIZE * 2);
    expect(sunlit).toBeGreaterThan(SIZE * 2);
  });

  it('names a light range it ignores', async () => {
    const { doc } = groundDocument((d, scene, ext) => {
      scene.addChild(pointingDown(d, ext.createLight('near').setType('point').setIntensity(683).setRange(5), [0, 3, 0]));
    });
    const path = join(dir, 'range.glb');
    writeFileSync(path, await new NodeIO().registerExtensions([KHRLightsPunctual]).writeBinary(doc));
    const read = await new NodeIO().registerExtensions([KHRLightsPunctual]).read(path);
    expect((await sceneFromGltf(read, ['KHR_lights_punctual'], 'range')).warnings).toEqual([
      'light "near" has a range, which is ignored: lights fall off physically',
    ]);
  });
});

describe('glTF material extensions', () => {
  it('imports transmission + IOR as glass (thin-walled unless it has a volume) and emissive strength as the emitter’s strength', async () => {
    const { doc } = groundDocument(() => undefined);
    const glass = doc.createMaterial('glass').setBaseColorFactor([0.9, 1, 0.9, 1]);
    glass.setExtension(
      'KHR_materials_transmission',
      doc.createExtension(KHRMaterialsTransmission).createTransmission().setTransmissionFactor(1),
    );
    glass.setExtension('KHR_materials_ior', doc.createExtension(KHRMaterialsIOR).createIOR().setIOR(1.33));
    const block = glass.clone().setName('block');
    block.setExtension('KHR_materials_volume', doc.createExtension(KHRMaterialsVolume).createVolume().setThicknessFactor(0.5));
    const lamp = doc.createMaterial('lamp').setEmissiveFactor([1, 0.5, 0.25]);
    lamp.setExtension(
      'KHR_materials_emissive_strength',
      doc.createExtension(KHRMaterialsEmissiveStrength).createEmissiveStrength().setEmissiveStrength(8),
    );
    const ground = doc.getRoot().listMeshes()[0];
    ground.addPrimitive(ground.listPrimitives()[0].clone().setMaterial(glass));
    ground.addPrimitive(ground.listPrimitives()[0].clone().setMaterial(lamp));
    ground.addPrimitive(ground.listPrimitives()[0].clone().setMaterial(block));
    const scene = await imported(doc, 'materials');
    expect(scene.materials).toEqual(
      expect.arrayContaining([
        {
          name: 'm1-glass',
          type: 'dielectric',
          ior: expect.closeTo(1.33, 6),
          tint: [expect.closeTo(0.9, 6), 1, expect.closeTo(0.9, 6)],
          thin: true,
        },
        expect.objectContaining({ name: 'm3-block', type: 'dielectric', thin: false }),
        { name: 'm2-lamp', type: 'emissive', color: [1, 0.5, 0.25], strength: 8 },
      ]),
    );
  });
});
