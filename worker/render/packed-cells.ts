/**
 * A kernel call's cells as one packed Float32Array (4 floats a cell, rows of `columns` cells).
 * gpu.js shapes an Array(4) result as rows of per-cell Float32Array views: 98,304 objects a
 * call at 256×192, made and collected on the main thread while the render threads wait for a
 * core (A/B on 2 cores: webasm 0.70 → 0.77 M samples/s without them). Its webasm and WebGPU
 * kernels shape every result in one method, `_shapeOutput(data, …)`, given the packed data;
 * `packResults` makes that method hand the data back as it is (gpu.js is pinned to one version;
 * test/render.test.ts checks that its webasm kernel still does, WebGPU has no adapter here). The
 * cpu kernel shapes its own way and keeps its grid, packed here by `packedCells`; so does any
 * kernel gpu.js swaps in.
 */

type Grid = ArrayLike<ArrayLike<ArrayLike<number>>>;

/** Makes a gpu.js kernel (the function createKernel returns) hand back packed cells where it can. */
export function packResults(kernel: object): void {
  const inner = (kernel as { kernel?: { _shapeOutput?: unknown } }).kernel;
  if (typeof inner?._shapeOutput === 'function') inner._shapeOutput = (data: Float32Array) => data;
}

/** A call's result, packed: as it came where `packResults` took, else copied out of its grid. */
export function packedCells(out: unknown, columns: number, rows: number): Float32Array {
  if (out instanceof Float32Array) return out;
  const grid = out as Grid;
  const cells = new Float32Array(columns * rows * 4);
  for (let y = 0; y < rows; y++) {
    for (let x = 0; x < columns; x++) {
      const cell = grid[y][x];
      const at = (y * columns + x) * 4;
      for (let c = 0; c < 4; c++) cells[at + c] = cell[c];
    }
  }
  return cells;
}
