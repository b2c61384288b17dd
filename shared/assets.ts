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
import type { FieldIssue } from './problem.ts';
import { CID_PATTERN } from './protocol.ts';
import { LIMITS, SceneError } from './scene.ts';
import { cidOfBytes } from './unixfs.ts';

/** Inline parts at least this large travel as assets (`farm submit`, the sample scenes): stored once, fetched once per worker. */
export const ASSET_MIN_BYTES = 64 * 1024;

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

/**
 * A copy of `root` with each value at its path, sharing everything off the paths: each node on a
 * path is copied once however many paths pass through it (a copy per path would copy the objects
 * array once per mesh part: quadratic in a scene of 10,000 meshes).
 */
function withValues(root: unknown, placed: readonly { path: Path; value: unknown }[]): unknown {
  if (placed.length === 0) return root;
  const copies = new Set<unknown>();
  const own = (node: unknown): Json => {
    if (copies.has(node)) return node as Json;
    const copy = (Array.isArray(node) ? [...node] : { ...(node as Json) }) as Json;
    copies.add(copy);
    return copy;
  };
  const out = own(root);
  for (const { path, value } of placed) {
    let node = out;
    for (const key of path.slice(0, -1)) {
      const child = own(node[key as string]);
      node[key as string] = child;
      node = child;
    }
    node[path[path.length - 1] as string] = value;
  }
  return out;
}

function encode(value: unknown, encoding: Encoding): Uint8Array | undefined {
  if (encoding === 'bytes') return typeof value === 'string' ? Buffer.from(value, 'base64') : undefined;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'number')) return undefined;
  const numbers = value as number[];
  return new Uint8Array((encoding === 'f64' ? Float64Array.from(numbers) : Uint32Array.from(numbers)).buffer);
}

function decode(bytes: Uint8Array, encoding: Encoding): unknown {
  if (encoding === 'bytes') return Buffer.from(bytes).toString('base64');
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
  const assets = new Map<string, Uint8Array>();
  const refs: { path: Path; cid: string }[] = [];
  for (const { path, encoding } of slots(scene)) {
    const bytes = encode(at(scene, path), encoding);
    if (!bytes || bytes.length < minBytes) continue;
    const cid = await cidOfBytes(bytes);
    assets.set(cid, bytes);
    refs.push({ path, cid });
  }
  return { manifest: manifestOf(scene, refs), assets };
}

export interface ResolvedScene {
  /** The scene with every asset inline, ready for parseScene. */
  scene: unknown;
  /** Where assets stood, to put them back in the manifest that is stored. */
  refs: { path: Path; cid: string }[];
}

/**
 * Most asset references a scene can hold: each texture's texels, the sky, and each mesh's
 * positions, uvs and indices.
 */
export const MAX_ASSET_USES = LIMITS.maxTextures + 1 + 3 * LIMITS.maxObjects;

/** One asset reference in a manifest: where it stands, how it decodes, and its CID (undefined when malformed). */
export interface AssetUse {
  path: Path;
  encoding: Encoding;
  cid: string | undefined;
}

/** The CID of a well-formed reference, `{ "cid": "<CID>" }` and nothing else (checked by hand: a manifest may hold tens of thousands). */
function refCid(v: unknown): string | undefined {
  return isObject(v) && Object.keys(v).length === 1 && typeof v.cid === 'string' && CID_PATTERN.test(v.cid) ? v.cid : undefined;
}

/** Every asset reference a manifest holds, in the order of its slots; reading none of them. */
export function assetUses(manifest: unknown): AssetUse[] {
  return slots(manifest)
    .filter(({ path }) => isRef(at(manifest, path)))
    .map(({ path, encoding }) => ({ path, encoding, cid: refCid(at(manifest, path)) }));
}

/** The distinct CIDs of well-formed references. */
export const distinctCids = (uses: readonly AssetUse[]): string[] => [
  ...new Set(uses.flatMap(({ cid }) => (cid === undefined ? [] : [cid]))),
];

const where = (path: Path) => path.map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? k : `.${k}`)).join('');

/**
 * The scene's asset bytes with each asset counted at every use: every use becomes an array of its
 * own (parseScene copies each) and a mesh of its own on the worker, which is what the limit
 * bounds; a mesh drawn again without its bytes again is an `instance`. An asset of unknown size
 * counts nothing (it is reported as not stored).
 */
export function useBytes(uses: readonly AssetUse[], sizeOf: (cid: string) => number | undefined): number {
  return uses.reduce((n, { cid }) => n + ((cid === undefined ? undefined : sizeOf(cid)) ?? 0), 0);
}

