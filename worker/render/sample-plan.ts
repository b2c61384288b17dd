/**
 * How a tile's samples become kernel calls. A kernel cell traces one *group* of a pixel's samples
 * (at most `group` of them, from its own seed), so a small tile or a high sample count still gives
 * gpu.js enough cells to keep every thread busy: a 64 px tile at 256 spp is 4,096 pixels but
 * 65,536 cells. Rows of cells are *units* (a tile row × a group), taken row-major; every call has
 * the same number of units, the last padded with empty ones, so a tile compiles one kernel.
 *
 * Pixels do not depend on the plan: a group's samples follow from (scene, frame, pixel, group),
 * and the renderer adds a pixel's groups in group order whatever call they arrive in.
 */

/** Most samples one cell traces. */
const MAX_GROUP = 16;
/** Calls a tile is cut into where it has the cells: the next call is queued while one runs. */
const PIPELINED_CALLS = 4;
/**
 * Nor cut into calls of less than 1/SMALLEST_CALL of `samplesPerCall`: on webasm each call costs
 * about 1–2 ms that queueing does not hide (its inputs copied, the threads woken, its result
 * shaped on the main thread while they wait), which a 64×48 frame at 16 spp paid three times
 * for 49,152 samples.
 */
const SMALLEST_CALL = 8;
/** gpu.js's webasm backend gives each of its threads at least this many cells of one call. */
export const CELLS_PER_THREAD = 4096;

export interface PlanLimits {
  /** Samples one call should trace: long enough to amortise a call, short enough for progress. */
  samplesPerCall: number;
  /** Cells a call needs to occupy the backend's threads (1 where it has none). */
  minCells: number;
}

export interface SamplePlan {
  /** The kernel's loop bound: samples per group (a pixel's last group may hold fewer). */
  group: number;
  /** Groups per pixel. */
  groups: number;
  /** Output columns: the tile's width rounded up to whole 4-lane SIMD quads. */
  columns: number;
  /** Units in the tile (rows × groups). */
  units: number;
  unitsPerCall: number;
  calls: number;
}

export interface Unit {
  row: number;
  group: number;
  /** Samples this unit's cells trace; 0 for padding. */
  samples: number;
}

/**
 * Depends on the sample count only, never on the tile: groups are part of what a pixel is. At
 * least 8 groups per pixel from 8 spp up, so a 32 px tile is 8,192 cells.
 */
export function groupSize(spp: number): number {
  return Math.max(1, Math.min(MAX_GROUP, Math.floor(spp / 8)));
}

export function planSamples(width: number, height: number, spp: number, limits: PlanLimits): SamplePlan {
  const group = groupSize(spp);
  const groups = Math.ceil(spp / group);
  const columns = Math.ceil(width / 4) * 4;
  const units = height * groups;
  const fewest = Math.ceil(limits.minCells / columns);
  const budget = Math.floor(limits.samplesPerCall / (columns * group));
  const least = Math.max(fewest, Math.ceil(limits.samplesPerCall / (SMALLEST_CALL * columns * group)));
  const wanted = Math.max(Math.min(budget, Math.ceil(units / PIPELINED_CALLS)), least, 1);
  // Equal calls, none under the units that fill the threads and are worth a call.
  const calls = Math.max(1, Math.min(Math.ceil(units / wanted), Math.floor(units / least)));
  return { group, groups, columns, units, unitsPerCall: Math.ceil(units / calls), calls };
}

export function unitAt(plan: SamplePlan, spp: number, index: number): Unit {
  if (index >= plan.units) return { row: 0, group: 0, samples: 0 };
  const group = index % plan.groups;
  return { row: Math.floor(index / plan.groups), group, samples: Math.min(plan.group, spp - group * plan.group) };
}
