/**
 * glTF 2.0 → the farm's scene: the default scene's triangle meshes with their nodes' world
 * transforms applied and their TEXCOORD_0, the metallic-roughness materials by their factors and
 * their base colour and emissive textures (glass through
 * KHR_materials_transmission and KHR_materials_ior, KHR_materials_emissive_strength), the first
 * perspective camera (or one that frames the scene, as glTF viewers do), KHR_lights_punctual
 * lights, a viewer's sky when nothing emits light, and the first animation baked into one key a
 * frame (gltf-animation.ts): moving meshes keep their own coordinates and get a matrix per frame.
 * A mesh on several nodes is stored once, in its own coordinates, and drawn again by instances;
 * the import stops as soon as the scene passes the format's object or triangle limit.
 * A file's declared sizes are checked before anything is expanded: its accessors' counts from its
 * JSON (checkAccessors), each primitive's vertices and triangles before they are read, the keys
 * an animation holds, and its images' sides and texels from their headers before they are decoded.
 * Everything it does not import yet is named in the warnings, never dropped silently.
 */
import {
  type Document,
  type Material as GltfMaterial,
  type Texture as GltfTexture,
  type JSONDocument,
  type Mesh,
  type Node,
  NodeIO,
  Primitive,
  TextureInfo,
} from '@gltf-transform/core';
import {
  type EmissiveStrength,
  type IOR,
  KHRLightsPunctual,
  KHRMaterialsEmissiveStrength,
  KHRMaterialsIOR,
  KHRMaterialsTransmission,
  KHRMaterialsVolume,
  type Light as PunctualLight,
  type Transmission,
  type Volume,
} from '@gltf-transform/extensions';
import { bakeAnimation, drawingNodes } from './gltf-animation.ts';
import { decodeRgba, imageHeader } from './png.ts';
import {
  type CameraKey,
  LIMITS,
  type Light,
  type Material,
  type ObjectKey,
  type SceneInput,
  type Texture,
  texturesOf,
  type Vec3,
} from './scene.ts';

/** Object keys an imported animation may bake (objects × frames): about a scene body's worth of JSON. */
const MAX_BAKED_KEYS = 100_000;
/**
 * Work an imported animation may bake, in steps: a node's matrix composed with its parent's is
 * one, a channel sampled and set on its node about 25 (6 µs): about a second. A longer
 * animation keeps its first frames and says so.
 */
const MAX_BAKE_STEPS = 5_000_000;
const CHANNEL_STEPS = 25;
/** Vertices a scene's meshes may hold: three a triangle (an indexed mesh holds fewer). */
const MAX_VERTICES = LIMITS.maxTriangles * 3;
/** Keys one animation sampler may hold: five a frame of the longest animation a job renders (120 a second at 24 fps). */
const MAX_SAMPLER_KEYS = LIMITS.maxFrames * 5;
/** Keys the played animation's channels hold together (channels that share a sampler each hold its keys again). */
const MAX_ANIMATION_KEYS = MAX_SAMPLER_KEYS * 10;
/** Numbers one accessor not drawn or played may hold (a VEC4 for each vertex a scene may hold). */
const MAX_ACCESSOR_VALUES = MAX_VERTICES * 4;
/**
 * Numbers all of a file's accessors may hold together: 32 for each vertex a scene may hold (a
 * skinned, vertex-coloured export with two uv sets and tangents carries 26), 96 MB of floats.
 */
const MAX_FILE_VALUES = MAX_VERTICES * 32;
/** Nodes a file may hold (cameras, lights, empties and bones besides the nodes that draw), and how deep they may nest. */
const MAX_NODES = LIMITS.maxObjects * 4;
const MAX_NODE_DEPTH = 1_000;
/** Image formats a glTF texture may come in (EXT_texture_webp's too): sharp reads more (SVG, TIFF, GIF …), none of them glTF's. */
const IMAGE_FORMATS = new Set(['png', 'jpeg', 'webp']);

/** The extensions the importer reads: register them on the reader (NodeIO, WebIO). */
export const SUPPORTED_EXTENSIONS = [
  KHRLightsPunctual,
  KHRMaterialsEmissiveStrength,
  KHRMaterialsIOR,
  KHRMaterialsTransmission,
  KHRMaterialsVolume,
];
const SUPPORTED_NAMES = new Set<string>(SUPPORTED_EXTENSIONS.map((e) => e.EXTENSION_NAME));
/**
 * glTF light intensities are photometric (candela, lux); the renderer's are radiometric. Blender's
 * exporter and importer convert at 683 lm/W, so a light exported from Blender renders as bright
 * here as in Blender.
 */
const LUMENS_PER_WATT = 683;
/** A material at least this transmissive is glass. */
const GLASS_TRANSMISSION = 0.5;

