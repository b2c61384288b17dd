/**
 * Scene format v1: the JSON document a requester submits. Defined once here and used by the
 * renderer, the orchestrator (to validate uploads) and the CLI.
 */

import { z } from 'zod';
import { MIB } from './bytes.ts';
import { cameraTrack } from './keyframes.ts';
import { formatIssues, MAX_ISSUES } from './problem.ts';
import { decodeRadiance, radianceSize } from './radiance.ts';

/** Hard limits that keep one upload from monopolising the farm. */
export const LIMITS = {
  maxWidth: 8192,
  maxHeight: 8192,
  maxPixels: 8192 * 4320,
  maxSpp: 65536,
  maxBounces: 32,
  maxMaterials: 256,
  maxObjects: 10_000,
  maxTriangles: 250_000,
  maxLights: 64,
  maxTextures: 32,
  /** Side of the largest texture, in texels. */
  maxTextureSize: 4096,
  /** Texels of all textures together (the kernel indexes them in f32, exact below 2^24 / 3). */
  maxTexels: 4_194_304,
  /**
   * Pixels of the environment map: its linear RGB is indexed in f32 (exact below 2^24 / 3), and a
   * worker holds it as 16 bytes a pixel (a 2,048×1,024 sky takes 32 MiB).
   */
  maxEnvironmentPixels: 4_194_304,
  /** Largest radiance in an environment map (W/(m²·sr)); brighter pixels are clamped to it. */
  maxRadiance: 1e7,
  maxFrames: 10_000,
  /** Bytes of one scene's assets together (shared/assets.ts): the most a worker fetches for a scene. */
  maxAssetBytes: 256 * MIB,
  /** Largest magnitude of any number: the renderer works in f32, where sums of larger ones overflow. */
  maxMagnitude: 1e9,
} as const;

const finite = z.number().finite().min(-LIMITS.maxMagnitude).max(LIMITS.maxMagnitude);
const withinRange = (v: unknown): boolean => typeof v === 'number' && Math.abs(v) <= LIMITS.maxMagnitude;

/**
 * A long array of numbers, checked in one pass that names the first bad elements and counts the
 * rest, within MAX_ISSUES in all: zod's own per-element issues overflow the stack past about
 * 100,000 bad elements.
 */
function numbers(max: number, ok: (v: unknown) => boolean, what: string) {
  return z
    .array(z.unknown())
    .max(max)
    .superRefine((values, ctx) => {
      const named = MAX_ISSUES - 1;
      let bad = 0;
      for (let i = 0; i < values.length; i++) {
        if (ok(values[i])) continue;
        if (bad++ < named) ctx.addIssue({ code: 'custom', path: [i], message: `expected ${what}` });
      }
      if (bad > named) ctx.addIssue({ code: 'custom', path: [], message: `${bad - named} more elements are not ${what}` });
    })
    .transform((values) => values as number[]);
}
export const Vec3 = z.tuple([finite, finite, finite]);
export type Vec3 = z.infer<typeof Vec3>;
const Color = z.tuple([finite.min(0), finite.min(0), finite.min(0)]);

export const RenderSettings = z.object({
  width: z.number().int().min(1).max(LIMITS.maxWidth),
  height: z.number().int().min(1).max(LIMITS.maxHeight),
  spp: z.number().int().min(1).max(LIMITS.maxSpp),
  maxBounces: z.number().int().min(1).max(LIMITS.maxBounces).default(5),
  seed: z.number().int().min(0).max(0xffffffff).default(1),
  exposure: finite.positive().default(1),
  toneMap: z.enum(['clamp', 'aces']).default('clamp'),
});

export const Camera = z.object({
  position: Vec3,
  lookAt: Vec3,
  up: Vec3.default([0, 1, 0]),
  /** Vertical field of view in degrees. */
  fov: finite.gt(0).lt(180),
  aperture: finite.min(0).default(0),
  /** Distance to the plane in focus; defaults to the look-at distance. */
  focusDistance: finite.positive().optional(),
  /** Rays start this far from the eye (Blender's clip start; smallpt starts at 140). */
  clipStart: finite.min(0).default(0),
});

