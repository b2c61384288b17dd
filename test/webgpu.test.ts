/**
 * The path tracer on WebGPU: Dawn over whatever Vulkan adapter this machine has — in CI, Mesa's
 * lavapipe (Vulkan on the CPU, which `.ci/run` installs); on a GPU machine, the GPU
 * (`npm run bench:gpu` gives the same checks at full size, with timings). A farm needs three
 * things of a backend: the kernel builds, it repeats itself bit for bit (replicas must agree),
 * and tiles stitch into the frame a whole render gives.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { create } from 'webgpu';
import { calibrationWork } from '../orchestrator/calibration.ts';
import { DEFAULT_TOLERANCE, nearlyEqual } from '../orchestrator/verdict/tolerance.ts';
import { parseScene } from '../shared/scene.ts';
import { BackendUnavailableError, openBackend } from '../worker/render/backend.ts';
import { Renderer, TooCostlyError } from '../worker/render/renderer.ts';
import { expectDeterministicTiles } from './support/renderers.ts';
import { shipped, stackedTriangles } from './support/scenes.ts';

const GET_VULKAN = 'apt-get install libvulkan1 mesa-vulkan-drivers (Mesa 23 or newer: bookworm-backports on Debian 12)';

async function openWebGpu(): Promise<Renderer | undefined> {
  try {
    return await Renderer.open('webgpu');
  } catch (e) {
    if (e instanceof BackendUnavailableError) return undefined;
    throw e;
  }
}

const gpu = await openWebGpu();
// CI installs lavapipe (.ci/run): there, no adapter is a failure, not a skip that hides this file.
if (!gpu && process.env.FARM_REQUIRE_WEBGPU) throw new Error(`FARM_REQUIRE_WEBGPU is set and Dawn found no adapter: ${GET_VULKAN}`);
const title = gpu ? `the path tracer on ${gpu.device}` : `the path tracer on WebGPU — skipped: no WebGPU adapter; \`${GET_VULKAN}\``;

describe.skipIf(!gpu)(title, () => {
  const webgpu = gpu as Renderer;
  afterAll(() => webgpu.close());

  it('renders the calibration tiles the same twice, with webasm’s rays, within the published tolerance of webasm', async () => {
    const { scene, tiles } = await calibrationWork();
    const webasm = await Renderer.open('webasm');
    try {
      for (const tile of tiles) {
        const first = await webgpu.render(scene, 0, { tile });
        const again = await webgpu.render(scene, 0, { tile });
        const reference = await webasm.render(scene, 0, { tile });
        expect(Buffer.compare(Buffer.from(again.rgba), Buffer.from(first.rgba))).toBe(0);
        expect(again.rays).toBe(first.rays);
        expect(first.rays).toBe(reference.rays);
        expect(nearlyEqual(first.rgba, reference.rgba, DEFAULT_TOLERANCE)).toBe(true);
      }
    } finally {
      webasm.close();
    }
  });

  it('is what auto takes if it is a GPU, and passed over for webasm if it is software', async () => {
    const adapter = await create([]).requestAdapter();
    const auto = await openBackend('auto');
    auto.close();
    if (adapter?.info.isFallbackAdapter) {
      expect(auto.name).toBe('webasm');
      expect(auto.fallback).toMatch(/^no GPU: the only WebGPU adapter is a software one \(.+\), slower than webasm/);
    } else {
      expect(auto.device).toBe(webgpu.backend.device);
    }
  });

  it('renders a frame the same twice, and bit-identical whole and as tiles', async () => {
    await expectDeterministicTiles(webgpu, shipped('cornell', { width: 96, height: 64, spp: 4 }), 32);
  });

  it('refuses a tile whose rays cost more than WORK_PER_RAY, where webasm does, and renders one under it with webasm’s rays', async () => {
    await expect(webgpu.render(parseScene(stackedTriangles(12_000)), 0)).rejects.toThrow(TooCostlyError);
    const webasm = await Renderer.open('webasm');
    try {
      const few = parseScene(stackedTriangles(200));
      expect((await webgpu.render(few, 0)).rays).toBe((await webasm.render(few, 0)).rays);
    } finally {
      webasm.close();
    }
  });
});
