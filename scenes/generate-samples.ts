/**
 * Generates the glTF sample scenes, built with gltf-transform and read back by the farm's own
 * importer, so everything in them (geometry, textures, the sky) is made here and licensed with the
 * project. Deterministic: running it again writes the same bytes. Run: npm run scenes
 *
 * - scenes/room.json: a room with textured floor and walls, a window of thin glass, a metal ball
 *   and a crate, lit by a ceiling point light and by scenes/sky.hdr (a sky with a sun) through
 *   the window; converted from glTF by shared/gltf-scene.ts, the sky added as its environment.
 * - scenes/orbit.glb: 49 frames (2 s at 24 fps): a camera orbiting a bouncing ball and a turning
 *   box; LINEAR, STEP and CUBICSPLINE keys through a node hierarchy.
 * - scenes/large.glb (git-ignored: 4.9 MB, written here on demand): a rippled torus of 250,000
 *   triangles (the scene limit), with no camera and no light, so it shows what the importer does
 *   for a bare model.
 */
import { writeFileSync } from 'node:fs';
import { Document, type Buffer as GltfBuffer, type Node as GltfNode, type Material, NodeIO } from '@gltf-transform/core';
import { KHRLightsPunctual, KHRMaterialsIOR, KHRMaterialsTransmission, type LightsPunctual } from '@gltf-transform/extensions';
import sharp from 'sharp';
import { SUPPORTED_EXTENSIONS, sceneFromGltf } from '../shared/gltf-scene.ts';
import { encodeRadiance } from '../shared/radiance.ts';

/** Where the files go: here, unless SCENES_OUT names another directory (the test regenerates them there). */
const out = (name: string) => new URL(name, process.env.SCENES_OUT ? `file://${process.env.SCENES_OUT}/` : import.meta.url);
type V3 = [number, number, number];

/** mulberry32: a small seeded generator, so textures are the same on every run. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Geometry {
  positions: number[];
  indices: number[];
  uvs?: number[];
  /** Only its presence matters: the importer computes smooth normals from the mesh itself. */
  smooth?: boolean;
}

const quad = (corner: V3, u: V3, v: V3, repeat: [number, number] = [1, 1]): Geometry => ({
  positions: [0, 1, 2, 3].flatMap((i) => corner.map((c, k) => c + (i & 1 ? u[k] : 0) + (i & 2 ? v[k] : 0))),
  indices: [0, 1, 3, 0, 3, 2],
  uvs: [0, repeat[1], repeat[0], repeat[1], 0, 0, repeat[0], 0],
});

function merge(...parts: Geometry[]): Geometry {
  const merged: Geometry = { positions: [], indices: [], uvs: [] };
  for (const p of parts) {
    const base = merged.positions.length / 3;
    merged.positions.push(...p.positions);
    merged.indices.push(...p.indices.map((i) => i + base));
    merged.uvs?.push(...(p.uvs ?? []));
  }
  return merged;
}

/** An axis-aligned box's six faces, each with the whole texture. */
const box = ([x0, y0, z0]: V3, [x1, y1, z1]: V3): Geometry =>
  merge(
    quad([x0, y0, z1], [x1 - x0, 0, 0], [0, y1 - y0, 0]),
    quad([x1, y0, z0], [x0 - x1, 0, 0], [0, y1 - y0, 0]),
    quad([x0, y0, z0], [0, 0, z1 - z0], [0, y1 - y0, 0]),
    quad([x1, y0, z1], [0, 0, z0 - z1], [0, y1 - y0, 0]),
    quad([x0, y1, z1], [x1 - x0, 0, 0], [0, 0, z0 - z1]),
    quad([x0, y0, z0], [x1 - x0, 0, 0], [0, 0, z1 - z0]),
  );

/** A smooth surface over a (u, v) grid: `at` gives each grid point's position. */
function grid(columns: number, rows: number, at: (u: number, v: number) => V3, wrapU: boolean): Geometry {
  const g: Geometry = { positions: [], indices: [], uvs: [], smooth: true };
  const across = wrapU ? columns : columns + 1;
  for (let j = 0; j <= rows; j++) {
    for (let i = 0; i < across; i++) {
      const [u, v] = [i / columns, j / rows];
      g.positions.push(...at(u, v));
      g.uvs?.push(u, v);
    }
  }
  for (let j = 0; j < rows; j++) {
    for (let i = 0; i < columns; i++) {
      const a = j * across + i;
      const b = j * across + ((i + 1) % across);
      g.indices.push(a, a + across, b, b, a + across, b + across);
    }
  }
  return g;
}

