/**
 * Canonical images and their content ids. Two honest renders of the same tile in the same
 * determinism class produce the same RGBA8 pixels and trace the same rays; the canonical hash
 * covers a small header (size and ray count) and those raw pixels (never PNG bytes, whose DEFLATE stream differs between platforms) and is
 * their IPFS CID (shared/unixfs.ts), so it doubles as a content address.
 *
 * The header names no device or backend: which workers' pixels are comparable is measured by the
 * orchestrator (calibration), never taken from what a worker says about itself.
 */
import { cidOfBytes } from './unixfs.ts';

export interface RgbaImage {
  width: number;
  height: number;
  /** Row-major RGBA, 8 bits per channel, width × height × 4 bytes. */
  rgba: Uint8Array;
}

/** A rendered tile: its pixels and the rays its render traced (shared/render-units.ts). */
export interface TileResult extends RgbaImage {
  rays: number;
}

/** What a render produced, before the tile's size is attached. */
export type Rendered = Pick<TileResult, 'rgba' | 'rays'>;

function canonicalHeader(img: TileResult): Uint8Array {
  return new TextEncoder().encode(`farm-image/3\n${img.width}x${img.height}\nrgba8\nrays ${img.rays}\n`);
}

/** Canonical bytes: header (size, ray count) followed by the pixels. */
export function canonicalBytes(img: TileResult): Uint8Array {
  if (!Number.isSafeInteger(img.rays) || img.rays < 0) throw new RangeError(`a ray count is a whole number ≥ 0, not ${img.rays}`);
  if (img.rgba.length !== img.width * img.height * 4) {
    throw new RangeError(`image is ${img.rgba.length} bytes, expected ${img.width}×${img.height}×4`);
  }
  const header = canonicalHeader(img);
  const out = new Uint8Array(header.length + img.rgba.length);
  out.set(header);
  out.set(img.rgba, header.length);
  return out;
}

/** The pixels of canonical bytes: everything after the header. */
export function pixelsOf(canonical: Uint8Array, width: number, height: number): Uint8Array {
  return canonical.subarray(canonical.length - width * height * 4);
}

/** The IPFS CID of the canonical bytes, in base32. */
export async function canonicalCid(img: TileResult): Promise<string> {
  return cidOfBytes(canonicalBytes(img));
}
