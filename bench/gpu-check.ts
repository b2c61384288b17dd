/**
 * The GPU check for a machine with a GPU: renders cornell.json at 1920×1080 on webgpu and on
 * webasm, prints both samples/s and the PSNR between the two images. Run: npx tsx bench/gpu-check.ts
 */
import { readFileSync } from 'node:fs';
import { parseScene } from '../shared/scene.ts';
import { psnr } from '../test/support/scenes.ts';
import { Renderer } from '../worker/render/renderer.ts';
import { timed } from './support.ts';

const raw = JSON.parse(readFileSync(new URL('../scenes/cornell.json', import.meta.url), 'utf8'));
const spp = Number(process.env.SPP ?? 16);
const scene = parseScene({ ...raw, render: { ...raw.render, width: 1920, height: 1080, spp } });
const images = [];
for (const name of ['webgpu', 'webasm'] as const) {
  const r = await Renderer.open(name);
  await r.render(parseScene({ ...raw, render: { ...raw.render, width: 64, height: 64, spp: 1 } }), 0);
  const { value, seconds } = await timed(() => r.render(scene, 0));
  console.log(`${r.device}: ${((1920 * 1080 * spp) / seconds / 1e6).toFixed(2)} M samples/s (${seconds.toFixed(2)} s)`);
  images.push(value);
  r.close();
}
console.log(`PSNR webgpu vs webasm at ${spp} spp: ${psnr(images[0].rgba, images[1].rgba).toFixed(2)} dB`);
