/**
 * Turns one frame of a validated scene into the flat Float32Arrays the kernel reads: world-space
 * primitives in BVH order, BVH nodes, materials, lights and camera. Everything here is plain
 * TypeScript in f64; the kernel only sees the f32 results.
 */

import { cameraTrack } from '../../shared/keyframes.ts';
import {
  bytesOfBase64,
  type Light,
  type MeshObject,
  meshOf,
  objectsById,
  type Scene,
  type SceneObject,
  TextureSlot,
  texturesOf,
} from '../../shared/scene.ts';
import { type Affine, applyPoint, applyVector, transformAt } from './animate.ts';
import { type Bounds, buildBvh } from './bvh.ts';
import { type EnvironmentTables, tablesOf } from './environment.ts';
import { add, cross, dot, length, normalize, scale, sub, type V3 } from './vec.ts';

export const PRIM_STRIDE = 24;
/** Leaf size of the BVH; scenes with at most SMALL_SCENE primitives are a single leaf. */
const LEAF_SIZE = 4;
const SMALL_SCENE = 16;
export const MAT_STRIDE = 32;
/** Per primitive: its corners' uvs, then the directions of +u and of +Y up the image (tangent frame). */
export const UV_STRIDE = 12;
export const LIGHT_STRIDE = 20;
export const CAM_SIZE = 34;

export const PrimType = { sphere: 0, quad: 1, triangle: 2 } as const;
export const MatType = { diffuse: 0, metal: 1, dielectric: 2, emissive: 3, pbr: 4 } as const;
export const LightType = { sphereCap: 0, quad: 1, point: 2, spot: 3, directional: 4, environment: 5 } as const;

export interface CompiledScene {
  prims: Float32Array;
  nodes: Float32Array;
  nodeCount: number;
  leafSize: number;
  materials: Float32Array;
  /** Texture coordinates of each primitive's three corners and its tangent frame (triangles with uvs; zeros otherwise). */
  uvs: Float32Array;
  /** Every texture's texels, linear RGB, one after another. */
  texels: Float32Array;
  lights: Float32Array;
  lightCount: number;
  /** The HDRI sky's pixels and sampling tables (environment.ts); one zero when there is none. */
  environment: Float32Array;
  environmentCdf: Float32Array;
  /** Binary-search steps over the sky's tables (0 without one). */
  searchSteps: number;
  /**
   * Camera and sky, minus the tile origin (cam[0], cam[1]) and tile width (cam[32]) which the
   * renderer fills in; cam[33] is the environment's light, or −1.
   */
  camera: Float32Array;
}

/** A primitive in world space, before packing: its record (without header) and its bounds. */
interface WorldPrim extends Bounds {
  type: number;
  material: number;
  data: number[];
  uvs?: number[];
}

export function compileScene(scene: Scene, frame: number): CompiledScene {
  return withCamera(compileGeometry(scene, placementsAt(scene, frame)), scene, frame);
}

/** Everything of a compiled frame but its camera: what only the objects' placements change. */
export type CompiledGeometry = Omit<CompiledScene, 'camera'> & {
  /** The sky's light, or −1 (the camera's record names it). */
  environmentLight: number;
};

/** Each object's placement at `frame`: all a frame's geometry depends on besides the scene. */
export const placementsAt = (scene: Scene, frame: number): Affine[] => scene.objects.map((_, i) => transformAt(scene, i, frame));

/** Whether two frames place every object alike (their geometry is then the same, to the sign of a zero). */
export const samePlacements = (a: readonly Affine[], b: readonly Affine[]): boolean =>
  a.length === b.length && a.every((m, i) => m.every((x, j) => Object.is(x, b[i][j])));

/** The frame's camera added to its geometry. */
export function withCamera(geometry: CompiledGeometry, scene: Scene, frame: number): CompiledScene {
  const { environmentLight, ...rest } = geometry;
  const camera = packCamera(scene, frame);
  camera[33] = environmentLight;
  if (scene.environment) camera.fill(0, 19, 25); // the environment replaces the gradient, even a black one
  camera[18] = geometry.lightCount;
  return { ...rest, camera };
}

