/** Scenes for tests: the shipped ones, and small analytic set-ups. */
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { parseScene, type Scene, SceneError, type SceneInput } from '../../shared/scene.ts';

export const ROOT = new URL('../../', import.meta.url).pathname;

export function shippedRaw(name: string): any {
  return JSON.parse(readFileSync(`${ROOT}scenes/${name}.json`, 'utf8'));
}

export function shipped(name: string, render: Partial<Scene['render']> = {}): Scene {
  const raw = shippedRaw(name);
  return parseScene({ ...raw, render: { ...raw.render, ...render } });
}

export function scene(partial: Partial<SceneInput> & Pick<SceneInput, 'objects' | 'materials'>): Scene {
  return parseScene({
    version: 1,
    render: { width: 8, height: 8, spp: 4, maxBounces: 4, seed: 1 },
    camera: { position: [0, 0, 5], lookAt: [0, 0, 0], fov: 40 },
    ...partial,
  });
}

/** Peak signal-to-noise ratio of two RGBA8 images, over the colour channels. */
export function psnr(a: Uint8Array, b: Uint8Array): number {
  let se = 0;
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    if (i % 4 === 3) continue;
    se += (a[i] - b[i]) ** 2;
    n++;
  }
  return se === 0 ? Infinity : 10 * Math.log10((255 * 255) / (se / n));
}

/** The error's `path: message` entries, for asserting which field failed. */
export function issuesOf(input: unknown): string[] {
  try {
    parseScene(input);
  } catch (e) {
    expect(e).toBeInstanceOf(SceneError);
    return (e as SceneError).issues.map((i) => `${i.path}: ${i.message}`);
  }
  throw new Error('scene was accepted');
}
