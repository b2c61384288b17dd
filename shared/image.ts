/**
 * Canonical images and their content ids. Two honest renders of the same tile in the same
 * determinism class produce the same RGBA8 pixels; the canonical hash covers a small header and
 * those raw pixels (never PNG bytes, whose DEFLATE stream differs between platforms) and is
 * expressed as a CIDv1 with the raw codec, so it doubles as a content address.
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

export interface ImageProvenance {
  /** Renderer name and version, e.g. `farm-pt/1`. */
  renderer: string;
  /** The determinism class of the backend that produced the pixels, e.g. `webasm`. */
  backendClass: string;
}

export function canonicalHeader(img: RgbaImage, p: ImageProvenance): Uint8Array {
  return new TextEncoder().encode(`farm-image/1\n${img.width}x${img.height}\nrgba8\n${p.renderer}\n${p.backendClass}\n`);
}

/** Splits a determinism class such as `farm-pt/1+webasm` into the header's two parts. */
export function provenanceOf(deviceClass: string): ImageProvenance {
  const at = deviceClass.indexOf('+');
  return at < 0
    ? { renderer: deviceClass, backendClass: '' }
    : { renderer: deviceClass.slice(0, at), backendClass: deviceClass.slice(at + 1) };
}

/** Canonical bytes: header followed by the pixels. */
export function canonicalBytes(img: RgbaImage, p: ImageProvenance): Uint8Array {
  if (img.rgba.length !== img.width * img.height * 4) {
    throw new RangeError(`image is ${img.rgba.length} bytes, expected ${img.width}×${img.height}×4`);
  }
  const header = canonicalHeader(img, p);
  const out = new Uint8Array(header.length + img.rgba.length);
  out.set(header);
  out.set(img.rgba, header.length);
  return out;
}

/** CIDv1 (raw codec, sha2-256) of the canonical bytes, in base32 (`bafkrei…`). */
export async function canonicalCid(img: RgbaImage, p: ImageProvenance): Promise<string> {
  return cidOfBytes(canonicalBytes(img, p));
}

export async function cidOfBytes(bytes: Uint8Array): Promise<string> {
  const digest = await sha256.digest(bytes);
  return CID.createV1(raw.code, digest).toString();
}
