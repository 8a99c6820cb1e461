/**
 * Pictures of what the detector sees, as PNG: the preprocessed image, its reconstruction, and the
 * error map blended over the image (or bare), on a fixed colour scale, with the ground-truth
 * outline where a mask exists. Small images are enlarged with nearest-neighbour sampling so each
 * model pixel stays visible.
 */
import sharp from 'sharp';
import type { Preprocessing } from '../data/types.js';
import { errorColour } from './colormap.js';

export type MapStyle = 'overlay' | 'bare';

/**
 * Overlay: the image in dimmed grey, covered by the error colour more the larger the error (fully
 * from 85% of the scale up), so low-error regions show the image and high errors show their colour
 * as in the legend.
 */
const BASE_DIM = 0.6;
const MIN_ALPHA = 0.15;
/** The outline of ground-truth masks. */
const OUTLINE: [number, number, number] = [255, 255, 255];

/** A C x H x W image in [0, 1] as interleaved 8-bit RGB. */
export function toRgb(chw: Float32Array, pre: Preprocessing): Buffer {
  const plane = pre.height * pre.width;
  const rgb = Buffer.alloc(plane * 3);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) {
      const v = chw[(pre.channels === 3 ? c : 0) * plane + p]!;
      rgb[p * 3 + c] = Math.round(Math.min(1, Math.max(0, v)) * 255);
    }
  }
  return rgb;
}

/** The error map coloured on [0, top]; blended over the image for 'overlay'. */
export function mapRgb(map: Float32Array, top: number, pre: Preprocessing, style: MapStyle, image?: Float32Array): Buffer {
  const plane = pre.height * pre.width;
  const rgb = Buffer.alloc(plane * 3);
  const blend = style === 'overlay' && image !== undefined;
  for (let p = 0; p < plane; p++) {
    const v = map[p]!;
    const col = errorColour(v, top);
    if (!blend) {
      rgb.set(col, p * 3);
      continue;
    }
    const g = pre.channels === 3 ? 0.299 * image[p]! + 0.587 * image[plane + p]! + 0.114 * image[2 * plane + p]! : image[p]!;
    const base = Math.min(1, Math.max(0, g)) * 255 * BASE_DIM;
    const a = Math.min(1, MIN_ALPHA + Math.max(0, v / top));
    for (let c = 0; c < 3; c++) rgb[p * 3 + c] = Math.round((1 - a) * base + a * col[c]!);
  }
  return rgb;
}

/** Output side: `size` when given (thumbnails), else at least 128 px for small inputs (written maps). */
function outputSize(pre: Preprocessing, size?: number): { width: number; height: number } {
  if (size) {
    const s = size / Math.max(pre.width, pre.height);
    return { width: Math.max(1, Math.round(pre.width * s)), height: Math.max(1, Math.round(pre.height * s)) };
  }
  const k = Math.max(1, Math.ceil(128 / Math.max(pre.width, pre.height)));
  return { width: pre.width * k, height: pre.height * k };
}

/**
 * Interleaved RGB at model resolution -> PNG at the output size; with a mask, its outline is
 * drawn at the output resolution so it stays one pixel wide.
 */
export async function rgbToPng(rgb: Buffer, pre: Preprocessing, o: { size?: number; mask?: Float32Array } = {}): Promise<Buffer> {
  const out = outputSize(pre, o.size);
  const enlarge = out.width >= pre.width;
  let img = sharp(rgb, { raw: { width: pre.width, height: pre.height, channels: 3 } })
    .resize(out.width, out.height, { kernel: enlarge ? 'nearest' : 'lanczos3', fit: 'fill' });
  if (o.mask && o.mask.some((v) => v > 0.5)) {
    const px = await img.raw().toBuffer();
    const inside = (x: number, y: number) => {
      if (x < 0 || y < 0 || x >= out.width || y >= out.height) return false;
      const mx = Math.min(pre.width - 1, Math.floor((x * pre.width) / out.width));
      const my = Math.min(pre.height - 1, Math.floor((y * pre.height) / out.height));
      return o.mask![my * pre.width + mx]! > 0.5;
    };
    for (let y = 0; y < out.height; y++) {
      for (let x = 0; x < out.width; x++) {
        if (inside(x, y) && (!inside(x - 1, y) || !inside(x + 1, y) || !inside(x, y - 1) || !inside(x, y + 1))) px.set(OUTLINE, (y * out.width + x) * 3);
      }
    }
    img = sharp(px, { raw: { width: out.width, height: out.height, channels: 3 } });
  }
  return img.png({ compressionLevel: 9 }).toBuffer();
}

export function dataUri(png: Buffer): string {
  return `data:image/png;base64,${png.toString('base64')}`;
}
