/**
 * A farm's own scene limits (shared/farm-limits.ts): settings that lower the protocol's caps, never
 * above them; a farm started with lowered limits publishes them, takes a scene at each limit and
 * refuses one past it — on estimate, submission and glTF import — by path, naming the setting;
 * `farm submit` refuses before it uploads anything.
 */
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Document, NodeIO } from '@gltf-transform/core';
import express from 'express';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RequesterClient } from '../cli/requester.ts';
import { submitCommand } from '../cli/submit.ts';
import { configFromEnv, OrchestratorConfig } from '../orchestrator/config.ts';
import { packAssets } from '../shared/assets.ts';
import { type FarmLimits, farmLimitIssues, inRequest } from '../shared/farm-limits.ts';
import type { JobEstimate } from '../shared/protocol.ts';
import { LIMITS, parseScene, type SceneInput } from '../shared/scene.ts';
import { withTriangle } from './support/gltf.ts';
import { type ApiFarm, fundOperator, OPERATOR_TOKEN, startApiFarm } from './support/orchestrator.ts';
import { problem } from './support/problem.ts';

const LOWERED: FarmLimits = {
  maxTriangles: 100,
  maxTextureSize: 8,
  maxTexels: 100,
  maxFrames: 3,
  maxPixels: 16 * 16,
  maxSpp: 8,
  maxAssetBytes: 8192,
};

/** An n × n grid of quads: 2n² triangles. */
function grid(n: number) {
  const positions: number[] = [];
  const indices: number[] = [];
  for (let y = 0; y <= n; y++) for (let x = 0; x <= n; x++) positions.push(x / n - 0.5, y / n - 0.5, 0);
  for (let y = 0; y < n; y++)
    for (let x = 0; x < n; x++) {
      const a = y * (n + 1) + x;
      indices.push(a, a + 1, a + n + 2, a, a + n + 2, a + n + 1);
    }
  return { positions, indices };
}

interface Shape {
  /** Instances of the 50-triangle mesh. */
  copies?: number;
  textures?: [number, number][];
  width?: number;
  height?: number;
  spp?: number;
  frames?: number;
}

/** A scene exactly at LOWERED's limits unless `shape` says otherwise. */
function sceneOf(shape: Shape = {}): SceneInput {
  const { copies = 1, textures = [[8, 8]], width = 16, height = 16, spp = 8, frames = 3 } = shape;
  return {
    version: 1,
    render: { width, height, spp, maxBounces: 2 },
    camera: { position: [0, 0, 3], lookAt: [0, 0, 0], fov: 40 },
    materials: [{ name: 'white', type: 'diffuse', albedo: [0.8, 0.8, 0.8] }],
    textures: textures.map(([w, h], i) => ({ name: `t${i}`, width: w, height: h, rgba: Buffer.alloc(w * h * 4, 90).toString('base64') })),
    objects: [
      { type: 'mesh', id: 'grid', material: 'white', ...grid(5) },
      ...Array.from({ length: copies }, (_, i) => ({
        type: 'instance' as const,
        of: 'grid',
        matrix: [1, 0, 0, i + 1, 0, 1, 0, 0, 0, 0, 1, 0],
      })),
    ],
    animation: frames > 1 ? { frameCount: frames } : undefined,
  };
}

const issues = (shape: Shape, check = {}) => farmLimitIssues(parseScene(sceneOf(shape)), LOWERED, check);

