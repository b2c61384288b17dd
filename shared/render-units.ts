/**
 * The market's unit of work. A render unit (RU, version 1) is 10^9 rays traced by the path tracer
 * (camera, path and shadow rays), counted by the kernel itself and part of the canonical result
 * that replicas must agree on, so nobody can claim more work than the tile took.
 */
import { LIMITS } from './scene.ts';

export const RU_VERSION = 1;
export const RAYS_PER_RU = 1e9;

/** The most rays one sample can trace: the camera ray, then per bounce a path ray and at most one shadow ray. */
export const maxRaysPerSample = (maxBounces: number): number => 2 * (maxBounces + 1) + 1;

/** The most rays a tile of `pixels` at `spp` can trace in any scene the farm accepts. */
export const maxRays = (pixels: number, spp: number): number => pixels * spp * maxRaysPerSample(LIMITS.maxBounces);

/**
 * What a ray may cost, in BVH boxes visited and primitives tested (work): rays are what the market
 * pays for, so without a bound a scene of large triangles stacked along the view (each ray walks
 * all of them) cost a worker thousands of times a typical scene's time a ray, and ran past the task
 * timeout. A tile is refused whose rays averaged more than WORK_PER_RAY, and a cell (one group of
 * a pixel's samples) stops as soon as its own passed CELL_WORK_PER_RAY a ray, two rays' worth of
 * slack aside (a cell of one ray may graze a dense mesh): the tile's average bounds what the
 * market pays too little for, the cell's how long any call can run. Both counts follow the same
 * arithmetic as the pixels, so every worker of a class refuses the same tiles. Measured (an
 * attacker's review, webasm): a unit costs about 7 ns, a Cornell box ray 160–340 ns; honest dense
 * scenes (a 250k-triangle torus, terrain at grazing views, a lawn, a hair ball) average under 480
 * in their worst cell, and long thin crossing rods, the worst found, 784 over a frame and 3,492 in
 * one cell.
 */
export const WORK_PER_RAY = 1024;
/** How a worker's render error for such a tile begins (the orchestrator takes a trusted worker's at its word). */
export const TOO_COSTLY = 'scene too costly to trace';
export const isTooCostly = (error: string): boolean => error.startsWith(TOO_COSTLY);
export const CELL_WORK_PER_RAY = 8192;
/**
 * A cell returns its rays and its work in one f32, exact below 2^24: its rays plus its work
 * rounded up to a whole quantum, the least power of two above the most rays a cell traces (group
 * samples of `segments` rays: at most 16 × 67, so a quantum of 2,048 at most, and the sum under
 * 2^24 while CELL_WORK_PER_RAY stops the cell). The tile's check forgives each cell's rounding: a
 * quantum at most, a ray's worth of rays a cell at most — at 1 spp a quantum of 2,048 had let a
 * tile's rays average twice the bound (a review).
 */
export function workQuantum(group: number, segments: number): number {
  let quantum = 1;
  while (quantum <= group * segments) quantum *= 2;
  return quantum;
}

/** A tile's rays and work so far (work in whole quanta, each cell's rounded up), and its cells that traced. */
export interface TileWork {
  rays: number;
  quanta: number;
  cells: number;
}

/**
 * Whether a tile's rays cost more than WORK_PER_RAY apiece, its work's rounding forgiven: at its
 * end (`rest` none), or already, whatever its cells not yet done (`rest`: how many, and the most
 * rays they could trace) add — so refused as early on every worker, however its calls are cut.
 */
export const tooCostly = (done: TileWork, quantum: number, rest = { cells: 0, rays: 0 }): boolean =>
  (done.quanta - done.cells - rest.cells) * quantum > (done.rays + rest.rays) * WORK_PER_RAY;

export const toRu = (rays: number): number => rays / RAYS_PER_RU;