const Name = z.string().min(1).max(64);
const Wrap = z.enum(['repeat', 'clamp', 'mirror']).default('repeat');
/** An 8-bit image a material multiplies its colour by, looked up with bilinear filtering. */
export const Texture = z.object({
  name: Name,
  width: z.number().int().min(1).max(LIMITS.maxTextureSize),
  height: z.number().int().min(1).max(LIMITS.maxTextureSize),
  /** srgb: colour (base colour, emissive), decoded to linear before rendering; linear: used as is. */
  encoding: z.enum(['srgb', 'linear']).default('srgb'),
  /** What a coordinate outside [0, 1] reads, across (S, u) and down (T, v). */
  wrapS: Wrap,
  wrapT: Wrap,
  /** RGBA8 texels, rows from the top (glTF's v = 0), base64 (4 characters per 3 bytes); alpha is not used. */
  rgba: z.base64().max(4 * Math.ceil((LIMITS.maxTexels * 4) / 3)),
});
export type Texture = z.infer<typeof Texture>;

const MaterialBase = { name: Name };
/** The texture (by name) that multiplies the colour; only meshes with `uvs` can wear one. */
const TextureRef = Name.optional();
export const Material = z.discriminatedUnion('type', [
  z.object({ ...MaterialBase, type: z.literal('diffuse'), albedo: Color, albedoTexture: TextureRef }),
  z.object({ ...MaterialBase, type: z.literal('emissive'), color: Color, strength: finite.min(0).default(1), colorTexture: TextureRef }),
  z.object({
    ...MaterialBase,
    type: z.literal('metal'),
    albedo: Color,
    roughness: finite.min(0).max(1).default(0),
    albedoTexture: TextureRef,
  }),
  z.object({
    ...MaterialBase,
    type: z.literal('dielectric'),
    ior: finite.min(1).max(4),
    tint: Color.default([1, 1, 1]),
    /**
     * A thin wall (a window pane, glTF's transmission without a volume): light passes straight
     * through, less what it reflects, and shadow rays pass too, so a room lit through a window
     * converges like one lit through an opening.
     */
    thin: z.boolean().default(false),
  }),
  /**
   * glTF's metallic-roughness material where it is neither plain diffuse nor plain metal: a hit
   * is metal with probability metallic (× the metallic-roughness texture's blue), diffuse
   * otherwise; roughness is × its green. A normal map (tangent space, +Y up the image) bends the
   * shading normal by normalScale.
   */
  z.object({
    ...MaterialBase,
    type: z.literal('pbr'),
    baseColor: Color,
    metallic: finite.min(0).max(1).default(0),
    roughness: finite.min(0).max(1).default(1),
    baseColorTexture: TextureRef,
    metallicRoughnessTexture: TextureRef,
    normalTexture: TextureRef,
    normalScale: finite.min(-100).max(100).default(1),
  }),
]);
export type Material = z.infer<typeof Material>;

export const Transform = z.object({
  translate: Vec3.default([0, 0, 0]),
  /** Euler angles in degrees, applied X then Y then Z. */
  rotate: Vec3.default([0, 0, 0]),
  scale: finite.positive().default(1),
});
export type Transform = z.infer<typeof Transform>;

/**
 * A 3×4 affine matrix, row by row (rotation, any scale or shear, and translation in the last
 * column), as an animation key's `matrix`.
 */
const Matrix = z.array(finite).length(12);