/** What an imported file renders at unless the command line says otherwise. */
const DEFAULT_RENDER = { width: 640, height: 480, spp: 64 };
/** A glTF viewer's neutral environment, for files that bring no light of their own. */
const VIEWER_SKY = { top: [0.9, 0.95, 1] as Vec3, bottom: [0.3, 0.3, 0.3] as Vec3 };
/** Primitives without a material get glTF's default: white, fully rough, not metallic. */
const DEFAULT_MATERIAL = { name: 'gltf-default', type: 'diffuse', albedo: [1, 1, 1] as Vec3 } as const;
const AUTO_FOV = 40;
/** Frames per second an animation is rendered at (the scene's default, and Blender's). */
const FPS = 24;
const IDENTITY: Mat4 = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];

export interface ImportedScene {
  scene: SceneInput;
  /** What the file has that the farm does not import (yet), by name. */
  warnings: string[];
}

type Mat4 = readonly number[];

/** Reads a glTF file set (as gltf-transform's JSON document: a .gltf and its resources, or a .glb's) and converts it. */
export async function sceneFromJsonDocument(json: JSONDocument, name: string, options: ImportOptions = {}): Promise<ImportedScene> {
  // gltf-transform allocates every accessor's `count` elements as it reads, and walks node
  // hierarchies recursively: sized first.
  checkAccessors(json.json);
  checkNodes(json.json);
  const io = new NodeIO().registerExtensions(SUPPORTED_EXTENSIONS);
  return sceneFromGltf(await io.readJSON(json), json.json.extensionsUsed ?? [], name, options);
}

/**
 * A readable glTF file the importer stops expanding: its nodes would draw more than a scene may
 * hold, or its accessors, animation or images declare more than one may carry. Not a broken file,
 * so callers word it as a limit (by `path`, the scene field over it: `objects`, `animation`,
 * `textures`, `textures[0].width` …).
 */
export class ImportLimitError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
    this.name = this.constructor.name;
  }
}

export interface ImportOptions {
  /** The camera to render through, by its name or its node's (default: the first perspective camera). */
  camera?: string;
}

