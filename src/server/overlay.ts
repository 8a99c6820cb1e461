/**
 * The error map blended over the image it came from, as a PNG: what the service returns for
 * `?map=overlay` and the web page shows. The image is the model's own view of it (decoded and
 * resized by the model's preprocessing, in colour), so every map pixel sits on the pixel it
 * describes; small models are enlarged so a person can see them.
 *
 * Normalisation is explicit and the same for every image of a model, so a normal image stays
 * dark and images compare: a pixel's colour is its error divided by `scale`, clamped to [0, 1],
 * in the "hot" colour map (black, red, yellow, white). The service's scale is 4x the model's
 * threshold on the per-image mean of that error, so the error of an image at its threshold
 * shows a dull red and a hot spot several times the average shows yellow to white.
 */
import sharp from 'sharp';
import { loadImageTensor } from '../data/preprocess.js';
import type { Preprocessing } from '../data/types.js';
import { hot } from '../report/heatmap.js';

export interface OverlayOptions {
  /** Error that maps to the top of the colour map. */
  scale: number;
  /** Opacity of the map where the error is largest; it fades with the error. Default 0.75. */
  alpha?: number;
  /** Smallest side of the PNG in pixels (enlarged in whole steps). Default 128. */
  minSide?: number;
}

/** The overlay PNG of `map` (height x width of `pre`) over the encoded image `bytes`. */
export async function overlayPng(bytes: Uint8Array, map: Float32Array, pre: Preprocessing, o: OverlayOptions): Promise<Buffer> {
  const { width, height } = pre;
  if (map.length !== width * height) throw new Error(`overlay: map has ${map.length} values, expected ${height}x${width}`);
  const rgb = await loadImageTensor(bytes, { ...pre, channels: 3 });
  const plane = width * height;
  const alpha = o.alpha ?? 0.75;
  const scale = o.scale > 0 ? o.scale : 1e-12;
  const out = Buffer.alloc(plane * 3);
  for (let i = 0; i < plane; i++) {
    const v = Math.min(1, Math.max(0, map[i]! / scale));
    const c = hot(v);
    const a = alpha * Math.sqrt(v);
    for (let k = 0; k < 3; k++) out[i * 3 + k] = Math.round((1 - a) * rgb[k * plane + i]! * 255 + a * c[k]!);
  }
  const step = Math.max(1, Math.ceil((o.minSide ?? 128) / Math.min(width, height)));
  return sharp(out, { raw: { width, height, channels: 3 } })
    .resize(width * step, height * step, { kernel: 'nearest' })
    .png({ compressionLevel: 6 })
    .toBuffer();
}