const ObjectBase = {
  /** Name used by animation tracks. */
  id: z
    .string()
    .min(1)
    .max(64)
    // JSON keys named so are dropped when the animation's record is built: its track would vanish.
    .refine((id) => id !== '__proto__', 'the id "__proto__" is reserved')
    .optional(),
  material: z.string().min(1),
  transform: Transform.optional(),
};
export const SceneObject = z.discriminatedUnion('type', [
  z.object({ ...ObjectBase, type: z.literal('sphere'), center: Vec3, radius: finite.positive() }),
  /** A parallelogram: corner plus two edge vectors. */
  z.object({ ...ObjectBase, type: z.literal('quad'), corner: Vec3, u: Vec3, v: Vec3 }),
  /** A square of side `size` through `point`, facing `normal`. */
  z.object({ ...ObjectBase, type: z.literal('plane'), point: Vec3, normal: Vec3, size: finite.positive() }),
  /** Inline triangle mesh: flat xyz positions and vertex-index triples. */
  z.object({
    ...ObjectBase,
    type: z.literal('mesh'),
    positions: numbers(LIMITS.maxTriangles * 9, withinRange, `a number within ±${LIMITS.maxMagnitude}`),
    indices: numbers(LIMITS.maxTriangles * 3, (v) => Number.isInteger(v) && (v as number) >= 0, 'an integer ≥ 0'),
    smooth: z.boolean().default(false),
    /** Texture coordinates, u and v per vertex (glTF's TEXCOORD_0: v grows down the image). */
    uvs: numbers(LIMITS.maxTriangles * 6, withinRange, `a number within ±${LIMITS.maxMagnitude}`).optional(),
    /**
     * Places the positions before the transform (a glTF node's world matrix): a mesh that
     * instances share is stored once in its own coordinates. A matrix that mirrors (negative
     * determinant) winds the triangles back, so they keep facing out.
     */
    matrix: Matrix.optional(),
  }),
  /**
   * Another copy of a mesh, named by its id: the mesh's positions, indices and uvs placed by this
   * object's own matrix (as a mesh's, not the mesh's placement) and then its transform or keys.
   * The scene and its assets hold the mesh once however many instances draw it; the worker expands
   * each into triangles. It wears the mesh's material unless it names its own.
   */
  z.object({
    ...ObjectBase,
    type: z.literal('instance'),
    of: z.string().min(1).max(64),
    matrix: Matrix.optional(),
    material: z.string().min(1).optional(),
  }),
]);
export type SceneObject = z.infer<typeof SceneObject>;
export type MeshObject = Extract<SceneObject, { type: 'mesh' }>;

export const Sky = z.object({ top: Color, bottom: Color });

/**
 * An HDRI sky: an equirectangular Radiance image lighting the scene from every direction, sampled
 * in proportion to its brightness. Its centre column faces +X and its columns turn toward +Z, as in
 * Blender and three.js; its top row is straight up. It replaces `sky`.
 */
export const Environment = z.object({
  /** The `.hdr` file, base64. */
  hdr: z.base64().max(LIMITS.maxEnvironmentPixels * 6),
  /** Multiplies every pixel's radiance. */
  intensity: finite.min(0).default(1),
  /** Degrees about +Y, counter-clockwise seen from above. */
  rotation: finite.default(0),
});
export type Environment = z.infer<typeof Environment>;

const Direction = Vec3.refine(([x, y, z]) => Math.hypot(x, y, z) > 1e-9, 'a direction must not be zero');
const LightBase = { color: Color.default([1, 1, 1]), intensity: finite.min(0) };
/**
 * Lights without a surface (glTF's KHR_lights_punctual), reached only by next-event estimation.
 * Point and spot intensity is radiant intensity (radiance × area, per steradian: it falls off with
 * the squared distance); directional intensity is irradiance on a surface facing the light.
 */
export const Light = z.discriminatedUnion('type', [
  z.object({ type: z.literal('point'), position: Vec3, ...LightBase }),
  z.object({
    type: z.literal('spot'),
    position: Vec3,
    /** Where the cone points. */
    direction: Direction,
    /** Full intensity inside this half-angle (degrees), none outside the outer one. */
    innerConeAngle: finite.min(0).max(90).default(0),
    outerConeAngle: finite.gt(0).max(90).default(45),
    ...LightBase,
  }),
  /** Light arriving from infinitely far along `direction` (the way it travels), like the sun. */
  z.object({ type: z.literal('directional'), direction: Direction, ...LightBase }),
]);
export type Light = z.infer<typeof Light>;

const Keyframe = z.object({ frame: z.number().int().min(0) });
export const CameraKey = Keyframe.extend({
  position: Vec3.optional(),
  lookAt: Vec3.optional(),
  up: Vec3.optional(),
  fov: finite.gt(0).lt(180).optional(),
});
export const ObjectKey = Keyframe.extend({
  translate: Vec3.optional(),
  rotate: Vec3.optional(),
  scale: finite.positive().optional(),
  /**
   * The whole placement as a 3×4 affine matrix, row by row (rotation, any scale or shear, and
   * translation in the last column): what a glTF animation is baked into, one key a frame.
   * Between keys it is interpolated element by element.
   */
  matrix: Matrix.optional(),
});
export type CameraKey = z.infer<typeof CameraKey>;
export type ObjectKey = z.infer<typeof ObjectKey>;

