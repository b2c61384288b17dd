/**
 * `npm run bench:gpu`, the check for a machine with a GPU (README, "On a GPU"):
 * 1. Calibration: the known-answer tiles every worker renders first, on webgpu twice and on
 *    webasm. Replicas on two such GPUs must agree bit for bit, so the GPU must repeat itself;
 *    how far it is from webasm says which class it would calibrate into (the same one, one within
 *    the published tolerance, or none).
 * 2. Tiles make the frame: a 256×192 frame rendered whole and as 64 px tiles on webgpu, stitched,
 *    must be bit-identical (a farm's frame against `farm render`).
 * 3. Throughput: cornell.json at WIDTH×HEIGHT (1920×1080) and SPP (16) on webgpu and webasm:
 *    samples/s, their ratio, and the PSNR between the two images.
 * Writes bench/results/gpu.json; exits 1 if the GPU did not repeat itself or its tiles did not make
 * the frame (what a farm needs of it).
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { calibrationWork } from '../orchestrator/calibration.ts';
import { assembleFrame } from '../orchestrator/stitcher.ts';
import { DEFAULT_TOLERANCE, nearlyEqual } from '../orchestrator/verdict/tolerance.ts';
import { parseScene, type Scene } from '../shared/scene.ts';
import { tileGrid } from '../shared/tile.ts';
import { psnr } from '../test/support/scenes.ts';
import { Renderer, type RenderResult } from '../worker/render/renderer.ts';
import { table, timed, writeResult } from './support.ts';

const WIDTH = Number(process.env.WIDTH ?? 1920);
const HEIGHT = Number(process.env.HEIGHT ?? 1080);
const SPP = Number(process.env.SPP ?? 16);

const raw = JSON.parse(readFileSync(new URL('../scenes/cornell.json', import.meta.url), 'utf8'));
const cornell = (width: number, height: number, spp: number): Scene =>
  parseScene({ ...raw, render: { ...raw.render, width, height, spp } });
const [gpu, cpu] = [await Renderer.open('webgpu'), await Renderer.open('webasm')];
console.log(`webgpu: ${gpu.device}\nwebasm: ${cpu.device}, ${availableParallelism()} threads`);

/** How two renders of one tile differ: identical, or how many pixels and by how many levels. */
function compare(a: RenderResult, b: RenderResult) {
  let differing = 0;
  let maxLevels = 0;
  for (let i = 0; i < a.rgba.length; i += 4) {
    const d = Math.max(...[0, 1, 2, 3].map((c) => Math.abs(a.rgba[i + c] - b.rgba[i + c])));
    if (d > 0) differing++;
    maxLevels = Math.max(maxLevels, d);
  }
  return {
    identical: differing === 0 && a.rays === b.rays,
    differingPixels: differing,
    maxLevels,
    withinTolerance: nearlyEqual(a.rgba, b.rgba, DEFAULT_TOLERANCE),
    rays: [a.rays, b.rays],
  };
}

console.log('\n1. calibration tiles (64×48, 16 spp, three bands)');
const calibration = await calibrationWork();
const renderTiles = (r: Renderer) => Promise.all(calibration.tiles.map((tile) => r.render(calibration.scene, 0, { tile })));
const [first, again, webasm] = [await renderTiles(gpu), await renderTiles(gpu), await renderTiles(cpu)];
const calibrationRows = calibration.tiles.map((tile, i) => ({
  tile: `${tile.x},${tile.y} ${tile.width}×${tile.height}`,
  repeats: compare(first[i], again[i]),
  vsWebasm: compare(first[i], webasm[i]),
}));
console.log(
  table(
    calibrationRows.map((r) => ({
      tile: r.tile,
      'webgpu twice': r.repeats.identical ? 'identical' : `${r.repeats.differingPixels} px differ`,
      'vs webasm': r.vsWebasm.identical
        ? 'identical'
        : `${r.vsWebasm.differingPixels} px differ, max ${r.vsWebasm.maxLevels} levels, ${r.vsWebasm.withinTolerance ? 'within' : 'outside'} tolerance`,
      rays: r.vsWebasm.rays.join(' / '),
    })),
  ),
);

console.log('\n2. a 256×192 frame at 16 spp on webgpu: whole, and stitched from 64 px tiles');
const small = cornell(256, 192, 16);
const whole = await gpu.render(small, 0);
const grid = tileGrid(256, 192, 64);
const tiles = [];
for (const rect of grid) tiles.push({ rect, rgba: (await gpu.render(small, 0, { tile: rect })).rgba });
const stitched = assembleFrame(256, 192, tiles);
const tilesMakeTheFrame = Buffer.compare(Buffer.from(stitched), Buffer.from(whole.rgba)) === 0;
console.log(tilesMakeTheFrame ? 'bit-identical' : `NOT identical: PSNR ${psnr(stitched, whole.rgba).toFixed(2)} dB`);

console.log(`\n3. cornell.json ${WIDTH}×${HEIGHT}, ${SPP} spp`);
const big = cornell(WIDTH, HEIGHT, SPP);
const throughput: { backend: string; seconds: number; samplesPerSecond: number }[] = [];
const images: Uint8Array[] = [];
for (const r of [gpu, cpu]) {
  await r.render(big, 0); // compiles this frame's kernels: each call shape has its own
  const { value, seconds } = await timed(() => r.render(big, 0));
  images.push(value.rgba);
  throughput.push({ backend: r.backend.name, seconds, samplesPerSecond: (WIDTH * HEIGHT * SPP) / seconds });
  r.close();
}
const ratio = throughput[0].samplesPerSecond / throughput[1].samplesPerSecond;
const framePsnr = psnr(images[0], images[1]);
console.log(
  table(
    throughput.map((t) => ({
      backend: t.backend,
      seconds: t.seconds.toFixed(2),
      'M samples/s': (t.samplesPerSecond / 1e6).toFixed(2),
      'ratio vs webasm': (t.samplesPerSecond / throughput[1].samplesPerSecond).toFixed(1),
    })),
  ),
);
console.log(`webgpu ${ratio.toFixed(1)}× webasm; PSNR webgpu vs webasm ${framePsnr.toFixed(2)} dB`);
console.log(
  `results: ${writeResult('gpu', {
    devices: { webgpu: gpu.device, webasm: cpu.device },
    calibration: calibrationRows,
    tilesMakeTheFrame,
    frame: { width: WIDTH, height: HEIGHT, spp: SPP, throughput, ratio, psnr: framePsnr },
  })}`,
);
if (!tilesMakeTheFrame || calibrationRows.some((r) => !r.repeats.identical)) process.exit(1);
