// Throughput of the kernel in this checkout: Cornell 256×192 16 spp, median of 5, webasm.
import { readFileSync } from 'node:fs';
import { parseScene } from './shared/scene.ts';
import { Renderer } from './worker/render/renderer.ts';
const raw = JSON.parse(readFileSync('scenes/cornell.json', 'utf8'));
const scene = parseScene({ ...raw, render: { ...raw.render, width: 256, height: 192, spp: 16, maxBounces: 5 } });
const r = await Renderer.open('webasm');
await r.render(scene, 0);
const runs: number[] = [];
for (let i = 0; i < 5; i++) { const t = performance.now(); await r.render(scene, 0); runs.push((performance.now() - t) / 1000); }
runs.sort((a, b) => a - b);
console.log(process.cwd(), ((256 * 192 * 16) / runs[2] / 1e6).toFixed(3), 'M samples/s');
r.close();
