import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalCid } from '../shared/image.ts';
import { maxRaysPerSample, tooCostly } from '../shared/render-units.ts';
import { parseScene } from '../shared/scene.ts';
import { tileGrid } from '../shared/tile.ts';
import { openBackend } from '../worker/render/backend.ts';
import { compileScene } from '../worker/render/compile.ts';
import { packedCells, packResults } from '../worker/render/packed-cells.ts';
import { Renderer, spreadRows, TooCostlyError } from '../worker/render/renderer.ts';
import { useRenderers } from './support/renderers.ts';
import { crossingRods, psnr, scene, shipped, shippedRaw, stackedTriangles } from './support/scenes.ts';

const on = useRenderers(['webasm', 'cpu']);

async function hashOf(r: Renderer, s: ReturnType<typeof shipped>, frame: number): Promise<string> {
  const img = await r.render(s, frame);
  return canonicalCid(img);
}

describe('determinism', () => {
  it('renders the same frame to the same hash, and a different seed or frame to another', async () => {
    const r = on('webasm');
    const base = shipped('bounce', { width: 48, height: 32, spp: 4 });
    const first = await hashOf(r, base, 5);
    expect(await hashOf(r, base, 5)).toBe(first);
    expect(await hashOf(r, parseScene({ ...shippedRaw('bounce'), render: { ...base.render, seed: 99 } }), 5)).not.toBe(first);
    expect(await hashOf(r, base, 6)).not.toBe(first);
    expect(first).toMatch(/^bafkrei[a-z2-7]{52}$/);
  });
});

describe('a worker that met other scenes first', () => {
  // Scenes of up to 16 primitives share the kernel's constants when their primitives, tile shape,
  // sample group and bounces agree; gpu.js bakes the sizes of a kernel's arrays into it, so the
  // kernel must be another for other sizes (one material more): an attacker's review had a worker
  // fail every such tile after a look-alike, and a requester fail another's job as poison.
  it('renders a tile as a fresh worker does after a scene of the same constants and other sizes', async () => {
    const raw = shippedRaw('cornell') as { materials: unknown[] };
    const victim = shipped('cornell', { width: 64, height: 48, spp: 8 });
    const lookAlike = parseScene({
      ...raw,
      render: victim.render,
      materials: [...raw.materials, { name: 'unused', type: 'diffuse', albedo: [0, 0, 0] }],
    });
    const tile = { x: 0, y: 0, width: 32, height: 32 };
    const fresh = await Renderer.open('webasm');
    try {
      const want = await canonicalCid(await fresh.render(victim, 0, { tile }));
      await on('webasm').render(lookAlike, 0, { tile });
      expect(await canonicalCid(await on('webasm').render(victim, 0, { tile }))).toBe(want);
    } finally {
      fresh.close();
    }
  });
});

describe('what a ray may cost', () => {
  // A scene whose every ray tests thousands of stacked triangles had cost a worker thousands of
  // times a typical ray's time, paid as one ray: its tiles ran past the task timeout, a penalty
  // for each worker that took one. The kernel counts the boxes and primitives each cell's rays
  // visit, as deterministically as its pixels: a tile whose rays average over WORK_PER_RAY is
  // refused, and a cell stops past CELL_WORK_PER_RAY a ray.
  it('refuses a tile whose rays each test thousands of triangles, on every backend, whatever the bounces', async () => {
    // 32 bounces had given each cell 67 rays' worth of slack: 12,000 triangles passed (an attacker's review).
    for (const maxBounces of [2, 32]) {
      const stack = parseScene(stackedTriangles(12_000, { maxBounces }));
      for (const backend of ['webasm', 'cpu'] as const) await expect(on(backend).render(stack, 0)).rejects.toThrow(TooCostlyError);
    }
    // Every path ending at its first hit (an emissive stack) at 1 spp: a cell is one ray, whose
    // rounding a quantum of 2,048 had forgiven up to twice the bound (a review).
    await expect(on('webasm').render(parseScene(stackedTriangles(1280, { spp: 1, maxBounces: 32 }, 'lamp')), 0)).rejects.toThrow(
      TooCostlyError,
    );
    // Under the bound the same geometry renders, alike on both: fewer triangles a ray than it allows.
    const few = await on('webasm').render(parseScene(stackedTriangles(200)), 0);
    expect(few.rays).toBeGreaterThan(0);
    expect(await canonicalCid(await on('cpu').render(parseScene(stackedTriangles(200)), 0))).toBe(await canonicalCid(few));
  });

  it('refuses a tile early only where its end would refuse it too, whatever is left', () => {
    const cell = fc.record({ rays: fc.integer({ min: 1, max: 67 }), quanta: fc.integer({ min: 0, max: 9000 }) });
    fc.assert(
      fc.property(fc.array(cell, { minLength: 1, maxLength: 40 }), fc.nat(), (cells, at) => {
        const cut = at % cells.length;
        const sum = (cs: typeof cells) => ({
          rays: cs.reduce((n, c) => n + c.rays, 0),
          quanta: cs.reduce((n, c) => n + c.quanta, 0),
          cells: cs.length,
        });
        const rest = { cells: cells.length - cut, rays: (cells.length - cut) * 67 };
        if (tooCostly(sum(cells.slice(0, cut)), 128, rest)) expect(tooCostly(sum(cells), 128)).toBe(true);
      }),
    );
  });

  it('renders honest dense scenes: the knot, and thin rods crossing whose worst pixels go far past the average', async () => {
    // Judged a cell at a time, a few pixels of these had failed the whole job as poison.
    const knot = await on('webasm').render(shipped('knot', { width: 64, height: 48, spp: 4 }), 0);
    expect(knot.rays).toBeGreaterThan(64 * 48 * 4);
    const rods = await on('webasm').render(parseScene(crossingRods(200)), 0);
    expect(rods.rays).toBeGreaterThan(48 * 36 * 16);
  });
});

