/**
 * Renders a frame, or a rectangular tile of one, with the path-tracing kernel. Work is cut into
 * calls (sample-plan.ts) so progress can be reported and, on the synchronous cpu backend, so the
 * event loop gets control back between calls (a farm worker must keep heart-beating as it renders).
 */
import { availableParallelism } from 'node:os';
import type { KernelFunction } from 'gpu.js';
import type { TileResult } from '../../shared/image.ts';
import {
  CELL_WORK_PER_RAY,
  maxRaysPerSample,
  type TileWork,
  TOO_COSTLY,
  tooCostly,
  WORK_PER_RAY,
  workQuantum,
} from '../../shared/render-units.ts';
import type { Scene } from '../../shared/scene.ts';
import type { Rect } from '../../shared/tile.ts';
import type { Affine } from './animate.ts';
import { type Backend, type BackendChoice, openBackend } from './backend.ts';
import {
  CAM_SIZE,
  type CompiledGeometry,
  type CompiledScene,
  compileGeometry,
  placementsAt,
  samePlacements,
  withCamera,
} from './compile.ts';
import { type KernelConstants, pathTrace } from './kernel.ts';
import { packedCells, packResults } from './packed-cells.ts';
import { callUnits, type PlanLimits, planSamples, type Unit, unitRows } from './sample-plan.ts';
import { cellSeeds } from './seeds.ts';
import { toneMap } from './tonemap.ts';

/** Bumped whenever a change could alter any pixel: it is part of every canonical hash. */
export const RENDERER_VERSION = 'farm-pt/6';

/** Samples per kernel call: long enough to amortise a call, short enough for smooth progress. */
const SAMPLES_PER_CALL: Record<Backend['name'], number> = { webgpu: 1 << 24, webasm: 1 << 19, cpu: 1 << 16 };
/** Threads of gpu.js's webasm pool. */
const THREADS = availableParallelism();
/** Compiled kernels kept for reuse (one per tile shape and scene shape). */
const MAX_KERNELS = 8;

export interface RenderOptions {
  tile?: Rect;
  /** false: the naive tracer without light sampling (benchmark comparison only). */
  nee?: boolean;
  /** Told after each call how many of the tile's rows are done (a fraction while one is part done). */
  onProgress?: (rowsDone: number, rowsTotal: number) => void;
  /** Looked at between calls: once aborted, the render stops with its reason. */
  signal?: AbortSignal;
}

export interface RenderResult extends TileResult {
  /** Linear radiance before tone mapping, 3 floats per pixel. */
  linear: Float32Array;
}

/**
 * A tile whose rays cost more than WORK_PER_RAY apiece on average, or one cell's more than
 * CELL_WORK_PER_RAY: every worker of a class refuses the same tiles (the counts are as
 * deterministic as the pixels) and gives the replica up with this error.
 */
export class TooCostlyError extends Error {
  constructor() {
    super(
      `${TOO_COSTLY}: its rays test more than ${WORK_PER_RAY} BVH boxes and primitives each on average, or a pixel's more than ${CELL_WORK_PER_RAY} (stacked or overlapping geometry)`,
    );
    this.name = this.constructor.name;
  }
}

type Kernel = ((...args: Float32Array[]) => Promise<unknown>) & { destroy(): void };

export class Renderer {
  private readonly kernels = new Map<string, Kernel>();
  private compiled?: { scene: Scene; frame: number; data: CompiledScene };
  private geometry?: { scene: Scene; placements: Affine[]; data: CompiledGeometry };

  private readonly limits: PlanLimits;