export async function sceneFromGltf(
  doc: Document,
  extensionsUsed: readonly string[],
  name: string,
  options: ImportOptions = {},
): Promise<ImportedScene> {
  const root = doc.getRoot();
  const gltfScene = root.getDefaultScene() ?? root.listScenes()[0];
  if (!gltfScene) throw new Error('the glTF file has no scene');
  const warnings = unsupportedParts(doc, extensionsUsed);
  checkAnimationKeys(doc);
  const animation = bakeAnimation(doc, FPS, warnings);
  const moving = animation?.moving ?? new Set<Node>();
  /** Objects that move, by the node that places them. */
  const placed = new Map<string, Node>();
  let cameraNode: Node | undefined;
  const materials = new Map<GltfMaterial | null, SceneInput['materials'][number]>();
  /** Decoded after the traversal, once their headers are checked against the limits. */
  const textures = new Map<string, TextureUse>();
  /** The farm texture for a glTF one used as colour (sRGB) or data (linear), by name; each is decoded once. */
  const textureName: TextureNamer = (texture, info, encoding) => {
    if (!texture || !info) return undefined;
    if (info.getTexCoord() !== 0) warnings.push(`texture "${texture.getName()}" uses TEXCOORD_${info.getTexCoord()}: TEXCOORD_0 is read`);
    const key = `${root.listTextures().indexOf(texture)}/${encoding}`;
    let entry = textures.get(key);
    if (!entry) {
      const name = `t${textures.size}-${texture.getName() || 'texture'}`.slice(0, 64);
      entry = { name, texture, info, encoding };
      textures.set(key, entry);
    }
    return entry.name;
  };
  const objects: SceneInput['objects'] = [];
  const lights: Light[] = [];
  let camera: SceneInput['camera'] | undefined;
  let aspect: number | undefined;
  const bounds = { min: [Infinity, Infinity, Infinity], max: [-Infinity, -Infinity, -Infinity] };
  /** Nodes that draw each mesh: one drawn by two or more is stored once and instanced. */
  const uses = new Map<Mesh, number>();
  gltfScene.traverse((node) => {
    const mesh = node.getMesh();
    if (mesh) uses.set(mesh, (uses.get(mesh) ?? 0) + 1);
  });
  /** Each node's index in the file: the ids of objects that keep their own coordinates. */
  const nodeIndex = new Map(root.listNodes().map((n, i) => [n, i]));
  /** A shared mesh's primitives as first stored, by which later nodes instance them: their box in their own coordinates and their triangles. */
  const stored = new Map<Primitive, { id: string; box: number[]; triangles: number }>();
  /**
   * Counted as objects are made, and the import stopped at either limit: a few megabytes of nodes
   * that share one mesh must not hold the orchestrator expanding millions of triangles.
   */
  let triangles = 0;
  const overTriangles = () =>
    new ImportLimitError(
      'objects',
      `scene has over ${LIMITS.maxTriangles} triangles (a mesh counts again on each node that draws it), limit is ${LIMITS.maxTriangles}`,
    );
  const draw = (drawn: number) => {
    if (objects.length >= LIMITS.maxObjects)
      throw new ImportLimitError(
        'objects',
        `scene has over ${LIMITS.maxObjects} objects (one per primitive on each node), limit is ${LIMITS.maxObjects}`,
      );
    triangles += drawn;
    if (triangles > LIMITS.maxTriangles) throw overTriangles();
  };
  /** Vertices read from the file so far: an indexed mesh's few triangles may name millions of them. */
  let vertices = 0;
  /** Before a primitive is expanded: its vertices and triangles must fit in what the scene has left. */
  const reserve: Reserve = (count, drawn, what) => {
    if (vertices + count > MAX_VERTICES)
      throw new ImportLimitError(
        'objects',
        `${what} has ${count} vertices: a scene's meshes hold at most ${MAX_VERTICES} (3 a triangle, ${LIMITS.maxTriangles} triangles)${vertices > 0 ? `, ${vertices} are already read` : ''}`,
      );
    if (triangles + drawn > LIMITS.maxTriangles) throw overTriangles();
    vertices += count;
  };

  /** Each node's world matrix from its parent's: node.getWorldMatrix() walks all its ancestors again (nodes × depth). */
  const worlds = new Map<Node, Mat4>();
  /** Each node's depth (1 for the scene's own): what getWorldMatrix() walks for it. */
  const depths = new Map<Node, number>();
  gltfScene.traverse((node) => {
    const parent = node.getParentNode();
    const world = parent ? multiply(worlds.get(parent) as Mat4, node.getMatrix()) : node.getMatrix();
    worlds.set(node, world);
    depths.set(node, parent ? (depths.get(parent) ?? 0) + 1 : 1);
    const gltfCamera = node.getCamera();
    const wanted = options.camera === undefined || options.camera === gltfCamera?.getName() || options.camera === node.getName();
    if (gltfCamera && !camera && wanted) {
      if (gltfCamera.getType() === 'perspective') {
        camera = cameraAt(world, (gltfCamera.getYFov() * 180) / Math.PI);
        cameraNode = node;
        aspect = gltfCamera.getAspectRatio() ?? undefined;
      } else warnings.push(`camera "${gltfCamera.getName()}" is orthographic, which is not supported: a framing camera is used`);
    }
    const light = node.getExtension<PunctualLight>('KHR_lights_punctual');
    if (light) lights.push(lightAt(world, light, warnings));
    if (light && moving.has(node)) warnings.push(`light "${light.getName()}" is animated, which is not supported: it stays where it rests`);
    const shared = (uses.get(node.getMesh() as Mesh) ?? 0) > 1;
    // A moving node's mesh is placed by its keys, a shared mesh by its matrix: both keep their own coordinates.
    const local = shared || moving.has(node);
    const matrix = shared && !moving.has(node) ? rowsOf(world) : undefined;
    const grow = (positions: readonly number[]) => {
      for (let i = 0; i + 2 < positions.length; i += 3) {
        const at = local ? transformPoint(world, positions.slice(i, i + 3)) : positions.slice(i, i + 3);
        for (let c = 0; c < 3; c++) {
          bounds.min[c] = Math.min(bounds.min[c], at[c]);
          bounds.max[c] = Math.max(bounds.max[c], at[c]);
        }
      }
    };
    node
      .getMesh()
      ?.listPrimitives()
      .forEach((primitive, p) => {
        const id = local ? `n${nodeIndex.get(node)}p${p}` : undefined;
        if (id && moving.has(node)) placed.set(id, node);
        const first = stored.get(primitive);
        if (first) {
          draw(first.triangles);
          // Its box's corners bound it: the mesh's vertices are not transformed again for every node.
          grow(first.box);
          objects.push({ type: 'instance', id: moving.has(node) ? id : undefined, of: first.id, matrix });
          return;
        }
        // A moving or shared mesh keeps its own coordinates; its keys or matrix place it.
        const mesh = meshOf(node, primitive, p, local ? IDENTITY : world, warnings, reserve);
        if (!mesh) return;
        draw(Math.floor(mesh.indices.length / 3));
        grow(mesh.positions);
        if (shared)
          stored.set(primitive, { id: id as string, box: boxCorners(mesh.positions), triangles: Math.floor(mesh.indices.length / 3) });
        const material = primitive.getMaterial();
        if (!materials.has(material))
          materials.set(material, material ? materialOf(material, materials.size, textureName) : DEFAULT_MATERIAL);
        const used = materials.get(material) as SceneInput['materials'][number];
        if (texturesOf(used as Material).length > 0 && !mesh.uvs) {
          warnings.push(`mesh "${node.getMesh()?.getName()}" wears a texture but has no TEXCOORD_0: it reads the texel at (0, 0)`);
          mesh.uvs = new Array((mesh.positions.length / 3) * 2).fill(0);
        }
        objects.push({ type: 'mesh', id, material: used.name, ...mesh, matrix });
      });
  });
  if (objects.length === 0) throw new Error('the glTF file has no triangle mesh in its scene');
  if (options.camera !== undefined && !camera) {
    const names = root.listCameras().map((c) => `"${c.getName()}"`);
    throw new Error(`no perspective camera named "${options.camera}" (its cameras: ${names.join(', ') || 'none'})`);
  }
  const list = [...materials.values()];
  const keys = animation && {
    frameCount: animation.frameCount,
    fps: animation.fps,
    camera: [] as CameraKey[],
    objects: {} as Record<string, ObjectKey[]>,
  };
  if (animation && keys) {
    // A small file can move many nodes over many frames: bake no more keys than a scene can carry.
    const frames = Math.min(animation.frameCount, Math.floor(MAX_BAKED_KEYS / Math.max(1, placed.size)));
    if (frames < 1)
      throw new ImportLimitError('animation', `animation moves ${placed.size} objects: the importer bakes at most ${MAX_BAKED_KEYS} keys`);
    // Nor spend more than a second on it: many channels, or placed nodes deep in a hierarchy, cost every frame.
    let depth = 0;
    for (const node of placed.values()) depth += depths.get(node) ?? 1;
    if (cameraNode && moving.has(cameraNode)) depth += depths.get(cameraNode) ?? 1;
    const perFrame = animation.channels * CHANNEL_STEPS + depth;
    const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;
    const work = `samples ${plural(animation.channels, 'channel', 'channels')} and composes ${plural(depth, 'node matrix', 'node matrices')} a frame`;
    const affordable = Math.min(frames, Math.floor(MAX_BAKE_STEPS / Math.max(1, perFrame)));
    if (affordable < 1)
      throw new ImportLimitError(
        'animation',
        `animation "${animation.name}" ${work}: the importer bakes at most ${MAX_BAKE_STEPS} steps (a channel counts ${CHANNEL_STEPS})`,
      );
    if (frames < animation.frameCount)
      warnings.push(
        `animation "${animation.name}" moves ${placed.size} objects over ${animation.frameCount} frames: its first ${frames} are rendered (${MAX_BAKED_KEYS} keys at most)`,
      );
    if (affordable < frames)
      warnings.push(
        `animation "${animation.name}" ${work}: its first ${affordable} frames are rendered (${MAX_BAKE_STEPS} steps at most, a channel counts ${CHANNEL_STEPS})`,
      );
    keys.frameCount = affordable;
    for (const id of placed.keys()) keys.objects[id] = [];
    for (let frame = 0; frame < keys.frameCount; frame++) {
      animation.pose(frame);
      for (const [id, node] of placed) keys.objects[id].push({ frame, matrix: rowsOf(node.getWorldMatrix()) });
      if (cameraNode && moving.has(cameraNode)) {
        const { position, lookAt, up } = cameraAt(cameraNode.getWorldMatrix(), 0);
        keys.camera.push({ frame, position, lookAt, up });
      }
    }
    animation.rest();
  }
  const height = DEFAULT_RENDER.height;
  return {
    scene: {
      version: 1,
      name: name.slice(0, 200),
      render: { ...DEFAULT_RENDER, width: aspect ? Math.max(1, Math.round(height * aspect)) : DEFAULT_RENDER.width },
      camera: camera ?? framing(bounds),
      sky: lights.length > 0 || list.some((m) => m.type === 'emissive') ? undefined : VIEWER_SKY,
      materials: list,
      objects,
      lights,
      textures: await decodeTextures([...textures.values()]),
      animation: keys,
    },
    warnings,
  };
}