export function compileGeometry(scene: Scene, placements: readonly Affine[]): CompiledGeometry {
  const materialIndex = new Map(scene.materials.map((m, i) => [m.name, i]));
  const world: WorldPrim[] = [];
  const byId = objectsById(scene.objects);
  scene.objects.forEach((object, i) => {
    const m = placements[i];
    const point = (p: V3): V3 => applyPoint(m, p);
    const vector = (v: V3): V3 => applyVector(m, v);
    // An instance is expanded here into its own world-space copy of the mesh's triangles.
    const drawn = object.type === 'instance' ? (meshOf(object, byId) as MeshObject) : object;
    const material = materialIndex.get(object.material ?? drawn.material) as number;
    // An instance is placed by its own matrix (none: as it stands), never by its mesh's.
    const placement = object.type === 'instance' || object.type === 'mesh' ? object.matrix : undefined;
    // One at a time: spreading a 250,000-triangle mesh into push() overflows the stack.
    for (const prim of toWorld(drawn, placement, material, point, vector)) world.push(prim);
  });

  const leafSize = world.length <= SMALL_SCENE ? Math.max(1, world.length) : LEAF_SIZE;
  const bvh = buildBvh(world, leafSize);
  const prims = new Float32Array(Math.max(1, world.length) * PRIM_STRIDE);
  const uvs = new Float32Array(Math.max(1, world.length) * UV_STRIDE);
  const sceneBox = nonEmissiveBounds(scene, world);
  const lights: number[] = [];
  bvh.order.forEach((source, slot) => {
    const p = world[source];
    const at = slot * PRIM_STRIDE;
    prims[at] = p.type;
    prims[at + 1] = p.material;
    const light = lightRecord(scene, p, sceneBox);
    prims[at + 2] = light ? lights.length / LIGHT_STRIDE : -1;
    if (light) lights.push(...light);
    prims.set(p.data, at + 4);
    if (p.uvs) uvs.set(p.uvs, slot * UV_STRIDE);
  });

  for (const light of scene.lights) lights.push(...punctualRecord(light));
  const sky = scene.environment ? tablesOf(scene.environment) : undefined;
  let environmentLight = -1;
  if (sky) {
    environmentLight = lights.length / LIGHT_STRIDE;
    lights.push(...environmentRecord(sky, scene.environment?.rotation ?? 0));
  }
  const { texels, offsets } = packTexels(scene);
  return {
    prims,
    nodes: bvh.nodes,
    nodeCount: bvh.nodeCount,
    leafSize,
    materials: packMaterials(scene, offsets),
    uvs,
    texels,
    lights: Float32Array.from(lights.length ? lights : new Array(LIGHT_STRIDE).fill(0)),
    lightCount: lights.length / LIGHT_STRIDE,
    environment: sky?.rgb ?? new Float32Array(1),
    environmentCdf: sky?.cdf ?? new Float32Array(1),
    searchSteps: sky?.searchSteps ?? 0,
    environmentLight,
  };
}

/** An object's primitives in world space; a mesh's placed first by `placement` (its own matrix, or the instance's that draws it). */
function toWorld(
  o: Exclude<SceneObject, { type: 'instance' }>,
  placement: Affine | undefined,
  material: number,
  point: (p: V3) => V3,
  vector: (v: V3) => V3,
): WorldPrim[] {
  switch (o.type) {
    case 'sphere': {
      const c = point(o.center as V3);
      const r = o.radius * length(vector([1, 0, 0]));
      return [{ type: PrimType.sphere, material, data: [...c, r], min: sub(c, [r, r, r]), max: add(c, [r, r, r]) }];
    }
    case 'quad':
      return [quad(point(o.corner as V3), vector(o.u as V3), vector(o.v as V3), material)];
    case 'plane': {
      const n = normalize(o.normal as V3);
      const helper: V3 = Math.abs(n[0]) > 0.9 ? [0, 1, 0] : [1, 0, 0];
      const u = scale(normalize(cross(helper, n)), o.size);
      const v = scale(normalize(cross(n, u)), o.size);
      const corner = sub(o.point as V3, scale(add(u, v), 0.5));
      return [quad(point(corner), vector(u), vector(v), material)];
    }
    case 'mesh':
      return meshTriangles(o, placement, material, point);
  }
}

/**
 * A point p on the quad's plane is q + αu + βv with α = w · (p−q) × v and β = w · u × (p−q), w =
 * n / n·n: stored as the vectors v × w and w × u, which the kernel dots with p − q (3 products
 * each instead of 9).
 */
