/**
 * The sample scenes: the committed files are exactly what scenes/generate-samples.ts writes (so
 * they are the project's own), and each imports as described: the room with its sky, thin window,
 * lamp and textures; 49 animated frames; a bare 250,000-triangle model framed by a default camera
 * (that one, 4.9 MB, is generated, not committed: it is read from this test's own generation).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readSceneFile } from '../cli/scene-file.ts';
import { ROOT } from './support/scenes.ts';

/** The committed samples; `npm run scenes` also writes scenes/large.glb, which git ignores. */
const FILES = ['room.json', 'sky.hdr', 'orbit.glb'];

describe('sample scenes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'farm-scenes-'));
  beforeAll(() => {
    execFileSync(process.execPath, ['--import', 'tsx', join(ROOT, 'scenes/generate-samples.ts')], {
      env: { ...process.env, SCENES_OUT: dir },
    });
  });

  it('are what the generator writes, byte for byte', () => {
    for (const name of FILES) expect(readFileSync(join(dir, name)).equals(readFileSync(join(ROOT, 'scenes', name))), name).toBe(true);
  });

  it('room.json: an HDRI sky through a thin window, a point light, textured floor, walls and crate', async () => {
    const { scene } = await readSceneFile(join(ROOT, 'scenes/room.json'));
    expect(scene.environment?.hdr).toBe(readFileSync(join(ROOT, 'scenes/sky.hdr')).toString('base64'));
    expect(scene.lights).toEqual([expect.objectContaining({ type: 'point' })]);
    expect(scene.materials).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'dielectric', thin: true })]));
    expect(scene.textures.map((t) => t.name)).toEqual(['t0-planks', 't1-plaster', 't2-crate']);
  });

  it('orbit.glb: 49 frames in which the camera and the objects move', async () => {
    const { scene } = await readSceneFile(join(ROOT, 'scenes/orbit.glb'));
    expect(scene.animation?.frameCount).toBe(49);
    expect(scene.animation?.camera).toHaveLength(49);
    expect(Object.keys(scene.animation?.objects ?? {})).toHaveLength(2);
  });

  it('large.glb: 250,000 triangles, no camera or light of its own: a framing camera and a viewer’s sky', async () => {
    const { scene } = await readSceneFile(join(dir, 'large.glb'));
    const [mesh] = scene.objects;
    expect(mesh.type === 'mesh' && mesh.indices.length / 3).toBe(250_000);
    expect(scene.lights).toEqual([]);
    expect(scene.sky.top).not.toEqual([0, 0, 0]);
  });
});
