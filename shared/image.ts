/**
 * Canonical images and their content ids. Two honest renders of the same tile in the same
 * determinism class produce the same RGBA8 pixels; the canonical hash covers a small header and
 * those raw pixels (never PNG bytes, whose DEFLATE stream differs between platforms) and is
 * expressed as a CIDv1 with the raw codec, so it doubles as a content address.
 *
 * The header names no device or backend: which workers' pixels are comparable is measured by the
 * orchestrator (calibration), never taken from what a worker says about itself.
 */
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { sha256 } from 'multiformats/hashes/sha2';

export interface RgbaImage {
  width: number;
  height: number;
  /** Row-major RGBA, 8 bits per channel, width × height × 4 bytes. */
  rgba: Uint8Array;
}

function canonicalHeader(img: { width: number; height: number }): Uint8Array {
  return new TextEncoder().encode(`farm-image/2\n${img.width}x${img.height}\nrgba8\n`);
}

/** Canonical bytes: header followed by the pixels. */
export function canonicalBytes(img: RgbaImage): Uint8Array {
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

/** CIDv1 (raw codec, sha2-256) of the canonical bytes, in base32 (`bafkrei…`). */
export async function canonicalCid(img: RgbaImage): Promise<string> {
  return cidOfBytes(canonicalBytes(img));
}

export async function cidOfBytes(bytes: Uint8Array): Promise<string> {
  const digest = await sha256.digest(bytes);
  return CID.createV1(raw.code, digest).toString();
}
