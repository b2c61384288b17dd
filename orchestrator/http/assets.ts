/**
 * Scene assets by content id (shared/assets.ts): PUT /api/assets/:cid stores bytes whose CID the
 * orchestrator recomputes (a body that is not what its name says is refused), GET answers whether
 * an asset is stored, so a client uploads each asset once — from the asset index, which never
 * names a result (state/assets.ts). Uploads are metered in MiB per
 * requester per minute, since they fill the store before any job pays for them; an asset no job
 * refers to is collected after the blob grace.
 */
import { Router } from 'express';
import { Ids } from '../../shared/protocol.ts';
import { cidOfBytes } from '../../shared/unixfs.ts';
import type { ContentStore } from '../content/store.ts';
import type { AssetIndex } from '../state/assets.ts';
import type { StorageMonitor } from '../storage.ts';
import { meteredUpload, readRaw } from './bodies.ts';
import { ByteBudget } from './byte-budget.ts';
import { consume, type Limits } from './limits.ts';
import { HttpError, param } from './problem.ts';

export interface AssetRoutesDeps {
  blobs: ContentStore;
  assets: AssetIndex;
  limits: Limits;
  storage: StorageMonitor;
  /** Largest asset, and largest total of one scene's assets. */
  maxAssetBytes: number;
}

export function assetRoutes(deps: AssetRoutesDeps): Router {
  const r = Router();
  r.get('/:cid', async (req, res) => {
    const cid = param(req, 'cid', Ids.cid);
    await consume(deps.limits.estimate, req.principal?.owner as string, res);
    const bytes = await deps.assets.size(cid);
    if (bytes === undefined) throw new HttpError(404, 'Not found', `no asset ${cid}`);
    res.json({ cid, bytes });
  });
  // Two assets at the limit read at once, one of them a requester's.
  const reading = new ByteBudget(2 * deps.maxAssetBytes, deps.maxAssetBytes);
  r.put('/:cid', meteredUpload(reading, deps.limits.assetMiB, deps.maxAssetBytes, readRaw(deps.maxAssetBytes)), async (req, res) => {
    const cid = param(req, 'cid', Ids.cid);
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    await deps.storage.assertWritable();
    const actual = await cidOfBytes(body);
    if (actual !== cid)
      throw new HttpError(400, 'Invalid asset', `the body's CID is ${actual}, not ${cid}`, [
        { path: 'cid', message: `the body is ${actual}` },
      ]);
    await deps.blobs.put(body, cid);
    await deps.assets.record(cid, body.length);
    res.status(201).json({ cid, bytes: body.length });
  });
  return r;
}