describe('frames of one scene', () => {
  // A camera flying through a still scene changes no object's placement: its geometry (the BVH
  // of up to 250,000 triangles) is kept from frame to frame; where objects move it is not.
  it('keeps the geometry while only the camera moves, each frame compiled as on its own', async () => {
    const raw = shippedRaw('bounce');
    const still = parseScene({ ...raw, name: 'still', animation: { ...raw.animation, objects: {} } });
    const moving = parseScene({ ...raw, name: 'moving' });
    const r = on('webasm');
    const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    for (const [s, kept] of [
      [still, true],
      [moving, false],
    ] as const) {
      const first = r.compile(s, 0);
      for (const frame of [12, 30]) {
        const next = r.compile(s, frame);
        expect(next.prims === first.prims, `${s.name}: kept`).toBe(kept);
        const alone = compileScene(s, frame);
        for (const k of ['prims', 'nodes', 'materials', 'lights', 'uvs', 'camera'] as const)
          expect(bytes(next[k]).equals(bytes(alone[k])), `${s.name} frame ${frame}: ${k}`).toBe(true);
      }
    }
  });
});

describe('a render asked to stop', () => {
  it('stops between calls, having told its progress in part rows', async () => {
    const stop = new AbortController();
    const told: number[] = [];
    const render = on('cpu').render(shipped('cornell', { width: 32, height: 8, spp: 1024 }), 0, {
      signal: stop.signal,
      onProgress: (done) => {
        told.push(done);
        stop.abort();
      },
    });
    await expect(render).rejects.toThrow(/aborted/);
    expect(told).toHaveLength(1);
    expect(told[0]).toBeGreaterThan(0);
    expect(told[0]).toBeLessThan(8);
  });
});

describe('tile invariance', () => {
  // 25 spp is two groups a pixel, of 16 samples and of 9 (sample-plan.ts), added in order. On
  // webasm the full frame is two calls on gpu.js's worker pool (the second queued while the first
  // runs), each padded with empty rows to occupy every thread, and tiles one padded call; on cpu
  // the full frame is four calls. Odd tile widths are padded to whole SIMD quads.
  const frame = shipped('cornell', { width: 96, height: 64, spp: 25 });
  const scenes = { webasm: frame, cpu: frame };

  it.each([
    ['webasm', 32],
    ['webasm', 13],
    ['webasm', 40],
    ['cpu', 32],
    ['cpu', 13],
  ] as const)('%s tiles of %i px equal the full frame exactly', async (backend, size) => {
    const r = on(backend);
    const s = scenes[backend];
    const full = await r.render(s, 0);
    for (const t of tileGrid(96, 64, size)) {
      const tile = await r.render(s, 0, { tile: t });
      for (let y = 0; y < t.height; y++) {
        const row = (t.y + y) * 96 + t.x;
        expect(
          Buffer.from(tile.linear.subarray(y * t.width * 3, (y + 1) * t.width * 3)).equals(
            Buffer.from(full.linear.subarray(row * 3, (row + t.width) * 3)),
          ),
        ).toBe(true);
        expect(
          Buffer.from(tile.rgba.subarray(y * t.width * 4, (y + 1) * t.width * 4)).equals(
            Buffer.from(full.rgba.subarray(row * 4, (row + t.width) * 4)),
          ),
        ).toBe(true);
      }
    }
  });

  it.each(['webasm', 'cpu'] as const)('%s counts the rays it traces: the same in every tiling and every render', async (backend) => {
    const r = on(backend);
    const s = scenes[backend];
    const full = await r.render(s, 0);
    // At least the camera ray of each sample, at most every ray a sample may trace.
    const samples = 96 * 64 * s.render.spp;
    expect(full.rays).toBeGreaterThan(samples);
    expect(full.rays).toBeLessThanOrEqual(samples * maxRaysPerSample(s.render.maxBounces));
    expect(Number.isInteger(full.rays)).toBe(true);
    expect((await r.render(s, 0)).rays).toBe(full.rays);
    for (const size of [13, 32]) {
      let sum = 0;
      for (const t of tileGrid(96, 64, size)) sum += (await r.render(s, 0, { tile: t })).rays;
      expect(sum).toBe(full.rays);
    }
    // The count is part of the canonical hash: the same pixels with another count are another result.
    expect(await canonicalCid({ ...full, rays: full.rays + 1 })).not.toBe(await canonicalCid(full));
  });

  it('spreads rows as a permutation', () => {
    for (const n of [1, 2, 7, 64, 100, 191]) expect([...spreadRows(n)].sort((a, b) => a - b)).toEqual([...Array(n).keys()]);
  });

  it("hands a webasm call's cells back packed, as gpu.js's grid holds them", async () => {
    // Guards the speed of packed results against a gpu.js that shapes its output another way.
    const backend = await openBackend('webasm');
    try {
      const make = () =>
        backend.gpu.createKernel(
          function (this: { thread: { x: number; y: number } }) {
            return [this.thread.x, this.thread.y, this.thread.x * this.thread.y, 7];
          },
          { output: [12, 5] },
        );
      const shaped = make();
      const packed = make();
      packResults(packed);
      const cells = packed();
      expect(cells).toBeInstanceOf(Float32Array);
      expect(cells).toEqual(packedCells(shaped(), 12, 5));
      expect([...(cells as Float32Array).subarray(4 * (2 * 12 + 3), 4 * (2 * 12 + 4))]).toEqual([3, 2, 6, 7]);
    } finally {
      backend.close();
    }
  });

  it('rejects a tile outside the frame', async () => {
    await expect(on('cpu').render(scenes.cpu, 0, { tile: { x: 90, y: 0, width: 8, height: 8 } })).rejects.toThrow(
      /outside the 96×64 frame/,
    );
  });
});

