/**
 * `npm run bench:render`: renders cornell.json at 256×192, 5 bounces, on every backend that
 * opens here and prints samples per second and their ratio; then, on the fastest backend, samples
 * per second by tile size (the whole frame cut into 32, 64, 128 px tiles, and uncut) and by sample
 * count (16 to 4,096 spp) against the best cell; then the time each estimator (next-event
 * estimation vs the naive tracer) needs to reach PSNR 30 dB against a high-spp reference, and the
 * time the textured room (HDRI through a window) needs to reach it against its own.
 */
import { readFileSync } from 'node:fs';
import { parseScene, type Scene } from '../shared/scene.ts';
import { tileGrid } from '../shared/tile.ts';
import { psnr } from '../test/support/scenes.ts';
import { type BackendName, BackendUnavailableError } from '../worker/render/backend.ts';
import { Renderer } from '../worker/render/renderer.ts';
import { median, table, timed, writeResult } from './support.ts';

const REFERENCE_SPP = Number(process.env.REFERENCE_SPP ?? 1024);
const raw = JSON.parse(readFileSync(new URL('../scenes/cornell.json', import.meta.url), 'utf8'));
const sized = (width: number, height: number, spp: number): Scene =>
  parseScene({ ...raw, render: { ...raw.render, width, height, maxBounces: 5, spp } });
const at = (spp: number): Scene => sized(256, 192, spp);
const PIXELS = 256 * 192;
/** The tile sweep's sample count, and the spp sweep's frame (4,096 spp of 256×192 takes minutes). */
const TILE_SPP = 64;
const SPP_FRAME = { width: 64, height: 48 };
/** Least time each cell of the sweeps is timed over in a round. */
const MIN_SECONDS = 1;

const throughput: { backend: BackendName; samplesPerSecond: number }[] = [];
for (const name of ['webgpu', 'webasm', 'cpu'] as const) {
  let r: Renderer;
  try {
    r = await Renderer.open(name);
  } catch (e) {
    if (!(e instanceof BackendUnavailableError)) throw e;
    console.log(`${name}: not available here (${e.message})`);
    continue;
  }
  const spp = name === 'cpu' ? 4 : 16;
  await r.render(at(spp), 0); // compile and warm up
  const runs: number[] = [];
  for (let i = 0; i < 3; i++) runs.push((await timed(() => r.render(at(spp), 0))).seconds);
  throughput.push({ backend: name, samplesPerSecond: (PIXELS * spp) / median(runs) });
  r.close();
}
const slowest = Math.min(...throughput.map((t) => t.samplesPerSecond));
console.log(`\ncornell.json 256×192, 5 bounces, median of 3 runs\n`);
console.log(
  table(
    throughput.map((t) => ({
      backend: t.backend,
      'samples/s': Math.round(t.samplesPerSecond).toLocaleString('en'),
      'ratio vs cpu': (t.samplesPerSecond / slowest).toFixed(2),
    })),
  ),
);

const webasm = throughput.find((t) => t.backend === 'webasm');
if (webasm) {
  const met = webasm.samplesPerSecond >= 1e6 ? 'met' : 'not met';
  console.log(`webasm: ${(webasm.samplesPerSecond / 1e6).toFixed(2)} M samples/s (goal 1.00 M: ${met})`);
}

const fastest = throughput.reduce((a, b) => (a.samplesPerSecond > b.samplesPerSecond ? a : b)).backend;
const r = await Renderer.open(fastest);

/** Renders the whole frame as tiles of `size` px (0: uncut). */
async function renderFrame(s: Scene, size: number): Promise<void> {
  const { width, height } = s.render;
  for (const tile of size ? tileGrid(width, height, size) : [{ x: 0, y: 0, width, height }]) await r.render(s, 0, { tile });
}

/**
 * Samples/s rendering the frame as tiles of `size` px, over at least MIN_SECONDS: a short render
 * is repeated, so a 64×48 frame at 16 spp (60 ms) is timed over as long a stretch of this
 * machine's drifting speed as the 4,096-spp one, not over one blink of it.
 */
