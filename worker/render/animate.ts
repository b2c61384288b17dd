/**
 * Keyframe evaluation: the camera and object transforms of one frame. Each property is
 * interpolated linearly between the keys that set it and held before the first / after the last.
 */
import type { Scene, Transform } from '../../shared/scene.ts';
import { lerp, type V3 } from './vec.ts';

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
  return lerp(va as V3, vb as V3, t) as K[P];
}

export interface CameraAt {
  position: V3;
  lookAt: V3;
  fov: number;
}

export function cameraAt(scene: Scene, frame: number): CameraAt {
  const keys = scene.animation?.camera ?? [];
  return {
    position: sampleTrack(keys, 'position', frame) ?? scene.camera.position,
    lookAt: sampleTrack(keys, 'lookAt', frame) ?? scene.camera.lookAt,
    fov: sampleTrack(keys, 'fov', frame) ?? scene.camera.fov,
  };
}

const IDENTITY: Transform = { translate: [0, 0, 0], rotate: [0, 0, 0], scale: 1 };

export function transformAt(scene: Scene, objectIndex: number, frame: number): Transform {
  const object = scene.objects[objectIndex];
  const base = object.transform ?? IDENTITY;
  const tracks = scene.animation?.objects ?? {};
  // Own keys only: an id such as "constructor" must not find Object.prototype's.
  const keys = object.id !== undefined && Object.hasOwn(tracks, object.id) ? tracks[object.id] : [];
  return {
    translate: sampleTrack(keys, 'translate', frame) ?? base.translate,
    rotate: sampleTrack(keys, 'rotate', frame) ?? base.rotate,
    scale: sampleTrack(keys, 'scale', frame) ?? base.scale,
  };
}
