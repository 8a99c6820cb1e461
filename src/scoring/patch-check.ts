/**
 * The pasted-patch check: can a reconstruction score see a local change at all? Each image gets a
 * rectangle cut from another image of the set and pasted at another place (CutPaste, Li et al.
 * CVPR 2021, made from the training images themselves), and is scored beside the untouched image.
 * On metal plates and blood cells the pasted patch raises 1 − SSIM clearly (AUROC 0.74 to 0.77
 * and 0.84 to 0.86 on training images); on forest scenes, whose texture hides a patch of another
 * forest, neither error moves (0.51 to 0.56), and there the errors rank the test images by their
 * detail instead, the wrong way (1 − SSIM image AUROC 0.11, docs/BENCHMARKS.md). A reconstruction
 * score that does not see the patches is left out of the `combined` fusion (src/detector/fit.ts),
 * which then rests on the latent density; one that sees them takes the density's place
 * (keepPatchSeeing says why). No anomaly and no label is read.
 *
 * ```ts
 * const check = await pastedPatchCheck(model, plan, { seed: 0 });   // { mse: 0.54, ssim: 0.53, images: 64 } on forests
 * keepPatchSeeing(['ssim', 'density'], check)                       // ['density']; ['ssim'] on plates and cells
 * ```
 */
import { ops, type Tensor } from '../engine/index.js';
import type { BatchPlan } from '../train/batches.js';
import { auroc } from '../eval/metrics.js';
import { createRng, type Rng } from '../data/random.js';
import { betweenSteps, type AbortSignalLike } from '../util/abort.js';
import { scoreTensor, type Reconstructor } from './reconstruction.js';

/**
 * Below this AUROC of patched against untouched images a reconstruction score is left out of the
 * fusion. 1 − SSIM measured: forests 0.51 to 0.56; cells 0.79 to 0.86; metal plates 0.72 to 0.83
 * when their training leaves its early plateau (loss 0.29 → 0.17), but 0.65 to 0.68 when it stays
 * there, and then 1 − SSIM ranks the test plates anywhere from 0.66 to 0.99 while the density
 * keeps 0.97 to 0.99 (docs/BENCHMARKS.md, session 15). The limit is the middle of the gap between
 * 0.68 and 0.72 (it was 0.63, between the forests and the plates, before the plateau was seen).
 */
export const PATCH_LIMIT = 0.7;
/** Training images the fit's check reads (the first of its seeded training split). */
export const PATCH_IMAGES = 64;

/** Per reconstruction score, the AUROC of the patched images against the untouched ones. */
export interface PatchCheck { mse: number; ssim: number; images: number }

/**
 * A copy of each image [N, C, H, W] with a rectangle of 17% to 32% of each side taken from the next
 * image of the batch (the image itself when it is alone) and pasted at a random place.
 */
export function pastePatches(x: Tensor, rng: Rng): Tensor {
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const src = x.toFloat32();
  const out = src.slice();
  const plane = h * w;
  for (let i = 0; i < n; i++) {
    const from = (i + 1) % n;
    const pw = Math.max(1, Math.round(w * (0.17 + rng() * 0.15)));
    const ph = Math.max(1, Math.round(h * (0.17 + rng() * 0.15)));
    const sx = Math.floor(rng() * (w - pw + 1)), sy = Math.floor(rng() * (h - ph + 1));
    const dx = Math.floor(rng() * (w - pw + 1)), dy = Math.floor(rng() * (h - ph + 1));
    for (let ch = 0; ch < c; ch++) {
      for (let y = 0; y < ph; y++) {
        const s = (from * c + ch) * plane + (sy + y) * w + sx;
        out.set(src.subarray(s, s + pw), (i * c + ch) * plane + (dy + y) * w + dx);
      }
    }
  }
  return ops.tensor(out, [n, c, h, w], { device: x.device });
}

/** Scores the images of `plan` (a few dozen: PATCH_IMAGES is what the fit gives it) untouched and patched, in one pass. */
export async function pastedPatchCheck(model: Reconstructor, plan: BatchPlan, o: { seed: number; signal?: AbortSignalLike }): Promise<PatchCheck> {
  model.eval();
  const rng = createRng(o.seed + 7919);
  const plain = { mse: [] as number[], ssim: [] as number[] };
  const patched = { mse: [] as number[], ssim: [] as number[] };
  for await (const b of plan.pass(0, false)) {
    try {
      const s = scoreTensor(model, b.x);
      const px = pastePatches(b.x, rng);
      try {
        const p = scoreTensor(model, px);
        plain.mse.push(...s.mse); plain.ssim.push(...s.ssim);
        patched.mse.push(...p.mse); patched.ssim.push(...p.ssim);
      } finally {
        px.dispose();
      }
    } finally {
      b.x.dispose();
    }
    await betweenSteps(o.signal);
  }
  const of = (k: 'mse' | 'ssim') => auroc([...plain[k], ...patched[k]], [...plain[k].map(() => 0), ...patched[k].map(() => 1)]);
  return { mse: of('mse'), ssim: of('ssim'), images: plain.mse.length };
}

/**
 * The scores of `combine` that the check lets into the fusion. When a reconstruction error sees
 * the patches, it measures a defect directly, and the latent density leaves the fusion: fused by
 * their largest z-score, the density's false alarms cost the metal plates and the cells 0 to 0.03
 * of image AUROC against 1 − SSIM alone on most seeds, 0.17 on one (docs/BENCHMARKS.md). When
 * none sees them, the errors leave and the density (with the classifier's score, if any) remains.
 * A list that would come out empty is kept whole.
 */
export function keepPatchSeeing<K extends string>(combine: readonly K[], check: PatchCheck): K[] {
  const isError = (k: K) => k === 'mse' || k === 'ssim';
  const seeing = combine.filter((k) => isError(k) && check[k as 'mse' | 'ssim'] >= PATCH_LIMIT);
  const kept = seeing.length
    ? combine.filter((k) => k !== 'density' && (!isError(k) || seeing.includes(k)))
    : combine.filter((k) => !isError(k));
  return kept.length ? kept : [...combine];
}

/** The settings line that says what the check found and which scores `combined` fuses (`fused`, out of `combine`). */
export function patchCheckReason(combine: readonly string[], fused: readonly string[], check: PatchCheck): string {
  const left = combine.filter((k) => !fused.includes(k));
  const seen = `mse ${check.mse.toFixed(2)}, ssim ${check.ssim.toFixed(2)} on ${check.images} training images with pasted patches`;
  return fused.some((k) => k === 'mse' || k === 'ssim')
    ? `combined of ${fused.join(' and ')}${left.length ? ` without ${left.join(' and ')}` : ''}: the errors see local changes (${seen}, from ${PATCH_LIMIT} on)`
    : `combined of ${fused.join(' and ')} without ${left.join(' and ')}: the errors do not see local changes (${seen}, under ${PATCH_LIMIT})`;
}
