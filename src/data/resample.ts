/**
 * Geometry and resampling of decoded 8-bit images into float32 CHW tensors.
 *
 * Done in TypeScript rather than by sharp so that every source (PNG files, BMP, in-memory IDX
 * arrays, masks) goes through one exactly specified filter: the antialiased bilinear ("triangle")
 * filter of Pillow's `Image.resize(..., BILINEAR)` and torchvision's `Resize(antialias=True)`, with
 * pixel centres at +0.5. When upsampling it is plain bilinear; when downsampling the triangle is
 * widened by the scale factor so every source pixel contributes (no aliasing). Its weights are
 * non-negative, so outputs stay inside the input range without clamping artefacts.
 */
import type { Preprocessing } from './types.js';

/** A decoded image: interleaved (HWC) 8-bit samples. */
export interface RawImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

/** The region of the source (in pixels, possibly fractional) that is mapped onto the output. */
export interface SourceBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * Source region for a resize mode. 'stretch' maps the whole image; 'crop' takes the largest
 * centred region with the output's aspect ratio (scale to cover, then centre-crop), computed in
 * fractional pixels so odd margins do not shift the image by half a pixel.
 */
export function sourceBox(
  srcWidth: number,
  srcHeight: number,
  outWidth: number,
  outHeight: number,
  mode: Preprocessing['resize'],
): SourceBox {
  if (mode === 'stretch') return { x: 0, y: 0, width: srcWidth, height: srcHeight };
  const scale = Math.max(outWidth / srcWidth, outHeight / srcHeight);
  const width = outWidth / scale;
  const height = outHeight / scale;
  return { x: (srcWidth - width) / 2, y: (srcHeight - height) / 2, width, height };
}

interface Taps {
  /** First source index per output position. */
  start: Int32Array;
  /** Number of taps per output position. */
  count: Int32Array;
  /** Weights, `maxTaps` per output position. */
  weights: Float32Array;
  maxTaps: number;
}

/** Pillow's `precompute_coeffs` for the triangle filter: normalised weights per output position. */
function triangleTaps(inSize: number, boxStart: number, boxSize: number, outSize: number): Taps {
  const scale = boxSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filterScale;
  const maxTaps = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Float32Array(outSize * maxTaps);
  for (let o = 0; o < outSize; o++) {
    const centre = boxStart + (o + 0.5) * scale;
    const lo = Math.max(Math.trunc(centre - support + 0.5), 0);
    const hi = Math.min(Math.trunc(centre + support + 0.5), inSize);
    let sum = 0;
    let n = 0;
    for (let i = lo; i < hi && n < maxTaps; i++, n++) {
      const w = Math.max(0, 1 - Math.abs((i - centre + 0.5) / filterScale));
      weights[o * maxTaps + n] = w;
      sum += w;
    }
    // A box entirely outside the image (only possible with a degenerate box) falls back to the nearest edge pixel.
    if (sum === 0) {
      start[o] = Math.min(Math.max(Math.floor(centre), 0), inSize - 1);
      count[o] = 1;
      weights[o * maxTaps] = 1;
      continue;
    }
    for (let k = 0; k < n; k++) weights[o * maxTaps + k]! /= sum;
    start[o] = lo;
    count[o] = n;
  }
  return { start, count, weights, maxTaps };
}

function checkImage(img: RawImage): void {
  const { width, height, channels, data } = img;
  if (!(width > 0 && height > 0 && channels > 0) || data.length !== width * height * channels) {
    throw new Error(`invalid raw image: ${width}x${height}x${channels} with ${data.length} bytes`);
  }
}

/**
 * Resamples `box` of `img` to outWidth x outHeight, returning float32 CHW in [0, 1] with
 * `img.channels` planes. Separable: a horizontal pass over the needed rows, then a vertical pass.
 */