async function samplesPerSecond(s: Scene, size: number): Promise<number> {
  const { width, height, spp } = s.render;
  let frames = 0;
  const started = performance.now();
  do {
    await renderFrame(s, size);
    frames++;
  } while (performance.now() - started < MIN_SECONDS * 1000);
  return (frames * width * height * spp) / ((performance.now() - started) / 1000);
}
const sweep = [
  ...[32, 64, 128, 0].map((size) => ({
    sweep: `tile, ${TILE_SPP} spp, 256×192`,
    cell: size ? `${size} px` : 'full frame',
    scene: at(TILE_SPP),
    size,
  })),
  ...[16, 64, 256, 1024, 4096].map((spp) => ({
    sweep: `spp, full ${SPP_FRAME.width}×${SPP_FRAME.height} frame`,
    cell: `${spp} spp`,
    scene: sized(SPP_FRAME.width, SPP_FRAME.height, spp),
    size: 0,
  })),
];
// Round-robin, median of 3: this machine's speed drifts by ±15 % over minutes, which would
// otherwise show up as differences between cells measured one after another.
for (const c of sweep) await renderFrame(c.scene, c.size); // compile every kernel first
const runs = sweep.map((): number[] => []);
for (let round = 0; round < 3; round++) for (const [i, c] of sweep.entries()) runs[i].push(await samplesPerSecond(c.scene, c.size));
const cells = sweep.map((c, i) => ({ sweep: c.sweep, cell: c.cell, samplesPerSecond: median(runs[i]) }));
const best = Math.max(...cells.map((c) => c.samplesPerSecond));
const worst = Math.min(...cells.map((c) => c.samplesPerSecond));
console.log(`\nsamples/s by tile size and by sample count (${fastest}); goal: no cell below 0.90 × the best\n`);
console.log(
  table(
    cells.map((c) => ({
      sweep: c.sweep,
      cell: c.cell,
      'samples/s': Math.round(c.samplesPerSecond).toLocaleString('en'),
      'ratio vs best': (c.samplesPerSecond / best).toFixed(2),
    })),
  ),
);
console.log(`worst cell ${(worst / best).toFixed(2)} × the best: goal ${worst >= 0.9 * best ? 'met' : 'not met'}`);

console.log(`\nreference: ${REFERENCE_SPP} spp with light sampling on ${fastest}…`);
const reference = await r.render(at(REFERENCE_SPP), 0);
const convergence: { estimator: string; spp: number; seconds: number; psnr: number }[] = [];
for (const nee of [true, false]) {
  for (let spp = 1; spp <= REFERENCE_SPP / 2; spp *= 2) {
    const { value: img, seconds } = await timed(() => r.render(at(spp), 0, { nee }));
    const quality = psnr(img.rgba, reference.rgba);
    if (quality >= 30 || spp === REFERENCE_SPP / 2) {
      convergence.push({ estimator: nee ? 'light sampling (NEE)' : 'naive', spp, seconds, psnr: quality });
      break;
    }
  }
}

// The textured room (scenes/room.json: HDRI sky and sun through a thin window, a point light,
// textures), smaller: its reference takes most of the time.
const ROOM_REFERENCE_SPP = Number(process.env.ROOM_REFERENCE_SPP ?? 2048);
const roomRaw = JSON.parse(readFileSync(new URL('../scenes/room.json', import.meta.url), 'utf8'));
const room = (spp: number): Scene => parseScene({ ...roomRaw, render: { ...roomRaw.render, width: 128, height: 96, spp } });
console.log(`
room reference: 128×96, ${ROOM_REFERENCE_SPP} spp on ${fastest}…`);
const roomReference = await r.render(room(ROOM_REFERENCE_SPP), 0);
let roomConvergence = { spp: 0, seconds: 0, psnr: 0 };
for (let spp = 4; spp <= ROOM_REFERENCE_SPP / 2; spp *= 2) {
  const { value: img, seconds } = await timed(() => r.render(room(spp), 0));
  roomConvergence = { spp, seconds, psnr: psnr(img.rgba, roomReference.rgba) };
  if (roomConvergence.psnr >= 30) break;
}
r.close();
const [withNee, naive] = convergence;
console.log(`\ntime to PSNR 30 dB against the reference (${fastest})\n`);
console.log(
  table(convergence.map((c) => ({ estimator: c.estimator, spp: c.spp, seconds: c.seconds.toFixed(2), 'PSNR dB': c.psnr.toFixed(1) }))),
);
const reached = naive.psnr >= 30;
console.log(
  `\nlight sampling reaches 30 dB ${reached ? '' : 'more than '}${(naive.seconds / withNee.seconds).toFixed(1)}× sooner than the naive tracer` +
    (reached ? '' : ` (which stopped at ${naive.spp} spp, ${naive.psnr.toFixed(1)} dB)`),
);
console.log(
  `\ntextured room 128×96: ${roomConvergence.psnr.toFixed(1)} dB at ${roomConvergence.spp} spp in ${roomConvergence.seconds.toFixed(2)} s ` +
    `(${(roomConvergence.spp / withNee.spp).toFixed(1)}× the samples per pixel the Cornell box needs for 30 dB)`,
);
console.log(
  `results: ${writeResult('render', {
    throughput,
    cells,
    reference: { backend: fastest, spp: REFERENCE_SPP },
    convergence,
    room: { width: 128, height: 96, referenceSpp: ROOM_REFERENCE_SPP, ...roomConvergence },
  })}`,
);