describe('farm limits, checked by a pure function', () => {
  it('takes a scene at every limit', () => {
    expect(issues({}, { assetBytes: LOWERED.maxAssetBytes })).toEqual([]);
  });

  it('refuses each limit passed by the path of what passed it, naming the limit and the setting', () => {
    expect(issues({ copies: 2 })).toEqual([
      { path: 'objects', message: 'scene has 150 triangles, this farm takes at most 100 (FARM_MAX_TRIANGLES)' },
    ]);
    expect(
      issues({
        textures: [
          [4, 4],
          [4, 9],
        ],
      }),
    ).toEqual([{ path: 'textures[1].height', message: 'texture "t1" is 4×9, this farm takes at most 8 (FARM_MAX_TEXTURE_SIZE)' }]);
    expect(
      issues({
        textures: [
          [8, 8],
          [6, 6],
        ],
      }),
    ).toEqual([]);
    expect(
      issues({
        textures: [
          [8, 8],
          [6, 7],
        ],
      }),
    ).toEqual([{ path: 'textures', message: 'textures hold 106 texels, this farm takes at most 100 (FARM_MAX_TEXELS)' }]);
    expect(issues({}, { assetBytes: 8193 })).toEqual([
      { path: 'assets', message: "the scene's assets hold 8193 bytes, this farm takes at most 8192 (FARM_MAX_ASSET_BYTES)" },
    ]);
    expect(issues({ width: 17, spp: 9, frames: 4 })).toEqual([
      { path: 'render.width', message: '17×16 is 272 pixels a frame, this farm takes at most 256 (FARM_MAX_PIXELS)' },
      { path: 'render.spp', message: '9 samples per pixel, this farm takes at most 8 (FARM_MAX_SPP)' },
      { path: 'animation.frameCount', message: 'the job renders 4 frames, this farm takes at most 3 (FARM_MAX_FRAMES)' },
    ]);
  });

  it('counts the frames a job renders, and leaves a job’s size out of an import’s check', () => {
    expect(issues({ frames: 4 }, { frames: 3 })).toEqual([]);
    expect(issues({ width: 64, spp: 100, frames: 40, copies: 2 }, { contentOnly: true }).map((i) => i.path)).toEqual(['objects']);
  });

  it('gives a job request’s own field where it overrides the scene’s', () => {
    const found = issues({ width: 17, spp: 9, frames: 4, copies: 2 });
    expect(inRequest(found, {}).map((i) => i.path)).toEqual([
      'scene.objects',
      'scene.render.width',
      'scene.render.spp',
      'scene.animation.frameCount',
    ]);
    expect(inRequest(found, { height: 17, spp: 9, frames: '0-3' }).map((i) => i.path)).toEqual([
      'scene.objects',
      'height',
      'spp',
      'frames',
    ]);
  });
});

describe('farm limit settings', () => {
  it('default to the protocol’s caps and may lower them, from FARM_* variables too', () => {
    const config = OrchestratorConfig.parse({});
    expect([config.maxTriangles, config.maxTextureSize, config.maxTexels, config.maxFrames, config.maxPixels, config.maxSpp]).toEqual([
      LIMITS.maxTriangles,
      LIMITS.maxTextureSize,
      LIMITS.maxTexels,
      LIMITS.maxFrames,
      LIMITS.maxPixels,
      LIMITS.maxSpp,
    ]);
    expect(config.maxAssetBytes).toBe(LIMITS.maxAssetBytes);
    const lowered = OrchestratorConfig.parse(
      configFromEnv({ FARM_MAX_TRIANGLES: '1000', FARM_MAX_SPP: '64', FARM_MAX_TEXTURE_SIZE: '512' }),
    );
    expect([lowered.maxTriangles, lowered.maxSpp, lowered.maxTextureSize]).toEqual([1000, 64, 512]);
  });

  it('reads MiB settings from FARM_…_MIB… names, MiB one word', () => {
    const config = OrchestratorConfig.parse(
      configFromEnv({ FARM_ASSET_MIB_PER_MINUTE: '7', FARM_GATEWAY_MIB_PER_MINUTE: '8', FARM_GATEWAY_CACHE_MIB: '9' }),
    );
    expect([config.assetMiBPerMinute, config.gatewayMiBPerMinute, config.gatewayCacheMiB]).toEqual([7, 8, 9]);
  });

  it('refuses a gateway in-flight bound that could never send the largest scene and its assets', () => {
    const refused = OrchestratorConfig.safeParse(configFromEnv({ FARM_GATEWAY_IN_FLIGHT_MIB: '100' }));
    expect(refused.error?.issues.map((i) => [i.path.join('.'), i.message])).toEqual([
      ['gatewayInFlightMiB', expect.stringMatching(/^FARM_GATEWAY_IN_FLIGHT_MIB must hold a scene and its assets/)],
    ]);
    expect(OrchestratorConfig.parse(configFromEnv({ FARM_GATEWAY_IN_FLIGHT_MIB: '288' })).gatewayInFlightMiB).toBe(288);
  });

  it('refuses a poll longer than the lease, in which an idle worker could drop out of the online window', () => {
    const refused = OrchestratorConfig.safeParse(configFromEnv({ FARM_POLL_MS: '10001', FARM_LEASE_MS: '10000' }));
    expect(refused.error?.issues.map((i) => [i.path.join('.'), i.message])).toEqual([
      ['pollMs', expect.stringMatching(/^FARM_POLL_MS must be at most FARM_LEASE_MS/)],
    ]);
    expect(OrchestratorConfig.parse(configFromEnv({ FARM_POLL_MS: '10000', FARM_LEASE_MS: '10000' })).pollMs).toBe(10000);
  });

  it('refuses a setting above the protocol’s cap, saying so', () => {
    const refused = OrchestratorConfig.safeParse(
      configFromEnv({ FARM_MAX_TRIANGLES: String(LIMITS.maxTriangles + 1), FARM_MAX_ASSET_BYTES: String(LIMITS.maxAssetBytes + 1) }),
    );
    expect(refused.success).toBe(false);
    expect(refused.error?.issues.map((i) => [i.path.join('.'), i.message])).toEqual([
      [
        'maxAssetBytes',
        `FARM_MAX_ASSET_BYTES may not exceed the protocol's cap of ${LIMITS.maxAssetBytes}: every worker renders up to it, a farm may only lower it`,
      ],
      [
        'maxTriangles',
        `FARM_MAX_TRIANGLES may not exceed the protocol's cap of ${LIMITS.maxTriangles}: every worker renders up to it, a farm may only lower it`,
      ],
    ]);
  });
});

