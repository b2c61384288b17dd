/**
 * glTF animations baked into frames: the played animation's translation, rotation and scale
 * channels are sampled at each frame's time (frame / fps) with the spec's interpolation (STEP,
 * LINEAR with spherical interpolation of rotations, CUBICSPLINE Hermite with its tangents scaled
 * by the keyframe interval), set on the nodes, and the nodes' world matrices read back through
 * gltf-transform, which composes the hierarchy.
 */
import type { Animation, Document, Node } from '@gltf-transform/core';
import { LIMITS } from './scene.ts';

export type Interpolation = 'STEP' | 'LINEAR' | 'CUBICSPLINE';

/**
 * One channel's value at time t. `values` holds `size` numbers per key, or for CUBICSPLINE three
 * such groups per key (in-tangent, value, out-tangent). Before the first key and after the last
 * the end values hold.
 */
export function sampleKeyframes(
  times: ArrayLike<number>,
  values: ArrayLike<number>,
  size: number,
  interpolation: Interpolation,
  t: number,
  rotation: boolean,
): number[] {
  const cubic = interpolation === 'CUBICSPLINE';
  const group = (k: number, part: 0 | 1 | 2) => {
    const at = (cubic ? 3 * k + part : k) * size;
    return Array.from({ length: size }, (_, i) => values[at + i]);
  };
  const last = times.length - 1;
  if (t <= times[0]) return group(0, 1);
  if (t >= times[last]) return group(last, 1);
  // The last key at or before t (times increase), by halving: a frame's sample costs log(keys), not keys.
  let k = 0;
  for (let hi = last - 1; k < hi; ) {
    const mid = (k + hi + 1) >> 1;
    if (times[mid] <= t) k = mid;
    else hi = mid - 1;
  }
  const dt = times[k + 1] - times[k];
  const s = (t - times[k]) / dt;
  if (interpolation === 'STEP') return group(k, 1);
  if (interpolation === 'LINEAR') {
    const [a, b] = [group(k, 1), group(k + 1, 1)];
    return rotation ? slerp(a, b, s) : a.map((v, i) => v + (b[i] - v) * s);
  }
  const [p0, m0, p1, m1] = [group(k, 1), group(k, 2), group(k + 1, 1), group(k + 1, 0)];
  const [s2, s3] = [s * s, s * s * s];
  const h = [2 * s3 - 3 * s2 + 1, s3 - 2 * s2 + s, -2 * s3 + 3 * s2, s3 - s2];
  const out = p0.map((v, i) => h[0] * v + h[1] * dt * m0[i] + h[2] * p1[i] + h[3] * dt * m1[i]);
  return rotation ? normalized(out) : out;
}

/** Spherical interpolation of unit quaternions, along the shorter arc. */
function slerp(a: number[], b: number[], s: number): number[] {
  let cos = a.reduce((sum, v, i) => sum + v * b[i], 0);
  const far = cos < 0 ? -1 : 1;
  cos *= far;
  if (cos > 0.9995) return normalized(a.map((v, i) => v + (far * b[i] - v) * s));
  const angle = Math.acos(cos);
  const [wa, wb] = [Math.sin((1 - s) * angle) / Math.sin(angle), (far * Math.sin(s * angle)) / Math.sin(angle)];
  return a.map((v, i) => wa * v + wb * b[i]);
}

function normalized(q: number[]): number[] {
  const n = Math.hypot(...q) || 1;
  return q.map((v) => v / n);
}

export interface BakedAnimation {
  name: string;
  frameCount: number;
  fps: number;
  /** Nodes whose world matrix the animation changes (targets and everything below them). */
  moving: Set<Node>;
  /**
   * Channels `pose` samples each frame: those above a mesh, a camera or a light. The others (a
   * skeleton's bones, an empty's) move nothing the scene shows: they are neither read nor
   * sampled, only their last key counts toward the animation's length.
   */
  channels: number;
  /** Poses the document's nodes at a frame; `rest()` puts them back. */
  pose(frame: number): void;
  rest(): void;
}

const PATHS = new Set(['translation', 'rotation', 'scale']);

