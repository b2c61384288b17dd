/**
 * Assets by content id: a scene packed into a manifest and assets resolves back to itself exactly
 * (mesh numbers are float64), identical assets are one; an orchestrator stores an asset only under
 * its own CID, refuses a manifest naming one it lacks with the path, stores the manifest without
 * the assets and lets a worker read them only while it holds the job's work; and a real farm
 * renders a textured, HDRI-lit scene from assets bit-identical to a local render, each worker
 * fetching each asset once.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Document, NodeIO } from '@gltf-transform/core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RequesterClient } from '../cli/requester.ts';
import { assetLimitIssues, assetUses, MAX_ASSET_USES, manifestOf, packAssets, resolveAssets } from '../shared/assets.ts';
import { decodeRgba } from '../shared/png.ts';
import type { Assignment, ImportedSceneView, TaskView } from '../shared/protocol.ts';
import { encodeRadiance } from '../shared/radiance.ts';
import { LIMITS, parseScene, SceneError, type SceneInput } from '../shared/scene.ts';
import { cidOfBytes } from '../shared/unixfs.ts';
import { AssetCache } from '../worker/asset-cache.ts';
import { Renderer } from '../worker/render/renderer.ts';
import { TestFarm } from './support/farm.ts';
import { withTriangle } from './support/gltf.ts';
import { type ApiFarm, fundOperator, OPERATOR_TOKEN, oneTileJob, startApiFarm, uploadShade } from './support/orchestrator.ts';
import { problem } from './support/problem.ts';
import { shippedRaw } from './support/scenes.ts';

/** A textured quad on a ground mesh under an HDRI sky: every kind of asset. */
function assetScene(): SceneInput {
  const texels = Buffer.from(Array.from({ length: 16 * 16 * 4 }, (_, i) => (i * 37 + (i >> 6) * 11) % 256));
  const sky = encodeRadiance({ width: 16, height: 8, rgb: Float32Array.from({ length: 16 * 8 * 3 }, (_, i) => 0.2 + (i % 7) / 5) });
  return {
    version: 1,
    render: { width: 24, height: 24, spp: 4, maxBounces: 2 },
    camera: { position: [0, 0.4, 3], lookAt: [0, 0, 0], fov: 50 },
    environment: { hdr: Buffer.from(sky).toString('base64') },
    textures: [
      { name: 'paint', width: 16, height: 16, rgba: texels.toString('base64') },
      { name: 'same paint', width: 16, height: 16, rgba: texels.toString('base64') },
    ],
    materials: [
      { name: 'painted', type: 'diffuse', albedo: [1, 1, 1], albedoTexture: 'paint' },
      { name: 'ground', type: 'diffuse', albedo: [0.5, 0.5, 0.5], albedoTexture: 'same paint' },
    ],
    objects: [
      {
        type: 'mesh',
        material: 'painted',
        positions: [-1, -1, 0, 1, -1, 0, 1, 1, 0, -1, 1, 0],
        indices: [0, 1, 2, 0, 2, 3],
        uvs: [0, 1, 1, 1, 1, 0, 0, 0],
      },
      {
        type: 'mesh',
        material: 'ground',
        // Numbers an f32 could not hold: packing must not round them.
        positions: [-3, -1.1, -3, 3, -1.1, -3, 3, -1.1, 3.1, -3, -1.1, 3.1].map((v) => v + 0.1),
        indices: [0, 2, 1, 0, 3, 2],
        uvs: [0, 0, 2, 0, 2, 2, 0, 2],
      },
    ],
  };
}