const sphere = ([cx, cy, cz]: V3, r: number, columns = 48, rows = 24): Geometry =>
  grid(
    columns,
    rows,
    (u, v) => {
      const [phi, theta] = [2 * Math.PI * u, Math.PI * v];
      return [cx + r * Math.sin(theta) * Math.cos(phi), cy + r * Math.cos(theta), cz + r * Math.sin(theta) * Math.sin(phi)];
    },
    true,
  );

class Builder {
  readonly doc = new Document();
  private readonly buffer: GltfBuffer = this.doc.createBuffer();
  readonly scene = this.doc.createScene('main');

  constructor() {
    this.doc.getRoot().setDefaultScene(this.scene);
  }

  node(name: string, geometry: Geometry, material: Material): GltfNode {
    const accessor = (type: 'VEC2' | 'VEC3' | 'SCALAR', array: Float32Array | Uint32Array | Uint16Array | Int8Array) =>
      this.doc.createAccessor().setType(type).setArray(array).setBuffer(this.buffer);
    const vertices = geometry.positions.length / 3;
    const prim = this.doc
      .createPrimitive()
      .setAttribute('POSITION', accessor('VEC3', new Float32Array(geometry.positions)))
      .setIndices(accessor('SCALAR', vertices > 65535 ? new Uint32Array(geometry.indices) : new Uint16Array(geometry.indices)))
      .setMaterial(material);
    if (geometry.uvs) prim.setAttribute('TEXCOORD_0', accessor('VEC2', new Float32Array(geometry.uvs)));
    // Normals in a byte each (the smallest the spec allows): the importer only needs them present.
    if (geometry.smooth) prim.setAttribute('NORMAL', accessor('VEC3', new Int8Array(vertices * 3).fill(127)).setNormalized(true));
    return this.doc.createNode(name).setMesh(this.doc.createMesh(name).addPrimitive(prim));
  }

  accessor(type: 'SCALAR' | 'VEC3' | 'VEC4', values: number[]) {
    return this.doc.createAccessor().setType(type).setArray(new Float32Array(values)).setBuffer(this.buffer);
  }

  async texture(name: string, size: number, texel: (x: number, y: number) => V3) {
    const rgba = Buffer.alloc(size * size * 4);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const c = texel(x, y).map((v) => Math.round(Math.min(1, Math.max(0, v)) * 255));
        rgba.set([...c, 255], (y * size + x) * 4);
      }
    }
    const png = await sharp(rgba, { raw: { width: size, height: size, channels: 4 } })
      .png()
      .toBuffer();
    return this.doc.createTexture(name).setImage(png).setMimeType('image/png');
  }

  camera(name: string, position: V3, lookAt: V3, yfov: number, aspect: number): GltfNode {
    const camera = this.doc.createCamera(name).setType('perspective').setYFov(yfov).setZNear(0.05).setAspectRatio(aspect);
    return this.doc.createNode(name).setCamera(camera).setTranslation(position).setRotation(lookRotation(position, lookAt));
  }

  lights() {
    return this.doc.createExtension(KHRLightsPunctual) as LightsPunctual;
  }
}

/** The quaternion turning a glTF camera (looking down −Z, +Y up) to look from `from` at `to`. */
function lookRotation(from: V3, to: V3): [number, number, number, number] {
  const norm = (v: number[]) => v.map((c) => c / Math.hypot(...v));
  const back = norm(from.map((c, i) => c - to[i]));
  const right = norm([back[2], 0, -back[0]]); // (0, 1, 0) × back
  const up = [back[1] * right[2] - back[2] * right[1], back[2] * right[0] - back[0] * right[2], back[0] * right[1] - back[1] * right[0]];
  const [m00, m11, m22] = [right[0], up[1], back[2]];
  const w = Math.sqrt(Math.max(0, 1 + m00 + m11 + m22)) / 2;
  return [(up[2] - back[1]) / (4 * w), (back[0] - right[2]) / (4 * w), (right[1] - up[0]) / (4 * w), w];
}

