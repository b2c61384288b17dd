/**
 * How a tile's samples become kernel calls. A kernel cell traces one *group* of a pixel's samples
 * (at most `group` of them, from its own seed). Rows of cells are *units* (a tile row × a group),
 * taken row-major; every call has the same number of units, the last padded with empty ones, so a
 * tile compiles one kernel.
 *
 * A call that has too few cells to occupy every thread is padded with empty rows, as many as make
 * each thread's share (gpu.js hands each thread one contiguous run of cells) whole rows, and its
 * units are spread evenly over them; it is not given smaller groups instead: a cell's fixed cost
 * (its seed, made on the main thread, its camera set-up and its output) is paid once per group,
 * so groups of 2 samples cost about 4 % more per sample than groups of 16, while an empty cell
 * costs about 20 ns.
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
const CELLS_PER_THREAD = 4096;

export interface PlanLimits {
  /** Samples one call should trace: long enough to amortise a call, short enough for progress. */
  samplesPerCall: number;
  /** gpu.js threads a call should occupy (1 where the backend has no pool). */
  threads: number;
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
  /** Output rows of a call: its units, and the empty rows that give every thread its cells. */
  rows: number;
  calls: number;
}

export interface Unit {
  row: number;
  group: number;
  /** Samples this unit's cells trace; 0 for padding. */
  samples: number;
}

const PADDING: Unit = { row: 0, group: 0, samples: 0 };

/** Depends on the sample count only, never on the tile: groups are part of what a pixel is. */
export function groupSize(spp: number): number {
  return Math.max(1, Math.min(MAX_GROUP, spp));
}

export function planSamples(width: number, height: number, spp: number, limits: PlanLimits): SamplePlan {
  const group = groupSize(spp);
  const groups = Math.ceil(spp / group);
  const columns = Math.ceil(width / 4) * 4;
  const units = height * groups;
  const budget = Math.floor(limits.samplesPerCall / (columns * group));
  const least = Math.ceil(limits.samplesPerCall / (SMALLEST_CALL * columns * group));
  const wanted = Math.max(Math.min(budget, Math.ceil(units / PIPELINED_CALLS)), least, 1);
  // Equal calls, none under the units that are worth a call.
  const calls = Math.max(1, Math.min(Math.ceil(units / wanted), Math.floor(units / least)));
  const unitsPerCall = Math.ceil(units / calls);
  // Each thread's share whole rows: gpu.js splits a call's cells into `threads` equal runs once it
  // has CELLS_PER_THREAD a thread.
  const padded = limits.threads > 1 ? limits.threads * Math.ceil(CELLS_PER_THREAD / columns) : 1;
  const rows = Math.max(unitsPerCall, padded);
  return { group, groups, columns, units, unitsPerCall, rows, calls };
}

export function unitAt(plan: SamplePlan, spp: number, index: number): Unit {
  if (index >= plan.units) return PADDING;
  const group = index % plan.groups;
  return { row: Math.floor(index / plan.groups), group, samples: Math.min(plan.group, spp - group * plan.group) };
}

/**
 * The output row of each of a call's units: the units in `order`, spread evenly over the call's
 * rows so that every thread's run of rows gets its share of them, ±1 (the rest are padding).
 */
export function unitRows(plan: SamplePlan, order: readonly number[]): Int32Array {
  const rowOf = new Int32Array(plan.unitsPerCall);
  order.forEach((u, k) => {
    rowOf[u] = Math.floor((k * plan.rows) / plan.unitsPerCall);
  });
  return rowOf;
}

/** What each output row of call `call` renders. */
export function callUnits(plan: SamplePlan, spp: number, call: number, rowOf: Int32Array): Unit[] {
  const placed = new Array<Unit>(plan.rows).fill(PADDING);
  rowOf.forEach((row, u) => {
    placed[row] = unitAt(plan, spp, call * plan.unitsPerCall + u);
  });
  return placed;
}
