/** GET /api/scenes: the sample scenes shipped in `scenes/`, for the dashboard's submit form. */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Router } from 'express';
import type { SampleScene } from '../../shared/protocol.ts';
import { frameCount, parseScene } from '../../shared/scene.ts';

export function sceneRoutes(dir: string): Router {
  const r = Router();
  r.get('/', async (req, res) => {
    const files = (await readdir(dir).catch(() => [])).filter((f) => f.endsWith('.json')).sort();
    const samples: SampleScene[] = [];
    for (const file of files) {
      try {
        const json: unknown = JSON.parse(await readFile(join(dir, file), 'utf8'));
        const scene = parseScene(json);
        const { width, height, spp } = scene.render;
        samples.push({ file, name: scene.name, width, height, spp, frames: frameCount(scene), scene: json });
      } catch (err) {
        // A broken sample is the operator's to fix; the others are still offered.
        req.log?.warn({ file, err: (err as Error).message }, 'sample scene skipped');
      }
    }
    res.json({ scenes: samples });
  });
  return r;
}
