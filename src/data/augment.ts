/**
 * Seeded data augmentation on one CHW float32 image (and optionally its mask).
 *
 * Sampling and applying are separate so a loader can draw every item's parameters in a fixed
 * order (deterministic per seed) while decoding happens concurrently. Geometry: the output is
 * shift(rotate(flip(input))) about the image centre, bilinear for images and nearest for masks,
 * with edge pixels repeated outside the image (a constant fill would add borders the model could
 * learn as "normal"). Photometric jitter touches the image only, then values are clamped to [0, 1].
 */
import type { Rng } from './random.js';

export interface AugmentOptions {
  /** Probability of a horizontal flip; true means 0.5. Default off. */
  hflip?: boolean | number;
  /** Probability of a vertical flip; true means 0.5. Default off. */
  vflip?: boolean | number;
  /** Largest rotation in degrees; the angle is uniform in [-rotate, rotate]. Default 0. */
  rotate?: number;
  /** Largest shift as a fraction of width/height, uniform in [-shift, shift] per axis. Default 0. */
  shift?: number;
  /** Largest additive brightness change, uniform in [-brightness, brightness]. Default 0. */
  brightness?: number;
  /** Largest relative contrast change: factor uniform in [1 - contrast, 1 + contrast] about the mean. Default 0. */
  contrast?: number;
}

/** One drawn set of transformation parameters. */
export interface AugmentParams {
  hflip: boolean;
  vflip: boolean;
  /** Degrees, counter-clockwise as displayed. */
  angle: number;
  /** Shifts as fractions of width and height (positive = right / down). */
  dx: number;
  dy: number;
  brightness: number;
  contrast: number;
}

export interface ImageShape {
  channels: number;
  height: number;
  width: number;
}

function probability(v: boolean | number | undefined, name: string): number {
  const p = v === true ? 0.5 : v === false || v === undefined ? 0 : v;
  if (!(p >= 0 && p <= 1)) throw new Error(`augment.${name} must be a boolean or a probability in [0, 1], got ${v}`);
  return p;
}

function amount(v: number | undefined, name: string, max: number): number {
  const a = v ?? 0;
  if (!(a >= 0 && a <= max)) throw new Error(`augment.${name} must be in [0, ${max}], got ${v}`);
  return a;
}

/** Checks the options, quoting bad values. */
export function checkAugment(options: AugmentOptions): void {
  probability(options.hflip, 'hflip');
  probability(options.vflip, 'vflip');
  amount(options.rotate, 'rotate', 180);
  amount(options.shift, 'shift', 1);
  amount(options.brightness, 'brightness', 1);
  amount(options.contrast, 'contrast', 1);
}

/** True when the options would change anything. */
export function isAugmenting(options: AugmentOptions | undefined): boolean {
  if (!options) return false;
  return (
    probability(options.hflip, 'hflip') > 0 ||
    probability(options.vflip, 'vflip') > 0 ||
    (options.rotate ?? 0) > 0 ||
    (options.shift ?? 0) > 0 ||
    (options.brightness ?? 0) > 0 ||
    (options.contrast ?? 0) > 0
  );
}

export const IDENTITY: Readonly<AugmentParams> = { hflip: false, vflip: false, angle: 0, dx: 0, dy: 0, brightness: 0, contrast: 1 };

/**
 * Draws parameters. Always consumes the same number of random values (7), whatever is enabled,
 * so turning one option on does not change the draws of the others.
 */
export function sampleAugment(options: AugmentOptions, rng: Rng): AugmentParams {
  const ph = probability(options.hflip, 'hflip');
  const pv = probability(options.vflip, 'vflip');
  const rot = amount(options.rotate, 'rotate', 180);
  const sh = amount(options.shift, 'shift', 1);
  const br = amount(options.brightness, 'brightness', 1);
  const ct = amount(options.contrast, 'contrast', 1);
  const r = [rng(), rng(), rng(), rng(), rng(), rng(), rng()] as const;
  // `+ 0` turns -0 into 0, so disabled options compare equal to IDENTITY.
  const sym = (u: number, a: number): number => (2 * u - 1) * a + 0;
  return {
    hflip: r[0] < ph,
    vflip: r[1] < pv,
    angle: sym(r[2], rot),
    dx: sym(r[3], sh),
    dy: sym(r[4], sh),
    brightness: sym(r[5], br),
    contrast: 1 + sym(r[6], ct),
  };
}

function checkShape(data: Float32Array, shape: ImageShape, what: string): void {
  if (data.length !== shape.channels * shape.height * shape.width) {
    throw new Error(`${what} has ${data.length} values, expected ${shape.channels}x${shape.height}x${shape.width}`);
  }
}