/** Everything in the file this importer leaves out, by name. */
function unsupportedParts(doc: Document, extensionsUsed: readonly string[]): string[] {
  const root = doc.getRoot();
  const warnings = extensionsUsed.filter((e) => !SUPPORTED_NAMES.has(e)).map((e) => `extension ${e} is not supported yet: ignored`);
  const count = (n: number, what: string, effect: string) => {
    if (n > 0) warnings.push(`${n} ${what}${n === 1 ? '' : 's'} not supported yet: ${effect}`);
  };
  const read = new Set(
    root
      .listMaterials()
      .flatMap((m) => [m.getBaseColorTexture(), m.getEmissiveTexture(), m.getMetallicRoughnessTexture(), m.getNormalTexture()]),
  );
  count(
    root.listTextures().filter((t) => !read.has(t)).length,
    'occlusion or unused texture',
    'not read (the path tracer finds occlusion itself)',
  );
  count(root.listSkins().length, 'skin', 'skinned meshes are rendered in their bind pose');
  const blended = root.listMaterials().filter((m) => m.getAlphaMode() !== 'OPAQUE' || m.getAlpha() < 1);
  count(blended.length, 'transparent material', 'rendered opaque');
  const morphed = root.listMeshes().filter((m) => m.listPrimitives().some((p) => p.listTargets().length > 0));
  count(morphed.length, 'morph-target mesh', 'rendered without its targets');
  return warnings;
}

const ELEMENT_SIZE: Record<string, number> = { SCALAR: 1, VEC2: 2, VEC3: 3, VEC4: 4, MAT2: 4, MAT3: 9, MAT4: 16 };

type AccessorUse = { kind: 'vertices' | 'indices' | 'keys' | 'values'; what: string };

