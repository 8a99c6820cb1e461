/**
 * Checks an uploaded image from its header alone, before anything decodes it: that it is an
 * image at all, and that its pixel count is within the limit, so a small file declaring huge
 * dimensions (a decompression bomb) is refused without allocating its pixels.
 */
import sharp from 'sharp';
import { isBmp } from '../data/bmp.js';
import { HttpError } from './errors.js';

export interface ImageHeader {
  width: number;
  height: number;
  format: string;
}

/** Width and height from a BMP header (sharp does not read BMP). */
function bmpHeader(b: Uint8Array): ImageHeader | undefined {
  if (b.length < 26) return undefined;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const headerSize = v.getUint32(14, true);
  if (headerSize === 12) return { width: v.getUint16(18, true), height: v.getUint16(20, true), format: 'bmp' };
  return { width: Math.abs(v.getInt32(18, true)), height: Math.abs(v.getInt32(22, true)), format: 'bmp' };
}

const PNG_SIGNATURE = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]);

/** Width and height from a PNG's IHDR chunk: the common case, read here without a trip to sharp's thread pool. */
function pngHeader(b: Uint8Array): ImageHeader | undefined {
  if (b.length < 33 || !PNG_SIGNATURE.equals(b.subarray(0, 8)) || Buffer.from(b.subarray(12, 16)).toString('latin1') !== 'IHDR') return undefined;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { width: v.getUint32(16), height: v.getUint32(20), format: 'png' };
}

/** Reads the header of `bytes` (named `id` in errors); throws HttpError 422 for non-images and too many pixels. */
export async function inspectImage(bytes: Uint8Array, id: string, maxPixels: number): Promise<ImageHeader> {
  if (bytes.length === 0) throw new HttpError(400, 'empty_body', `${id}: the image is empty (0 bytes)`);
  let header: ImageHeader | undefined;
  if (isBmp(bytes)) {
    header = bmpHeader(bytes);
  } else if ((header = pngHeader(bytes))) {
    // a PNG whose data is damaged past its header fails when decoded (422 corrupt_image)
  } else {
    try {
      // header only: sharp reads dimensions without decoding pixels; limitInputPixels off here
      // because the limit below is ours and gives a clearer answer
      const m = await sharp(bytes, { limitInputPixels: false }).metadata();
      if (m.width && m.height) header = { width: m.width, height: m.height, format: m.format ?? 'unknown' };
    } catch {
      header = undefined;
    }
  }
  if (!header || !header.width || !header.height) {
    throw new HttpError(422, 'not_an_image', `${id}: not an image vigil can read (PNG, JPEG, BMP, TIFF, WebP, GIF)`);
  }
  const pixels = header.width * header.height;
  if (pixels > maxPixels) {
    throw new HttpError(422, 'too_many_pixels', `${id}: ${header.width}x${header.height} is ${pixels} pixels, more than the limit of ${maxPixels} (--max-pixels)`);
  }
  return header;
}
