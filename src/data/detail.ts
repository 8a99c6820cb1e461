/**
 * How much of an image's detail a smaller input would lose: the images are shrunk with vigil's own
 * resampling (src/data/resample.ts) and enlarged back, and what the round trip takes away is
 * measured as a fraction of the image's variance. Fine structure (the traces of a circuit board)
 * is lost; a smooth surface with coarse texture (a metal plate) keeps nearly all of it. The
 * defaults read it to choose between a whole-image model and a model of tiles (src/config/auto.ts).
 *
 * ```ts
 * lostDetail(gray, 256) // about 0.008 for 512-px metal plates, 0.036 for 640-px circuit boards
 * ```
 */
import { resampleBilinear, type RawImage } from './resample.js';
import type { ImageSource } from './types.js';

/**
 * The fraction of `img`'s variance (over all its channels) that shrinking its smaller side to
 * `side` px and enlarging it back removes: 0 when nothing is lost (or the image is already that
 * small), near 1 for noise finer than a pixel of the smaller image. A flat image gives 0.
 */
export function lostDetail(img: RawImage, side: number): number {
  const scale = side / Math.min(img.width, img.height);
  if (scale >= 1) return 0;
  const w = Math.max(1, Math.round(img.width * scale));
  const h = Math.max(1, Math.round(img.height * scale));
  const whole = (im: RawImage) => ({ x: 0, y: 0, width: im.width, height: im.height });
  const small = resampleBilinear(img, whole(img), w, h);
  // back to 8 bits between the two passes (resampleBilinear reads bytes): a rounding error of
  // 1/255 at most, whose variance is far below the detail measured here
  const smallRaw: RawImage = { data: chwToHwcBytes(small, img.channels, w * h), width: w, height: h, channels: img.channels };
  const back = resampleBilinear(smallRaw, whole(smallRaw), img.width, img.height);
  const plane = img.width * img.height;
  let lost = 0;
  let variance = 0;
  for (let ch = 0; ch < img.channels; ch++) {
    let mean = 0;
    for (let p = 0; p < plane; p++) mean += img.data[p * img.channels + ch]!;
    mean /= plane;
    for (let p = 0; p < plane; p++) {
      const v = img.data[p * img.channels + ch]! / 255;
      variance += (v - mean / 255) ** 2;
      lost += (v - back[ch * plane + p]!) ** 2;
    }
  }
  return variance > 0 ? lost / variance : 0;
}

function chwToHwcBytes(chw: Float32Array, channels: number, plane: number): Uint8Array {
  const out = new Uint8Array(chw.length);
  for (let ch = 0; ch < channels; ch++) {
    for (let p = 0; p < plane; p++) out[p * channels + ch] = Math.round(chw[ch * plane + p]! * 255);
  }
  return out;
}

/**
 * The mean lostDetail of up to `count` of a source's images (those at `indices`, in that order),
 * read in gray at `size` (the images' own size). Images that cannot be read are skipped; with none
 * readable the result is undefined.
 */
export async function sourceLostDetail(
  source: ImageSource, indices: readonly number[], size: { height: number; width: number }, side: number, count = 8,
): Promise<number | undefined> {
  let sum = 0;
  let n = 0;
  for (const i of indices) {
    if (n >= count) break;
    let chw: Float32Array;
    try {
      chw = await source.load(i, { height: size.height, width: size.width, channels: 1, resize: 'stretch' });
    } catch {
      continue; // the training itself reports unreadable images
    }
    const data = new Uint8Array(chw.length);
    for (let p = 0; p < chw.length; p++) data[p] = Math.round(chw[p]! * 255);
    sum += lostDetail({ data, width: size.width, height: size.height, channels: 1 }, side);
    n++;
  }
  return n ? sum / n : undefined;
}