/**
 * Sizes a file's accessors from its JSON, before gltf-transform reads them: it allocates each
 * accessor's `count` elements, zeros for one without a bufferView (as the spec says) or read at a
 * stride, however few bytes the file holds — a 300-byte file may declare 60 million vertices.
 * Each is refused (ImportLimitError, naming it) past what its use could draw or play: a vertex
 * attribute or indices past the vertices a scene holds, a sampler's input past MAX_SAMPLER_KEYS
 * and its output past three values (CUBICSPLINE) of a quaternion a key; any other past
 * MAX_ACCESSOR_VALUES, and all of them past MAX_FILE_VALUES together. A count that is not one, or
 * a sparse count past it, makes the file malformed.
 */
export function checkAccessors(json: JSONDocument['json']): void {
  const list = (v: unknown): Record<string, unknown>[] => (Array.isArray(v) ? v.map((e) => (e && typeof e === 'object' ? e : {})) : []);
  const named = (what: string, i: number, item: Record<string, unknown>) =>
    `${what} ${i}${typeof item.name === 'string' && item.name ? ` "${item.name.slice(0, 64)}"` : ''}`;
  const uses = new Map<unknown, AccessorUse[]>();
  const use = (accessor: unknown, kind: AccessorUse['kind'], what: string) => {
    const known = uses.get(accessor);
    if (known) known.push({ kind, what });
    else uses.set(accessor, [{ kind, what }]);
  };
  list(json.meshes).forEach((mesh, m) => {
    list(mesh.primitives).forEach((primitive, p) => {
      const where = `of ${named('mesh', m, mesh)} primitive ${p}`;
      for (const [attribute, a] of Object.entries(list([primitive.attributes])[0])) use(a, 'vertices', `${attribute} ${where}`);
      list(primitive.targets).forEach((target, t) => {
        for (const [attribute, a] of Object.entries(target)) use(a, 'vertices', `${attribute} of morph target ${t} ${where}`);
      });
      if (primitive.indices !== undefined) use(primitive.indices, 'indices', `indices ${where}`);
    });
  });
  list(json.animations).forEach((animation, a) => {
    list(animation.samplers).forEach((sampler, k) => {
      const where = `of ${named('animation', a, animation)} sampler ${k}`;
      use(sampler.input, 'keys', `input ${where}`);
      use(sampler.output, 'values', `output ${where}`);
    });
  });
  let total = 0;
  list(json.accessors).forEach((accessor, i) => {
    const { count, type, sparse } = accessor as { count?: unknown; type?: unknown; sparse?: { count?: unknown } };
    const size = Object.hasOwn(ELEMENT_SIZE, String(type)) ? ELEMENT_SIZE[String(type)] : undefined;
    if (size === undefined) throw new Error(`accessor ${i} has type ${JSON.stringify(type)}: not one of glTF's`);
    if (!Number.isSafeInteger(count) || (count as number) < 0) throw new Error(`accessor ${i} has count ${JSON.stringify(count)}`);
    const n = count as number;
    if (sparse !== undefined) {
      const k = sparse?.count;
      if (!Number.isSafeInteger(k) || (k as number) < 1 || (k as number) > n)
        throw new Error(`accessor ${i} has sparse count ${JSON.stringify(k)}: at least 1 and at most its count, ${n}`);
    }
    const values = n * size;
    const refuse = (path: string, what: string, held: string, most: string) => {
      throw new ImportLimitError(path, `accessor ${i} (${what}) holds ${n} ${held}: ${most}`);
    };
    for (const { kind, what } of uses.get(i) ?? []) {
      const most = `a scene's meshes hold at most ${MAX_VERTICES} (3 a triangle, ${LIMITS.maxTriangles} triangles)`;
      if (kind === 'vertices' && n > MAX_VERTICES) refuse('objects', what, 'vertices', most);
      if (kind === 'indices' && n > MAX_VERTICES) refuse('objects', what, 'indices', most);
      if (kind === 'keys' && n > MAX_SAMPLER_KEYS)
        refuse('animation', what, 'keys', `a sampler holds at most ${MAX_SAMPLER_KEYS} (5 a frame over ${LIMITS.maxFrames} frames)`);
      if (kind === 'values' && values > MAX_SAMPLER_KEYS * 12)
        refuse(
          'animation',
          what,
          `${type} values`,
          `a sampler's output holds at most ${MAX_SAMPLER_KEYS * 12} numbers (${MAX_SAMPLER_KEYS} keys)`,
        );
    }
    if (values > MAX_ACCESSOR_VALUES) refuse('objects', 'not drawn or played', `${type} values`, `at most ${MAX_ACCESSOR_VALUES} numbers`);
    total += values;
  });
  if (total > MAX_FILE_VALUES)
    throw new ImportLimitError(
      'objects',
      `the file's accessors hold ${total} numbers together, the importer reads at most ${MAX_FILE_VALUES}`,
    );
}

/**
 * The file's nodes, from its JSON: at most MAX_NODES, in trees (glTF's rule: no node is the child
 * of two, none its own ancestor — else a depth checked along one path is not the depth the reader
 * builds) nested at most MAX_NODE_DEPTH deep (a chain of 20,000 nodes, 900 kB, overflows the
 * stack of gltf-transform's recursive traversal after it has read them all). Children naming no
 * node are left to the reader to refuse.
 */
