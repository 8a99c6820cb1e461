/**
 * Runs a trained autoencoder over batches and collects, per image, the reconstruction errors
 * (MSE and 1 - SSIM), the bottleneck code, and optionally a per-pixel error map.
 */
import { betweenSteps, type AbortSignalLike } from '../util/abort.js';
import { ops, tidy, noGrad, type Tensor } from '../engine/index.js';
import type { BatchPlan } from '../train/batches.js';
import { ssimMap, ssimPerImage } from './ssim.js';

/**
 * Anything with an encoder and a decoder. A model that reconstructs otherwise (tile by tile,
 * src/models/tiled.ts) gives `reconstruct`; one whose image scores are the peak of the blurred
 * error map rather than its mean gives `peakSigma`.
 */
export interface Reconstructor {
  encode(x: Tensor): Tensor;
  decode(z: Tensor): Tensor;
  eval(): unknown;
  /** Reconstructions and codes, and `tileMaps`' maps [N, 1, H, W] taken on the model's own pieces (tiles) and put together. */
  reconstruct?(x: Tensor, tileMaps?: (recon: Tensor, target: Tensor) => Tensor[]): { recon: Tensor; code: Tensor; maps: Tensor[] };
  readonly peakSigma?: number;
  /**
   * The code and, from the same encoder pass, what the latent density reads, when that is not the
   * code (src/detector/fit.ts, scorerFor).
   */
  encodeForDensity?(x: Tensor): { code: Tensor; density: Tensor };
}

/**
 * Images or maps [N, C, H, W] blurred by a Gaussian of `sigma` px, channel by channel (separable,
 * reflected edges; the kernel shrinks to fit images smaller than it).
 */
export function gaussianBlur(x: Tensor, sigma: number): Tensor {
  return tidy(() => {
    const [n, c, h, w] = x.shape as [number, number, number, number];
    let k = Math.max(3, Math.round(sigma * 4) | 1);
    // the kernel's radius must stay below the image's side for the reflection
    while ((k >> 1) >= Math.min(h, w)) k -= 2;
    const r = k >> 1;
    if (r <= 0) return ops.clone(x);
    const g = Array.from({ length: k }, (_, i) => Math.exp(-((i - r) ** 2) / (2 * sigma * sigma)));
    const total = g.reduce((a, b) => a + b, 0);
    const taps = Float32Array.from(g, (v) => v / total);
    const row = ops.tensor(taps, [1, 1, 1, k], { device: x.device });
    const col = ops.tensor(taps, [1, 1, k, 1], { device: x.device });
    let m = ops.reshape(x, [n * c, 1, h, w]);
    m = ops.conv2d(ops.reflectionPad2d(m, [r, r, 0, 0]), row);
    m = ops.conv2d(ops.reflectionPad2d(m, [0, 0, r, r]), col);
    return ops.reshape(m, [n, c, h, w]);
  });
}

/** Per image, the largest value of a [N, 1, H, W] map blurred by a Gaussian of `sigma` px. */
export function blurredPeak(map: Tensor, sigma: number): Tensor {
  return tidy(() => ops.maxDim(ops.reshape(gaussianBlur(map, sigma), [map.shape[0]!, -1]), 1)[0]);
}

export type MapKind = 'mse' | 'ssim';

export interface RawScores {
  indices: number[];
  mse: Float32Array;
  ssim: Float32Array;
  /** What the latent density reads, per image (the bottleneck codes unless the scorer says otherwise), `latent` values each. */
  codes: Float32Array;
  latent: number;
  /** Per-image error maps (H x W, channel-averaged), when asked for. */
  maps?: Float32Array[];
  /** Reconstructions (C x H x W) when asked for. */
  recons?: Float32Array[];
  /** Ground-truth masks (H x W) of the items that have them, aligned with `maps`. */
  masks?: (Float32Array | undefined)[];
  /** The transformation classifier's score, when one was given (`opts.transform`). */
  transform?: Float32Array;
  /** The synthetic-anomaly segmenter's score, when one was given (`opts.segment`). */
  segment?: Float32Array;
}