describe('a farm with lowered limits', () => {
  let api: ApiFarm;
  beforeAll(async () => {
    api = await startApiFarm(LOWERED);
    await fundOperator(api, 1000);
  });
  afterAll(() => api.stop());

  const job = (scene: SceneInput, extra: Record<string, unknown> = {}) => ({
    scene,
    tileSize: 16,
    verification: 'quorum',
    replicas: 1,
    ...extra,
  });

  it('publishes its limits', async () => {
    const res = await api.operator('/api/limits');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(LOWERED);
  });

  it('takes a job at its limits, estimated and submitted', async () => {
    expect((await api.operator('/api/jobs/estimate', job(sceneOf()))).status).toBe(200);
    expect((await api.operator('/api/jobs', job(sceneOf()))).status).toBe(201);
    // Four frames of which it renders three.
    expect((await api.operator('/api/jobs', job(sceneOf({ frames: 4 }), { frames: '1-3' }))).status).toBe(201);
  });

  it('refuses a job past them, by path, naming each setting, on estimate and on submission', async () => {
    for (const path of ['/api/jobs/estimate', '/api/jobs']) {
      const refused = await problem(await api.operator(path, job(sceneOf({ copies: 2, frames: 4 }), { spp: 9 })), 400);
      expect(refused.title).toBe('Over the farm limits');
      expect(refused.errors).toEqual([
        { path: 'scene.objects', message: 'scene has 150 triangles, this farm takes at most 100 (FARM_MAX_TRIANGLES)' },
        { path: 'spp', message: '9 samples per pixel, this farm takes at most 8 (FARM_MAX_SPP)' },
        { path: 'scene.animation.frameCount', message: 'the job renders 4 frames, this farm takes at most 3 (FARM_MAX_FRAMES)' },
      ]);
    }
    const wide = await problem(await api.operator('/api/jobs', job(sceneOf({ textures: [[9, 2]] }), { width: 32 })), 400);
    expect(wide.errors?.map((e) => e.path)).toEqual(['scene.textures[0].width', 'width']);
  });

  it('refuses a manifest whose assets together pass FARM_MAX_ASSET_BYTES', async () => {
    const scene = sceneOf({ copies: 0 });
    // Two meshes of 624 float64 positions (4,992 bytes each): each asset fits, both do not.
    const mesh = (z: number) => ({
      type: 'mesh' as const,
      material: 'white',
      positions: Array.from({ length: 624 }, (_, i) => (i % 3 === 2 ? z : i / 1000)),
      indices: [0, 1, 2],
    });
    const { manifest, assets } = await packAssets({ ...scene, objects: [mesh(0), mesh(1)] }, 4096);
    expect(assets.size).toBe(2);
    await new RequesterClient(api.farm.url, OPERATOR_TOKEN).uploadAssets(assets);
    const refused = await problem(await api.operator('/api/jobs/estimate', job(manifest as SceneInput)), 400);
    // Judged from the asset index before either is read, at the first reference past the limit.
    expect(refused.title).toBe('Over the farm limits');
    expect(refused.errors).toEqual([
      {
        path: 'scene.objects[1].positions',
        message: "the scene's assets hold 9984 bytes, this farm takes at most 8192 (FARM_MAX_ASSET_BYTES)",
      },
    ]);
  });

  it('refuses a glTF import whose textures pass its limits, by path, and takes one within them', async () => {
    const glb = async (side: number) => {
      const doc = new Document();
      const png = await sharp(Buffer.alloc(side * side * 4, 200), { raw: { width: side, height: side, channels: 4 } })
        .png()
        .toBuffer();
      withTriangle(
        doc,
        doc.createMaterial('painted').setBaseColorTexture(doc.createTexture('paint').setImage(png).setMimeType('image/png')),
      );
      return Buffer.from(await new NodeIO().writeBinary(doc)).toString('base64');
    };
    const refused = await problem(await api.operator('/api/scenes/import', { files: { 'big.glb': await glb(16) } }), 400);
    expect(refused.errors).toEqual([
      { path: 'scene.textures[0].width', message: 'texture "t0-paint" is 16×16, this farm takes at most 8 (FARM_MAX_TEXTURE_SIZE)' },
      { path: 'scene.textures', message: 'textures hold 256 texels, this farm takes at most 100 (FARM_MAX_TEXELS)' },
    ]);
    // Its render size and samples are the form's to lower: an import is not refused for them.
    expect((await api.operator('/api/scenes/import', { files: { 'small.glb': await glb(8) } })).status).toBe(200);
  });

  it('is checked by farm submit before it uploads anything', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'farm-limits-'));
    const path = join(dir, 'big.json');
    // 7,200 triangles whose positions and indices (89 and 86 KB) would travel as assets.
    const scene = { ...sceneOf({ copies: 0 }), objects: [{ type: 'mesh', material: 'white', ...grid(60) }] };
    writeFileSync(path, JSON.stringify(scene));
    const flags = {
      orchestrator: api.farm.url,
      token: OPERATOR_TOKEN,
      tile: '16',
      verification: 'quorum' as const,
      epsilon: '0.0001',
      replicas: '1',
      priority: '50',
      out: dir,
    };
    const failure = await submitCommand(path, flags).catch((e: Error) => e);
    expect((failure as Error).message).toMatch(/nothing was uploaded/);
    expect((failure as Error).message).toContain(
      'scene.objects: scene has 7200 triangles, this farm takes at most 100 (FARM_MAX_TRIANGLES)',
    );
    expect((failure as Error).message).toMatch(
      /scene\.assets: the scene's assets hold \d+ bytes, this farm takes at most 8192 \(FARM_MAX_ASSET_BYTES\)/,
    );
    const { assets } = await packAssets(scene, 64 * 1024);
    expect(assets.size).toBe(2);
    for (const cid of assets.keys()) expect((await api.operator(`/api/assets/${cid}`)).status).toBe(404);
  });
});

describe('farm submit against a farm older than GET /api/limits', () => {
  it('skips the check the farm cannot answer (404) and goes on: the farm checks the job itself', async () => {
    // The older farm: no /api/limits (express answers 404), an estimate for whatever it is asked.
    const asked: unknown[] = [];
    const app = express().post('/api/jobs/estimate', express.json(), (req, res) => {
      asked.push(req.body);
      const quote: JobEstimate = { tasks: 1, maxRu: 0.001, redundancy: 1, price: null, hold: 0, basis: 'quote', balance: 10 };
      res.json(quote);
    });
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const path = join(mkdtempSync(join(tmpdir(), 'farm-older-')), 'small.json');
      writeFileSync(path, JSON.stringify(sceneOf()));
      const flags = {
        orchestrator: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        token: OPERATOR_TOKEN,
        tile: '16',
        verification: 'quorum' as const,
        epsilon: '0.0001',
        replicas: '1',
        priority: '50',
        estimate: true,
        out: tmpdir(),
      };
      await submitCommand(path, flags);
      expect(asked).toEqual([expect.objectContaining({ tileSize: 16, scene: expect.objectContaining({ version: 1 }) })]);
    } finally {
      server.close();
    }
  });
});
