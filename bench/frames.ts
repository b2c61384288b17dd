/**
 * `npm run bench:frames`: a worker rendering one 8-px tile of each frame of a camera's flight
 * through a still scene of 250,000 triangles (the scene limit), as a farm hands out an animation's
 * tiles: the renderer keeps the scene's geometry while no object moves, against compiling it for
 * every frame (the baseline: a scene object it has not seen, as each frame had been before).
 */
import { parseScene, type Scene } from '../shared/scene.ts';
import { Renderer } from '../worker/render/renderer.ts';
import { median, table, timed, writeResult } from './support.ts';

const FRAMES = Number(process.env.FRAMES ?? 6);
/** A rippled grid of n × n quads: 2n² triangles. */
const SIDE = 353;

function flight(): Scene {
  const positions: number[] = [];
  const indices: number[] = [];
  for (let j = 0; j <= SIDE; j++)
    for (let i = 0; i <= SIDE; i++) positions.push(i / SIDE - 0.5, 0.02 * Math.sin(i * 0.3) * Math.cos(j * 0.2), j / SIDE - 0.5);
  for (let j = 0; j < SIDE; j++)
    for (let i = 0; i < SIDE; i++) {
      const a = j * (SIDE + 1) + i;
      indices.push(a, a + SIDE + 1, a + 1, a + 1, a + SIDE + 1, a + SIDE + 2);
    }
  return parseScene({
    version: 1,
    render: { width: 256, height: 192, spp: 1, maxBounces: 1, seed: 1 },
    camera: { position: [0, 0.6, 1], lookAt: [0, 0, 0], fov: 50 },
    sky: { top: [0.5, 0.7, 1], bottom: [0.9, 0.9, 0.9] },
    materials: [{ name: 'ground', type: 'diffuse', albedo: [0.6, 0.5, 0.4] }],
    objects: [{ type: 'mesh', material: 'ground', positions, indices }],
    animation: {
      frameCount: FRAMES,
      camera: [
        { frame: 0, position: [0, 0.6, 1] },
        { frame: FRAMES - 1, position: [0.5, 0.6, 0.8] },
      ],
    },
  });
}

const scene = flight();
const tile = { x: 124, y: 92, width: 8, height: 8 };
const renderer = await Renderer.open('webasm');
await renderer.render(scene, 0, { tile }); // the kernel compiled, the geometry built once
/** Seconds for a tile of each frame; `fresh`: the scene as an object the renderer has not seen, each frame. */
async function frames(fresh: boolean): Promise<number[]> {
  const seconds: number[] = [];
  for (let frame = 1; frame < FRAMES; frame++) {
    const s = fresh ? structuredClone(scene) : scene;
    seconds.push((await timed(() => renderer.render(s, frame, { tile }))).seconds);
  }
  return seconds;
}
const compiledEach = median(await frames(true));
const kept = median(await frames(false));
renderer.close();
console.log(
  `\na ${tile.width}-px tile of each frame of a camera's flight over 250,000 still triangles (webasm, median of ${FRAMES - 1})\n`,
);
console.log(
  table([
    { geometry: 'compiled for every frame (baseline)', 'seconds a tile': compiledEach.toFixed(3), 'ratio vs baseline': '1.00' },
    { geometry: 'kept while no object moves', 'seconds a tile': kept.toFixed(3), 'ratio vs baseline': (kept / compiledEach).toFixed(3) },
  ]),
);
console.log(`results: ${writeResult('frames', { frames: FRAMES, triangles: 2 * SIDE * SIDE, tile, compiledEach, kept })}`);