describe('packing and resolving', () => {
  it('resolves a packed scene back to itself exactly; identical assets are one', async () => {
    const scene = assetScene();
    const { manifest, assets } = await packAssets(scene, 0);
    const m = manifest as SceneInput & { textures: { rgba: unknown }[] };
    expect(m.textures[0].rgba).toEqual({ cid: expect.stringMatching(/^baf/) });
    expect(m.textures[1].rgba).toEqual(m.textures[0].rgba);
    // One texture for the two identical ones, the sky, and each mesh's positions, indices and uvs.
    expect(assets.size).toBe(1 + 1 + 6);
    const resolved = await resolveAssets(manifest, async (cid) => assets.get(cid), 1e9);
    expect(resolved.scene).toEqual(scene);
    expect(manifestOf(resolved.scene, resolved.refs)).toEqual(manifest);
    // What a small part would be left inline.
    expect((await packAssets(scene, 64 * 1024)).assets.size).toBe(0);
  });

  it('reports every bad reference with its path, all at once', async () => {
    const { manifest, assets } = await packAssets(assetScene(), 0);
    const m = structuredClone(manifest) as Record<string, any>;
    const missing = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy';
    m.textures[0].rgba = { cid: missing };
    m.textures[1].rgba = { cid: m.environment.hdr.cid, extra: 1 };
    const odd = await cidOfBytes(new Uint8Array(12));
    m.objects[0].positions = { cid: odd };
    const store = new Map([...assets, [odd, new Uint8Array(12)]]);
    const error = await resolveAssets(m, async (cid) => store.get(cid), 1e9).catch((e) => e);
    expect(error).toBeInstanceOf(SceneError);
    expect((error as SceneError).issues).toEqual([
      { path: 'textures[0].rgba', message: `asset ${missing} is not stored: upload it first (PUT /api/assets/${missing})` },
      { path: 'textures[1].rgba', message: 'an asset reference is { "cid": "<CID>" } and nothing else' },
      { path: 'objects[0].positions', message: `asset ${odd} holds 12 bytes, not a whole number of float64s` },
    ]);
    const tooBig = await resolveAssets(manifest, async (cid) => assets.get(cid), 100).catch((e) => e);
    // The first reference past the limit: the first texture's texels (the two textures are one asset, counted twice).
    expect((tooBig as SceneError).issues).toEqual([
      {
        path: 'textures[0].rgba',
        message: expect.stringMatching(/^the scene's assets hold \d+ bytes \(an asset counts at each use\), the limit is 100$/),
      },
    ]);
  });

  it('fetches each distinct asset once however many slots name it, counting its bytes at every use', async () => {
    const { manifest, assets } = await packAssets(assetScene(), 0);
    const m = structuredClone(manifest) as Record<string, any>;
    for (let i = 0; i < 40; i++) m.objects.push(structuredClone(m.objects[0]));
    const fetched: string[] = [];
    const fetch = async (cid: string) => {
      fetched.push(cid);
      return assets.get(cid);
    };
    const resolved = await resolveAssets(m, fetch, 1e9);
    expect(fetched.sort()).toEqual([...assets.keys()].sort());
    const objects = (resolved.scene as { objects: unknown[] }).objects;
    expect(objects).toHaveLength(42);
    for (const o of objects.slice(2)) expect(o).toEqual(assetScene().objects[0]);
    const uses = assetUses(m);
    expect(uses).toHaveLength(2 + 1 + 42 * 3);
    const bytes = uses.reduce((n, { cid }) => n + (assets.get(cid as string)?.length ?? 0), 0);
    // Past the limit only at its uses: refused before anything is decoded, and still fetched once each.
    fetched.length = 0;
    const over = await resolveAssets(m, fetch, bytes - 1).catch((e) => e);
    expect((over as SceneError).issues).toEqual([{ path: 'objects[41].indices', message: expect.stringContaining('counts at each use') }]);
    expect(fetched).toHaveLength(assets.size);
  });

  it('judges uses × size and the number of references from the sizes alone, naming the first reference past the limit', () => {
    const cid = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy';
    const unknown = 'bafkreiaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
    const mesh = (positions: string) => ({ type: 'mesh', positions: { cid: positions }, indices: [0, 1, 2] });
    const uses = assetUses({
      objects: [mesh(unknown), ...Array.from({ length: 5 }, () => mesh(cid)), { type: 'mesh', uvs: { cid, x: 1 } }],
    });
    expect(uses.map((u) => u.cid)).toEqual([unknown, cid, cid, cid, cid, cid, undefined]);
    const sizeOf = (c: string) => (c === cid ? 100 : undefined);
    // An unknown asset counts nothing: the index alone answers, and it is reported as not stored later.
    expect(assetLimitIssues(uses, sizeOf, 500)).toEqual([]);
    expect(assetLimitIssues(uses, sizeOf, 350, 'FARM_MAX_ASSET_BYTES')).toEqual([
      {
        path: 'objects[4].positions',
        message: "the scene's assets hold 500 bytes (an asset counts at each use), this farm takes at most 350 (FARM_MAX_ASSET_BYTES)",
      },
    ]);
    expect(assetLimitIssues(uses, sizeOf, 1e9, undefined, 3)).toEqual([
      { path: 'objects[3].positions', message: 'the scene names 7 assets, a scene holds at most 3' },
    ]);
  });

  it('refuses more references than a scene can hold without fetching any', async () => {
    const cid = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy';
    const objects = Array.from({ length: Math.ceil(MAX_ASSET_USES / 3) + 1 }, () => ({
      type: 'mesh',
      positions: { cid },
      indices: { cid },
      uvs: { cid },
    }));
    let fetches = 0;
    const error = await resolveAssets(
      { objects },
      async () => {
        fetches++;
        return new Uint8Array(8);
      },
      1e9,
    ).catch((e) => e);
    expect((error as SceneError).issues).toEqual([
      {
        path: expect.stringMatching(/^objects\[\d+\]/),
        message: `the scene names ${objects.length * 3} assets, a scene holds at most ${MAX_ASSET_USES}`,
      },
    ]);
    expect(fetches).toBe(0);
  });
});

describe('a worker’s asset cache', () => {
  it('fetches each asset once, shares a fetch in flight, forgets failures, and drops the least recently used past its budget', async () => {
    const fetched: string[] = [];
    const cache = new AssetCache(async (cid) => {
      fetched.push(cid);
      if (cid === 'bad') throw new Error('gateway down');
      return new Uint8Array(cid.length * 10);
    }, 50);
    await Promise.all([cache.get('aa'), cache.get('aa'), cache.get('bb')]);
    await cache.get('aa');
    expect(fetched).toEqual(['aa', 'bb']);
    await expect(cache.get('bad')).rejects.toThrow('gateway down');
    await expect(cache.get('bad')).rejects.toThrow('gateway down');
    expect(fetched.filter((c) => c === 'bad')).toHaveLength(2);
    await cache.get('ccc'); // 20 + 20 + 30 > 50: 'bb' (least recently used) goes
    await cache.get('aa');
    await cache.get('bb');
    expect(fetched).toEqual(['aa', 'bb', 'bad', 'bad', 'ccc', 'bb']);
  });
});

describe('assets on an orchestrator', () => {
  let api: ApiFarm;
  let client: RequesterClient;
  beforeAll(async () => {
    api = await startApiFarm({ maxAssetBytes: 64 * 1024 });
    client = new RequesterClient(api.farm.url, OPERATOR_TOKEN);
    await fundOperator(api, 1000);
  });
  afterAll(() => api.stop());
  const put = (cid: string, body: Uint8Array) =>
    fetch(`${api.farm.url}/api/assets/${cid}`, {
      method: 'PUT',
      body: new Blob([new Uint8Array(body)]),
      headers: { authorization: `Bearer ${OPERATOR_TOKEN}` },
    });

  it('stores an asset only under its own CID, once, and says whether it has one', async () => {
    const bytes = new TextEncoder().encode('texels');
    const cid = await cidOfBytes(bytes);
    const other = await cidOfBytes(new TextEncoder().encode('other texels'));
    expect((await problem(await put(other, bytes), 400)).errors).toEqual([{ path: 'cid', message: `the body is ${cid}` }]);
    expect((await problem(await put('not-a-cid', bytes), 400)).errors?.[0].path).toBe('cid');
    expect((await api.operator(`/api/assets/${cid}`)).status).toBe(404);
    expect(await client.uploadAssets(new Map([[cid, bytes]]))).toEqual({ sent: 1, bytes: 6, storedBytes: 0 });
    expect(await (await api.operator(`/api/assets/${cid}`)).json()).toEqual({ cid, bytes: 6 });
    expect(await client.uploadAssets(new Map([[cid, bytes]]))).toEqual({ sent: 0, bytes: 0, storedBytes: 6 });
    const huge = new Uint8Array(64 * 1024 + 1);
    await problem(await put(await cidOfBytes(huge), huge), 413);
  });

  it('refuses a scene naming one asset more often than the asset bytes allow, from the index alone, before reading it', async () => {
    const bytes = new Uint8Array(new Float64Array(510).buffer); // 4,080 bytes of zeros: 170 vertices
    const cid = await cidOfBytes(bytes);
    await client.uploadAssets(new Map([[cid, bytes]]));
    const job = (uses: number) => {
      const scene = shippedRaw('cornell');
      for (let i = 0; i < uses; i++) scene.objects.push({ type: 'mesh', material: 'grey', positions: { cid }, indices: [0, 1, 2] });
      return { scene, width: 16, height: 16, spp: 1, tileSize: 16 };
    };
    const first = shippedRaw('cornell').objects.length;
    // 16 uses are 65,280 bytes: within 64 KiB.
    expect((await api.operator('/api/jobs/estimate', job(16))).status).toBe(200);
    // Its blob gone but its index entry kept: a refusal that read the blob would say it is not stored.
    rmSync(join(api.dir, 'data', 'blobs', cid.slice(-2), cid));
    for (const path of ['/api/jobs/estimate', '/api/jobs']) {
      const refused = await problem(await api.operator(path, job(17)), 400);
      expect(refused.title).toBe('Over the farm limits');
      expect(refused.errors).toEqual([
        {
          path: `scene.objects[${first + 16}].positions`,
          message: `the scene's assets hold ${17 * 4080} bytes (an asset counts at each use), this farm takes at most ${64 * 1024} (FARM_MAX_ASSET_BYTES)`,
        },
      ]);
    }
  });

  it('never answers for a result: a worker cannot ask whether the tile it holds was answered before (a spot check)', async () => {
    const truth = await api.worker('truth', { trusted: true });
    const { id } = (await (await api.operator('/api/jobs', oneTileJob(1))).json()) as { id: string };
    await uploadShade(truth.client, (await truth.client.next()) as Assignment, 90);
    const { tasks } = (await (await api.operator(`/api/jobs/${id}/tasks?frame=0`)).json()) as { tasks: TaskView[] };
    const result = tasks[0].cid as string;
    expect((await api.operator(`/api/jobs/${id}/tasks/${tasks[0].task}/pixels/${result}`)).status).toBe(200);
    // Stored, but not an asset: the lookup and a scene naming it say the same as for a CID never seen.
    expect((await problem(await api.operator(`/api/assets/${result}`), 404)).detail).toBe(`no asset ${result}`);
    const scene = assetScene();
    const naming = { ...scene, textures: scene.textures?.map((t, i) => (i === 0 ? { ...t, rgba: { cid: result } } : t)) };
    const refused = await problem(await api.operator('/api/jobs/estimate', { scene: naming }), 400);
    expect(refused.errors).toEqual([
      {
        path: 'scene.textures[0].rgba',
        message: `asset ${result} is not stored: upload it first (PUT /api/assets/${result})`,
      },
    ]);
  });

  it('refuses a job whose scene names an asset it lacks, with the path; stores the manifest; lets only a holder read the assets', async () => {
    const { manifest, assets } = await packAssets(assetScene(), 0);
    const [first] = assets.keys();
    const rest = new Map([...assets].filter(([cid]) => cid !== first));
    await client.uploadAssets(rest);
    const job = { scene: manifest, tileSize: 24, verification: 'quorum', replicas: 1 };
    const refused = await problem(await api.operator('/api/jobs', job), 400);
    expect(refused.title).toBe('Invalid scene');
    // The texels of both (identical) textures are that one asset.
    expect(refused.errors).toEqual(
      ['scene.textures[0].rgba', 'scene.textures[1].rgba'].map((path) => ({
        path,
        message: expect.stringContaining(`asset ${first} is not stored`),
      })),
    );
    await client.uploadAssets(assets);
    const submitted = await client.submit(job);
    const outsider = await api.worker('outsider', { trusted: true });
    await expect(outsider.client.blob(first as string)).rejects.toThrow(/404/);
    const holder = await api.worker('holder', { trusted: true });
    const [work] = await holder.client.nextBatch(1);
    expect(work).toBeDefined();
    // The stored scene is the manifest (parsed, with its defaults), and the holder can read each asset.
    const stored = (await holder.client.scene(work.scene)) as Record<string, any>;
    expect(stored.textures[0].rgba).toEqual({ cid: first });
    expect(stored.render.seed).toBe(1);
    for (const [cid, bytes] of assets) expect(Buffer.from(await holder.client.blob(cid)).equals(Buffer.from(bytes))).toBe(true);
    expect(submitted.id).toMatch(/^j/);
  });
});

describe('glTF files imported for the dashboard', () => {
  let api: ApiFarm;
  beforeAll(async () => {
    api = await startApiFarm({ maxAssetBytes: 1024 * 1024 });
  });
  afterAll(() => api.stop());
  const post = (files: Record<string, Uint8Array | string>) =>
    api.operator('/api/scenes/import', {
      files: Object.fromEntries(Object.entries(files).map(([name, b]) => [name, Buffer.from(b).toString('base64')])),
    });

  /** A textured triangle: as a .glb, and as a .gltf naming its buffer and image in a folder. */
  async function triangle() {
    const doc = new Document();
    const png = await sharp(Buffer.alloc(256 * 256 * 4, 200), { raw: { width: 256, height: 256, channels: 4 } })
      .png({ compressionLevel: 0 })
      .toBuffer();
    const texture = doc.createTexture('paint').setImage(png).setMimeType('image/png').setURI('textures/paint.png');
    withTriangle(doc, doc.createMaterial('painted').setBaseColorTexture(texture).setMetallicFactor(0).setAlpha(0.5).setAlphaMode('BLEND'));
    const io = new NodeIO();
    const { json, resources } = await io.writeJSON(doc);
    return { glb: await io.writeBinary(doc), gltf: JSON.stringify(json), resources };
  }

  it('imports a .glb into a manifest whose assets it holds, with its summary and what it left out', async () => {
    const { glb } = await triangle();
    const res = await post({ 'triangle.glb': glb });
    expect(res.status).toBe(200);
    const view = (await res.json()) as ImportedSceneView;
    expect(view).toMatchObject({ file: 'triangle.glb', name: 'triangle', width: 640, height: 480, frames: 1 });
    expect(view.warnings).toEqual(['1 transparent material not supported yet: rendered opaque']);
    const texels = (view.scene as { textures: { rgba: { cid: string } }[] }).textures[0].rgba.cid;
    expect((await api.operator(`/api/assets/${texels}`)).status).toBe(200);
    // The manifest is a job's scene as it is.
    await fundOperator(api, 100);
    expect((await api.operator('/api/jobs/estimate', { scene: view.scene, spp: 1 })).status).toBe(200);
  });

  it('imports a .gltf with its files, found by their base names (a file picker gives no folders)', async () => {
    const { gltf, resources } = await triangle();
    const files = { 'triangle.gltf': gltf, 'geometry.bin': resources['geometry.bin'], 'paint.png': resources['textures/paint.png'] };
    const res = await post(files);
    expect(res.status).toBe(200);
    expect(((await res.json()) as ImportedSceneView).name).toBe('triangle');
    const missing = await problem(await post({ 'triangle.gltf': gltf, 'paint.png': resources['textures/paint.png'] }), 400);
    expect(missing.errors?.[0].path).toBe('files.triangle.gltf');
  });

  it('refuses what is not glTF, names with folders upwards, and no glTF at all, by path', async () => {
    expect((await problem(await post({ 'x.glb': 'not a glb at all' }), 400)).errors).toEqual([
      { path: 'files.x.glb', message: expect.any(String) },
    ]);
    expect((await problem(await post({ 'notes.txt': 'hello' }), 400)).errors).toEqual([
      { path: 'files', message: 'needs a .glb or a .gltf' },
    ]);
    expect((await problem(await post({ '../escape.glb': 'x' }), 400)).errors?.[0].path).toMatch(/^files/);
  });

  it('refuses a readable file whose nodes draw more than a scene may hold as over the limits, not as broken', async () => {
    // One mesh of 5,000 triangles (on three vertices) drawn by 51 nodes: 255,000 triangles.
    const doc = new Document();
    const buffer = doc.createBuffer();
    const prim = doc
      .createPrimitive()
      .setAttribute(
        'POSITION',
        doc
          .createAccessor()
          .setType('VEC3')
          .setArray(new Float32Array([0, 0, 0, 1, 0, 0, 0, 1, 0]))
          .setBuffer(buffer),
      )
      .setIndices(
        doc
          .createAccessor()
          .setType('SCALAR')
          .setArray(new Uint16Array(15_000).map((_, i) => i % 3))
          .setBuffer(buffer),
      );
    const mesh = doc.createMesh('shared').addPrimitive(prim);
    const scene = doc.createScene('crowd');
    for (let i = 0; i < 51; i++) scene.addChild(doc.createNode(`n${i}`).setMesh(mesh).setTranslation([i, 0, 0]));
    const refused = await problem(await post({ 'crowd.glb': await new NodeIO().writeBinary(doc) }), 400);
    expect(refused.title).toBe('Over the farm limits');
    expect(refused.errors).toEqual([
      {
        path: 'scene.objects',
        message: `crowd.glb: scene has over ${LIMITS.maxTriangles} triangles (a mesh counts again on each node that draws it), limit is ${LIMITS.maxTriangles}`,
      },
    ]);
  });
});

describe('asset uploads past the requester’s MiB a minute', () => {
  let api: ApiFarm;
  beforeAll(async () => {
    api = await startApiFarm({ assetMiBPerMinute: 3 });
  });
  afterAll(() => api.stop());

  it('are refused with 429 and Retry-After, each counted as a MiB at least, and nothing is stored', async () => {
    const put = async (text: string) => {
      const body = new TextEncoder().encode(text);
      const cid = await cidOfBytes(body);
      const res = await fetch(`${api.farm.url}/api/assets/${cid}`, {
        method: 'PUT',
        body: new Blob([body]),
        headers: { authorization: `Bearer ${OPERATOR_TOKEN}` },
      });
      return { res, cid };
    };
    for (const text of ['a', 'b', 'c']) expect((await put(text)).res.status).toBe(201);
    const { res, cid } = await put('d');
    await problem(res, 429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await api.operator(`/api/assets/${cid}`)).status).toBe(404);
  });
});

describe('a farm rendering from assets', () => {
  let farm: TestFarm;
  beforeAll(async () => {
    farm = await TestFarm.start();
  });
  afterAll(() => farm.stop());

  it('renders a textured, HDRI-lit scene from assets bit-identical to a local render', async () => {
    await Promise.all(['a', 'b'].map((n) => farm.startWorker(n)));
    const scene = assetScene();
    const { manifest, assets } = await packAssets(scene, 0);
    await farm.client.uploadAssets(assets);
    const { id } = await farm.client.submit({ scene: manifest, tileSize: 12, verification: 'quorum', replicas: 2 });
    expect((await farm.waitForJob(id)).state).toBe('done');
    const stitched = await decodeRgba(await farm.client.download(`/api/jobs/${id}/frames/0`));
    const renderer = await Renderer.open('webasm');
    const local = await renderer.render(parseScene(scene), 0);
    renderer.close();
    expect(Buffer.from(stitched.rgba).equals(Buffer.from(local.rgba))).toBe(true);
  });
});