function checkNodes(json: JSONDocument['json']): void {
  const nodes = Array.isArray(json.nodes) ? json.nodes : [];
  if (nodes.length > MAX_NODES)
    throw new ImportLimitError('objects', `the file has ${nodes.length} nodes, the importer reads at most ${MAX_NODES}`);
  const childrenOf = (i: number): number[] => {
    const children = (nodes[i] as { children?: unknown } | undefined)?.children;
    return Array.isArray(children) ? children.filter((c): c is number => Number.isInteger(c) && c >= 0 && c < nodes.length) : [];
  };
  const parentOf = new Map<number, number>();
  nodes.forEach((_, i) => {
    for (const child of childrenOf(i)) {
      if (parentOf.has(child))
        throw new Error(`node ${child} is a child of nodes ${parentOf.get(child)} and ${i}: glTF's nodes form trees`);
      parentOf.set(child, i);
    }
  });
  let reached = 0;
  const stack = nodes.flatMap((_, i) => (parentOf.has(i) ? [] : [{ node: i, depth: 1 }]));
  for (let next = stack.pop(); next; next = stack.pop()) {
    reached++;
    if (next.depth > MAX_NODE_DEPTH)
      throw new ImportLimitError(
        'objects',
        `node ${next.node} is nested ${next.depth} deep: the importer reads at most ${MAX_NODE_DEPTH} levels`,
      );
    for (const child of childrenOf(next.node)) stack.push({ node: child, depth: next.depth + 1 });
  }
  const cyclic = nodes.length - reached;
  if (cyclic > 0)
    throw new Error(`${cyclic === 1 ? 'a node is its own ancestor' : `${cyclic} nodes are their own ancestors`}: glTF's nodes form trees`);
}

/**
 * The played (first) animation's keys, counted before they are read: each channel holds its
 * sampler's keys again, so a few channels on one large sampler would hold millions.
 */
function checkAnimationKeys(doc: Document): void {
  const [animation] = doc.getRoot().listAnimations();
  if (!animation) return;
  // Only channels that move something drawn are read: a skeleton's bones (skins are not imported) cost nothing.
  const draws = drawingNodes();
  const read = animation.listChannels().filter((channel) => {
    const node = channel.getTargetNode();
    return node !== null && draws(node);
  });
  let keys = 0;
  let values = 0;
  for (const channel of read) {
    keys += channel.getSampler()?.getInput()?.getCount() ?? 0;
    values += channel.getSampler()?.getOutput()?.getCount() ?? 0;
  }
  if (keys > MAX_ANIMATION_KEYS || values > 3 * MAX_ANIMATION_KEYS)
    throw new ImportLimitError(
      'animation',
      `animation "${animation.getName().slice(0, 64)}" has ${read.length} channels holding ${keys} keys together: the importer reads at most ${MAX_ANIMATION_KEYS}`,
    );
}

/** Checks, before a primitive is expanded, that its vertices and triangles fit; throws an ImportLimitError if not. */
type Reserve = (vertices: number, triangles: number, what: string) => void;

/** A triangle primitive's positions in world space and its indices; undefined (and a warning) for other modes. */
function meshOf(node: Node, primitive: Primitive, index: number, world: Mat4, warnings: string[], reserve: Reserve) {
  if (primitive.getMode() !== Primitive.Mode.TRIANGLES) {
    warnings.push(`a primitive of mesh "${node.getMesh()?.getName()}" draws mode ${primitive.getMode()}, not triangles: skipped`);
    return undefined;
  }
  const position = primitive.getAttribute('POSITION');
  if (!position) return undefined;
  const count = position.getCount();
  reserve(
    count,
    Math.floor((primitive.getIndices()?.getCount() ?? count) / 3),
    `primitive ${index} of mesh "${node.getMesh()?.getName().slice(0, 64)}"`,
  );
  const positions: number[] = new Array(count * 3);
  const p: number[] = [0, 0, 0];
  for (let i = 0; i < count; i++) {
    position.getElement(i, p);
    const [x, y, z] = transformPoint(world, p);
    positions[i * 3] = x;
    positions[i * 3 + 1] = y;
    positions[i * 3 + 2] = z;
  }
  const indexArray = primitive.getIndices()?.getArray();
  const indices = indexArray ? Array.from(indexArray) : Array.from({ length: count }, (_, i) => i);
  // A node that mirrors (negative determinant) turns its triangles inside out: wind them back.
  if (determinant3(world) < 0)
    for (let i = 0; i + 2 < indices.length; i += 3) [indices[i + 1], indices[i + 2]] = [indices[i + 2], indices[i + 1]];
  const texcoord = primitive.getAttribute('TEXCOORD_0');
  const uvs = texcoord ? Array.from({ length: count * 2 }, (_, i) => texcoord.getElement(i >> 1, [0, 0])[i & 1]) : undefined;
  return { positions, indices, smooth: primitive.getAttribute('NORMAL') !== null, uvs };
}

type TextureNamer = (texture: GltfTexture | null, info: TextureInfo | null, encoding: Texture['encoding']) => string | undefined;

