/**
 * Radiance `.hdr` (RGBE) images: the format HDRI skies come in. Decoding is three.js's HDRLoader,
 * the maintained JavaScript decoder; this module reads the header first, so a file's size is
 * checked against the limits before anything is allocated for its pixels, and checks what the
 * decoder returns (it passes a truncated flat file through short). It runs in Node and in the
 * dashboard's browser alike.
 */
import { FloatType } from 'three';
import { HDRLoader } from 'three/examples/jsm/loaders/HDRLoader.js';

export interface RadianceImage {
  width: number;
  height: number;
  /** Linear RGB, 3 floats per pixel, rows from the top of the sky down. */
  rgb: Float32Array;
}

/** Bytes read for the header: far more than any real header, little enough to scan. */
const HEADER_BYTES = 64 * 1024;

/** Width and height from a Radiance header; throws, naming the problem, for anything else. */
export function radianceSize(bytes: Uint8Array): { width: number; height: number } {
  const { width, height } = radianceHeader(bytes);
  return { width, height };
}

/** The header's size and where its pixels start (the byte after the resolution line). */
function radianceHeader(bytes: Uint8Array): { width: number; height: number; pixels: number } {
  const text = new TextDecoder('latin1').decode(bytes.subarray(0, HEADER_BYTES));
  if (!text.startsWith('#?')) throw new Error('not a Radiance .hdr file (it must start with "#?")');
  const end = text.indexOf('\n\n');
  if (end < 0) throw new Error('the Radiance header does not end (no empty line)');
  const format = /^FORMAT=(\S+)\s*$/m.exec(text.slice(0, end));
  if (format && format[1] !== '32-bit_rle_rgbe') throw new Error(`pixel format ${format[1]} is not read: only 32-bit_rle_rgbe`);
  const eol = text.indexOf('\n', end + 2);
  if (eol < 0) throw new Error('the Radiance resolution line does not end');
  const line = text.slice(end + 2, eol);
  const size = /^-Y (\d{1,6}) \+X (\d{1,6})$/.exec(line);
  if (!size) throw new Error(`resolution "${line.slice(0, 40)}" is not read: only the standard orientation "-Y height +X width"`);
  const [height, width] = [Number(size[1]), Number(size[2])];
  if (width < 1 || height < 1) throw new Error('the image is empty');
  return { width, height, pixels: eol + 1 };
}

/**
 * Decodes a Radiance file, its values clamped to `maxValue` (a hostile file can encode 1e38,
 * which the renderer's f32 sums would turn into infinities).
 */
export function decodeRadiance(bytes: Uint8Array, maxValue: number): RadianceImage {
  const { width, height, pixels } = radianceHeader(bytes);
  // The decoder reads the header its own way (the last resolution line it meets before a FORMAT
  // line wins, before or after the blank line) and allocates for that size: it is given the
  // checked size alone, in a header of three lines, then the pixels.
  const header = new TextEncoder().encode(`#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n-Y ${height} +X ${width}\n`);
  const file = new Uint8Array(header.length + bytes.length - pixels);
  file.set(header);
  file.set(bytes.subarray(pixels), header.length);
  const decoded = new HDRLoader().setDataType(FloatType).parse(file.buffer);
  const rgba = decoded.data as Float32Array;
  if (decoded.width !== width || decoded.height !== height || !rgba || rgba.length < width * height * 4)
    throw new Error(`the pixel data is shorter than ${width}×${height}`);
  const rgb = new Float32Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    for (let c = 0; c < 3; c++) {
      const v = rgba[i * 4 + c];
      rgb[i * 3 + c] = Number.isFinite(v) ? Math.min(maxValue, Math.max(0, v)) : 0;
    }
  }
  return { width, height, rgb };
}

/**
 * Encodes an image as a flat (not run-length encoded) Radiance file, which every reader takes:
 * for the sample scenes' generated skies and for tests.
 */
export function encodeRadiance({ width, height, rgb }: RadianceImage): Uint8Array {
  const header = new TextEncoder().encode(`#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y ${height} +X ${width}\n`);
  const out = new Uint8Array(header.length + width * height * 4);
  out.set(header);
  for (let i = 0; i < width * height; i++) {
    const [r, g, b] = [rgb[i * 3], rgb[i * 3 + 1], rgb[i * 3 + 2]];
    const v = Math.max(r, g, b);
    const at = header.length + i * 4;
    if (!(v > 1e-32)) continue;
    const e = Math.floor(Math.log2(v)) + 1; // v = m · 2^e with m in [0.5, 1)
    const scale = 256 / 2 ** e;
    out.set(
      [Math.min(255, Math.floor(r * scale)), Math.min(255, Math.floor(g * scale)), Math.min(255, Math.floor(b * scale)), e + 128],
      at,
    );
  }
  return out;
}
