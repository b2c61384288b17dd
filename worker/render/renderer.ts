/**
 * Renders a frame, or a rectangular tile of one, with the path-tracing kernel. Work is cut into
 * bands of rows so progress can be reported and, on the synchronous cpu backend, so the event
 * loop gets control back between bands (a farm worker must keep heart-beating while it renders).
 */
import type { KernelFunction } from 'gpu.js';
import type { TileResult } from '../../shared/image.ts';
import { maxRaysPerSample } from '../../shared/render-units.ts';
import type { Scene } from '../../shared/scene.ts';
import type { Rect } from '../../shared/tile.ts';
import { type Backend, type BackendChoice, openBackend } from './backend.ts';
import { CAM_SIZE, type CompiledScene, compileScene } from './compile.ts';
import { type KernelConstants, pathTrace } from './kernel.ts';
import { rowSeeds } from './seeds.ts';
import { toneMap } from './tonemap.ts';

/** Bumped whenever a change could alter any pixel: it is part of every canonical hash. */
export const RENDERER_VERSION = 'farm-pt/2';

/** Samples per kernel call: long enough to amortise a call, short enough for smooth progress. */
const SAMPLES_PER_CALL: Record<Backend['name'], number> = { webgpu: 1 << 24, webasm: 1 << 21, cpu: 1 << 16 };
/** gpu.js splits a webasm call across its worker pool only from this many output cells. */
const THREADED_MIN_CELLS = 4096;

export interface RenderOptions {
  tile?: Rect;
  /** false: the naive tracer without light sampling (benchmark comparison only). */
  nee?: boolean;
  onProgress?: (rowsDone: number, rowsTotal: number) => void;
}

export interface RenderResult extends TileResult {
  /** Linear radiance before tone mapping, 3 floats per pixel. */
  linear: Float32Array;
}

type Kernel = (...args: Float32Array[]) => Promise<unknown>;

export class Renderer {
  private readonly kernels = new Map<string, Kernel>();
  private compiled?: { scene: Scene; frame: number; data: CompiledScene };

  private constructor(readonly backend: Backend) {}

  static async open(choice: BackendChoice = 'auto'): Promise<Renderer> {
    return new Renderer(await openBackend(choice));
  }

  /** What this renderer runs on, as a worker describes itself (its class is measured, not this). */
  get device(): string {
    return `${RENDERER_VERSION}+${this.backend.device}`;
  }

  async render(scene: Scene, frame: number, opts: RenderOptions = {}): Promise<RenderResult> {
    const { width: W, height: H, spp, maxBounces, seed } = scene.render;
    const tile = opts.tile ?? { x: 0, y: 0, width: W, height: H };
    if (tile.x < 0 || tile.y < 0 || tile.width < 1 || tile.height < 1 || tile.x + tile.width > W || tile.y + tile.height > H) {
      throw new RangeError(`tile ${tile.x},${tile.y},${tile.width}×${tile.height} is outside the ${W}×${H} frame`);
    }
    const data = this.compile(scene, frame);
    const constants: KernelConstants = {
      spp,
      maxBounces,
      segments: maxRaysPerSample(maxBounces),
      maxSteps: data.nodeCount + 1,
      leafSize: data.leafSize,
      nee: opts.nee === false ? 0 : 1,
    };
    const bandRows = this.bandRows(tile.width, tile.height, spp);
    const linear = new Float32Array(tile.width * tile.height * 3);
    let rays = 0;
    const cam = new Float32Array(CAM_SIZE);
    cam.set(data.camera);
    for (let row = 0; row < tile.height; row += bandRows) {
      const count = Math.min(bandRows, tile.height - row);
      const order = spreadRows(count);
      cam[0] = tile.x;
      cam[1] = tile.y + row;
      const seeds = rowSeeds(
        seed,
        frame,
        tile.x,
        tile.width,
        order.map((r) => tile.y + row + r),
      );
      const kernel = this.kernel(tile.width, count, constants);
      const out = await kernel(data.prims, data.nodes, data.materials, data.lights, seeds, Float32Array.from(order), cam);
      rays += copyRows(out, tile.width, order, linear, row);
      opts.onProgress?.(row + count, tile.height);
      if (this.backend.name === 'cpu') await new Promise((r) => setImmediate(r));
    }
    const rgba = toneMap(linear, scene.render.exposure, scene.render.toneMap);
    return { width: tile.width, height: tile.height, rgba, linear, rays };
  }

  close(): void {
    this.kernels.clear();
    this.backend.close();
  }

  private compile(scene: Scene, frame: number): CompiledScene {
    if (this.compiled?.scene !== scene || this.compiled.frame !== frame) {
      this.compiled = { scene, frame, data: compileScene(scene, frame) };
    }
    return this.compiled.data;
  }

  private bandRows(width: number, height: number, spp: number): number {
    let rows = Math.max(1, Math.floor(SAMPLES_PER_CALL[this.backend.name] / (width * spp)));
    if (this.backend.name === 'webasm') rows = Math.max(rows, Math.ceil(THREADED_MIN_CELLS / width));
    return Math.min(rows, height);
  }

  private kernel(width: number, rows: number, c: KernelConstants): Kernel {
    const key = `${width}x${rows}:${c.spp}:${c.maxBounces}:${c.maxSteps}:${c.leafSize}:${c.nee}`;
    let k = this.kernels.get(key);
    if (!k) {
      // gpu.js types `this` as its generic kernel context; ours names the constants it passes.
      k = this.backend.gpu.createKernel(pathTrace as unknown as KernelFunction, {
        output: [width, rows],
        constants: { ...c },
        asyncMode: true,
        tactic: 'precision',
      }) as unknown as Kernel;
      this.kernels.set(key, k);
    }
    return k;
  }
}

/**
 * gpu.js hands each of its worker threads a contiguous run of output rows, but the cost of a row
 * depends on what it sees (the glass ball costs more than the ceiling). Output row i therefore
 * renders band row (i · step) mod n with step ≈ n/φ coprime to n, so every run samples the
 * whole band. Pixels do not depend on this order: their seeds follow their frame position.
 */
export function spreadRows(n: number): number[] {
  let step = Math.max(1, Math.round(n * 0.6180339887));
  while (gcd(step, n) !== 1) step++;
  return Array.from({ length: n }, (_, i) => (i * step) % n);
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/**
 * gpu.js returns rows of per-pixel Float32Array(4), radiance and rays traced; output row i goes to
 * band row order[i]. Returns the band's rays (whole numbers, exact in f32 below 2^24 per pixel).
 */
function copyRows(out: unknown, width: number, order: number[], into: Float32Array, bandStart: number): number {
  const grid = out as ArrayLike<ArrayLike<ArrayLike<number>>>;
  let rays = 0;
  order.forEach((r, y) => {
    const row = grid[y];
    const base = (bandStart + r) * width * 3;
    for (let x = 0; x < width; x++) {
      const px = row[x];
      into[base + x * 3] = px[0];
      into[base + x * 3 + 1] = px[1];
      into[base + x * 3 + 2] = px[2];
      rays += px[3];
    }
  });
  return rays;
}