/**
 * The metallic-roughness material: emissive where it emits, glass where it transmits; plain metal
 * or plain diffuse where its factors say so and no texture varies them; otherwise the renderer's
 * metallic-roughness blend with its metallic-roughness and normal textures (its specular layer
 * on non-metals is not modelled).
 */
function materialOf(material: GltfMaterial, index: number, textureName: TextureNamer): SceneInput['materials'][number] {
  const name = `m${index}-${material.getName() || 'material'}`.slice(0, 64);
  const [r, g, b] = material.getBaseColorFactor();
  const emissive = material.getEmissiveFactor() as Vec3;
  const strength = material.getExtension<EmissiveStrength>('KHR_materials_emissive_strength')?.getEmissiveStrength() ?? 1;
  if (Math.max(...emissive) > 0 && strength > 0) {
    const colorTexture = textureName(material.getEmissiveTexture(), material.getEmissiveTextureInfo(), 'srgb');
    return { name, type: 'emissive', color: emissive, strength, colorTexture };
  }
  const albedoTexture = textureName(material.getBaseColorTexture(), material.getBaseColorTextureInfo(), 'srgb');
  const transmission = material.getExtension<Transmission>('KHR_materials_transmission')?.getTransmissionFactor() ?? 0;
  if (transmission >= GLASS_TRANSMISSION) {
    const ior = material.getExtension<IOR>('KHR_materials_ior')?.getIOR() ?? 1.5;
    // Without a volume of some thickness the spec makes the surface thin-walled (a pane).
    const thin = !((material.getExtension<Volume>('KHR_materials_volume')?.getThicknessFactor() ?? 0) > 0);
    return { name, type: 'dielectric', ior: Math.min(4, Math.max(1, ior)), tint: [r, g, b], thin };
  }
  const [metallic, roughness] = [material.getMetallicFactor(), material.getRoughnessFactor()];
  const metallicRoughnessTexture = textureName(
    material.getMetallicRoughnessTexture(),
    material.getMetallicRoughnessTextureInfo(),
    'linear',
  );
  const normalTexture = textureName(material.getNormalTexture(), material.getNormalTextureInfo(), 'linear');
  if (metallicRoughnessTexture || normalTexture || (metallic > 0 && metallic < 1)) {
    const baseColor: Vec3 = [r, g, b];
    const normalScale = material.getNormalScale();
    return {
      name,
      type: 'pbr',
      baseColor,
      metallic,
      roughness,
      baseColorTexture: albedoTexture,
      metallicRoughnessTexture,
      normalTexture,
      normalScale,
    };
  }
  if (metallic === 1) return { name, type: 'metal', albedo: [r, g, b], roughness, albedoTexture };
  return { name, type: 'diffuse', albedo: [r, g, b], albedoTexture };
}

const WRAPS: Record<number, Texture['wrapS']> = {
  [TextureInfo.WrapMode.REPEAT]: 'repeat',
  [TextureInfo.WrapMode.CLAMP_TO_EDGE]: 'clamp',
  [TextureInfo.WrapMode.MIRRORED_REPEAT]: 'mirror',
};

/** A glTF texture as a material uses it: one farm texture, decoded once. */
interface TextureUse {
  name: string;
  texture: GltfTexture;
  info: TextureInfo;
  encoding: Texture['encoding'];
}

/**
 * The textures, in order, each decoded once its image's header says it fits: a side within
 * `maxTextureSize` and all of them within `maxTexels` (an image of a few kilobytes may declare
 * gigapixels), so nothing is decoded that the scene could not hold.
 */
async function decodeTextures(uses: TextureUse[]): Promise<Texture[]> {
  const bytes = uses.map(({ texture }) => {
    const image = texture.getImage();
    if (!image) throw new Error(`texture "${texture.getName()}" has no image`);
    return image;
  });
  const headers = await Promise.all(
    bytes.map((b, i) =>
      imageHeader(b).catch((e: Error) => {
        throw new Error(`texture "${uses[i].texture.getName()}": ${e.message}`);
      }),
    ),
  );
  let texels = 0;
  headers.forEach(({ format, width, height }, i) => {
    const image = `texture "${uses[i].name}" (image "${uses[i].texture.getURI() || uses[i].texture.getName()}")`.slice(0, 200);
    if (!IMAGE_FORMATS.has(format)) throw new Error(`${image} is ${format}: glTF textures are PNG, JPEG or WebP`);
    if (Math.max(width, height) > LIMITS.maxTextureSize)
      throw new ImportLimitError(
        `textures[${i}].${width >= height ? 'width' : 'height'}`,
        `${image} is ${width}×${height}: a texture is at most ${LIMITS.maxTextureSize} texels a side`,
      );
    texels += width * height;
  });
  if (texels > LIMITS.maxTexels) throw new ImportLimitError('textures', `textures hold ${texels} texels, limit is ${LIMITS.maxTexels}`);
  return Promise.all(uses.map((use, i) => decodeTexture(use, bytes[i])));
}