  private constructor(readonly backend: Backend) {
    this.limits = { samplesPerCall: SAMPLES_PER_CALL[backend.name], threads: backend.name === 'webasm' ? THREADS : 1 };
  }

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
    const plan = planSamples(tile.width, tile.height, spp, this.limits);
    const constants: KernelConstants = {
      group: plan.group,
      maxBounces,
      segments: maxRaysPerSample(maxBounces),
      maxSteps: data.nodeCount + 1,
      cellWorkPerRay: CELL_WORK_PER_RAY,
      workQuantum: workQuantum(plan.group, maxRaysPerSample(maxBounces)),
      leafSize: data.leafSize,
      nee: opts.nee === false ? 0 : 1,
      searchSteps: data.searchSteps,
    };
    // The arrays' lengths are part of what a kernel was built for: gpu.js bakes the sizes of the
    // arguments of its first call into it and throws on a call with others.
    const sizes = [data.prims, data.nodes, data.materials, data.lights, data.uvs, data.texels, data.environment, data.environmentCdf].map(
      (a) => a.length,
    );
    const kernel = this.kernel(plan.columns, plan.rows, constants, sizes);
    // f64 sums of each pixel's groups, added in group order (units arrive in that order).
    const sums = new Float64Array(tile.width * tile.height * 3);
    const counts: TileWork = { rays: 0, quanta: 0, cells: 0 };
    const cam = new Float32Array(CAM_SIZE);
    cam.set(data.camera);
    cam[0] = tile.x;
    cam[1] = tile.y;
    cam[32] = tile.width;
    const rowOf = unitRows(plan, spreadRows(plan.unitsPerCall));
    const launch = (call: number) => {
      const placed = callUnits(plan, spp, call, rowOf);
      const rows = placed.map((u) => (u.samples ? { y: tile.y + u.row, group: u.group } : undefined));
      const seeds = cellSeeds(seed, frame, tile.x, plan.columns, rows);
      const units = Float32Array.from(placed.flatMap((u) => [u.row, u.samples]));
      const out = kernel(
        data.prims,
        data.nodes,
        data.materials,
        data.lights,
        data.uvs,
        data.texels,
        data.environment,
        data.environmentCdf,
        seeds,
        units,
        cam,
      );
      out.catch(() => undefined); // awaited below, unless an earlier call failed first
      return { placed, out };
    };
    // The next call is queued before this one's cells are added up, so the threads never wait
    // for the main thread.
    let next = launch(0);
    for (let call = 0; call < plan.calls; call++) {
      const { placed, out } = next;
      if (call + 1 < plan.calls) next = launch(call + 1);
      const cells = packedCells(await out, plan.columns, plan.rows);
      addUnits(cells, rowOf, placed, plan.columns, tile.width, sums, counts, constants.workQuantum);
      const unitsDone = Math.min((call + 1) * plan.unitsPerCall, plan.units);
      // Past the bound already, whatever the cells to come add (at most all their samples' rays apiece)?
      const cellsLeft = (plan.units - unitsDone) * tile.width;
      const rest = { cells: cellsLeft, rays: cellsLeft * plan.group * constants.segments };
      if (tooCostly(counts, constants.workQuantum, rest)) throw new TooCostlyError();
      opts.onProgress?.(unitsDone / plan.groups, tile.height);
      opts.signal?.throwIfAborted();
      if (this.backend.name === 'cpu') await new Promise((r) => setImmediate(r));
    }
    // Judged on the whole tile, whatever its calls: how a tile is cut depends on the machine.
    if (tooCostly(counts, constants.workQuantum)) throw new TooCostlyError();
    const linear = new Float32Array(sums.length);
    for (let i = 0; i < sums.length; i++) linear[i] = sums[i] / spp;
    const rgba = toneMap(linear, scene.render.exposure, scene.render.toneMap);
    return { width: tile.width, height: tile.height, rgba, linear, rays: counts.rays };
  }

  close(): void {
    this.kernels.clear();
    this.backend.close();
  }

  /**
   * The frame compiled, its geometry kept from the frame before where every object is placed alike
   * (a camera's flight through a still scene): a 250,000-triangle scene had been compiled afresh
   * for each frame, seconds of the worker's main thread for a tile that may be paid 72 rays (an
   * attacker's review; bench:frames).
   */
  compile(scene: Scene, frame: number): CompiledScene {
    if (this.compiled?.scene === scene && this.compiled.frame === frame) return this.compiled.data;
    const placements = placementsAt(scene, frame);
    if (this.geometry?.scene !== scene || !samePlacements(this.geometry.placements, placements)) {
      this.geometry = { scene, placements, data: compileGeometry(scene, placements) };
    }
    this.compiled = { scene, frame, data: withCamera(this.geometry.data, scene, frame) };
    return this.compiled.data;
  }

  /**
   * The kernel for calls of this shape, constants and argument sizes. Keyed without the sizes, a
   * worker that had rendered one scene failed every tile of the next with the same constants and
   * other sizes (the calibration's Cornell box and a default tile of any scene of nine primitives:
   * an attacker's review, which made another requester's job fail as poison that way).
   */
  private kernel(width: number, rows: number, c: KernelConstants, sizes: readonly number[]): Kernel {
    const key = `${width}x${rows}:${c.group}:${c.maxBounces}:${c.maxSteps}:${c.cellWorkPerRay}:${c.leafSize}:${c.nee}:${c.searchSteps}:${sizes.join(',')}`;
    let k = this.kernels.get(key);
    if (k) {
      this.kernels.delete(key); // most recently used goes last
    } else {
      // gpu.js types `this` as its generic kernel context; ours names the constants it passes.
      k = this.backend.gpu.createKernel(
        pathTrace as unknown as KernelFunction,
        {
          output: [width, rows],
          constants: { ...c },
          asyncMode: true,
          tactic: 'precision',
          // Set, not left to gpu.js's default, because the sample plan sizes calls for this pool.
          poolSize: THREADS,
        } as Parameters<typeof this.backend.gpu.createKernel>[1],
      ) as unknown as Kernel;
      packResults(k);
      // Each webasm kernel holds its own thread pool; a worker that meets many scenes and tile
      // sizes keeps only the kernels it used last.
      const [oldest] = this.kernels.keys();
      if (this.kernels.size >= MAX_KERNELS && oldest !== undefined) {
        this.kernels.get(oldest)?.destroy();
        this.kernels.delete(oldest);
      }
    }
    this.kernels.set(key, k);
    return k;
  }
}