export const Animation = z.object({
  frameCount: z.number().int().min(1).max(LIMITS.maxFrames),
  fps: finite.positive().max(240).default(24),
  camera: z.array(CameraKey).max(LIMITS.maxFrames).default([]),
  /** Keyframes per object id. */
  objects: z.record(z.string(), z.array(ObjectKey).max(LIMITS.maxFrames)).default({}),
});

export const Scene = z
  .object({
    version: z.literal(1),
    name: z.string().max(200).default('untitled'),
    render: RenderSettings,
    camera: Camera,
    sky: Sky.default({ top: [0, 0, 0], bottom: [0, 0, 0] }),
    environment: Environment.optional(),
    materials: z.array(Material).min(1).max(LIMITS.maxMaterials),
    objects: z.array(SceneObject).min(1).max(LIMITS.maxObjects),
    lights: z.array(Light).max(LIMITS.maxLights).default([]),
    textures: z.array(Texture).max(LIMITS.maxTextures).default([]),
    animation: Animation.optional(),
  })
  .superRefine(checkReferences);
export type Scene = z.infer<typeof Scene>;
export type SceneInput = z.input<typeof Scene>;

/** Cross-field rules zod's shape cannot express: names must resolve, meshes must be well formed. */
function checkReferences(scene: z.infer<z.ZodObject<any>>, ctx: z.RefinementCtx): void {
  const s = scene as Scene;
  const names = new Set<string>();
  s.materials.forEach((m, i) => {
    if (names.has(m.name)) ctx.addIssue({ code: 'custom', path: ['materials', i, 'name'], message: `duplicate material name "${m.name}"` });
    names.add(m.name);
  });
  if (s.render.width * s.render.height > LIMITS.maxPixels) {
    ctx.addIssue({ code: 'custom', path: ['render', 'width'], message: `width × height exceeds ${LIMITS.maxPixels} pixels` });
  }
  const textures = new Map<string, number>();
  let texels = 0;
  s.textures.forEach((t, i) => {
    if (textures.has(t.name))
      ctx.addIssue({ code: 'custom', path: ['textures', i, 'name'], message: `duplicate texture name "${t.name}"` });
    textures.set(t.name, i);
    texels += t.width * t.height;
    const bytes = base64Bytes(t.rgba);
    // (A string that is not base64 at all already has its own issue.)
    if (Number.isInteger(bytes) && bytes !== t.width * t.height * 4)
      ctx.addIssue({ code: 'custom', path: ['textures', i, 'rgba'], message: `holds ${bytes} bytes, not ${t.width}×${t.height}×4` });
  });
  if (texels > LIMITS.maxTexels)
    ctx.addIssue({ code: 'custom', path: ['textures'], message: `textures hold ${texels} texels, limit is ${LIMITS.maxTexels}` });
  const textured = new Set<string>();
  s.materials.forEach((m, i) => {
    for (const { key, name } of texturesOf(m)) {
      textured.add(m.name);
      if (!textures.has(name)) ctx.addIssue({ code: 'custom', path: ['materials', i, key], message: `unknown texture "${name}"` });
    }
  });
  const ids = new Set<string>();
  const byId = objectsById(s.objects);
  s.objects.forEach((o, i) => {
    // What the object draws: itself, or the mesh an instance names.
    const drawn = o.type === 'instance' ? meshOf(o, byId) : o;
    if (o.type === 'instance' && !drawn) {
      const target = byId.get(o.of);
      const what = target?.type === 'instance' ? 'another instance' : `a ${target?.type}`;
      const message = target ? `object "${o.of}" is ${what}, not a mesh: an instance names a mesh` : `no object has id "${o.of}"`;
      ctx.addIssue({ code: 'custom', path: ['objects', i, 'of'], message });
    }
    const material = o.material ?? drawn?.material;
    if (material !== undefined && !names.has(material))
      ctx.addIssue({ code: 'custom', path: ['objects', i, 'material'], message: `unknown material "${material}"` });
    if (material !== undefined && textured.has(material) && drawn && (drawn.type !== 'mesh' || drawn.uvs === undefined))
      ctx.addIssue({
        code: 'custom',
        path: ['objects', i, 'material'],
        message: `material "${material}" has a texture: only a mesh with uvs can wear it`,
      });
    if (o.id !== undefined) {
      if (ids.has(o.id)) ctx.addIssue({ code: 'custom', path: ['objects', i, 'id'], message: `duplicate object id "${o.id}"` });
      ids.add(o.id);
    }
    if (o.type !== 'mesh') return;
    if (o.positions.length % 3 !== 0)
      ctx.addIssue({ code: 'custom', path: ['objects', i, 'positions'], message: 'length must be a multiple of 3' });
    if (o.indices.length % 3 !== 0)
      ctx.addIssue({ code: 'custom', path: ['objects', i, 'indices'], message: 'length must be a multiple of 3' });
    const vertices = o.positions.length / 3;
    if (o.uvs !== undefined && o.uvs.length !== Math.floor(vertices) * 2)
      ctx.addIssue({
        code: 'custom',
        path: ['objects', i, 'uvs'],
        message: `must hold 2 numbers per vertex (${Math.floor(vertices) * 2})`,
      });
    const bad = o.indices.findIndex((v) => v >= vertices);
    if (bad >= 0)
      ctx.addIssue({
        code: 'custom',
        path: ['objects', i, 'indices', bad],
        message: `vertex ${o.indices[bad]} out of range (mesh has ${Math.floor(vertices)})`,
      });
  });
  // Counted before anything is expanded: a few instances of a large mesh must not reach a worker.
  const triangles = triangleCount(s.objects, byId);
  if (triangles > LIMITS.maxTriangles) {
    ctx.addIssue({ code: 'custom', path: ['objects'], message: `scene has ${triangles} triangles, limit is ${LIMITS.maxTriangles}` });
  }
  const extents = new Map<MeshObject, number>();
  s.objects.forEach((o, i) => {
    const issue = reachIssue(o, i, byId, s.animation?.objects ?? {}, extents);
    if (issue) ctx.addIssue({ code: 'custom', ...issue });
  });
  const blind = blindCameraIssue(s);
  if (blind) ctx.addIssue({ code: 'custom', ...blind });
  s.lights.forEach((l, i) => {
    if (l.type === 'spot' && l.innerConeAngle >= l.outerConeAngle)
      ctx.addIssue({ code: 'custom', path: ['lights', i, 'innerConeAngle'], message: 'must be smaller than outerConeAngle' });
  });
  // (A string that is not base64 at all already has its own issue.)
  if (s.environment && Environment.shape.hdr.safeParse(s.environment.hdr).success) {
    const issue = environmentIssue(s.environment.hdr);
    if (issue) ctx.addIssue({ code: 'custom', path: ['environment', 'hdr'], message: issue });
  }
  for (const [id, keys] of Object.entries(s.animation?.objects ?? {})) {
    if (!ids.has(id)) ctx.addIssue({ code: 'custom', path: ['animation', 'objects', id], message: `no object has id "${id}"` });
    const i = keys.findIndex((k) => k.matrix !== undefined);
    const j = keys.findIndex((k) => k.translate !== undefined || k.rotate !== undefined || k.scale !== undefined);
    if (i >= 0 && j >= 0)
      ctx.addIssue({
        code: 'custom',
        path: ['animation', 'objects', id, j],
        message: `an object's keys set either matrix (as key ${i} does) or translate/rotate/scale, not both`,
      });
  }
}