/** An equirectangular sky: blue overhead, pale at the horizon, brown ground, and a sun. */
export function sky(width: number, height: number, sun: { azimuth: number; elevation: number }): Float32Array {
  const rgb = new Float32Array(width * height * 3);
  const s = [Math.cos(sun.elevation) * Math.cos(sun.azimuth), Math.sin(sun.elevation), Math.cos(sun.elevation) * Math.sin(sun.azimuth)];
  const sunRadius = (4 * Math.PI) / 180;
  for (let y = 0; y < height; y++) {
    const theta = (Math.PI * (y + 0.5)) / height;
    const altitude = Math.PI / 2 - theta;
    for (let x = 0; x < width; x++) {
      const phi = 2 * Math.PI * ((x + 0.5) / width - 0.5);
      const d = [Math.sin(theta) * Math.cos(phi), Math.cos(theta), Math.sin(theta) * Math.sin(phi)];
      let c: number[];
      if (altitude < 0) c = [0.16, 0.13, 0.1];
      else {
        const t = Math.sqrt(Math.sin(altitude));
        c = [0.95 - 0.7 * t, 1.0 - 0.55 * t, 1.1 - 0.2 * t];
      }
      if (Math.acos(Math.min(1, d[0] * s[0] + d[1] * s[1] + d[2] * s[2])) < sunRadius) c = [700, 620, 500];
      rgb.set(c, (y * width + x) * 3);
    }
  }
  return rgb;
}

