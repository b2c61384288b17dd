/**
 * glTF animation: keyframes sampled with the spec's interpolations (STEP, LINEAR with slerp,
 * CUBICSPLINE) against hand-computed values, and a file written here — a parent that slides, a
 * child that turns and scales, a camera that moves — imported into one key a frame whose
 * placements equal the keyframes' interpolation composed through the hierarchy.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Document, NodeIO } from '@gltf-transform/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readSceneFile } from '../cli/scene-file.ts';
import { sampleKeyframes } from '../shared/gltf-animation.ts';
import { sceneFromJsonDocument } from '../shared/gltf-scene.ts';
import { cameraTrack } from '../shared/keyframes.ts';
import { parseScene, type SceneInput } from '../shared/scene.ts';
import { applyPoint, transformAt } from '../worker/render/animate.ts';
import type { V3 } from '../worker/render/vec.ts';
import { useRenderers } from './support/renderers.ts';
import { issuesOf } from './support/scenes.ts';

const on = useRenderers(['cpu']);
function close(got: number[], want: number[], digits = 9): void {
  for (const [i, v] of got.entries()) expect(v).toBeCloseTo(want[i], digits);
}
/** A quarter turn about +Y, and a half turn. */
const Q0 = [0, 0, 0, 1];
const Q90 = [0, Math.SQRT1_2, 0, Math.SQRT1_2];
const Q180 = [0, 1, 0, 0];

describe('glTF keyframe sampling', () => {
  it('STEP holds the last key; LINEAR interpolates; ends hold', () => {
    const times = [0, 1, 3];
    const values = [0, 0, 0, 2, 4, 6, 4, 4, 4];
    expect(sampleKeyframes(times, values, 3, 'STEP', 0.99, false)).toEqual([0, 0, 0]);
    expect(sampleKeyframes(times, values, 3, 'STEP', 1, false)).toEqual([2, 4, 6]);
    close(sampleKeyframes(times, values, 3, 'LINEAR', 2, false), [3, 4, 5]);
    expect(sampleKeyframes(times, values, 3, 'LINEAR', -1, false)).toEqual([0, 0, 0]);
    expect(sampleKeyframes(times, values, 3, 'LINEAR', 9, false)).toEqual([4, 4, 4]);
  });

  it('LINEAR rotations are spherical, along the shorter arc', () => {
    const half = [0, Math.sin(Math.PI / 8), 0, Math.cos(Math.PI / 8)]; // 45° about +Y
    close(sampleKeyframes([0, 1], [...Q0, ...Q90], 4, 'LINEAR', 0.5, true), half);
    // −q is the same rotation as q: the path still turns 45°, not 135°.
    close(sampleKeyframes([0, 1], [...Q0, ...Q90.map((v) => -v)], 4, 'LINEAR', 0.5, true), half);
    close(sampleKeyframes([0, 1], [...Q0, ...Q180], 4, 'LINEAR', 0.5, true), Q90);
  });

  it('CUBICSPLINE is Hermite with tangents scaled by the key interval', () => {
    // Keys (in-tangent, value, out-tangent): 0 at t = 0 leaving with slope 1, 1 at t = 2 arriving with slope 0.
    const values = [9, 9, 9, 0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1, 9, 9, 9];
    const s = 0.25;
    const want = (s ** 3 - 2 * s ** 2 + s) * 2 * 1 + (-2 * s ** 3 + 3 * s ** 2) * 1;
    close(sampleKeyframes([0, 2], values, 3, 'CUBICSPLINE', 0.5, false), [want, want, want]);
    expect(sampleKeyframes([0, 2], values, 3, 'CUBICSPLINE', 2, false)).toEqual([1, 1, 1]);
  });

  it('any interpolation returns the keys at their times, and CUBICSPLINE with the chords as tangents is LINEAR', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.double({ min: 0.01, max: 5, noNaN: true }), fc.double({ min: -100, max: 100, noNaN: true })), {
          minLength: 2,
          maxLength: 6,
        }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (keys, where) => {
          let elapsed = 0;
          const times = keys.map(([dt]) => (elapsed += dt));
          const values = keys.map(([, v]) => v + 0); // no −0: interpolation may return +0 for it
          times.forEach((t, k) => {
            for (const mode of ['STEP', 'LINEAR'] as const) expect(sampleKeyframes(times, values, 1, mode, t, false)[0]).toBe(values[k]);
          });
          // Tangents equal to a segment's chord slope at both ends make the Hermite curve the chord.
          const k = Math.min(times.length - 2, Math.floor(where * (times.length - 1)));
          const chord = (values[k + 1] - values[k]) / (times[k + 1] - times[k]);
          const t = times[k] + where * (times[k + 1] - times[k]);
          const cubic = [chord, values[k], chord, chord, values[k + 1], chord];
          const linear = sampleKeyframes(times, values, 1, 'LINEAR', t, false)[0];
          expect(sampleKeyframes([times[k], times[k + 1]], cubic, 1, 'CUBICSPLINE', t, false)[0]).toBeCloseTo(linear, 6);
        },
      ),
    );
  });
});

