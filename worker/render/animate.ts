/** The camera and object placements of one frame, from their keyframe tracks (shared/keyframes.ts). */
import { track } from '../../shared/keyframes.ts';
import type { Scene, Transform } from '../../shared/scene.ts';
import { rotator, type V3 } from './vec.ts';

/** A 3×4 affine matrix, row by row. */
export type Affine = number[];

const IDENTITY: Transform = { translate: [0, 0, 0], rotate: [0, 0, 0], scale: 1 };

/** Where object `objectIndex` is placed at `frame`: its matrix keys, or its transform and TRS keys. */
export function transformAt(scene: Scene, objectIndex: number, frame: number): Affine {
  const object = scene.objects[objectIndex];
  const base = object.transform ?? IDENTITY;
  const tracks = scene.animation?.objects ?? {};
  // Own keys only: an id such as "constructor" must not find Object.prototype's.
  const keys = object.id !== undefined && Object.hasOwn(tracks, object.id) ? tracks[object.id] : [];
  const matrix = track(keys, 'matrix')(frame);
  if (matrix) return matrix;
  const rotate = rotator((track(keys, 'rotate')(frame) ?? base.rotate) as V3);
  const s = track(keys, 'scale')(frame) ?? base.scale;
  const t = track(keys, 'translate')(frame) ?? base.translate;
  const [x, y, z] = [rotate([s, 0, 0]), rotate([0, s, 0]), rotate([0, 0, s])];
  return [x[0], y[0], z[0], t[0], x[1], y[1], z[1], t[1], x[2], y[2], z[2], t[2]];
}

/** The matrix applied to a point (with its translation) and to a vector (without). */
export const applyPoint = (m: Affine, [x, y, z]: V3): V3 => [
  m[0] * x + m[1] * y + m[2] * z + m[3],
  m[4] * x + m[5] * y + m[6] * z + m[7],
  m[8] * x + m[9] * y + m[10] * z + m[11],
];
export const applyVector = (m: Affine, [x, y, z]: V3): V3 => [
  m[0] * x + m[1] * y + m[2] * z,
  m[4] * x + m[5] * y + m[6] * z,
  m[8] * x + m[9] * y + m[10] * z,
];