/** The document's first animation, ready to be posed frame by frame; undefined if it has none. */
export function bakeAnimation(doc: Document, fps: number, warnings: string[]): BakedAnimation | undefined {
  const [animation, ...others] = doc.getRoot().listAnimations();
  if (!animation) return undefined;
  if (others.length > 0)
    warnings.push(`${others.length} more animation${others.length === 1 ? '' : 's'} not played: the first, "${animation.getName()}", is`);
  const draws = drawingNodes();
  const { channels: posed, ends } = playedChannels(animation, warnings, draws);
  if (ends.length === 0) return undefined;
  const duration = Math.max(...ends);
  let frameCount = Math.floor(duration * fps + 1e-6) + 1;
  if (frameCount > LIMITS.maxFrames) {
    warnings.push(
      `animation "${animation.getName()}" lasts ${frameCount} frames at ${fps} fps: its first ${LIMITS.maxFrames} are rendered`,
    );
    frameCount = LIMITS.maxFrames;
  }
  const targets = new Set(posed.map((c) => c.node));
  const restPose = [...targets].map((node) => ({ node, t: node.getTranslation(), r: node.getRotation(), s: node.getScale() }));
  const moving = new Set<Node>();
  const below = (node: Node) => {
    moving.add(node);
    for (const child of node.listChildren()) below(child);
  };
  for (const node of targets) below(node);
  return {
    name: animation.getName(),
    frameCount,
    fps,
    moving,
    channels: posed.length,
    pose(frame) {
      for (const c of posed) {
        const value = sampleKeyframes(c.times, c.values, c.size, c.interpolation, frame / fps, c.path === 'rotation');
        if (c.path === 'translation') c.node.setTranslation(value as [number, number, number]);
        else if (c.path === 'rotation') c.node.setRotation(value as [number, number, number, number]);
        else c.node.setScale(value as [number, number, number]);
      }
    },
    rest() {
      for (const { node, t, r, s } of restPose) node.setTranslation(t).setRotation(r).setScale(s);
    },
  };
}

interface Channel {
  node: Node;
  path: 'translation' | 'rotation' | 'scale';
  times: Float64Array;
  values: Float64Array;
  size: number;
  interpolation: Interpolation;
}

/**
 * Whether a node or one below it holds a mesh, a camera or a light — whether moving it moves
 * anything the scene shows (or names: an animated light is warned of) — each node visited once.
 */
export function drawingNodes(): (node: Node) => boolean {
  const known = new Map<Node, boolean>();
  const draws = (node: Node): boolean => {
    let answer = known.get(node);
    if (answer === undefined) {
      answer = node.getMesh() !== null || node.getCamera() !== null || node.getExtension('KHR_lights_punctual') !== null;
      for (const child of node.listChildren()) answer = draws(child) || answer;
      known.set(node, answer);
    }
    return answer;
  };
  return draws;
}

/**
 * The channels it plays (TRS of a node that `draws`, with well-formed keys; the others are named),
 * and the last key time of every TRS channel, played or not: the animation's length.
 */
function playedChannels(animation: Animation, warnings: string[], draws: (node: Node) => boolean): { channels: Channel[]; ends: number[] } {
  const out: Channel[] = [];
  const ends: number[] = [];
  for (const channel of animation.listChannels()) {
    const node = channel.getTargetNode();
    const path = channel.getTargetPath();
    const sampler = channel.getSampler();
    const input = sampler?.getInput();
    const output = sampler?.getOutput();
    if (!node || !path || !PATHS.has(path) || !input || !output) {
      warnings.push(`an animation channel of "${animation.getName()}" targets ${path ?? 'nothing'}, which is not played`);
      continue;
    }
    if (!draws(node)) {
      const end = input.getCount() > 0 ? input.getScalar(input.getCount() - 1) : Number.NaN;
      if (Number.isFinite(end)) ends.push(end);
      continue;
    }
    const interpolation = (sampler?.getInterpolation() ?? 'LINEAR') as Interpolation;
    const size = path === 'rotation' ? 4 : 3;
    const times = Float64Array.from({ length: input.getCount() }, (_, i) => input.getScalar(i));
    const values = new Float64Array(output.getCount() * size);
    const element: number[] = [];
    for (let i = 0; i < output.getCount(); i++) values.set(output.getElement(i, element).slice(0, size), i * size);
    const keys = interpolation === 'CUBICSPLINE' ? values.length / size / 3 : values.length / size;
    const ordered = times.every((t, i) => Number.isFinite(t) && (i === 0 || t > times[i - 1]));
    if (times.length === 0 || keys !== times.length || !ordered || !values.every(Number.isFinite)) {
      warnings.push(`an animation channel of "${animation.getName()}" on node "${node.getName()}" has malformed keys: not played`);
      continue;
    }
    out.push({ node, path: path as Channel['path'], times, values, size, interpolation });
    ends.push(times[times.length - 1]);
  }
  return { channels: out, ends };
}