export interface BatchScores { mse: Float32Array; ssim: Float32Array; codes: Float32Array; maps?: Float32Array; recon?: Float32Array }

/** Scores one batch tensor. */
export function scoreTensor(model: Reconstructor, x: Tensor, opts: { maps?: MapKind; recon?: boolean } = {}): BatchScores {
  return noGrad(() => tidy(() => {
    const mseOf = (r: Tensor, t: Tensor) => ops.mean(ops.mseLoss(r, t, 'none'), 1, true);
    const ssimErrOf = (r: Tensor, t: Tensor) => ops.rsub(ops.mean(ssimMap(r, t, { padding: 'same' }), 1, true), 1);
    const errorMaps = (r: Tensor, t: Tensor) => [mseOf(r, t), ssimErrOf(r, t)];
    let code: Tensor, recon: Tensor, own: Tensor[] = [], density: Tensor | undefined;
    // a tiled model's errors are taken per tile (src/models/tiled.ts says why)
    if (model.reconstruct) ({ code, recon, maps: own } = model.reconstruct(x, errorMaps));
    else {
      if (model.encodeForDensity) ({ code, density } = model.encodeForDensity(x));
      else code = model.encode(x);
      recon = model.decode(code);
    }
    let mse: Tensor, ssim: Tensor;
    const mseMap = () => own[0] ?? mseOf(recon, x);
    const ssimErrMap = () => own[1] ?? ssimErrOf(recon, x);
    if (model.peakSigma !== undefined) {
      // a defect of a few pixels in a large image barely moves the mean error; its peak stands out
      mse = blurredPeak(mseMap(), model.peakSigma);
      ssim = blurredPeak(ssimErrMap(), model.peakSigma);
    } else {
      mse = ops.mean(ops.flatten(ops.mseLoss(recon, x, 'none'), 1), 1);
      ssim = ops.rsub(ssimPerImage(recon, x), 1);
    }
    const out: BatchScores = { mse: mse.toFloat32(), ssim: ssim.toFloat32(), codes: (density ?? code).toFloat32() };
    if (opts.maps === 'mse') out.maps = mseMap().toFloat32();
    if (opts.maps === 'ssim') out.maps = ssimErrMap().toFloat32();
    if (opts.recon) out.recon = recon.toFloat32();
    return out;
  }));
}

/** One batch's scores, as `scoreBatchStream` yields them: the fields of RawScores for that batch's images. */
export type ScoredBatch = RawScores;

export interface ScoreBatchOptions {
  maps?: MapKind; recon?: boolean; onBatch?: (done: number, total: number) => void;
  /** A second scorer run on the same batches (one pass over the data): the transformation classifier's. */
  transform?: (x: Tensor) => Float32Array;
  /** A third one: the synthetic-anomaly segmenter's. */
  segment?: (x: Tensor) => Float32Array;
  /** Checked between batches: an aborted signal ends the pass with its reason (an AbortError). */
  signal?: AbortSignalLike;
}

/**
 * The scores of each batch of a plan, in the plan's order, as they are computed. Between batches
 * it yields to the event loop (setImmediate), so timers, I/O and a server keep running while a
 * long pass of native work goes on, and an abort is seen within one batch.
 */