describe('radiometric correctness', () => {
  it('sees an emitter directly at its radiance', async () => {
    const s = scene({
      materials: [{ name: 'e', type: 'emissive', color: [1, 0.5, 0.25], strength: 0.8 }],
      objects: [{ type: 'sphere', center: [0, 0, 0], radius: 3, material: 'e' }],
    });
    const img = await on('webasm').render(s, 0);
    for (let i = 0; i < img.linear.length; i += 3) {
      expect(img.linear[i]).toBeCloseTo(0.8, 5);
      expect(img.linear[i + 1]).toBeCloseTo(0.4, 5);
      expect(img.linear[i + 2]).toBeCloseTo(0.2, 5);
    }
  });

  it('a white furnace: a convex diffuse object under a uniform sky reflects albedo × sky', async () => {
    const s = scene({
      sky: { top: [1, 1, 1], bottom: [1, 1, 1] },
      camera: { position: [0, 0, 5], lookAt: [0, 0, 0], fov: 10 },
      materials: [{ name: 'd', type: 'diffuse', albedo: [0.8, 0.5, 0.2] }],
      objects: [{ type: 'sphere', center: [0, 0, 0], radius: 1, material: 'd' }],
    });
    const img = await on('webasm').render(s, 0);
    for (let i = 0; i < img.linear.length; i += 3) {
      expect(img.linear[i]).toBeCloseTo(0.8, 4);
      expect(img.linear[i + 1]).toBeCloseTo(0.5, 4);
      expect(img.linear[i + 2]).toBeCloseTo(0.2, 4);
    }
  });

  it('a lambertian plane below a spherical light matches ρ·L·r²/d²', async () => {
    // Irradiance under a sphere of radiance L, radius r, centre at distance d: E = πL(r/d)².
    const s = scene({
      render: { width: 4, height: 4, spp: 1024, maxBounces: 3, seed: 5 },
      camera: { position: [3, 1, 0], lookAt: [0, 0, 0], fov: 0.5 },
      materials: [
        { name: 'plane', type: 'diffuse', albedo: [0.5, 0.5, 0.5] },
        { name: 'lamp', type: 'emissive', color: [1, 1, 1], strength: 2 },
      ],
      objects: [
        { type: 'plane', point: [0, 0, 0], normal: [0, 1, 0], size: 200, material: 'plane' },
        { type: 'sphere', center: [0, 2, 0], radius: 0.5, material: 'lamp' },
      ],
    });
    const expected = (0.5 * 2 * 0.25) / 4;
    for (const nee of [true, false]) {
      const img = await on('webasm').render(s, 0, { nee });
      let mean = 0;
      for (let i = 0; i < img.linear.length; i += 3) mean += img.linear[i] / (img.linear.length / 3);
      expect(Math.abs(mean - expected) / expected).toBeLessThan(nee ? 0.02 : 0.1);
    }
  });
});

describe('backends agree', () => {
  it('webasm and cpu render a tile at 64 spp within PSNR 40 dB', async () => {
    const s = shipped('cornell', { width: 128, height: 96, spp: 64 });
    const tile = { x: 40, y: 40, width: 32, height: 32 };
    const a = await on('webasm').render(s, 0, { tile });
    const b = await on('cpu').render(s, 0, { tile });
    expect(psnr(a.rgba, b.rgba)).toBeGreaterThanOrEqual(40);
  });
});
