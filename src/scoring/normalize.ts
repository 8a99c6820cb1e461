/**
 * Score normalisation and rank fusion.
 *
 * **Min-max normalisation** (anomalib `post_processing/post_processor.py`, `_normalize`):
 *
 *     normalized = clamp((score - threshold) / (max - min) + 0.5, 0, 1)
 *
 * with min and max fitted on scores of normal validation images. The threshold lands on 0.5, the
 * map is monotonic (ranking and AUROC unchanged except where clamping merges scores), and the
 * result is in [0, 1]. The fitted `Normalizer` is a plain `{min, max, threshold}` object, persisted
 * as JSON next to the `ThresholdSpec`. Decisions should use the raw rule `score > threshold`
 * (`isAnomalous`); the normalised score is for display and, as a consequence of rounding at 0.5,
 * a score a hair above the threshold may normalise to exactly 0.5.
 *
 * **Rank normalisation and fusion** (`fuseByRank`): scores of different types (reconstruction
 * error, latent log-density, discriminator output...) have incomparable scales. Each is mapped to
 * [0, 1] by rank, then they are combined per sample by max (default) or mean. See `fuseByRank`.
 *
 * @example
 * ```ts
 * const n = fitNormalizer([1, 2, 3, 5], 4); // {min: 1, max: 5, threshold: 4}
 * normalize(4, n);   // 0.5
 * normalize(5, n);   // 0.75
 * normalize(100, n); // 1 (clamped)
 * // ranks/n per type: [1/3, 2/3, 1] and [1, 1/3, 2/3]; max per sample:
 * fuseByRank([[1, 2, 3], [30, 10, 20]]); // Float64Array [1, 0.6666666666666666, 1]
 * ```
 *
 * See Also: `src/scoring/threshold.ts`, `rankData` in `src/eval/metrics.ts`.
 */

import { checkScores, countAtMost, countBelow, sortedCopy } from '../eval/internal.js';
import type { NumArray } from '../eval/internal.js';
import { rankData } from '../eval/metrics.js';
import type { ThresholdSpec } from './threshold.js';

/** A fitted min-max normaliser: a plain, JSON-ready object. */
export interface Normalizer {
  /** Lowest normal validation score. */
  min: number;
  /** Highest normal validation score. */
  max: number;
  /** The decision threshold, mapped to 0.5. */
  threshold: number;
}

/**
 * Fits min-max normalisation on scores of normal validation images.
 * @param normalScores finite scores of normal images (at least one).
 * @param threshold the decision threshold (a number or a `ThresholdSpec`), finite.
 */
export function fitNormalizer(normalScores: NumArray, threshold: number | ThresholdSpec): Normalizer {
  checkScores(normalScores, 'fitNormalizer', 'normal scores', true);
  const t = typeof threshold === 'number' ? threshold : threshold.value;
  if (typeof t !== 'number' || !Number.isFinite(t)) {
    throw new Error(`fitNormalizer: threshold must be a finite number, got ${String(t)}`);
  }
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < normalScores.length; i++) {
    const s = normalScores[i]!;
    if (s < min) min = s;
    if (s > max) max = s;
  }
  return { min, max, threshold: t };
}

function checkNormalizer(n: Normalizer): number {
  if (!Number.isFinite(n.min) || !Number.isFinite(n.max) || !Number.isFinite(n.threshold) || n.max < n.min) {
    throw new Error(
      `normalize: normalizer is not fitted (need finite min <= max and threshold, got ${JSON.stringify(n)}); call fitNormalizer on normal validation scores`,
    );
  }
  // All normal scores equal: no spread to scale by, fall back to a unit range.
  return n.max > n.min ? n.max - n.min : 1;
}

/**
 * `clamp((score - threshold) / (max - min) + 0.5, 0, 1)`; a range of 0 (all fitted scores equal)
 * is treated as 1. NaN scores give NaN, +Infinity gives 1, -Infinity gives 0.
 */
export function normalize(score: number, n: Normalizer): number {
  const range = checkNormalizer(n);
  return clamp01((score - n.threshold) / range + 0.5);
}

/** `normalize` over an array. */
export function normalizeAll(scores: NumArray, n: Normalizer): Float64Array {
  const range = checkNormalizer(n);
  const out = new Float64Array(scores.length);
  for (let i = 0; i < scores.length; i++) out[i] = clamp01((scores[i]! - n.threshold) / range + 0.5);
  return out;
}

