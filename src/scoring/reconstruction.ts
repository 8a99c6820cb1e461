/**
 * Runs a trained autoencoder over batches and collects, per image, the reconstruction errors
 * (MSE and 1 - SSIM), the bottleneck code, and optionally a per-pixel error map.
 */
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

export async function scoreBatches(model: Reconstructor, plan: BatchPlan, opts: {
  maps?: MapKind; recon?: boolean; onBatch?: (done: number, total: number) => void;
  /** A second scorer run on the same batches (one pass over the data): the transformation classifier's. */
  transform?: (x: Tensor) => Float32Array;
} = {}): Promise<RawScores> {
  model.eval();
  const mse: number[] = [], ssim: number[] = [], indices: number[] = [], transform: number[] = [];
  const codeParts: Float32Array[] = [];
  const maps: Float32Array[] = [];
  const recons: Float32Array[] = [];
  const masks: (Float32Array | undefined)[] = [];
  let anyMask = false;
  let latent = 0, done = 0;
  for await (const b of plan.pass(0, false)) {
    try {
      const s = scoreTensor(model, b.x, opts);
      const n = b.indices.length;
      latent = s.codes.length / n;
      mse.push(...s.mse);
      ssim.push(...s.ssim);
      indices.push(...b.indices);
      codeParts.push(s.codes);
      if (opts.transform) transform.push(...opts.transform(b.x));
      const [, c, h, w] = b.x.shape;
      if (s.maps) for (let i = 0; i < n; i++) maps.push(s.maps.slice(i * h * w, (i + 1) * h * w));
      for (let i = 0; i < n; i++) masks.push(b.masks?.slice(i * h * w, (i + 1) * h * w));
      anyMask ||= !!b.masks;
      if (s.recon) for (let i = 0; i < n; i++) recons.push(s.recon.slice(i * c * h * w, (i + 1) * c * h * w));
    } finally {
      b.x.dispose();
    }
    opts.onBatch?.(++done, plan.batchCount);
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