function quad(q: V3, u: V3, v: V3, material: number): WorldPrim {
  const n = cross(u, v);
  const unit = normalize(n);
  const w = scale(n, 1 / dot(n, n));
  const corners = [q, add(q, u), add(q, v), add(add(q, u), v)];
  return {
    type: PrimType.quad,
    material,
    data: [...q, ...u, ...v, ...unit, ...cross(v, w), dot(unit, q), ...cross(w, u)],
    ...boundsOf(corners),
  };
}

function meshTriangles(o: MeshObject, matrix: Affine | undefined, material: number, point: (p: V3) => V3): WorldPrim[] {
  const place = matrix ? (p: V3): V3 => point(applyPoint(matrix, p)) : point;
  // Only the vertices its triangles use, each placed once: a mesh's positions may hold many more,
  // and each instance of it had placed them all again (an attacker's review: 9,998 instances of a
  // one-triangle mesh of 750,000 vertices held a worker's event loop for 80 minutes a frame).
  const placed = new Map<number, V3>();
  const vertex = (k: number): V3 => {
    let v = placed.get(k);
    if (!v) {
      v = place([o.positions[3 * k], o.positions[3 * k + 1], o.positions[3 * k + 2]]);
      placed.set(k, v);
    }
    return v;
  };
  const normals = new Map<number, V3>();
  const tris: [number, number, number][] = [];
  // A mirroring matrix turns the triangles inside out (glass would swap inside and outside): wind them back.
  const mirrored = matrix !== undefined && determinant(matrix) < 0;
  for (let i = 0; i + 2 < o.indices.length; i += 3)
    tris.push(mirrored ? [o.indices[i], o.indices[i + 2], o.indices[i + 1]] : [o.indices[i], o.indices[i + 1], o.indices[i + 2]]);
  if (o.smooth) {
    for (const [a, b, c] of tris) {
      const n = cross(sub(vertex(b), vertex(a)), sub(vertex(c), vertex(a))); // area-weighted
      for (const k of [a, b, c]) normals.set(k, add(normals.get(k) ?? [0, 0, 0], n));
    }
  }
  const uv = o.uvs;
  return tris.map(([a, b, c]) => {
    const v0 = vertex(a);
    const e1 = sub(vertex(b), v0);
    const e2 = sub(vertex(c), v0);
    const ns = o.smooth ? [a, b, c].flatMap((k) => normalize(normals.get(k) as V3)) : new Array(9).fill(0);
    return {
      type: PrimType.triangle,
      material,
      data: [...v0, ...e1, ...e2, ...ns, o.smooth ? 1 : 0],
      uvs:
        uv &&
        withTangents(
          [a, b, c].flatMap((k) => [uv[k * 2], uv[k * 2 + 1]]),
          e1,
          e2,
        ),
      ...boundsOf([vertex(a), vertex(b), vertex(c)]),
    };
  });
}

/**
 * A triangle's uvs followed by the world directions in which u grows and in which the image's +Y
 * points (v shrinks: glTF's v runs down the image), from its edges and their uv differences;
 * zeros where the uvs are degenerate (a normal map then leaves the normal as it is).
 */
function withTangents(uvs: number[], e1: V3, e2: V3): number[] {
  const [du1, dv1, du2, dv2] = [uvs[2] - uvs[0], uvs[3] - uvs[1], uvs[4] - uvs[0], uvs[5] - uvs[1]];
  const det = du1 * dv2 - du2 * dv1;
  if (Math.abs(det) < 1e-20) return [...uvs, 0, 0, 0, 0, 0, 0];
  const tangent = scale(sub(scale(e1, dv2), scale(e2, dv1)), 1 / det);
  const down = scale(sub(scale(e2, du1), scale(e1, du2)), 1 / det);
  return [...uvs, ...normalize(tangent), ...normalize(scale(down, -1))];
}

/** Of a 3×4 affine matrix's linear part. */
function determinant(m: Affine): number {
  return m[0] * (m[5] * m[10] - m[6] * m[9]) - m[1] * (m[4] * m[10] - m[6] * m[8]) + m[2] * (m[4] * m[9] - m[5] * m[8]);
}

function boundsOf(points: V3[]): Bounds {
  const min: V3 = [Infinity, Infinity, Infinity];
  const max: V3 = [-Infinity, -Infinity, -Infinity];
  for (const p of points) {
    for (let a = 0; a < 3; a++) {
      min[a] = Math.min(min[a], p[a]);
      max[a] = Math.max(max[a], p[a]);
    }
  }
  return { min, max };
}