/**
 * gpu.js hands each of its worker threads a contiguous run of a call's cells, but the cost of a
 * row depends on what it sees (the glass ball costs more than the ceiling). The call's units are
 * therefore placed on its rows in the order (i · step) mod n with step ≈ n/φ coprime to n, so
 * every run samples the whole band. Pixels do not depend on this order: their seeds follow their
 * frame position.
 */
export function spreadRows(n: number): number[] {
  let step = Math.max(1, Math.round(n * 0.6180339887));
  while (gcd(step, n) !== 1) step++;
  return Array.from({ length: n }, (_, i) => (i * step) % n);
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/**
 * A call's cells (4 floats each: radiance summed over the cell's samples, and its rays and work;
 * rows of `columns` cells). Unit u of the call is output row rowOf[u], which renders
 * placed[rowOf[u]]; units are added in their own order, so each pixel's groups are summed in group
 * order. Adds the cells' rays and work to `counts`.
 */
function addUnits(
  cells: Float32Array,
  rowOf: Int32Array,
  placed: Unit[],
  columns: number,
  width: number,
  sums: Float64Array,
  counts: TileWork,
  quantum: number,
): void {
  for (const i of rowOf) {
    const unit = placed[i];
    if (unit.samples === 0) continue;
    const row = i * columns * 4;
    const base = unit.row * width * 3;
    for (let x = 0; x < width; x++) {
      const cell = row + x * 4;
      sums[base + x * 3] += cells[cell];
      sums[base + x * 3 + 1] += cells[cell + 1];
      sums[base + x * 3 + 2] += cells[cell + 2];
      const packed = cells[cell + 3];
      if (packed < 0) throw new TooCostlyError();
      const quanta = Math.floor(packed / quantum);
      counts.rays += packed - quanta * quantum;
      counts.quanta += quanta;
      counts.cells++;
    }
  }
}
