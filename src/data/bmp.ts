/**
 * A small decoder for uncompressed Windows BMP files, which sharp (libvips) cannot read.
 *
 * Supported: BITMAPCOREHEADER and BITMAPINFOHEADER..V5; 1/4/8-bit palette, 16/32-bit with default
 * or BI_BITFIELDS masks, 24-bit BGR; bottom-up (positive height) and top-down rows; rows padded
 * to 4 bytes. Not supported (reported as such): RLE and embedded JPEG/PNG compression.
 *
 * Whatever it cannot decode exactly it refuses with an Error saying why, rather than returning
 * wrong pixels: bit-field masks on a bit depth they do not apply to (BI_BITFIELDS is defined for
 * 16 and 32 bits only), masks with gaps, overlapping masks or masks wider than the pixel, and
 * pixel data that starts inside the headers.
 */
import type { RawImage } from './resample.js';
import { overBudget } from './budget.js';

const BI_RGB = 0;
const BI_RLE8 = 1;
const BI_RLE4 = 2;
const BI_BITFIELDS = 3;
const BI_JPEG = 4;
const BI_PNG = 5;
const BI_ALPHABITFIELDS = 6;

/** Guards against headers that would make us allocate gigabytes for a corrupt file. */
const MAX_PIXELS = 1 << 28;

/** True when the buffer starts with the BMP signature "BM". */
export function isBmp(buf: Uint8Array): boolean {
  return buf.length >= 2 && buf[0] === 0x42 && buf[1] === 0x4d;
}

interface ChannelMask {
  mask: number;
  shift: number;
  max: number;
}

function channelMask(mask: number): ChannelMask {
  mask >>>= 0;
  if (mask === 0) return { mask: 0, shift: 0, max: 0 };
  let shift = 0;
  while (((mask >>> shift) & 1) === 0) shift++;
  return { mask, shift, max: mask >>> shift };
}

function extract(px: number, m: ChannelMask): number {
  if (m.max === 0) return 0;
  return Math.round((((px & m.mask) >>> 0) >>> m.shift) * 255 / m.max);
}

/**
 * Decodes a BMP into interleaved 8-bit samples: 1 channel when the palette is all gray, 4 when a
 * used alpha mask is present, otherwise 3 (RGB). Throws an Error describing the problem.
 */
/** Why a set of channel masks cannot be decoded exactly, or undefined when they can. */
function badMasks(masks: number[], bpp: number): string | undefined {
  const names = ['red', 'green', 'blue', 'alpha'];
  let union = 0;
  for (let k = 0; k < masks.length; k++) {
    const m = masks[k]! >>> 0;
    if (m === 0) continue;
    if (bpp < 32 && m >>> bpp !== 0) return `${names[k]} mask 0x${m.toString(16)} has bits beyond the ${bpp}-bit pixel`;
    const low = m & -m;
    if ((((m + low) >>> 0) & m) !== 0) return `${names[k]} mask 0x${m.toString(16)} is not one run of bits`;
    if ((union & m) !== 0) return `${names[k]} mask 0x${m.toString(16)} overlaps another channel's`;
    union |= m;
  }
  return undefined;
}

