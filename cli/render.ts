/** `farm render`: renders one frame, or one tile of it, on this machine. No Redis needed. */
import { writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { canonicalCid } from '../shared/image.ts';
import { encodePng } from '../shared/png.ts';
import { toRu } from '../shared/render-units.ts';
import { frameCount, withOverrides } from '../shared/scene.ts';
import { parseRect } from '../shared/tile.ts';
import type { BackendChoice } from '../worker/render/backend.ts';
import { Renderer } from '../worker/render/renderer.ts';
import { progressBar } from './progress.ts';
import { parseSize, readSceneFile } from './scene-file.ts';

export interface RenderFlags {
  frame: string;
  tile?: string;
  size?: string;
  spp?: string;
  backend: BackendChoice;
  out?: string;
  sky?: string;
  camera?: string;
  hash?: boolean;
}

export async function renderCommand(scenePath: string, flags: RenderFlags): Promise<void> {
  const { scene: loaded } = await readSceneFile(scenePath, { sky: flags.sky, camera: flags.camera });
  const scene = withOverrides(loaded, {
    ...(flags.size ? parseSize(flags.size) : {}),
    spp: flags.spp === undefined ? undefined : Number(flags.spp),
  });
  const frame = Number(flags.frame);
  if (!Number.isInteger(frame) || frame < 0 || frame >= frameCount(scene)) {
    throw new Error(`--frame ${flags.frame}: the scene has frames 0-${frameCount(scene) - 1}`);
  }
  const tile = flags.tile ? parseRect(flags.tile) : undefined;
  const renderer = await Renderer.open(flags.backend);
  if (renderer.backend.fallback) process.stderr.write(`farm: ${renderer.backend.fallback}\n`);
  const bar = progressBar(`frame ${frame} (${renderer.backend.name})`);
  try {
    const started = performance.now();
    const img = await renderer.render(scene, frame, { tile, onProgress: (done, total) => bar.update(Math.floor(done), total, 'rows') });
    bar.stop();
    const seconds = (performance.now() - started) / 1000;
    const out = flags.out ?? `${basename(scenePath, '.json')}-f${String(frame).padStart(4, '0')}.png`;
    await writeFile(out, await encodePng(img));
    const samples = img.width * img.height * scene.render.spp;
    process.stderr.write(
      `wrote ${out} (${img.width}×${img.height}, ${seconds.toFixed(2)} s, ${(samples / seconds / 1e6).toFixed(2)} M samples/s, ${img.rays.toLocaleString('en')} rays = ${toRu(img.rays).toPrecision(3)} RU, ${renderer.device})\n`,
    );
    if (flags.hash) process.stdout.write(`${await canonicalCid(img)}\n`);
  } finally {
    bar.stop();
    renderer.close();
  }
}