/**
 * A camera at its own lookAt has no direction to look in: every ray of the frame would be NaN.
 * Checked at every frame the scene defines, since keys move position and lookAt separately and
 * the two may meet between keys.
 */
function blindCameraIssue(s: Scene): { path: (string | number)[]; message: string } | undefined {
  const cameraAt = cameraTrack(s);
  for (let frame = 0; frame < frameCount(s); frame++) {
    const { position: p, lookAt: l } = cameraAt(frame);
    if (Math.hypot(p[0] - l[0], p[1] - l[1], p[2] - l[2]) > 1e-9) continue;
    return s.animation?.camera.length
      ? { path: ['animation', 'camera'], message: `at frame ${frame} the camera's position is its lookAt: it has no direction to look in` }
      : { path: ['camera', 'lookAt'], message: "must differ from the camera's position: the camera has no direction to look in" };
  }
  return undefined;
}

/**
 * Where an object's world-space coordinates may pass ±maxMagnitude (f32 sums overflow past it:
 * Inf in the BVH), bounded without expanding anything: its own extent, then its matrix (a mesh's
 * or an instance's), then its transform or keys. A 3×4 matrix takes points within ±r to within
 * ±max over rows of (Σ|m_ij|·r + |t_i|); keys between two matrices or two TRS stay within the
 * larger of the two bounds, so the keys themselves bound the frames between them.
 */
