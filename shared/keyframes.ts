/**
 * Keyframe tracks: a property of the camera or an object at any frame, interpolated linearly
 * between the keys that set it and held before the first / after the last. The renderer places
 * each frame with it, and scene validation walks every frame of an animation with it, so a track
 * is sorted once and each frame found by binary search.
 */
import type { Scene } from './scene.ts';

interface Keyed {
  frame: number;
}

/** `prop`'s value at a frame, from the keys that set it; undefined where none does. */
export function track<K extends Keyed, P extends keyof K>(keys: readonly K[], prop: P): (frame: number) => K[P] | undefined {
  const defined = keys.filter((k) => k[prop] !== undefined).sort((a, b) => a.frame - b.frame);
  return (frame) => {
    if (defined.length === 0) return undefined;
    // The first key at or after the frame.
    let lo = 0;
    let hi = defined.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (defined[mid].frame >= frame) hi = mid;
      else lo = mid + 1;
    }
    if (lo === 0) return defined[0][prop];
    if (lo === defined.length) return defined[defined.length - 1][prop];
    const a = defined[lo - 1];
    const b = defined[lo];
    const t = (frame - a.frame) / (b.frame - a.frame);
    const va = a[prop] as unknown;
    const vb = b[prop] as unknown;
    if (typeof va === 'number') return (va + ((vb as number) - va) * t) as K[P];
    return (va as number[]).map((x, i) => x + ((vb as number[])[i] - x) * t) as K[P];
  };
}

type V3 = [number, number, number];

export interface CameraAt {
  position: V3;
  lookAt: V3;
  up: V3;
  fov: number;
}

/** The camera at any frame: its keys where they set a property, the scene's camera elsewhere. */
export function cameraTrack(scene: Pick<Scene, 'camera' | 'animation'>): (frame: number) => CameraAt {
  const keys = scene.animation?.camera ?? [];
  const [position, lookAt, up, fov] = [track(keys, 'position'), track(keys, 'lookAt'), track(keys, 'up'), track(keys, 'fov')];
  return (frame) => ({
    position: (position(frame) ?? scene.camera.position) as V3,
    lookAt: (lookAt(frame) ?? scene.camera.lookAt) as V3,
    up: (up(frame) ?? scene.camera.up) as V3,
    fov: fov(frame) ?? scene.camera.fov,
  });
}