async function room(): Promise<void> {
  const b = new Builder();
  const rand = random(7);
  const planks = await b.texture('planks', 256, (x, y) => {
    const plank = Math.floor(y / 32);
    const shade = 0.75 + 0.25 * (((plank * 7919) % 13) / 13);
    const grain = 0.9 + 0.1 * Math.sin(x * 0.21 + plank * 3 + Math.sin(y * 0.7) * 1.5) + 0.04 * rand();
    const seam = y % 32 === 0 || (x + plank * 97) % 256 === 0 ? 0.45 : 1;
    return [0.55 * shade * grain * seam, 0.36 * shade * grain * seam, 0.2 * shade * grain * seam];
  });
  const plaster = await b.texture('plaster', 128, () => {
    const n = 0.93 + 0.07 * rand();
    return [0.85 * n, 0.82 * n, 0.76 * n];
  });
  const crate = await b.texture('crate', 128, (x, y) => {
    const edge = x < 10 || y < 10 || x > 117 || y > 117 || Math.abs(x - y) < 7 ? 0.55 : 0.8;
    return [0.62 * edge, 0.45 * edge, 0.25 * edge];
  });
  const mat = (name: string, texture: typeof planks | undefined, color: V3 = [1, 1, 1], metallic = 0, roughness = 1) => {
    const m = b.doc
      .createMaterial(name)
      .setBaseColorFactor([...color, 1])
      .setMetallicFactor(metallic)
      .setRoughnessFactor(roughness);
    return texture ? m.setBaseColorTexture(texture) : m;
  };
  const glass = b.doc.createMaterial('window glass').setBaseColorFactor([0.95, 0.97, 0.96, 1]).setRoughnessFactor(0);
  glass.setExtension(
    'KHR_materials_transmission',
    b.doc.createExtension(KHRMaterialsTransmission).createTransmission().setTransmissionFactor(1),
  );
  glass.setExtension('KHR_materials_ior', b.doc.createExtension(KHRMaterialsIOR).createIOR().setIOR(1.5));

  // A 5 × 2.8 × 6 m room; the window (z from −1 to 1, y from 0.9 to 2.2) in the +X wall faces the sun.
  const [X, Y, Z] = [2.5, 2.8, 3];
  const wall = mat('plaster', plaster);
  b.scene.addChild(b.node('floor', quad([-X, 0, Z], [2 * X, 0, 0], [0, 0, -2 * Z], [2, 2.4]), mat('planks', planks)));
  b.scene.addChild(b.node('ceiling', quad([-X, Y, -Z], [2 * X, 0, 0], [0, 0, 2 * Z], [3, 3]), wall));
  b.scene.addChild(
    b.node(
      'walls',
      merge(
        quad([-X, 0, -Z], [2 * X, 0, 0], [0, Y, 0], [3, 2]),
        quad([X, 0, Z], [-2 * X, 0, 0], [0, Y, 0], [3, 2]),
        quad([-X, 0, Z], [0, 0, -2 * Z], [0, Y, 0], [3, 2]),
        // The window wall, around its opening.
        quad([X, 0, -Z], [0, 0, 2 * Z], [0, 0.9, 0], [3, 0.6]),
        quad([X, 2.2, -Z], [0, 0, 2 * Z], [0, Y - 2.2, 0], [3, 0.4]),
        quad([X, 0.9, -Z], [0, 0, Z - 1], [0, 1.3, 0], [1, 0.8]),
        quad([X, 0.9, 1], [0, 0, Z - 1], [0, 1.3, 0], [1, 0.8]),
      ),
      wall,
    ),
  );
  b.scene.addChild(b.node('window', quad([X, 0.9, -1], [0, 0, 2], [0, 1.3, 0]), glass));
  b.scene.addChild(b.node('crate', box([0.2, 0, -2.2], [1.0, 0.8, -1.4]), mat('crate', crate)));
  b.scene.addChild(b.node('ball', sphere([1.4, 0.45, 1.6], 0.45), mat('steel', undefined, [0.9, 0.9, 0.92], 1, 0.15)));
  const lamp = b.lights().createLight('ceiling lamp').setType('point').setColor([1, 0.85, 0.65]).setIntensity(2500);
  b.scene.addChild(
    b.doc
      .createNode('lamp')
      .setTranslation([-0.5, Y - 0.7, 0.5])
      .setExtension('KHR_lights_punctual', lamp),
  );
  b.scene.addChild(b.camera('camera', [-2.2, 1.45, 2.6], [1.2, 0.9, -0.6], (62 * Math.PI) / 180, 4 / 3));

  const hdr = encodeRadiance({ width: 256, height: 128, rgb: sky(256, 128, { azimuth: 0.25, elevation: 0.42 }) });
  writeFileSync(out('sky.hdr'), hdr);
  const extensions = b.doc
    .getRoot()
    .listExtensionsUsed()
    .map((e) => e.extensionName);
  const { scene, warnings } = await sceneFromGltf(b.doc, extensions, 'Room with a window');
  if (warnings.length) throw new Error(`the room should import cleanly: ${warnings.join('; ')}`);
  const json = {
    ...scene,
    render: { width: 320, height: 240, spp: 256, maxBounces: 5, seed: 3, exposure: 1.6, toneMap: 'aces' },
    environment: { hdr: Buffer.from(hdr).toString('base64'), intensity: 1, rotation: 0 },
  };
  writeFileSync(out('room.json'), `${JSON.stringify(json)}\n`);
}

