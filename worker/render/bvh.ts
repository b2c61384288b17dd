/**
 * Bounding-volume hierarchy, built with binned SAH and flattened in pre-order with skip links.
 * Kernels cannot recurse (WGSL) or keep a stack (gpu.js has no local arrays), so traversal is a
 * loop: on a box hit go to the next node (the left child), on a miss or after a leaf jump to the
 * node's skip index, the first node after its subtree (-1 ends the walk).
 */
export const NODE_STRIDE = 9; // min xyz, max xyz, skip, first primitive, primitive count
const BINS = 12;

export interface Bounds {
  min: [number, number, number];
  max: [number, number, number];
}

interface BuildNode {
  min: number[];
  max: number[];
  first: number;
  count: number;
  left?: BuildNode;
  right?: BuildNode;
}

export interface Bvh {
  /** Flattened nodes, NODE_STRIDE floats each. */
  nodes: Float32Array;
  nodeCount: number;
  /** order[i] is the input primitive stored at position i. */
  order: number[];
}

/**
 * Builds the hierarchy with at most `leafSize` primitives per leaf. Scenes this small or smaller
 * become one leaf: testing a handful of primitives is cheaper than walking boxes around them.
 */
export function buildBvh(prims: readonly Bounds[], leafSize: number): Bvh {
  const order = prims.map((_, i) => i);
  const centroid = prims.map((b) => [0, 1, 2].map((a) => (b.min[a] + b.max[a]) / 2));
  const root = split(prims, centroid, order, 0, order.length, leafSize);
  const flat: number[] = [];
  let nodeCount = 0;
  const emit = (node: BuildNode): void => {
    const at = nodeCount++;
    flat.push(...node.min, ...node.max, -1, node.first, node.count);
    if (node.left && node.right) {
      emit(node.left);
      emit(node.right);
    }
    flat[at * NODE_STRIDE + 6] = nodeCount; // skip: first node after this subtree
  };
  emit(root);
  for (let i = 0; i < nodeCount; i++) if (flat[i * NODE_STRIDE + 6] >= nodeCount) flat[i * NODE_STRIDE + 6] = -1;
  return { nodes: Float32Array.from(flat), nodeCount, order };
}

function enclose(prims: readonly Bounds[], order: number[], from: number, to: number): { min: number[]; max: number[] } {
  const min = [Infinity, Infinity, Infinity];
  const max = [-Infinity, -Infinity, -Infinity];
  for (let i = from; i < to; i++) {
    const b = prims[order[i]];
    for (let a = 0; a < 3; a++) {
      min[a] = Math.min(min[a], b.min[a]);
      max[a] = Math.max(max[a], b.max[a]);
    }
  }
  return { min, max };
}

const area = (min: number[], max: number[]): number => {
  const d = [0, 1, 2].map((a) => Math.max(0, max[a] - min[a]));
  return d[0] * d[1] + d[1] * d[2] + d[2] * d[0];
};

function split(prims: readonly Bounds[], centroid: number[][], order: number[], from: number, to: number, leafSize: number): BuildNode {
  const box = enclose(prims, order, from, to);
  const count = to - from;
  const leaf: BuildNode = { ...box, first: from, count };
  if (count <= leafSize) return leaf;

  const best = bestSplit(prims, centroid, order, from, to);
  let mid: number;
  if (best) {
    const part = order.slice(from, to);
    const lo = part.filter((p) => binOf(centroid[p][best.axis], best.cmin, best.cmax) <= best.bin);
    const hi = part.filter((p) => binOf(centroid[p][best.axis], best.cmin, best.cmax) > best.bin);
    // Written back in place: splice(...lo, ...hi) overflows the stack on a large mesh.
    let at = from;
    for (const p of lo) order[at++] = p;
    for (const p of hi) order[at++] = p;
    mid = from + lo.length;
  } else {
    // All centroids coincide (or SAH found nothing better): split in the middle by index.
    mid = from + (count >> 1);
  }
  if (mid === from || mid === to) mid = from + (count >> 1);
  return {
    ...box,
    first: 0,
    count: 0,
    left: split(prims, centroid, order, from, mid, leafSize),
    right: split(prims, centroid, order, mid, to, leafSize),
  };
}

const binOf = (c: number, cmin: number, cmax: number): number => Math.min(BINS - 1, Math.floor(((c - cmin) / (cmax - cmin)) * BINS));

function bestSplit(prims: readonly Bounds[], centroid: number[][], order: number[], from: number, to: number) {
  let best: { axis: number; bin: number; cmin: number; cmax: number; cost: number } | undefined;
  for (let axis = 0; axis < 3; axis++) {
    let cmin = Infinity;
    let cmax = -Infinity;
    for (let i = from; i < to; i++) {
      cmin = Math.min(cmin, centroid[order[i]][axis]);
      cmax = Math.max(cmax, centroid[order[i]][axis]);
    }
    if (cmax - cmin < 1e-12) continue;
    const bins = Array.from({ length: BINS }, () => ({
      n: 0,
      min: [Infinity, Infinity, Infinity],
      max: [-Infinity, -Infinity, -Infinity],
    }));
    for (let i = from; i < to; i++) {
      const p = order[i];
      const bin = bins[binOf(centroid[p][axis], cmin, cmax)];
      bin.n++;
      for (let a = 0; a < 3; a++) {
        bin.min[a] = Math.min(bin.min[a], prims[p].min[a]);
        bin.max[a] = Math.max(bin.max[a], prims[p].max[a]);
      }
    }
    for (let b = 0; b < BINS - 1; b++) {
      const cost = sideCost(bins.slice(0, b + 1)) + sideCost(bins.slice(b + 1));
      if (!best || cost < best.cost) best = { axis, bin: b, cmin, cmax, cost };
    }
  }
  return best;
}

function sideCost(bins: { n: number; min: number[]; max: number[] }[]): number {
  const min = [Infinity, Infinity, Infinity];
  const max = [-Infinity, -Infinity, -Infinity];
  let n = 0;
  for (const b of bins) {
    if (b.n === 0) continue;
    n += b.n;
    for (let a = 0; a < 3; a++) {
      min[a] = Math.min(min[a], b.min[a]);
      max[a] = Math.max(max[a], b.max[a]);
    }
  }
  return n === 0 ? 0 : n * area(min, max);
}