export function resampleBilinear(
  img: RawImage,
  box: SourceBox,
  outWidth: number,
  outHeight: number,
): Float32Array {
  checkImage(img);
  const { width, height, channels: c, data } = img;
  const out = new Float32Array(c * outHeight * outWidth);
  const plane = outHeight * outWidth;
  if (
    box.x === 0 && box.y === 0 && box.width === width && box.height === height &&
    outWidth === width && outHeight === height
  ) {
    // Identity: skip the filter (the common case for IDX data at native size) but keep the exact same result.
    for (let p = 0, q = 0; p < plane; p++) {
      for (let ch = 0; ch < c; ch++, q++) out[ch * plane + p] = data[q]! / 255;
    }
    return out;
  }
  const hx = triangleTaps(width, box.x, box.width, outWidth);
  const vy = triangleTaps(height, box.y, box.height, outHeight);
  let rowLo = height;
  let rowHi = 0;
  for (let o = 0; o < outHeight; o++) {
    rowLo = Math.min(rowLo, vy.start[o]!);
    rowHi = Math.max(rowHi, vy.start[o]! + vy.count[o]!);
  }
  const rows = rowHi - rowLo;
  // Intermediate kept in 0..255 floats; the division by 255 happens once at the end.
  const tmp = new Float32Array(rows * outWidth * c);
  for (let r = 0; r < rows; r++) {
    const srcRow = (rowLo + r) * width * c;
    for (let o = 0; o < outWidth; o++) {
      const s = hx.start[o]!;
      const n = hx.count[o]!;
      const wBase = o * hx.maxTaps;
      for (let ch = 0; ch < c; ch++) {
        let acc = 0;
        for (let k = 0; k < n; k++) acc += hx.weights[wBase + k]! * data[srcRow + (s + k) * c + ch]!;
        tmp[(r * outWidth + o) * c + ch] = acc;
      }
    }
  }
  for (let o = 0; o < outHeight; o++) {
    const s = vy.start[o]! - rowLo;
    const n = vy.count[o]!;
    const wBase = o * vy.maxTaps;
    for (let x = 0; x < outWidth; x++) {
      for (let ch = 0; ch < c; ch++) {
        let acc = 0;
        for (let k = 0; k < n; k++) acc += vy.weights[wBase + k]! * tmp[((s + k) * outWidth + x) * c + ch]!;
        const v = acc / 255;
        out[ch * plane + o * outWidth + x] = v < 0 ? 0 : v > 1 ? 1 : v;
      }
    }
  }
  return out;
}

/**
 * Nearest-neighbour resampling of `box`, CHW float32 in [0, 1]. Used for masks, where
 * interpolating would invent partial labels.
 */
export function resampleNearest(
  img: RawImage,
  box: SourceBox,
  outWidth: number,
  outHeight: number,
): Float32Array {
  checkImage(img);
  const { width, height, channels: c, data } = img;
  const out = new Float32Array(c * outHeight * outWidth);
  const plane = outHeight * outWidth;
  const xs = new Int32Array(outWidth);
  for (let x = 0; x < outWidth; x++) {
    xs[x] = Math.min(Math.max(Math.floor(box.x + (x + 0.5) * (box.width / outWidth)), 0), width - 1);
  }
  for (let y = 0; y < outHeight; y++) {
    const sy = Math.min(Math.max(Math.floor(box.y + (y + 0.5) * (box.height / outHeight)), 0), height - 1);
    for (let x = 0; x < outWidth; x++) {
      const q = (sy * width + xs[x]!) * c;
      for (let ch = 0; ch < c; ch++) out[ch * plane + y * outWidth + x] = data[q + ch]! / 255;
    }
  }
  return out;
}

/**
 * Makes a CHW tensor have `channels` planes: gray is replicated to RGB; RGB is reduced with
 * Rec. 601 luma. Callers that decode through sharp already get the right count; this covers raw
 * in-memory inputs.
 */
export function toChannels(chw: Float32Array, have: number, want: 1 | 3, plane: number): Float32Array {
  if (have === want) return chw;
  if (have === 1 && want === 3) {
    const out = new Float32Array(3 * plane);
    out.set(chw, 0);
    out.set(chw, plane);
    out.set(chw, 2 * plane);
    return out;
  }
  if (have >= 3 && want === 1) {
    const out = new Float32Array(plane);
    for (let p = 0; p < plane; p++) {
      out[p] = 0.299 * chw[p]! + 0.587 * chw[plane + p]! + 0.114 * chw[2 * plane + p]!;
    }
    return out;
  }
  if (have >= 3 && want === 3) return chw.slice(0, 3 * plane);
  if (have === 2 && want === 1) return chw.slice(0, plane);
  if (have === 2 && want === 3) return toChannels(chw.slice(0, plane), 1, 3, plane);
  throw new Error(`cannot convert ${have} channels to ${want}`);
}