async function orbit(): Promise<void> {
  const b = new Builder();
  const checker = await b.texture('checker', 64, (x, y) => (((x >> 3) + (y >> 3)) % 2 ? [0.8, 0.8, 0.78] : [0.25, 0.27, 0.3]));
  const ground = b.doc.createMaterial('ground').setBaseColorTexture(checker).setMetallicFactor(0);
  const red = b.doc.createMaterial('red').setBaseColorFactor([0.8, 0.12, 0.1, 1]).setMetallicFactor(0);
  const gold = b.doc.createMaterial('gold').setBaseColorFactor([0.95, 0.75, 0.35, 1]).setMetallicFactor(1).setRoughnessFactor(0.3);
  b.scene.addChild(b.node('ground', quad([-6, 0, 6], [12, 0, 0], [0, 0, -12], [6, 6]), ground));
  const ball = b.node('ball', sphere([0, 0, 0], 0.5), red);
  const spinner = b.node('box', box([-0.5, -0.5, -0.5], [0.5, 0.5, 0.5]), gold).setTranslation([1.6, 0.5, 0]);
  const rig = b.doc.createNode('rig').addChild(ball).setTranslation([-1, 0, 0]);
  b.scene.addChild(rig).addChild(spinner);
  const pivot = b.doc.createNode('pivot').addChild(b.camera('camera', [0, 2.2, 6], [0, 0.6, 0], (45 * Math.PI) / 180, 4 / 3));
  b.scene.addChild(pivot);
  const sun = b.lights().createLight('sun').setType('directional').setIntensity(2000);
  b.scene.addChild(
    b.doc
      .createNode('sun')
      .setRotation(lookRotation([0, 0, 0], [-0.4, -1, -0.6]))
      .setExtension('KHR_lights_punctual', sun),
  );

  const times = (n: number) => Array.from({ length: n }, (_, i) => (2 * i) / (n - 1));
  const sampler = (interpolation: 'LINEAR' | 'STEP' | 'CUBICSPLINE', input: number[], type: 'VEC3' | 'VEC4', output: number[]) =>
    b.doc
      .createAnimationSampler()
      .setInterpolation(interpolation)
      .setInput(b.accessor('SCALAR', input))
      .setOutput(b.accessor(type, output));
  /** A rotation of `quarters` quarter turns about +Y. */
  const turn = (quarters: number) => [0, Math.sin((quarters * Math.PI) / 4), 0, Math.cos((quarters * Math.PI) / 4)];
  // The camera circles once: five keys a quarter turn apart (slerp takes the shorter arc).
  const orbitKeys = sampler(
    'LINEAR',
    times(5),
    'VEC4',
    [0, 1, 2, 3, 4].flatMap((q) => turn(q)),
  );
  // The ball bounces twice: eased up (CUBICSPLINE, zero tangents at the top), sharp at the floor.
  const bounceOut: number[] = [];
  for (const [i, y] of [0.5, 1.8, 0.5, 1.8, 0.5].entries()) {
    const fall = i % 2 === 0 && i > 0 ? -5 : 0;
    const rise = i % 2 === 0 && i < 4 ? 5 : 0;
    bounceOut.push(0, fall, 0, 0, y, 0, 0, rise, 0);
  }
  const bounce = sampler('CUBICSPLINE', times(5), 'VEC3', bounceOut);
  const slide = sampler('LINEAR', [0, 2], 'VEC3', [-1, 0, 0, -1, 0, 1.2]);
  const spin = sampler(
    'LINEAR',
    times(5),
    'VEC4',
    [0, 1, 2, 3, 4].flatMap((q) => turn(-q)),
  );
  const pulse = sampler('STEP', [0, 1], 'VEC3', [1, 1, 1, 0.7, 0.7, 0.7]);
  const channel = (node: GltfNode, path: 'translation' | 'rotation' | 'scale', s: ReturnType<typeof sampler>) =>
    b.doc.createAnimationChannel().setTargetNode(node).setTargetPath(path).setSampler(s);
  b.doc
    .createAnimation('orbit')
    .addSampler(orbitKeys)
    .addSampler(bounce)
    .addSampler(slide)
    .addSampler(spin)
    .addSampler(pulse)
    .addChannel(channel(pivot, 'rotation', orbitKeys))
    .addChannel(channel(ball, 'translation', bounce))
    .addChannel(channel(rig, 'translation', slide))
    .addChannel(channel(spinner, 'rotation', spin))
    .addChannel(channel(spinner, 'scale', pulse));
  writeFileSync(out('orbit.glb'), await new NodeIO().registerExtensions(SUPPORTED_EXTENSIONS).writeBinary(b.doc));
}

async function large(): Promise<void> {
  const b = new Builder();
  // 500 × 250 quads = 250,000 triangles: a torus whose tube ripples along and around it.
  const torus = grid(
    500,
    250,
    (u, v) => {
      const [a, t] = [2 * Math.PI * u, 2 * Math.PI * v];
      const tube = 0.55 + 0.06 * Math.sin(24 * a) * Math.cos(5 * t) + 0.03 * Math.sin(60 * t + 6 * a);
      const ring = 1.6 + tube * Math.cos(t);
      return [ring * Math.cos(a), tube * Math.sin(t), ring * Math.sin(a)];
    },
    true,
  );
  const clay = b.doc.createMaterial('clay').setBaseColorFactor([0.7, 0.62, 0.55, 1]).setMetallicFactor(0);
  b.scene.addChild(b.node('rippled torus', { ...torus, uvs: undefined }, clay));
  writeFileSync(out('large.glb'), await new NodeIO().writeBinary(b.doc));
}

await room();
await orbit();
await large();