describe('glTF animation import', () => {
  /** A parent sliding along +X (LINEAR), its child box turning about +Y (LINEAR) and scaling (STEP), and a camera rising (CUBICSPLINE). */
  async function animatedFile(): Promise<string> {
    const doc = new Document();
    const buffer = doc.createBuffer();
    const accessor = (type: 'SCALAR' | 'VEC3' | 'VEC4', values: number[]) =>
      doc.createAccessor().setType(type).setArray(new Float32Array(values)).setBuffer(buffer);
    const positions = accessor('VEC3', [1, 0, 0, 0, 1, 0, 0, 0, 1]);
    const box = doc
      .createNode('box')
      .setMesh(doc.createMesh('tri').addPrimitive(doc.createPrimitive().setAttribute('POSITION', positions)));
    box.setTranslation([0, 1, 0]);
    const rig = doc.createNode('rig').addChild(box);
    const cam = doc
      .createNode('cam')
      .setCamera(doc.createCamera('cam').setType('perspective').setYFov(0.7).setZNear(0.1))
      .setTranslation([0, 0, 10]);
    const sampler = (interpolation: 'STEP' | 'LINEAR' | 'CUBICSPLINE', times: number[], type: 'VEC3' | 'VEC4', values: number[]) =>
      doc.createAnimationSampler().setInterpolation(interpolation).setInput(accessor('SCALAR', times)).setOutput(accessor(type, values));
    const slide = sampler('LINEAR', [0, 2], 'VEC3', [0, 0, 0, 4, 0, 0]);
    const turn = sampler('LINEAR', [0, 1], 'VEC4', [...Q0, ...Q90]);
    const grow = sampler('STEP', [0, 1], 'VEC3', [1, 1, 1, 2, 2, 2]);
    // Camera y: 0 → 3 over 2 s, leaving with slope 0 and arriving with slope 0 (an ease).
    const rise = sampler('CUBICSPLINE', [0, 2], 'VEC3', [0, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0, 3, 10, 0, 0, 0]);
    const channel = (node: typeof rig, path: 'translation' | 'rotation' | 'scale', s: typeof slide) =>
      doc.createAnimationChannel().setTargetNode(node).setTargetPath(path).setSampler(s);
    doc
      .createAnimation('move')
      .addSampler(slide)
      .addSampler(turn)
      .addSampler(grow)
      .addSampler(rise)
      .addChannel(channel(rig, 'translation', slide))
      .addChannel(channel(box, 'rotation', turn))
      .addChannel(channel(box, 'scale', grow))
      .addChannel(channel(cam, 'translation', rise));
    doc.getRoot().setDefaultScene(doc.createScene('main').addChild(rig).addChild(cam));
    const path = join(mkdtempSync(join(tmpdir(), 'farm-anim-')), 'moving.glb');
    writeFileSync(path, await new NodeIO().writeBinary(doc));
    return path;
  }

  it('bakes 49 frames at 24 fps whose placements are the keyframes’ interpolation through the hierarchy', async () => {
    const { scene } = await readSceneFile(await animatedFile());
    expect(scene.animation).toMatchObject({ frameCount: 49, fps: 24 });
    expect(scene.objects[0].id).toBeDefined();
    for (const frame of [0, 6, 12, 23, 24, 30, 48]) {
      const t = frame / 24;
      const x = 4 * Math.min(t / 2, 1);
      const angle = (Math.PI / 2) * Math.min(t, 1);
      const s = t >= 1 ? 2 : 1;
      // world = T(rig) · T(box) · R(box) · S(box) · v, for each corner of the triangle.
      const world = ([vx, vy, vz]: V3): V3 => [
        x + s * (Math.cos(angle) * vx + Math.sin(angle) * vz),
        1 + s * vy,
        s * (-Math.sin(angle) * vx + Math.cos(angle) * vz),
      ];
      const m = transformAt(scene, 0, frame);
      for (const corner of [
        [1, 0, 0],
        [0, 1, 0],
        [0, 0, 1],
      ] as V3[])
        close(applyPoint(m, corner), world(corner), 6); // the file stores times and quaternions as f32
      const u = Math.min(t / 2, 1);
      const camY = 3 * (-2 * u ** 3 + 3 * u ** 2);
      close(cameraTrack(scene)(frame).position, [0, camY, 10], 6);
      close(cameraTrack(scene)(frame).lookAt, [0, camY, 9], 6);
    }
  });

  it('bakes no more keys than a scene can carry: many moving nodes over many frames keep their first frames', async () => {
    const doc = new Document();
    const buffer = doc.createBuffer();
    const accessor = (type: 'SCALAR' | 'VEC3', values: number[]) =>
      doc.createAccessor().setType(type).setArray(new Float32Array(values)).setBuffer(buffer);
    const mesh = doc
      .createMesh('tri')
      .addPrimitive(doc.createPrimitive().setAttribute('POSITION', accessor('VEC3', [1, 0, 0, 0, 1, 0, 0, 0, 1])));
    const rig = doc.createNode('rig');
    for (let i = 0; i < 1000; i++) rig.addChild(doc.createNode(`n${i}`).setMesh(mesh).setTranslation([i, 0, 0]));
    // Ten seconds at 24 fps: 241 frames × 1,000 moving objects.
    const slide = doc
      .createAnimationSampler()
      .setInput(accessor('SCALAR', [0, 10]))
      .setOutput(accessor('VEC3', [0, 0, 0, 4, 0, 0]));
    doc
      .createAnimation('slide')
      .addSampler(slide)
      .addChannel(doc.createAnimationChannel().setTargetNode(rig).setTargetPath('translation').setSampler(slide));
    doc.getRoot().setDefaultScene(doc.createScene('main').addChild(rig));
    const { scene, warnings } = await sceneFromJsonDocument(await new NodeIO().writeJSON(doc), 'crowd');
    expect(scene.animation?.frameCount).toBe(100);
    expect(warnings).toContain('animation "slide" moves 1000 objects over 241 frames: its first 100 are rendered (100000 keys at most)');
  });

  it('renders the animation: the object is where its key puts it in each frame', async () => {
    const { raw } = await readSceneFile(await animatedFile());
    const still = raw as SceneInput;
    const scene = {
      ...still,
      render: { width: 48, height: 48, spp: 4, maxBounces: 1 },
      sky: { top: [1, 1, 1], bottom: [1, 1, 1] },
      materials: [{ name: 'dark', type: 'diffuse', albedo: [0.1, 0.1, 0.1] }],
      objects: still.objects.map((o) => ({ ...o, material: 'dark' })),
      animation: { ...still.animation, camera: [] },
      camera: { position: [2, 1, 12], lookAt: [2, 1, 0], fov: 40 },
    } as SceneInput;
    const centroid = async (frame: number) => {
      const { linear } = await on('cpu').render(parseScene(scene), frame);
      let [sx, n] = [0, 0];
      for (let i = 0; i < 48 * 48; i++) if (linear[i * 3] < 0.5) [sx, n] = [sx + (i % 48), n + 1];
      return sx / n;
    };
    // The parent slides 4 units along +X over frames 0-48: the triangle's pixels follow.
    expect((await centroid(48)) - (await centroid(0))).toBeGreaterThan(10);
  });

  it('refuses an object whose keys mix a matrix with translate, rotate or scale', () => {
    const scene: SceneInput = {
      version: 1,
      render: { width: 8, height: 8, spp: 1 },
      camera: { position: [0, 0, 5], lookAt: [0, 0, 0], fov: 40 },
      materials: [{ name: 'm', type: 'diffuse', albedo: [1, 1, 1] }],
      objects: [{ id: 'a', type: 'sphere', material: 'm', center: [0, 0, 0], radius: 1 }],
      animation: {
        frameCount: 2,
        objects: {
          a: [
            { frame: 0, matrix: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0] },
            { frame: 1, translate: [1, 0, 0] },
          ],
        },
      },
    };
    expect(issuesOf(scene)).toEqual([
      "animation.objects.a[1]: an object's keys set either matrix (as key 0 does) or translate/rotate/scale, not both",
    ]);
  });
});