export async function* scoreBatchStream(model: Reconstructor, plan: BatchPlan, opts: ScoreBatchOptions = {}): AsyncGenerator<ScoredBatch> {
  model.eval();
  let done = 0;
  opts.signal?.throwIfAborted();
  for await (const b of plan.pass(0, false)) {
    let out: ScoredBatch;
    try {
      const s = scoreTensor(model, b.x, opts);
      const n = b.indices.length;
      const [, c, h, w] = b.x.shape;
      out = { indices: b.indices, mse: s.mse, ssim: s.ssim, codes: s.codes, latent: s.codes.length / n };
      if (opts.transform) out.transform = opts.transform(b.x);
      if (opts.segment) out.segment = opts.segment(b.x);
      if (s.maps) out.maps = Array.from({ length: n }, (_, i) => s.maps!.slice(i * h * w, (i + 1) * h * w));
      if (b.masks) out.masks = Array.from({ length: n }, (_, i) => b.masks!.slice(i * h * w, (i + 1) * h * w));
      if (s.recon) out.recons = Array.from({ length: n }, (_, i) => s.recon!.slice(i * c * h * w, (i + 1) * c * h * w));
    } finally {
      b.x.dispose();
    }
    opts.onBatch?.(++done, plan.batchCount);
    yield out;
    await betweenSteps(opts.signal);
  }
}

/** What the latent density reads for each image: `codes` holds `latent` values per image, in the order of `indices`. */
export type EncodedImages = Pick<RawScores, 'indices' | 'codes' | 'latent'>;

/**
 * What the latent density reads for every image of a plan, without decoding: the fit's training
 * images need nothing else unless a contamination threshold reads their errors. The decoder and
 * the error maps are most of a scoring pass (150-px photographs on a CPU thread: 1.26 s a batch of
 * 16 against 0.21 s for the encoder and the statistics); a tiled model's codes are the mean of
 * its tiles' codes, which its encoder alone gives too (src/models/tiled.ts).
 */
export async function encodeBatches(model: Reconstructor, plan: BatchPlan, opts: { signal?: AbortSignalLike } = {}): Promise<EncodedImages> {
  model.eval();
  opts.signal?.throwIfAborted();
  const indices: number[] = [];
  const parts: Float32Array[] = [];
  for await (const b of plan.pass(0, false)) {
    try {
      parts.push(noGrad(() => tidy(() => (model.encodeForDensity ? model.encodeForDensity(b.x).density : model.encode(b.x)).toFloat32())));
      indices.push(...b.indices);
    } finally {
      b.x.dispose();
    }
    await betweenSteps(opts.signal);
  }
  const codes = joined(parts);
  return { indices, codes, latent: indices.length ? codes.length / indices.length : 0 };
}

/** The batches' arrays end to end. */
function joined(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let off = 0;
  for (const p of parts) { out.set(p, off); off += p.length; }
  return out;
}

/** Every batch of `scoreBatchStream`, collected. */
export async function scoreBatches(model: Reconstructor, plan: BatchPlan, opts: ScoreBatchOptions = {}): Promise<RawScores> {
  const mse: number[] = [], ssim: number[] = [], indices: number[] = [], transform: number[] = [], segment: number[] = [];
  const codeParts: Float32Array[] = [];
  const maps: Float32Array[] = [];
  const recons: Float32Array[] = [];
  const masks: (Float32Array | undefined)[] = [];
  let anyMask = false;
  let latent = 0;
  for await (const s of scoreBatchStream(model, plan, opts)) {
    latent = s.latent;
    mse.push(...s.mse);
    ssim.push(...s.ssim);
    indices.push(...s.indices);
    codeParts.push(s.codes);
    if (s.transform) transform.push(...s.transform);
    if (s.segment) segment.push(...s.segment);
    if (s.maps) maps.push(...s.maps);
    masks.push(...(s.masks ?? s.indices.map(() => undefined)));
    anyMask ||= !!s.masks;
    if (s.recons) recons.push(...s.recons);
  }
  const codes = joined(codeParts);
  return {
    indices, mse: Float32Array.from(mse), ssim: Float32Array.from(ssim), codes, latent,
    maps: opts.maps ? maps : undefined, recons: opts.recon ? recons : undefined, masks: anyMask ? masks : undefined,
    transform: opts.transform ? Float32Array.from(transform) : undefined,
    segment: opts.segment ? Float32Array.from(segment) : undefined,
  };
}