function nonEmissiveBounds(scene: Scene, world: WorldPrim[]): Bounds | undefined {
  const solid = world.filter((p) => scene.materials[p.material].type !== 'emissive');
  if (solid.length === 0) return undefined;
  return boundsOf(solid.flatMap((p) => [p.min, p.max]));
}

/**
 * Next-event estimation samples emissive spheres and quads. A sphere whose centre lies outside
 * the box of all non-emissive geometry (smallpt's huge ceiling light) is sampled only on the
 * spherical cap facing that box: the box lies wholly in the half-space beyond the plane through
 * its point nearest the centre, so no other part of the sphere can light anything inside it.
 * Paths that hit the emitter outside the sampled region still count its emission, so the
 * estimator stays unbiased whatever the scene.
 */
function lightRecord(scene: Scene, p: WorldPrim, box: Bounds | undefined): number[] | undefined {
  const m = scene.materials[p.material];
  if (m.type !== 'emissive' || p.type === PrimType.triangle) return undefined;
  const le = scale(m.color as V3, m.strength);
  const rec = new Array(LIGHT_STRIDE).fill(0);
  rec[1] = le[0];
  rec[2] = le[1];
  rec[3] = le[2];
  if (p.type === PrimType.quad) {
    const [q, u, v] = [p.data.slice(0, 3), p.data.slice(3, 6), p.data.slice(6, 9)] as V3[];
    rec[0] = LightType.quad;
    rec.splice(4, 12, ...q, ...u, ...v, ...normalize(cross(u, v)));
    rec[16] = length(cross(u, v));
    return rec;
  }
  const c = p.data.slice(0, 3) as V3;
  const r = p.data[3];
  let axis: V3 = [0, -1, 0];
  let cosMax = -1;
  if (box) {
    const nearest = [0, 1, 2].map((a) => Math.min(Math.max(c[a], box.min[a]), box.max[a])) as V3;
    const toBox = sub(nearest, c);
    const d = length(toBox);
    if (d > 0 && d < r) {
      axis = scale(toBox, 1 / d);
      cosMax = d / r;
    }
  }
  rec[0] = LightType.sphereCap;
  rec.splice(4, 8, ...c, r, ...axis, cosMax);
  rec[16] = 2 * Math.PI * r * r * (1 - cosMax);
  return rec;
}

/**
 * Point, spot and directional lights: [1..3] intensity × colour, [4..6] position, [8..10] unit
 * direction the light travels, [11] cos of the spot's outer angle, [12] 1 / (cos inner − cos outer).
 */
function punctualRecord(light: Light): number[] {
  const rec = new Array(LIGHT_STRIDE).fill(0);
  rec[0] = LightType[light.type];
  rec.splice(1, 3, ...scale(light.color as V3, light.intensity));
  if (light.type !== 'directional') rec.splice(4, 3, ...light.position);
  if (light.type !== 'point') rec.splice(8, 3, ...normalize(light.direction as V3));
  if (light.type === 'spot') {
    const cosOuter = Math.cos((light.outerConeAngle * Math.PI) / 180);
    const cosInner = Math.cos((light.innerConeAngle * Math.PI) / 180);
    rec[11] = cosOuter;
    rec[12] = 1 / Math.max(1e-3, cosInner - cosOuter);
  }
  return rec;
}

/**
 * The HDRI sky, a light sampled like the others: [4, 5] its width and height, [6, 7] cos and sin
 * of its rotation about +Y. Its pixels and tables are the kernel's `env` and `envCdf`.
 */
function environmentRecord(sky: EnvironmentTables, rotation: number): number[] {
  const rec = new Array(LIGHT_STRIDE).fill(0);
  const radians = (rotation * Math.PI) / 180;
  rec[0] = LightType.environment;
  rec.splice(4, 4, sky.width, sky.height, Math.cos(radians), Math.sin(radians));
  return rec;
}

const WRAP = { repeat: 0, clamp: 1, mirror: 2 } as const;
const TEXTURE_SLOTS = Object.keys(TextureSlot).length;

/**
 * Material layout: [0] type, [1..3] albedo or tint, [4] roughness or IOR, [5..7] emission,
 * [8] metallic, [9] normal scale, [10] 1 for a thin dielectric; three texture slots (colour,
 * metallic-roughness, normal) of 5 floats from [16]: first float in `texels` (−1: none), width,
 * height, wrap across and down (0 repeat, 1 clamp, 2 mirror).
 */
