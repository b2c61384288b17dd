/**
 * GET /api/scenes: the sample scenes shipped in `scenes/`, for the dashboard's submit form. Each
 * is offered as a manifest whose heavy parts are assets (shared/assets.ts) the orchestrator holds,
 * so the form loads and submits a few kilobytes, not the room's megabyte of texels.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Router } from 'express';
import { ASSET_MIN_BYTES, type PackedScene, packAssets } from '../../shared/assets.ts';
import type { SampleScene } from '../../shared/protocol.ts';
import { frameCount, parseScene } from '../../shared/scene.ts';
import type { ContentStore } from '../content/store.ts';

export function sceneRoutes(dir: string, blobs: ContentStore): Router {
  const r = Router();
  /** Packed samples by file, while the file is unchanged. */
  const packed = new Map<string, { modified: number; sample: SampleScene; assets: PackedScene['assets'] }>();
  r.get('/', async (req, res) => {
    const files = (await readdir(dir).catch(() => [])).filter((f) => f.endsWith('.json')).sort();
    const samples: SampleScene[] = [];
    for (const file of files) {
      try {
        const path = join(dir, file);
        const modified = (await stat(path)).mtimeMs;
        let entry = packed.get(file);
        if (entry?.modified !== modified) {
          const json: unknown = JSON.parse(await readFile(path, 'utf8'));
          const scene = parseScene(json);
          const { manifest, assets } = await packAssets(json, ASSET_MIN_BYTES);
          const { width, height, spp } = scene.render;
          entry = { modified, sample: { file, name: scene.name, width, height, spp, frames: frameCount(scene), scene: manifest }, assets };
          packed.set(file, entry);
        }
        // Stored again if blob collection took them since (no job referred to them).
        for (const [cid, bytes] of entry.assets) if (!(await blobs.get(cid))) await blobs.put(bytes, cid);
        samples.push(entry.sample);
      } catch (err) {
        // A broken sample is the operator's to fix; the others are still offered.
        req.log?.warn({ file, err: (err as Error).message }, 'sample scene skipped');
      }
    }
    res.json({ scenes: samples });
  });
  return r;
}