function reachIssue(
  o: SceneObject,
  i: number,
  byId: ReadonlyMap<string, SceneObject>,
  tracks: Record<string, ObjectKey[]>,
  extents: Map<MeshObject, number>,
): { path: (string | number)[]; message: string } | undefined {
  const mesh = o.type === 'instance' ? meshOf(o, byId) : o.type === 'mesh' ? o : undefined;
  if (o.type === 'instance' && !mesh) return undefined; // (already refused)
  let own = 0;
  if (mesh) {
    own = extents.get(mesh) ?? largest(mesh.positions);
    extents.set(mesh, own);
  } else if (o.type === 'sphere') own = largest(o.center) + o.radius;
  else if (o.type === 'quad') own = Math.max(...[0, 1, 2].map((a) => Math.abs(o.corner[a]) + Math.abs(o.u[a]) + Math.abs(o.v[a])));
  else if (o.type === 'plane') own = largest(o.point) + o.size;
  // (A sphere's centre plus its radius may pass the limit that each number keeps: only a placement is refused.)
  const beyond = (path: (string | number)[], reach: number, by: string) =>
    reach > Math.max(own, LIMITS.maxMagnitude)
      ? { path, message: `${by} may place it up to ±${reach.toExponential(2)}, beyond ±${LIMITS.maxMagnitude} (the renderer works in f32)` }
      : undefined;
  const matrix = o.type === 'instance' || o.type === 'mesh' ? o.matrix : undefined;
  const placed = matrix ? reachAfter(matrix, own) : own;
  const byMatrix = matrix && beyond(['objects', i, 'matrix'], placed, 'its matrix');
  if (byMatrix) return byMatrix;
  const keys = o.id !== undefined && Object.hasOwn(tracks, o.id) ? tracks[o.id] : [];
  if (keys.some((k) => k.matrix !== undefined)) {
    for (const [k, key] of keys.entries()) {
      const issue = key.matrix && beyond(['animation', 'objects', o.id as string, k, 'matrix'], reachAfter(key.matrix, placed), 'this key');
      if (issue) return issue;
    }
    return undefined;
  }
  const base: Partial<Transform> = o.transform ?? {};
  return (
    beyond(['objects', i, 'transform'], reachAfterTrs([base], placed), 'its transform') ??
    beyond(['animation', 'objects', o.id as string], reachAfterTrs([base, ...keys], placed), 'its keys')
  );
}

/**
 * How far translations, rotations and scales (a transform, and keys interpolated between them)
 * take points within ±r: a turned row's entries sum to at most √3 times the scale.
 */
function reachAfterTrs(trs: Partial<Transform>[], r: number): number {
  const turned = trs.some((t) => t.rotate?.some((v) => v !== 0));
  const scale = Math.max(...trs.map((t) => t.scale ?? 1));
  const shift = Math.max(...trs.map((t) => largest(t.translate ?? [])));
  return (turned ? Math.sqrt(3) : 1) * scale * r + shift;
}

/** The largest magnitude among the numbers. */
function largest(values: readonly number[]): number {
  let m = 0;
  for (const v of values) m = Math.max(m, Math.abs(v));
  return m;
}

/** How far a 3×4 affine matrix (row by row) takes points within ±r. */
function reachAfter(m: readonly number[], r: number): number {
  let reach = 0;
  for (let row = 0; row < 12; row += 4)
    reach = Math.max(reach, (Math.abs(m[row]) + Math.abs(m[row + 1]) + Math.abs(m[row + 2])) * r + Math.abs(m[row + 3]));
  return reach;
}

/** Objects by id (the first of each id: validation refuses the others). */
export function objectsById(objects: readonly SceneObject[]): Map<string, SceneObject> {
  const byId = new Map<string, SceneObject>();
  for (const o of objects) if (o.id !== undefined && !byId.has(o.id)) byId.set(o.id, o);
  return byId;
}

/** The mesh an instance draws, if its `of` names one. */
export function meshOf(
  instance: Extract<SceneObject, { type: 'instance' }>,
  byId: ReadonlyMap<string, SceneObject>,
): MeshObject | undefined {
  const target = byId.get(instance.of);
  return target?.type === 'mesh' ? target : undefined;
}