/** Flips only: exact index permutation, no resampling. */
function flip(src: Float32Array, c: number, h: number, w: number, hf: boolean, vf: boolean): Float32Array {
  const out = new Float32Array(src.length);
  for (let ch = 0; ch < c; ch++) {
    const base = ch * h * w;
    for (let y = 0; y < h; y++) {
      const sy = vf ? h - 1 - y : y;
      for (let x = 0; x < w; x++) out[base + y * w + x] = src[base + sy * w + (hf ? w - 1 - x : x)]!;
    }
  }
  return out;
}

/** General affine warp by inverse mapping; `nearest` for masks. */
function warp(src: Float32Array, c: number, h: number, w: number, p: AugmentParams, nearest: boolean): Float32Array {
  const out = new Float32Array(src.length);
  const rad = (p.angle * Math.PI) / 180;
  const cos = Math.cos(rad);
  const sin = Math.sin(rad);
  const cx = w / 2;
  const cy = h / 2;
  const tx = p.dx * w;
  const ty = p.dy * h;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      // Undo the shift, then the rotation (y points down, so counter-clockwise uses +sin here), then the flips.
      const u = x + 0.5 - cx - tx;
      const v = y + 0.5 - cy - ty;
      let sx = cos * u - sin * v + cx - 0.5;
      let sy = sin * u + cos * v + cy - 0.5;
      if (p.hflip) sx = w - 1 - sx;
      if (p.vflip) sy = h - 1 - sy;
      const o = y * w + x;
      if (nearest) {
        const ix = Math.min(Math.max(Math.round(sx), 0), w - 1);
        const iy = Math.min(Math.max(Math.round(sy), 0), h - 1);
        for (let ch = 0; ch < c; ch++) out[ch * h * w + o] = src[ch * h * w + iy * w + ix]!;
        continue;
      }
      const fx = Math.min(Math.max(sx, 0), w - 1);
      const fy = Math.min(Math.max(sy, 0), h - 1);
      const x0 = Math.floor(fx);
      const y0 = Math.floor(fy);
      const x1 = Math.min(x0 + 1, w - 1);
      const y1 = Math.min(y0 + 1, h - 1);
      const ax = fx - x0;
      const ay = fy - y0;
      for (let ch = 0; ch < c; ch++) {
        const b = ch * h * w;
        const top = src[b + y0 * w + x0]! * (1 - ax) + src[b + y0 * w + x1]! * ax;
        const bottom = src[b + y1 * w + x0]! * (1 - ax) + src[b + y1 * w + x1]! * ax;
        out[b + o] = top * (1 - ay) + bottom * ay;
      }
    }
  }
  return out;
}

/**
 * Applies drawn parameters. Returns new arrays, or the inputs themselves when `params` is the
 * identity. The mask (1 x H x W) gets the same geometry and stays binary.
 */
export function applyAugment(
  data: Float32Array,
  shape: ImageShape,
  params: AugmentParams,
  mask?: Float32Array,
): { data: Float32Array; mask?: Float32Array } {
  const { channels: c, height: h, width: w } = shape;
  checkShape(data, shape, 'image');
  if (mask) checkShape(mask, { channels: 1, height: h, width: w }, 'mask');
  let img = data;
  let m = mask;
  const geometric = params.angle !== 0 || params.dx !== 0 || params.dy !== 0;
  if (geometric) {
    img = warp(img, c, h, w, params, false);
    if (m) m = warp(m, 1, h, w, params, true);
  } else if (params.hflip || params.vflip) {
    img = flip(img, c, h, w, params.hflip, params.vflip);
    if (m) m = flip(m, 1, h, w, params.hflip, params.vflip);
  }
  if (params.brightness !== 0 || params.contrast !== 1) {
    if (img === data) img = data.slice();
    let mean = 0;
    for (let i = 0; i < img.length; i++) mean += img[i]!;
    mean /= img.length;
    for (let i = 0; i < img.length; i++) {
      const v = (img[i]! - mean) * params.contrast + mean + params.brightness;
      img[i] = v < 0 ? 0 : v > 1 ? 1 : v;
    }
  } else if (geometric) {
    // Bilinear weights are convex, but float rounding can step a hair outside [0, 1].
    for (let i = 0; i < img.length; i++) img[i] = Math.min(1, Math.max(0, img[i]!));
  }
  return m ? { data: img, mask: m } : { data: img };
}

/** Draws parameters and applies them: the one-call form. */
export function augment(
  data: Float32Array,
  shape: ImageShape,
  options: AugmentOptions,
  rng: Rng,
  mask?: Float32Array,
): { data: Float32Array; mask?: Float32Array } {
  return applyAugment(data, shape, sampleAugment(options, rng), mask);
}