function clamp01(x: number): number {
  return x < 0 ? 0 : x > 1 ? 1 : x;
}

/** Checks a parsed JSON value and returns it as a `Normalizer` (a fresh plain object). */
export function parseNormalizer(json: unknown): Normalizer {
  const o = (typeof json === 'object' && json !== null ? json : {}) as Record<string, unknown>;
  for (const k of ['min', 'max', 'threshold'] as const) {
    if (typeof o[k] !== 'number' || !Number.isFinite(o[k])) {
      throw new Error(`normalizer: ${k} must be a finite number, got ${JSON.stringify(o[k])} in ${JSON.stringify(json)}`);
    }
  }
  const n: Normalizer = { min: o.min as number, max: o.max as number, threshold: o.threshold as number };
  if (n.max < n.min) throw new Error(`normalizer: max (${n.max}) is below min (${n.min})`);
  return n;
}

/**
 * Rank-normalises `scores` into [0, 1].
 * - With `reference` (scores of normal validation images): the empirical CDF of the reference at
 *   each score, i.e. the fraction of reference scores below it, ties counting one half:
 *   `(#{r < s} + 0.5 #{r == s}) / m`. A score above every reference score gets 1.
 * - Without: within-sample average ranks divided by n (`rankData(scores) / n`), in (0, 1].
 */
export function rankNormalize(scores: NumArray, reference?: NumArray): Float64Array {
  checkScores(scores, 'rankNormalize');
  const n = scores.length;
  if (reference === undefined) {
    const r = rankData(scores);
    for (let i = 0; i < n; i++) r[i] = r[i]! / n;
    return r;
  }
  checkScores(reference, 'rankNormalize', 'reference scores');
  const ref = sortedCopy(reference);
  const m = ref.length;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const s = scores[i]!;
    const below = countBelow(ref, s);
    out[i] = (below + 0.5 * (countAtMost(ref, s) - below)) / m;
  }
  return out;
}

/** How `fuseByRank` combines the per-type normalised scores of one sample. */
export type FuseCombine = 'max' | 'mean';

/**
 * Fuses several score types into one score for ranking.
 *
 * Each element of `scoreArrays` is one score type over the same n samples (same order, higher =
 * more anomalous). Each type is rank-normalised with `rankNormalize` (against `reference[k]`, the
 * normal validation scores of type k, when given; else within the sample), then the per-sample
 * values are combined:
 * - `'max'` (default): a sample is as anomalous as its most anomalous score type, so a defect seen
 *   by only one detector is not diluted. With a reference this is "the smallest fraction of normal
 *   images any detector ranks above it".
 * - `'mean'`: average rank, steadier when the types agree.
 *
 * Limits: with a reference, scores beyond every normal reference score all map to 1, so fused
 * scores saturate and tie; pass a larger reference set or rank within the sample to separate them.
 *
 * @returns a Float64Array of n fused scores in [0, 1].
 */
export function fuseByRank(
  scoreArrays: readonly NumArray[],
  reference?: readonly NumArray[] | null,
  combine: FuseCombine = 'max',
): Float64Array {
  const fn = 'fuseByRank';
  if (scoreArrays.length === 0) throw new Error(`${fn}: no score arrays given`);
  if (combine !== 'max' && combine !== 'mean') {
    throw new Error(`${fn}: combine must be 'max' or 'mean', got ${JSON.stringify(combine)}`);
  }
  const n = scoreArrays[0]!.length;
  scoreArrays.forEach((a, k) => {
    if (a.length !== n) {
      throw new Error(`${fn}: score array ${k} has ${a.length} scores but array 0 has ${n}; pass one score per sample for every type`);
    }
  });
  if (reference != null && reference.length !== scoreArrays.length) {
    throw new Error(`${fn}: ${reference.length} reference arrays for ${scoreArrays.length} score types; pass one per type`);
  }
  const out = new Float64Array(n).fill(combine === 'max' ? -Infinity : 0);
  for (let k = 0; k < scoreArrays.length; k++) {
    const r = rankNormalize(scoreArrays[k]!, reference?.[k]);
    if (combine === 'max') for (let i = 0; i < n; i++) out[i] = Math.max(out[i]!, r[i]!);
    else for (let i = 0; i < n; i++) out[i] = out[i]! + r[i]!;
  }
  if (combine === 'mean') for (let i = 0; i < n; i++) out[i] = out[i]! / scoreArrays.length;
  return out;
}
