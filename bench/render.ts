/**
 * `npm run bench:render`: renders cornell.json at 256×192, 5 bounces, on every backend that
 * opens here and prints samples per second and their ratio; then the time each estimator
 * (next-event estimation vs the naive tracer) needs to reach PSNR 30 dB against a high-spp
 * reference of the same scene.
 */
import { readFileSync } from 'node:fs';
import { parseScene, type Scene } from '../shared/scene.ts';
import { psnr } from '../test/support/scenes.ts';
import { type BackendName, BackendUnavailableError } from '../worker/render/backend.ts';
import { Renderer } from '../worker/render/renderer.ts';
import { median, table, timed, writeResult } from './support.ts';

const REFERENCE_SPP = Number(process.env.REFERENCE_SPP ?? 1024);
const raw = JSON.parse(readFileSync(new URL('../scenes/cornell.json', import.meta.url), 'utf8'));
const at = (spp: number): Scene => parseScene({ ...raw, render: { ...raw.render, width: 256, height: 192, maxBounces: 5, spp } });
const PIXELS = 256 * 192;

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

const fastest = throughput.reduce((a, b) => (a.samplesPerSecond > b.samplesPerSecond ? a : b)).backend;
const r = await Renderer.open(fastest);
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
console.log(`results: ${writeResult('render', { throughput, reference: { backend: fastest, spp: REFERENCE_SPP }, convergence })}`);
