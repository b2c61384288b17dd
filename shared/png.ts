/** PNG encoding of canonical RGBA images (sharp): one encode from one raw buffer. */
import sharp from 'sharp';
import type { RgbaImage } from './image.ts';

export function encodePng(img: RgbaImage): Promise<Buffer> {
  return sharp(img.rgba, { raw: { width: img.width, height: img.height, channels: 4 } })
    .png({ compressionLevel: 6 })
    .toBuffer();
}

/** Decodes any image sharp reads into RGBA8 pixels. */
export async function decodeRgba(bytes: Uint8Array): Promise<RgbaImage> {
  const { data, info } = await sharp(bytes).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, rgba: new Uint8Array(data.buffer, data.byteOffset, data.length) };
}
