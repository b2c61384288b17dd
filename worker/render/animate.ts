/**
 * Keyframe evaluation: the camera and object placements of one frame. Each property is
 * interpolated linearly between the keys that set it and held before the first / after the last.
 */
import type { Scene, Transform } from '../../shared/scene.ts';
import { rotator, type V3 } from './vec.ts';

interface Keyed {
  frame: number;
}

/** Value of `prop` at `frame` from the keys that define it, or undefined if none does. */
export function sampleTrack<K extends Keyed, P extends keyof K>(keys: readonly K[], prop: P, frame: number): K[P] | undefined {
  const defined = keys.filter((k) => k[prop] !== undefined).sort((a, b) => a.frame - b.frame);
  if (defined.length === 0) return undefined;
  const next = defined.findIndex((k) => k.frame >= frame);
  if (next === 0) return defined[0][prop];
  if (next === -1) return defined[defined.length - 1][prop];
  const a = defined[next - 1];
  const b = defined[next];
  const t = (frame - a.frame) / (b.frame - a.frame);
  const va = a[prop] as unknown;
  const vb = b[prop] as unknown;
  if (typeof va === 'number') return (va + ((vb as number) - va) * t) as K[P];
  return (va as number[]).map((x, i) => x + ((vb as number[])[i] - x) * t) as K[P];
}

export interface CameraAt {
  position: V3;
  lookAt: V3;
  up: V3;
  fov: number;
}

export function cameraAt(scene: Scene, frame: number): CameraAt {
  const keys = scene.animation?.camera ?? [];
  return {
    position: sampleTrack(keys, 'position', frame) ?? scene.camera.position,
    lookAt: sampleTrack(keys, 'lookAt', frame) ?? scene.camera.lookAt,
    up: sampleTrack(keys, 'up', frame) ?? scene.camera.up,
    fov: sampleTrack(keys, 'fov', frame) ?? scene.camera.fov,
  };
}

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
  const matrix = sampleTrack(keys, 'matrix', frame);
  if (matrix) return matrix;
  const rotate = rotator((sampleTrack(keys, 'rotate', frame) ?? base.rotate) as V3);
  const s = sampleTrack(keys, 'scale', frame) ?? base.scale;
  const t = sampleTrack(keys, 'translate', frame) ?? base.translate;
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