/** Triangles the scene draws, each instance counting its mesh's again (as the worker expands it). */
export function triangleCount(objects: readonly SceneObject[], byId = objectsById(objects)): number {
  let triangles = 0;
  for (const o of objects) {
    const mesh = o.type === 'instance' ? meshOf(o, byId) : o.type === 'mesh' ? o : undefined;
    if (mesh) triangles += Math.floor(mesh.indices.length / 3);
  }
  return triangles;
}

/**
 * The last skies checked, by their base64 (the same string the scene holds, so keeping it costs
 * nothing while the scene lives): a sky is decoded once however often its scene is validated —
 * an estimate per keystroke, or a requester sending the same large sky again and again.
 */
const checkedSkies = new Map<string, string | undefined>();
const CHECKED_SKIES = 4;

/** Why an environment map cannot be rendered, if it cannot: decoded in full, so none that passes fails on a worker. */
function environmentIssue(hdr: string): string | undefined {
  if (checkedSkies.has(hdr)) return checkedSkies.get(hdr);
  const issue = decodingIssue(hdr);
  if (checkedSkies.size >= CHECKED_SKIES) checkedSkies.delete(checkedSkies.keys().next().value as string);
  checkedSkies.set(hdr, issue);
  return issue;
}

function decodingIssue(hdr: string): string | undefined {
  try {
    const bytes = bytesOfBase64(hdr);
    const { width, height } = radianceSize(bytes);
    if (width * height > LIMITS.maxEnvironmentPixels)
      return `${width}×${height} pixels exceeds the limit of ${LIMITS.maxEnvironmentPixels}; scale the sky down`;
    decodeRadiance(bytes, LIMITS.maxRadiance);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/** Decodes base64 in Node (Buffer) and in the dashboard's browser (atob). */
export function bytesOfBase64(b64: string): Uint8Array {
  return typeof Buffer === 'undefined' ? Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)) : Buffer.from(b64, 'base64');
}

/** Bytes a (valid, padded) base64 string decodes to, without decoding it. */
const base64Bytes = (b64: string): number => (b64.length / 4) * 3 - (b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0);

/** The renderer's texture slots: colour, metallic-roughness, normal. */
export const TextureSlot = { color: 0, metallicRoughness: 1, normal: 2 } as const;

/** The textures a material reads: the field naming each, its slot and the texture's name. */
export function texturesOf(m: Material): { key: string; slot: number; name: string }[] {
  const named: [string, number, string | undefined][] =
    m.type === 'emissive'
      ? [['colorTexture', TextureSlot.color, m.colorTexture]]
      : m.type === 'pbr'
        ? [
            ['baseColorTexture', TextureSlot.color, m.baseColorTexture],
            ['metallicRoughnessTexture', TextureSlot.metallicRoughness, m.metallicRoughnessTexture],
            ['normalTexture', TextureSlot.normal, m.normalTexture],
          ]
        : m.type === 'dielectric'
          ? []
          : [['albedoTexture', TextureSlot.color, m.albedoTexture]];
  return named.filter(([, , name]) => name !== undefined).map(([key, slot, name]) => ({ key, slot, name: name as string }));
}

export class SceneError extends Error {
  constructor(readonly issues: { path: string; message: string }[]) {
    super(issues.map((i) => `${i.path}: ${i.message}`).join('; '));
    this.name = 'SceneError';
  }
}

/** Parses and validates a scene; throws SceneError whose message names each failing path. */
export function parseScene(input: unknown): Scene {
  let result: ReturnType<typeof Scene.safeParse>;
  try {
    result = Scene.safeParse(input);
  } catch (e) {
    // Zod gathers issues recursively: an input wrong in hundreds of thousands of places exhausts
    // the stack before it can say where. That is still the input's fault, not a server error.
    if (!(e instanceof RangeError)) throw e;
    throw new SceneError([{ path: '(root)', message: 'too many problems to list; check the scene against the schema' }]);
  }
  if (!result.success) throw new SceneError(formatIssues(result.error));
  return result.data;
}

/** Number of frames the scene defines (1 when it is a still). */
export function frameCount(scene: Scene): number {
  return scene.animation?.frameCount ?? 1;
}

/** Overrides for quick previews (`--size`, `--spp`): returns a new, still-valid scene. */
export function withOverrides(scene: Scene, o: { width?: number; height?: number; spp?: number }): Scene {
  return parseScene({ ...scene, render: { ...scene.render, ...definedOnly(o) } });
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