/**
 * Decoded here, once, to 8-bit RGBA (sharp: PNG, JPEG, WebP): workers read texels, never image
 * files, so every worker sees the same texels whatever its image libraries. Colour textures are
 * sRGB, data (metallic-roughness, normals) linear. sharp refuses, before decoding, an image larger
 * than a scene's textures may be together (its header was checked: this is the second guard).
 */
async function decodeTexture({ name, info, encoding }: TextureUse, image: Uint8Array): Promise<Texture> {
  const { width, height, rgba } = await decodeRgba(image, LIMITS.maxTexels);
  return {
    name,
    width,
    height,
    encoding,
    wrapS: WRAPS[info.getWrapS()] ?? 'repeat',
    wrapT: WRAPS[info.getWrapT()] ?? 'repeat',
    rgba: Buffer.from(rgba).toString('base64'),
  };
}

/** A KHR_lights_punctual light shines down its node's −Z; its cone angles are radians. */
function lightAt(world: Mat4, light: PunctualLight, warnings: string[]): Light {
  const color = light.getColor() as Vec3;
  const intensity = light.getIntensity() / LUMENS_PER_WATT;
  const position = transformPoint(world, [0, 0, 0]);
  const direction = normalize(transformPoint(world, [0, 0, -1]).map((v, i) => v - position[i]));
  if (light.getRange() !== null) warnings.push(`light "${light.getName()}" has a range, which is ignored: lights fall off physically`);
  const degrees = (radians: number) => (radians * 180) / Math.PI;
  switch (light.getType()) {
    case 'directional':
      return { type: 'directional', direction, color, intensity };
    case 'spot':
      return {
        type: 'spot',
        position,
        direction,
        innerConeAngle: degrees(light.getInnerConeAngle()),
        outerConeAngle: degrees(light.getOuterConeAngle()),
        color,
        intensity,
      };
    default:
      return { type: 'point', position, color, intensity };
  }
}

/** A glTF camera looks down its node's −Z with +Y up. */
function cameraAt(world: Mat4, fov: number): SceneInput['camera'] {
  const position = transformPoint(world, [0, 0, 0]);
  const ahead = transformPoint(world, [0, 0, -1]);
  const up = normalize([world[4], world[5], world[6]]);
  return { position, lookAt: ahead, up, fov };
}

/** A camera that frames the bounding box from the front (+Z), slightly above, as viewers frame a model. */
function framing(bounds: { min: number[]; max: number[] }): SceneInput['camera'] {
  const center = bounds.min.map((m, i) => (m + bounds.max[i]) / 2) as Vec3;
  const radius = Math.max(1e-3, Math.hypot(...bounds.max.map((m, i) => m - bounds.min[i])) / 2);
  const distance = (radius / Math.sin((AUTO_FOV * Math.PI) / 360)) * 1.1;
  return {
    position: [center[0], center[1] + distance * 0.25, center[2] + distance],
    lookAt: center,
    fov: AUTO_FOV,
  };
}

/** A column-major 4×4 matrix's top three rows, row by row (an object key's `matrix`). */
function rowsOf(m: Mat4): number[] {
  return [m[0], m[4], m[8], m[12], m[1], m[5], m[9], m[13], m[2], m[6], m[10], m[14]];
}

/** The eight corners of the points' axis-aligned box, flat xyz (none without points). */
function boxCorners(positions: readonly number[]): number[] {
  if (positions.length < 3) return [];
  const min = [Infinity, Infinity, Infinity];
  const max = [-Infinity, -Infinity, -Infinity];
  for (let i = 0; i + 2 < positions.length; i += 3)
    for (let c = 0; c < 3; c++) {
      min[c] = Math.min(min[c], positions[i + c]);
      max[c] = Math.max(max[c], positions[i + c]);
    }
  return [0, 1, 2, 3, 4, 5, 6, 7].flatMap((k) => [0, 1, 2].map((c) => (k & (1 << c) ? max[c] : min[c])));
}

/** a × b, column-major, summed in the order of gltf-transform's own (gl-matrix's): getWorldMatrix()'s bits. */
function multiply(a: Mat4, b: Mat4): number[] {
  const out = new Array<number>(16);
  for (let c = 0; c < 16; c += 4)
    for (let r = 0; r < 4; r++) out[c + r] = b[c] * a[r] + b[c + 1] * a[4 + r] + b[c + 2] * a[8 + r] + b[c + 3] * a[12 + r];
  return out;
}

/** A column-major 4×4 matrix applied to a point. */
function transformPoint(m: Mat4, [x, y, z]: readonly number[]): Vec3 {
  return [m[0] * x + m[4] * y + m[8] * z + m[12], m[1] * x + m[5] * y + m[9] * z + m[13], m[2] * x + m[6] * y + m[10] * z + m[14]];
}

function determinant3(m: Mat4): number {
  return m[0] * (m[5] * m[10] - m[9] * m[6]) - m[4] * (m[1] * m[10] - m[9] * m[2]) + m[8] * (m[1] * m[6] - m[5] * m[2]);
}

function normalize(v: readonly number[]): Vec3 {
  const n = Math.hypot(...v) || 1;
  return [v[0] / n, v[1] / n, v[2] / n];
}
