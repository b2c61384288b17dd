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
import { bakeAnimation } from './gltf-animation.ts';
import { decodeRgba } from './png.ts';
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
  const io = new NodeIO().registerExtensions(SUPPORTED_EXTENSIONS);
  return sceneFromGltf(await io.readJSON(json), json.json.extensionsUsed ?? [], name, options);
}

/**
 * A readable glTF file the importer stops expanding: its nodes would draw more than a scene may
 * hold. Not a broken file, so callers word it as a limit (by `path`, the scene field over it).
 */
export class ImportLimitError extends Error {
  constructor(
    readonly path: 'objects' | 'animation',
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
  const animation = bakeAnimation(doc, FPS, warnings);
  const moving = animation?.moving ?? new Set<Node>();
  /** Objects that move, by the node that places them. */
  const placed = new Map<string, Node>();
  let cameraNode: Node | undefined;
  const materials = new Map<GltfMaterial | null, SceneInput['materials'][number]>();
  const textures = new Map<string, { name: string; decoded: Promise<Texture> }>();
  /** The farm texture for a glTF one used as colour (sRGB) or data (linear), by name; each is decoded once. */
  const textureName: TextureNamer = (texture, info, encoding) => {
    if (!texture || !info) return undefined;
    if (info.getTexCoord() !== 0) warnings.push(`texture "${texture.getName()}" uses TEXCOORD_${info.getTexCoord()}: TEXCOORD_0 is read`);
    const key = `${root.listTextures().indexOf(texture)}/${encoding}`;
    let entry = textures.get(key);
    if (!entry) {
      const name = `t${textures.size}-${texture.getName() || 'texture'}`.slice(0, 64);
      entry = { name, decoded: decodeTexture(texture, info, name, encoding) };
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
  const draw = (drawn: number) => {
    if (objects.length >= LIMITS.maxObjects)
      throw new ImportLimitError(
        'objects',
        `scene has over ${LIMITS.maxObjects} objects (one per primitive on each node), limit is ${LIMITS.maxObjects}`,
      );
    triangles += drawn;
    if (triangles > LIMITS.maxTriangles)
      throw new ImportLimitError(
        'objects',
        `scene has over ${LIMITS.maxTriangles} triangles (a mesh counts again on each node that draws it), limit is ${LIMITS.maxTriangles}`,
      );
  };

  /** Each node's world matrix from its parent's: node.getWorldMatrix() walks all its ancestors again (nodes × depth). */
  const worlds = new Map<Node, Mat4>();
  gltfScene.traverse((node) => {
    const parent = node.getParentNode();
    const world = parent ? multiply(worlds.get(parent) as Mat4, node.getMatrix()) : node.getMatrix();
    worlds.set(node, world);
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
        const mesh = meshOf(node, primitive, local ? IDENTITY : world, warnings);
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
    if (frames < animation.frameCount) {
      warnings.push(
        `animation "${animation.name}" moves ${placed.size} objects over ${animation.frameCount} frames: its first ${frames} are rendered (${MAX_BAKED_KEYS} keys at most)`,
      );
      keys.frameCount = frames;
    }
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
      textures: await Promise.all([...textures.values()].map((t) => t.decoded)),
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

/** A triangle primitive's positions in world space and its indices; undefined (and a warning) for other modes. */
function meshOf(node: Node, primitive: Primitive, world: Mat4, warnings: string[]) {
  if (primitive.getMode() !== Primitive.Mode.TRIANGLES) {
    warnings.push(`a primitive of mesh "${node.getMesh()?.getName()}" draws mode ${primitive.getMode()}, not triangles: skipped`);
    return undefined;
  }
  const position = primitive.getAttribute('POSITION');
  if (!position) return undefined;
  const count = position.getCount();
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

/**
 * Decoded here, once, to 8-bit RGBA (sharp: PNG, JPEG, WebP): workers read texels, never image
 * files, so every worker sees the same texels whatever its image libraries. Colour textures are
 * sRGB, data (metallic-roughness, normals) linear.
 */
async function decodeTexture(texture: GltfTexture, info: TextureInfo, name: string, encoding: Texture['encoding']): Promise<Texture> {
  const image = texture.getImage();
  if (!image) throw new Error(`texture "${texture.getName()}" has no image`);
  const { width, height, rgba } = await decodeRgba(image);
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
