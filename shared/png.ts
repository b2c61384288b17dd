/** PNG encoding of canonical RGBA images (sharp): one encode from one raw buffer. */
import sharp from 'sharp';
import type { RgbaImage } from './image.ts';

export function encodePng(img: RgbaImage): Promise<Buffer> {
  return sharp(img.rgba, { raw: { width: img.width, height: img.height, channels: 4 } })
    .png({ compressionLevel: 6 })
    .toBuffer();
}

/**
 * An image's format and size from its header, nothing decoded: for bytes from outside, whose few
 * kilobytes can declare gigapixels (a decompression bomb), to be sized before `decodeRgba`.
 */
export async function imageHeader(bytes: Uint8Array): Promise<{ format: string; width: number; height: number }> {
  const { format, width, height } = await sharp(bytes).metadata();
  if (!format || !width || !height) throw new Error('not an image with a width and a height');
  return { format, width, height };
}

/**
 * Decodes any image sharp reads into RGBA8 pixels. `maxPixels` refuses a larger one before its
 * pixels are decoded (sharp's `limitInputPixels`; its own default is 268 Mpx).
 */
export async function decodeRgba(bytes: Uint8Array, maxPixels?: number): Promise<RgbaImage> {
  const { data, info } = await sharp(bytes, maxPixels === undefined ? {} : { limitInputPixels: maxPixels })
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, rgba: new Uint8Array(data.buffer, data.byteOffset, data.length) };
}
