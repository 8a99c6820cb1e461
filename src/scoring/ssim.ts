/**
 * Structural similarity (Wang et al. 2004) on the engine, differentiable, so it serves both as a
 * training loss and as an anomaly score. Gaussian window 11x11, sigma 1.5, C1 = 0.01^2,
 * C2 = 0.03^2 for data in [0, 1], computed per channel (grouped convolution).
 */
import { ops, tidy, keep, type Tensor } from '../engine/index.js';

const C1 = 0.01 ** 2;
const C2 = 0.03 ** 2;
const windows = new Map<string, Tensor>();

/** The window as a [C, 1, k, k] tensor on the device, cached (it is tiny and constant). */
function gaussianWindow(channels: number, device: string, size: number, sigma: number): Tensor {
  const key = `${channels}:${device}:${size}:${sigma}`;
  let w = windows.get(key);
  if (!w) {
    const g = new Float32Array(size);
    let total = 0;
    for (let i = 0; i < size; i++) { g[i] = Math.exp(-((i - (size >> 1)) ** 2) / (2 * sigma * sigma)); total += g[i]; }
    const k = new Float32Array(channels * size * size);
    for (let c = 0; c < channels; c++) for (let i = 0; i < size; i++) for (let j = 0; j < size; j++) k[c * size * size + i * size + j] = (g[i] / total) * (g[j] / total);
    w = keep(ops.tensor(k, [channels, 1, size, size], { device }));
    windows.set(key, w);
  }
  return w;
}

export interface SsimOptions {
  /**
   * 'valid' (no padding, the usual definition for whole-image SSIM) or 'same' (a map the size of
   * the image, for per-pixel maps). 'same' pads by reflection: zero padding would make the border
   * look "similar" (both images are zero there) and hide a defect at the edge of the image.
   */
  padding?: 'valid' | 'same';
  windowSize?: number;
  sigma?: number;
}

/**
 * The window side for an image: the requested size (default 11), at most the image's smaller
 * side, and odd, so that a 'same' map has exactly the image's size and the window a centre pixel.
 */
export function ssimWindowSize(height: number, width: number, requested = 11): number {
  const size = Math.min(requested, height, width);
  return size % 2 === 1 ? size : size - 1;
}

/** The SSIM map [N, C, H', W'] between two image batches in [0, 1] ('same': H' x W' = H x W). */
export function ssimMap(a: Tensor, b: Tensor, opts: SsimOptions = {}): Tensor {
  const size = ssimWindowSize(a.shape[2], a.shape[3], opts.windowSize);
  const c = a.shape[1];
  const w = gaussianWindow(c, a.device, size, opts.sigma ?? 1.5);
  const half = size >> 1;
  return tidy(() => {
    const same = opts.padding === 'same' && half > 0;
    const pa = same ? ops.reflectionPad2d(a, [half, half, half, half]) : a;
    const pb = same ? ops.reflectionPad2d(b, [half, half, half, half]) : b;
    const conv = (x: Tensor) => ops.conv2d(x, w, null, 1, 0, 1, c);
    a = pa; b = pb;
    const muA = conv(a), muB = conv(b);
    const muAA = ops.mul(muA, muA), muBB = ops.mul(muB, muB), muAB = ops.mul(muA, muB);
    const sAA = ops.sub(conv(ops.mul(a, a)), muAA);
    const sBB = ops.sub(conv(ops.mul(b, b)), muBB);
    const sAB = ops.sub(conv(ops.mul(a, b)), muAB);
    const num = ops.mul(ops.add(ops.mul(muAB, 2), C1), ops.add(ops.mul(sAB, 2), C2));
    const den = ops.mul(ops.add(ops.add(muAA, muBB), C1), ops.add(ops.add(sAA, sBB), C2));
    return ops.div(num, den);
  });
}

/** Mean SSIM per image [N]. */
export function ssimPerImage(a: Tensor, b: Tensor, opts: SsimOptions = {}): Tensor {
  return tidy(() => ops.mean(ops.flatten(ssimMap(a, b, opts), 1), 1));
}