export function decodeBmp(buf: Uint8Array, options: { maxPixels?: number } = {}): RawImage {
  if (!isBmp(buf)) throw new Error('not a BMP file (no "BM" signature)');
  if (buf.length < 26) throw new Error(`truncated BMP header (${buf.length} bytes)`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const dataOffset = dv.getUint32(10, true);
  const dibSize = dv.getUint32(14, true);
  let width: number;
  let rawHeight: number;
  let bpp: number;
  let compression = BI_RGB;
  let colorsUsed = 0;
  let paletteEntry = 4;
  if (dibSize === 12) {
    width = dv.getUint16(18, true);
    rawHeight = dv.getInt16(20, true);
    bpp = dv.getUint16(24, true);
    paletteEntry = 3;
  } else if (dibSize >= 40) {
    if (buf.length < 14 + 40) throw new Error(`truncated BMP header (${buf.length} bytes)`);
    width = dv.getInt32(18, true);
    rawHeight = dv.getInt32(22, true);
    bpp = dv.getUint16(28, true);
    compression = dv.getUint32(30, true);
    colorsUsed = dv.getUint32(46, true);
  } else {
    throw new Error(`unsupported BMP header size ${dibSize}`);
  }
  const topDown = rawHeight < 0;
  const height = Math.abs(rawHeight);
  if (width <= 0 || height <= 0) throw new Error(`invalid BMP size ${width}x${rawHeight}`);
  if (width * height > MAX_PIXELS) throw new Error(`BMP too large (${width}x${height})`);
  if (options.maxPixels !== undefined && width * height > options.maxPixels) throw new Error(overBudget(width, height, options.maxPixels));
  if (compression === BI_RLE8 || compression === BI_RLE4) {
    throw new Error('RLE-compressed BMP is not supported; convert it to PNG');
  }
  if (compression === BI_JPEG || compression === BI_PNG) {
    throw new Error('BMP with embedded JPEG/PNG is not supported; convert it to PNG');
  }
  if (compression !== BI_RGB && compression !== BI_BITFIELDS && compression !== BI_ALPHABITFIELDS) {
    throw new Error(`unknown BMP compression ${compression}`);
  }
  if (![1, 4, 8, 16, 24, 32].includes(bpp)) throw new Error(`unsupported BMP bit depth ${bpp}`);
  if ((compression === BI_BITFIELDS || compression === BI_ALPHABITFIELDS) && bpp !== 16 && bpp !== 32) {
    throw new Error(`invalid BMP: ${compression === BI_BITFIELDS ? 'BI_BITFIELDS' : 'BI_ALPHABITFIELDS'} compression with ${bpp} bits per pixel (bit fields apply to 16- and 32-bit images only)`);
  }

  // Channel masks: from the V2+ header, or right after a plain INFO header, or the defaults.
  let masks: number[] | undefined;
  let afterHeader = 14 + dibSize;
  if (compression === BI_BITFIELDS || compression === BI_ALPHABITFIELDS) {
    const n = compression === BI_ALPHABITFIELDS ? 4 : 3;
    if (dibSize >= 52) {
      masks = [0, 1, 2].map((k) => dv.getUint32(54 + 4 * k, true));
      masks.push(dibSize >= 56 ? dv.getUint32(66, true) : 0);
    } else {
      if (buf.length < afterHeader + 4 * n) throw new Error('truncated BMP bitfield masks');
      masks = Array.from({ length: n }, (_, k) => dv.getUint32(afterHeader + 4 * k, true));
      if (n === 3) masks.push(0);
      afterHeader += 4 * n;
    }
  } else if (bpp === 16) {
    masks = [0x7c00, 0x03e0, 0x001f, 0];
  } else if (bpp === 32) {
    // BI_RGB 32-bit: the fourth byte is officially unused, and many writers leave it zero.
    masks = [0xff0000, 0xff00, 0xff, 0];
  }

  if (masks) {
    const why = badMasks(masks, bpp);
    if (why) throw new Error(`unsupported BMP bit fields: ${why}`);
  }
  if (dataOffset < afterHeader) throw new Error(`invalid BMP: pixel data offset ${dataOffset} lies inside the ${afterHeader}-byte header`);

  let palette: Uint8Array | undefined;
  let gray = false;
  if (bpp <= 8) {
    const max = 1 << bpp;
    const n = colorsUsed > 0 && colorsUsed <= max ? colorsUsed : max;
    const available = Math.floor((Math.min(dataOffset, buf.length) - afterHeader) / paletteEntry);
    const count = Math.max(0, Math.min(n, available));
    if (count === 0) throw new Error('BMP palette missing');
    // Indices beyond the stored palette read as black, as most viewers do.
    palette = new Uint8Array(max * 3);
    gray = true;
    for (let i = 0; i < count; i++) {
      const o = afterHeader + i * paletteEntry;
      const b = buf[o]!, g = buf[o + 1]!, r = buf[o + 2]!;
      palette[3 * i] = r;
      palette[3 * i + 1] = g;
      palette[3 * i + 2] = b;
      if (r !== g || g !== b) gray = false;
    }
  }

  const stride = Math.floor((bpp * width + 31) / 32) * 4;
  const rowBytes = Math.ceil((bpp * width) / 8);
  // Some writers drop the padding of the final row; accept that, reject anything shorter.
  const needed = dataOffset + stride * (height - 1) + rowBytes;
  if (dataOffset < 14 || needed > buf.length) {
    throw new Error(`truncated BMP pixel data: need ${needed} bytes, file has ${buf.length}`);
  }

  const cm = masks?.map(channelMask);
  let alphaUsed = false;
  if (cm && cm[3]!.max > 0) {
    // An alpha mask whose values are all zero is a writer bug (fully transparent image); treat as opaque.
    const bytes = bpp / 8;
    scan: for (let y = 0; y < height; y++) {
      const row = dataOffset + y * stride;
      for (let x = 0; x < width; x++) {
        const px = bytes === 4 ? dv.getUint32(row + 4 * x, true) : dv.getUint16(row + 2 * x, true);
        if (extract(px, cm[3]!) !== 0) {
          alphaUsed = true;
          break scan;
        }
      }
    }
  }

  const channels = palette ? (gray ? 1 : 3) : alphaUsed ? 4 : 3;
  const out = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    const row = dataOffset + (topDown ? y : height - 1 - y) * stride;
    let o = y * width * channels;
    if (palette) {
      const perByte = 8 / bpp;
      const mask = (1 << bpp) - 1;
      for (let x = 0; x < width; x++) {
        const byte = buf[row + Math.floor(x / perByte)]!;
        const idx = bpp === 8 ? byte : (byte >> (8 - bpp * ((x % perByte) + 1))) & mask;
        if (gray) {
          out[o++] = palette[3 * idx]!;
        } else {
          out[o++] = palette[3 * idx]!;
          out[o++] = palette[3 * idx + 1]!;
          out[o++] = palette[3 * idx + 2]!;
        }
      }
    } else if (bpp === 24) {
      for (let x = 0; x < width; x++) {
        const p = row + 3 * x;
        out[o++] = buf[p + 2]!;
        out[o++] = buf[p + 1]!;
        out[o++] = buf[p]!;
      }
    } else {
      const four = bpp === 32;
      for (let x = 0; x < width; x++) {
        const px = four ? dv.getUint32(row + 4 * x, true) : dv.getUint16(row + 2 * x, true);
        out[o++] = extract(px, cm![0]!);
        out[o++] = extract(px, cm![1]!);
        out[o++] = extract(px, cm![2]!);
        if (alphaUsed) out[o++] = extract(px, cm![3]!);
      }
    }
  }
  return { data: out, width, height, channels };
}