function packMaterials(scene: Scene, offsets: Map<string, number>): Float32Array {
  const out = new Float32Array(scene.materials.length * MAT_STRIDE);
  const textures = new Map(scene.textures.map((t) => [t.name, t]));
  scene.materials.forEach((m, i) => {
    const at = i * MAT_STRIDE;
    out[at] = MatType[m.type];
    switch (m.type) {
      case 'diffuse':
        out.set(m.albedo, at + 1);
        break;
      case 'metal':
        out.set(m.albedo, at + 1);
        out[at + 4] = m.roughness;
        break;
      case 'dielectric':
        out.set(m.tint, at + 1);
        out[at + 4] = m.ior;
        out[at + 10] = m.thin ? 1 : 0;
        break;
      case 'pbr':
        out.set(m.baseColor, at + 1);
        out[at + 4] = m.roughness;
        out[at + 8] = m.metallic;
        out[at + 9] = m.normalScale;
        break;
      case 'emissive':
        out.set(scale(m.color as V3, m.strength), at + 5);
        break;
    }
    for (let slot = 0; slot < TEXTURE_SLOTS; slot++) out[at + 16 + slot * 5] = -1;
    for (const { slot, name } of texturesOf(m)) {
      const t = textures.get(name) as Scene['textures'][number];
      out.set([offsets.get(name) as number, t.width, t.height, WRAP[t.wrapS], WRAP[t.wrapT]], at + 16 + slot * 5);
    }
  });
  return out;
}

/** sRGB's transfer function, inverted: the linear value of each 8-bit code. */
const SRGB_TO_LINEAR = Float32Array.from({ length: 256 }, (_, i) => {
  const c = i / 255;
  return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
});
const LINEAR_8BIT = Float32Array.from({ length: 256 }, (_, i) => i / 255);

/** All textures' texels as linear RGB floats, and where each texture starts. */
function packTexels(scene: Scene): { texels: Float32Array; offsets: Map<string, number> } {
  const total = scene.textures.reduce((n, t) => n + t.width * t.height * 3, 0);
  const texels = new Float32Array(Math.max(3, total));
  const offsets = new Map<string, number>();
  let at = 0;
  for (const t of scene.textures) {
    offsets.set(t.name, at);
    const rgba = bytesOfBase64(t.rgba);
    const decode = t.encoding === 'srgb' ? SRGB_TO_LINEAR : LINEAR_8BIT;
    for (let i = 0; i < t.width * t.height; i++) {
      texels[at++] = decode[rgba[i * 4]];
      texels[at++] = decode[rgba[i * 4 + 1]];
      texels[at++] = decode[rgba[i * 4 + 2]];
    }
  }
  return { texels, offsets };
}

/**
 * Camera layout: [0,1] tile origin, [2,3] frame size, [4..6] eye, [7..9] forward,
 * [10..12] right scaled to the half-width, [13..15] up scaled to the half-height,
 * [16] lens radius, [17] focus distance, [18] light count, [19..21] sky top,
 * [22..24] sky bottom, [25] clip start, [26..28] unit right, [29..31] unit up, [32] tile width
 * (which the renderer fills in too).
 */
function packCamera(scene: Scene, frame: number): Float32Array {
  const cam = cameraTrack(scene)(frame);
  const { width, height } = scene.render;
  const eye = cam.position;
  const forward = normalize(sub(cam.lookAt, eye));
  const right = normalize(cross(forward, cam.up));
  const up = cross(right, forward);
  const halfH = Math.tan((cam.fov * Math.PI) / 360);
  const halfW = halfH * (width / height);
  const out = new Float32Array(CAM_SIZE);
  out[2] = width;
  out[3] = height;
  out.set(eye, 4);
  out.set(forward, 7);
  out.set(scale(right, halfW), 10);
  out.set(scale(up, halfH), 13);
  out[16] = scene.camera.aperture / 2;
  out[17] = scene.camera.focusDistance ?? length(sub(cam.lookAt, eye));
  out.set(scene.sky.top, 19);
  out.set(scene.sky.bottom, 22);
  out[25] = scene.camera.clipStart;
  out.set(right, 26);
  out.set(up, 29);
  return out;
}
