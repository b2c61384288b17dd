/**
 * Assets by content id. A scene's heavy parts — texture texels, the HDRI file, mesh positions,
 * indices and uvs — may be named by CID (`{ "cid": "bafk…" }`) instead of written inline: the
 * scene is then a small manifest, and each asset is stored once in the content store however many
 * scenes and jobs use it, uploaded once (`farm submit` asks before it sends), and fetched once per
 * worker process, checked against its CID.
 *
 * An asset's bytes: texels and the .hdr file as they are; mesh numbers as little-endian float64
 * (positions, uvs: the JSON numbers exactly) or uint32 (indices).
 */
import { z } from 'zod';
import { CID_PATTERN } from './protocol.ts';
import { SceneError } from './scene.ts';
import { cidOfBytes } from './unixfs.ts';

/** Inline parts at least this large travel as assets (`farm submit`, the sample scenes): stored once, fetched once per worker. */
export const ASSET_MIN_BYTES = 64 * 1024;

export const AssetRef = z.strictObject({ cid: z.string().regex(CID_PATTERN, 'not a CID') });
export type AssetRef = z.infer<typeof AssetRef>;

type Encoding = 'bytes' | 'f64' | 'u32';
type Path = (string | number)[];
type Json = Record<string, unknown>;

/** Every place in a scene where an asset may stand, with its encoding. */
function slots(scene: unknown): { path: Path; encoding: Encoding }[] {
  const out: { path: Path; encoding: Encoding }[] = [];
  const list = (key: string) => (isObject(scene) && Array.isArray(scene[key]) ? (scene[key] as unknown[]) : []);
  list('textures').forEach((_, i) => {
    out.push({ path: ['textures', i, 'rgba'], encoding: 'bytes' });
  });
  if (isObject(scene) && isObject(scene.environment)) out.push({ path: ['environment', 'hdr'], encoding: 'bytes' });
  list('objects').forEach((o, i) => {
    if (!isObject(o) || o.type !== 'mesh') return;
    out.push({ path: ['objects', i, 'positions'], encoding: 'f64' }, { path: ['objects', i, 'uvs'], encoding: 'f64' });
    out.push({ path: ['objects', i, 'indices'], encoding: 'u32' });
  });
  return out;
}

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isRef = (v: unknown): boolean => isObject(v) && 'cid' in v;

function at(root: unknown, path: Path): unknown {
  return path.reduce<unknown>((node, key) => (node as Json | undefined)?.[key as string], root);
}

/** A copy of `root` with `value` at `path`, sharing everything off the path. */
function withValue(root: unknown, path: Path, value: unknown): unknown {
  if (path.length === 0) return value;
  const [key, ...rest] = path;
  const node = root as Json | unknown[];
  const copy = (Array.isArray(node) ? [...node] : { ...node }) as Json;
  copy[key as string] = withValue(copy[key as string], rest, value);
  return copy;
}

function encode(value: unknown, encoding: Encoding): Uint8Array | undefined {
  if (encoding === 'bytes') return typeof value === 'string' ? Buffer.from(value, 'base64') : undefined;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'number')) return undefined;
  const numbers = value as number[];
  return new Uint8Array((encoding === 'f64' ? Float64Array.from(numbers) : Uint32Array.from(numbers)).buffer);
}

function decode(bytes: Uint8Array, encoding: Encoding): unknown {
  if (encoding === 'bytes') return Buffer.from(bytes).toString('base64');
  const size = encoding === 'f64' ? 8 : 4;
  if (bytes.length % size !== 0)
    throw new Error(`holds ${bytes.length} bytes, not a whole number of ${encoding === 'f64' ? 'float64' : 'uint32'}s`);
  const aligned = new Uint8Array(bytes); // typed arrays need their own aligned buffer
  return Array.from(encoding === 'f64' ? new Float64Array(aligned.buffer) : new Uint32Array(aligned.buffer));
}

export interface PackedScene {
  manifest: unknown;
  /** Each asset by its CID (one entry however often it is used). */
  assets: Map<string, Uint8Array>;
}

/** Moves every inline part of at least `minBytes` (encoded) into an asset named by its CID. */
export async function packAssets(scene: unknown, minBytes: number): Promise<PackedScene> {
  let manifest = scene;
  const assets = new Map<string, Uint8Array>();
  for (const { path, encoding } of slots(scene)) {
    const bytes = encode(at(scene, path), encoding);
    if (!bytes || bytes.length < minBytes) continue;
    const cid = await cidOfBytes(bytes);
    assets.set(cid, bytes);
    manifest = withValue(manifest, path, { cid });
  }
  return { manifest, assets };
}

export interface ResolvedScene {
  /** The scene with every asset inline, ready for parseScene. */
  scene: unknown;
  /** Where assets stood, to put them back in the manifest that is stored. */
  refs: { path: Path; cid: string }[];
  bytes: number;
}

/**
 * Puts each asset a manifest names in its place. `fetch` gives an asset's bytes (already checked
 * against its CID) or undefined when it is not stored. Every problem — a malformed reference, a
 * missing asset, an asset of the wrong size, more than `maxBytes` in all (the limit `setting`
 * sets, named in the error) — is reported with its path, all at once, as a SceneError.
 */
export async function resolveAssets(
  manifest: unknown,
  fetch: (cid: string) => Promise<Uint8Array | undefined>,
  maxBytes: number,
  setting?: string,
): Promise<ResolvedScene> {
  const issues: { path: string; message: string }[] = [];
  const where = (path: Path) => path.map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? k : `.${k}`)).join('');
  let scene = manifest;
  const refs: { path: Path; cid: string }[] = [];
  let bytes = 0;
  const found = slots(manifest).filter(({ path }) => isRef(at(manifest, path)));
  const fetched = await Promise.all(
    found.map(async ({ path }) => {
      const ref = AssetRef.safeParse(at(manifest, path));
      return ref.success ? await fetch(ref.data.cid) : undefined;
    }),
  );
  found.forEach(({ path, encoding }, i) => {
    const ref = AssetRef.safeParse(at(manifest, path));
    if (!ref.success) {
      issues.push({ path: where(path), message: 'an asset reference is { "cid": "<CID>" } and nothing else' });
      return;
    }
    const asset = fetched[i];
    if (!asset) {
      issues.push({ path: where(path), message: `asset ${ref.data.cid} is not stored: upload it first (PUT /api/assets/${ref.data.cid})` });
      return;
    }
    bytes += asset.length;
    try {
      scene = withValue(scene, path, decode(asset, encoding));
      refs.push({ path, cid: ref.data.cid });
    } catch (e) {
      issues.push({ path: where(path), message: `asset ${ref.data.cid} ${(e as Error).message}` });
    }
  });
  if (bytes > maxBytes)
    issues.push({
      path: 'assets',
      message: `the scene's assets hold ${bytes} bytes, ${setting ? `this farm takes at most ${maxBytes} (${setting})` : `the limit is ${maxBytes}`}`,
    });
  if (issues.length > 0) throw new SceneError(issues);
  return { scene, refs, bytes };
}

/** The manifest to store for a validated scene: its assets back to their references. */
export function manifestOf(scene: unknown, refs: readonly { path: Path; cid: string }[]): unknown {
  return refs.reduce((m, { path, cid }) => withValue(m, path, { cid }), scene);
}
