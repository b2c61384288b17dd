/**
 * Scenes for the dashboard's submit form, as manifests whose heavy parts are assets the
 * orchestrator holds (shared/assets.ts), so the form loads and submits kilobytes:
 * - GET /api/scenes: the sample scenes shipped in `scenes/`;
 * - POST /api/scenes/import: glTF files from the browser (a .glb, or a .gltf with the files it
 *   names), imported by the same code as `farm render model.glb`, with what it left out named.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { type JSONDocument, NodeIO } from '@gltf-transform/core';
import { Router } from 'express';
import { ASSET_MIN_BYTES, assetUses, type PackedScene, packAssets, useBytes } from '../../shared/assets.ts';
import { type FarmLimits, farmLimitIssues } from '../../shared/farm-limits.ts';
import { ImportLimitError, sceneFromJsonDocument } from '../../shared/gltf-scene.ts';
import { GltfImportRequest, type ImportedSceneView, type SampleScene, summaryOf } from '../../shared/protocol.ts';
import { parseScene } from '../../shared/scene.ts';
import type { ContentStore } from '../content/store.ts';
import type { AssetIndex } from '../state/assets.ts';
import type { StorageMonitor } from '../storage.ts';
import { meteredUpload, readJson } from './bodies.ts';
import { ByteBudget } from './byte-budget.ts';
import type { Limits } from './limits.ts';
import { HttpError, nested, overFarmLimits } from './problem.ts';

export interface SceneRoutesDeps {
  scenesDir: string;
  blobs: ContentStore;
  assets: AssetIndex;
  limits: Limits;
  storage: StorageMonitor;
  maxAssetBytes: number;
  farmLimits: FarmLimits;
}

export function sceneRoutes(deps: SceneRoutesDeps): Router {
  const r = Router();
  /** Packed samples by file, while the file is unchanged. */
  const packed = new Map<string, { modified: number; sample: SampleScene; assets: PackedScene['assets'] }>();
  /** Stores a scene's assets (again, if blob collection took them since no job referred to them). */
  const store = async (assets: PackedScene['assets']) => {
    for (const [cid, bytes] of assets) {
      if ((await deps.assets.size(cid)) !== undefined) continue;
      await deps.blobs.put(bytes, cid);
      await deps.assets.record(cid, bytes.length);
    }
  };

  r.get('/', async (req, res) => {
    const files = (await readdir(deps.scenesDir).catch(() => [])).filter((f) => f.endsWith('.json')).sort();
    const samples: SampleScene[] = [];
    for (const file of files) {
      try {
        const path = join(deps.scenesDir, file);
        const modified = (await stat(path)).mtimeMs;
        let entry = packed.get(file);
        if (entry?.modified !== modified) {
          const json: unknown = JSON.parse(await readFile(path, 'utf8'));
          const { manifest, assets } = await packAssets(json, ASSET_MIN_BYTES);
          entry = { modified, sample: { file, ...summaryOf(parseScene(json)), scene: manifest }, assets };
          packed.set(file, entry);
        }
        await store(entry.assets);
        samples.push(entry.sample);
      } catch (err) {
        // A broken sample is the operator's to fix; the others are still offered.
        req.log?.warn({ file, err: (err as Error).message }, 'sample scene skipped');
      }
    }
    res.json({ scenes: samples });
  });

  // Base64 makes the files a third larger than the assets they become. Two imports at that size
  // read at once, one of them a requester's.
  const importLimit = Math.ceil(deps.maxAssetBytes * 1.4);
  const importing = new ByteBudget(2 * importLimit, importLimit);
  r.post('/import', meteredUpload(importing, deps.limits.assetMiB, importLimit, readJson(importLimit)), async (req, res) => {
    const { files } = GltfImportRequest.parse(req.body ?? {});
    const bytes = new Map(Object.entries(files).map(([name, b64]) => [name, Buffer.from(b64, 'base64')]));
    await deps.storage.assertWritable();
    const names = [...bytes.keys()];
    const main = names.find((n) => /\.glb$/i.test(n)) ?? names.find((n) => /\.gltf$/i.test(n));
    if (!main)
      throw new HttpError(400, 'Invalid glTF', 'no .glb or .gltf among the files', [{ path: 'files', message: 'needs a .glb or a .gltf' }]);
    const imported = await importFiles(main, bytes).catch((e: Error) => {
      if (e instanceof ImportLimitError) throw overFarmLimits([{ path: `scene.${e.path}`, message: `${main}: ${e.message}` }]);
      throw new HttpError(400, 'Invalid glTF', `${main}: not a glTF 2.0 file the farm can read: ${e.message}`, [
        { path: `files.${main}`, message: e.message },
      ]);
    });
    const scene = parseScene(imported.scene);
    const { manifest, assets } = await packAssets(imported.scene, ASSET_MIN_BYTES);
    // What the form cannot change (its size, samples and frames it can) must fit before anything is stored.
    // Each asset counted at every use, as a job's estimate counts them.
    const assetBytes = useBytes(assetUses(manifest), (cid) => assets.get(cid)?.length);
    const over = farmLimitIssues(scene, deps.farmLimits, { assetBytes, contentOnly: true });
    if (over.length > 0) throw overFarmLimits(nested('scene', over));
    await store(assets);
    const view: ImportedSceneView = { file: main, ...summaryOf(scene), scene: manifest, warnings: imported.warnings };
    res.json(view);
  });
  return r;
}

/**
 * A .glb, or a .gltf whose buffers and images are among the other files: by the relative name it
 * gives them, or by their base name (a browser's file picker gives no folders).
 */
async function importFiles(main: string, files: ReadonlyMap<string, Uint8Array>) {
  const bytes = files.get(main) as Uint8Array;
  const name = main.replace(/\.(glb|gltf)$/i, '');
  if (/\.glb$/i.test(main)) return sceneFromJsonDocument(await new NodeIO().binaryToJSON(bytes), name);
  const json = JSON.parse(new TextDecoder().decode(bytes)) as JSONDocument['json'];
  const resources: JSONDocument['resources'] = {};
  for (const { uri } of [...(json.buffers ?? []), ...(json.images ?? [])]) {
    if (!uri || uri.startsWith('data:')) continue;
    const file = files.get(uri) ?? files.get(uri.split('/').pop() as string);
    if (file) resources[uri] = new Uint8Array(file);
  }
  return sceneFromJsonDocument({ json, resources }, name);
}