/**
 * What a manifest's references hold beyond the limits, judged from the assets' sizes alone, so
 * before any is read: more than `maxUses` references, or more than `maxBytes` with each asset
 * counted at every use (`useBytes`). Each issue has the path of the first reference past the
 * limit; `setting` names the setting that sets `maxBytes`.
 */
export function assetLimitIssues(
  uses: readonly AssetUse[],
  sizeOf: (cid: string) => number | undefined,
  maxBytes: number,
  setting?: string,
  maxUses = MAX_ASSET_USES,
): FieldIssue[] {
  if (uses.length > maxUses)
    return [{ path: where(uses[maxUses].path), message: `the scene names ${uses.length} assets, a scene holds at most ${maxUses}` }];
  let bytes = 0;
  let first: AssetUse | undefined;
  for (const use of uses) {
    bytes += (use.cid === undefined ? undefined : sizeOf(use.cid)) ?? 0;
    if (bytes > maxBytes) first ??= use;
  }
  if (!first) return [];
  const repeated = distinctCids(uses).length < uses.filter(({ cid }) => cid !== undefined).length;
  const limit = setting ? `this farm takes at most ${maxBytes} (${setting})` : `the limit is ${maxBytes}`;
  return [
    {
      path: where(first.path),
      message: `the scene's assets hold ${bytes} bytes${repeated ? ' (an asset counts at each use)' : ''}, ${limit}`,
    },
  ];
}

/** Whether `bytes` decode as `encoding`: a problem with them, or undefined. */
function undecodable(bytes: Uint8Array, encoding: Encoding): string | undefined {
  if (encoding === 'bytes') return undefined;
  const size = encoding === 'f64' ? 8 : 4;
  return bytes.length % size === 0
    ? undefined
    : `holds ${bytes.length} bytes, not a whole number of ${encoding === 'f64' ? 'float64' : 'uint32'}s`;
}

/**
 * Puts each asset a manifest names in its place. `fetch` gives an asset's bytes (already checked
 * against its CID) or undefined when it is not stored; it is asked once for each distinct CID,
 * and only when the manifest holds at most MAX_ASSET_USES references. Every problem — a malformed
 * reference, a missing asset, an asset of the wrong size, more than `maxBytes` in all with each
 * asset counted at every use (the limit `setting` sets, named in the error) — is reported with its
 * path, all at once, as a SceneError, before anything is decoded. Each asset is decoded once for
 * each encoding it is used in, and its uses share the value (parseScene copies each anyway).
 */
export async function resolveAssets(
  manifest: unknown,
  fetch: (cid: string) => Promise<Uint8Array | undefined>,
  maxBytes: number,
  setting?: string,
): Promise<ResolvedScene> {
  const uses = assetUses(manifest);
  if (uses.length > MAX_ASSET_USES) throw new SceneError(assetLimitIssues(uses, () => undefined, maxBytes, setting));
  const cids = distinctCids(uses);
  const fetched = new Map(await Promise.all(cids.map(async (cid) => [cid, await fetch(cid)] as const)));
  const issues: { path: string; message: string }[] = [];
  for (const { path, encoding, cid } of uses) {
    const asset = cid === undefined ? undefined : fetched.get(cid);
    const odd = asset && undecodable(asset, encoding);
    if (cid === undefined) issues.push({ path: where(path), message: 'an asset reference is { "cid": "<CID>" } and nothing else' });
    else if (!asset) issues.push({ path: where(path), message: `asset ${cid} is not stored: upload it first (PUT /api/assets/${cid})` });
    else if (odd) issues.push({ path: where(path), message: `asset ${cid} ${odd}` });
  }
  const sizeOf = (cid: string) => fetched.get(cid)?.length;
  issues.push(...assetLimitIssues(uses, sizeOf, maxBytes, setting));
  if (issues.length > 0) throw new SceneError(issues);
  const decoded = new Map<string, unknown>();
  const placed = (uses as (AssetUse & { cid: string })[]).map(({ path, encoding, cid }) => {
    const key = `${encoding} ${cid}`;
    if (!decoded.has(key)) decoded.set(key, decode(fetched.get(cid) as Uint8Array, encoding));
    return { path, value: decoded.get(key) };
  });
  const refs = uses.map(({ path, cid }) => ({ path, cid: cid as string }));
  return { scene: withValues(manifest, placed), refs };
}

/** The manifest to store for a validated scene: its assets back to their references. */
export function manifestOf(scene: unknown, refs: readonly { path: Path; cid: string }[]): unknown {
  return withValues(
    scene,
    refs.map(({ path, cid }) => ({ path, value: { cid } })),
  );
}
