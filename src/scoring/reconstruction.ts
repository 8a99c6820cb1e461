/**
 * Runs a trained autoencoder over batches and collects, per image, the reconstruction errors
 * (MSE and 1 - SSIM), the bottleneck code, and optionally a per-pixel error map.
 */
import { betweenSteps, type AbortSignalLike } from '../util/abort.js';
import { ops, tidy, noGrad, type Tensor } from '../engine/index.js';
import type { BatchPlan } from '../train/batches.js';
import { ssimMap, ssimPerImage } from './ssim.js';

/** Anything with an encoder and a decoder. */
export interface Reconstructor {
  encode(x: Tensor): Tensor;
  decode(z: Tensor): Tensor;
  eval(): unknown;
}

export type MapKind = 'mse' | 'ssim';

export interface RawScores {
  indices: number[];
  mse: Float32Array;
  ssim: Float32Array;
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
}

export interface BatchScores { mse: Float32Array; ssim: Float32Array; codes: Float32Array; maps?: Float32Array; recon?: Float32Array }

/** Scores one batch tensor. */
export function scoreTensor(model: Reconstructor, x: Tensor, opts: { maps?: MapKind; recon?: boolean } = {}): BatchScores {
  return noGrad(() => tidy(() => {
    const code = model.encode(x);
    const recon = model.decode(code);
    const mse = ops.mean(ops.flatten(ops.mseLoss(recon, x, 'none'), 1), 1);
    const ssim = ops.rsub(ssimPerImage(recon, x), 1);
    const out: BatchScores = { mse: mse.toFloat32(), ssim: ssim.toFloat32(), codes: code.toFloat32() };
    if (opts.maps === 'mse') out.maps = ops.mean(ops.mseLoss(recon, x, 'none'), 1).toFloat32();
    if (opts.maps === 'ssim') out.maps = ops.rsub(ops.mean(ssimMap(recon, x, { padding: 'same' }), 1), 1).toFloat32();
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

/** Every batch of `scoreBatchStream`, collected. */
export async function scoreBatches(model: Reconstructor, plan: BatchPlan, opts: ScoreBatchOptions = {}): Promise<RawScores> {
  const mse: number[] = [], ssim: number[] = [], indices: number[] = [], transform: number[] = [];
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
    if (s.maps) maps.push(...s.maps);
    masks.push(...(s.masks ?? s.indices.map(() => undefined)));
    anyMask ||= !!s.masks;
    if (s.recons) recons.push(...s.recons);
  }
  const codes = new Float32Array(codeParts.reduce((a, p) => a + p.length, 0));
  let off = 0;
  for (const p of codeParts) { codes.set(p, off); off += p.length; }
  return {
    indices, mse: Float32Array.from(mse), ssim: Float32Array.from(ssim), codes, latent,
    maps: opts.maps ? maps : undefined, recons: opts.recon ? recons : undefined, masks: anyMask ? masks : undefined,
    transform: opts.transform ? Float32Array.from(transform) : undefined,
  };
}
