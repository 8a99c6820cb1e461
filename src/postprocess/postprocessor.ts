/**
 * Post-processing: everything between the raw scores of the network and a verdict. One
 * component (as anomalib's `post_processing/post_processor.py`), fitted on normal validation
 * images and saved in the model folder:
 *
 * - **score statistics** of every base score (mean, std, quantiles) on normal validation images;
 * - **fusion**: 'combined' is the mean (or, with fusion 'max', the largest) of the z-scores of the `combine` list;
 * - **thresholds**, one per score kind (src/scoring/threshold.ts chooses them);
 * - **the verdict rule**, written once here: an image is anomalous when its score is strictly
 *   above the threshold (`isAnomalous`); the 'either' rule flags an image whose latent density
 *   or reconstruction error is beyond its own threshold.
 *
 * Detector, DetectorEnsemble, evaluation (confusionAt), the report and the service all decide
 * through this module. It is pure JavaScript: reading a model folder's post-processing needs
 * neither libtorch nor sharp.
 *
 * ```ts
 * const post = PostProcessor.fit({ validation: { mse, ssim, density }, combine: ['ssim', 'density'],
 *   threshold: { method: 'quantile', q: 0.95 }, score: 'combined', recon: 'mse' });
 * const all = post.scores({ mse: m2, ssim: s2, density: d2 });   // adds all.combined
 * post.decide({ mse: 0.01, ssim: 0.2, density: 40, combined: 3.9 }); // { score: 3.9, isAnomaly: true, flags: {...} }
 * ```
 *
 * In a model folder these are the manifest fields `score`, `combine`, `thresholds` and
 * `scoreStats` (see src/bundle/manifest.ts).
 */
import { fitThreshold, quantile, type ThresholdSpec, type NumArray } from '../scoring/threshold.js';
import { BASE_SCORES, checkCombine, kindsOf, missingKind, perBase, type BaseRecord, type BaseScore, type ScoreKind, type ScoreRecord } from './kinds.js';

/** How thresholds are fitted: a quantile of normal validation scores, a contamination rate of the training scores, or a value. */
export type ThresholdOption =
  | { method: 'quantile'; q?: number }
  | { method: 'contamination'; contamination: number }
  | { method: 'fixed'; value: number };

/** 'score': the ranking score above its threshold; 'either': latent density or reconstruction error above its own. */
export type VerdictRule = 'score' | 'either';

/** Statistics of one score on normal validation images. */
export interface ScoreStats { mean: number; std: number; q50: number; q95: number; q99: number }

/** What a post-processor saves: the manifest fields of the same names. */
export interface PostProcessorState {
  /** The ranking score. */
  score: ScoreKind;
  /** The scores 'combined' fuses. */
  combine: BaseScore[];
  /** How: the mean of their z-scores (the default, and what models saved without the field did) or the largest. */
  fusion?: Fusion;
  thresholds: ScoreRecord<ThresholdSpec>;
  scoreStats: BaseRecord<ScoreStats>;
}

/** The verdict on one image. */
export interface Verdict {
  /** The score the verdict is about (the ranking score, or the one asked for). */
  score: number;
  isAnomaly: boolean;
  /** Which base scores exceed their own thresholds. */
  flags: BaseRecord<boolean>;
}

function thresholdValue(threshold: number | ThresholdSpec): number {
  const t = typeof threshold === 'number' ? threshold : threshold.value;
  if (typeof t !== 'number' || Number.isNaN(t)) throw new Error(`threshold must be a number, got ${String(t)} (not fitted?); fit one with fitThreshold`);
  return t;
}

/**
 * The single decision rule of vigil: anomalous when `score > threshold` (strictly; a score
 * equal to the threshold is normal). Every verdict in the project is made here.
 */
export function isAnomalous(score: number, threshold: number | ThresholdSpec): boolean {
  return score > thresholdValue(threshold);
}

/** Labels under the rule above: 1 = anomalous, 0 = normal (PyOD's `predict`). */
export function predictLabels(scores: NumArray, threshold: number | ThresholdSpec): Uint8Array {
  const t = thresholdValue(threshold);
  const out = new Uint8Array(scores.length);
  for (let i = 0; i < scores.length; i++) out[i] = isAnomalous(scores[i]!, t) ? 1 : 0;
  return out;
}

/**
 * The verdict on one image from all its scores and the threshold of each kind: by `kind`
 * (rule 'score', the default) or, with rule 'either', anomalous when the latent density or the
 * reconstruction error `recon` (the training loss's: mse or ssim) is above its threshold.
 */
export function decide(
  scores: ScoreRecord<number>, thresholds: ScoreRecord<number | ThresholdSpec>,
  o: { kind: ScoreKind; rule?: VerdictRule; recon: 'mse' | 'ssim' },
): Verdict {
  const flags = perBase(scores, (k) => isAnomalous(scores[k]!, thresholds[k]!));
  const score = scores[o.kind]!;
  const isAnomaly = o.rule === 'either' ? flags.density || flags[o.recon] : isAnomalous(score, thresholds[o.kind]!);
  return { score, isAnomaly, flags };
}

/** Mean, sample standard deviation (never 0) and quantiles 0.5, 0.95, 0.99. */
export function scoreStats(v: NumArray): ScoreStats {
  let m = 0;
  for (let i = 0; i < v.length; i++) m += v[i]!;
  m /= v.length;
  let s = 0;
  for (let i = 0; i < v.length; i++) s += (v[i]! - m) ** 2;
  return { mean: m, std: Math.sqrt(s / Math.max(v.length - 1, 1)) || 1e-12, q50: quantile(v, 0.5), q95: quantile(v, 0.95), q99: quantile(v, 0.99) };
}

/**
 * How 'combined' fuses the z-scores of its scores: 'mean' (default), or 'max', the largest, so a
 * score that runs the wrong way on some data (reconstruction error on smooth scenes against
 * textured ones) cannot cancel another (docs/BENCHMARKS.md: better on real photographs, worse on
 * MNIST / Fashion-MNIST, hence not the default).
 */
export type Fusion = 'mean' | 'max';
export const FUSIONS: readonly Fusion[] = ['mean', 'max'];

/** Throws unless `fusion` is one vigil knows. */
export function checkFusion(fusion: unknown): asserts fusion is Fusion {
  if (!FUSIONS.includes(fusion as Fusion)) throw new Error(`unknown fusion '${String(fusion)}' (use ${FUSIONS.join(' or ')})`);
}

/** The chosen scores, each standardised by its normal validation statistics, fused by their mean or their largest. */
export function fuse(s: BaseRecord<NumArray>, combine: readonly BaseScore[], stats: BaseRecord<ScoreStats>, fusion: Fusion = 'mean'): Float32Array {
  const n = s.mse.length;
  const out = new Float32Array(n).fill(fusion === 'max' ? -Infinity : 0);
  for (const k of combine) {
    const { mean, std } = stats[k]!;
    const v = s[k]!;
    if (fusion === 'max') for (let i = 0; i < n; i++) out[i] = Math.max(out[i]!, (v[i]! - mean) / std);
    else for (let i = 0; i < n; i++) out[i] += (v[i]! - mean) / std / combine.length;
  }
  return out;
}

export class PostProcessor {
  private readonly state: PostProcessorState;

  /**
   * @param state the saved fields (copied)
   * @param recon the reconstruction score of the training loss, for the 'either' rule and `resolveKind('recon')`
   */
  constructor(state: PostProcessorState, readonly recon: 'mse' | 'ssim' = 'mse') {
    this.state = structuredClone(state);
    checkCombine(this.state.combine, this.state.scoreStats);
    if (this.state.fusion !== undefined) checkFusion(this.state.fusion);
  }

  /**
   * Fits statistics and thresholds: statistics on `validation` (scores of normal validation
   * images); thresholds on the same scores, except a contamination threshold, which reads
   * `training` (the training images' scores, assumed mostly normal, as PyOD does).
   */
  static fit(o: {
    validation: BaseRecord<NumArray>; training?: BaseRecord<NumArray>;
    combine: BaseScore[]; fusion?: Fusion; threshold: ThresholdOption; score: ScoreKind; recon?: 'mse' | 'ssim';
  }): PostProcessor {
    checkCombine(o.combine, o.validation);
    const fusion = o.fusion ?? 'mean';
    checkFusion(fusion);
    const st = perBase(o.validation, (k) => scoreStats(o.validation[k]!));
    const t = o.threshold;
    const training = (): BaseRecord<NumArray> => {
      if (!o.training) throw new Error('a contamination threshold needs the training images\' scores');
      return o.training;
    };
    const thresholdFor = (normal: NumArray, trainAll: () => NumArray): ThresholdSpec => {
      if (t.method === 'quantile') return fitThreshold({ method: 'quantile', normalScores: normal, q: t.q ?? 0.95 }).spec;
      if (t.method === 'contamination') return fitThreshold({ method: 'contamination', scores: trainAll(), contamination: t.contamination }).spec;
      if (t.method === 'fixed') return fitThreshold({ method: 'fixed', value: t.value }).spec;
      throw new Error(`unknown threshold method ${JSON.stringify((t as { method: unknown }).method)} (use quantile, contamination or fixed)`);
    };
    const thresholds: ScoreRecord<ThresholdSpec> = {
      ...perBase(o.validation, (k) => thresholdFor(o.validation[k]!, () => training()[k]!)),
      combined: thresholdFor(fuse(o.validation, o.combine, st, fusion), () => fuse(training(), o.combine, st, fusion)),
    };
    return new PostProcessor({ score: o.score, combine: [...o.combine], fusion, thresholds, scoreStats: st }, o.recon ?? 'mse');
  }

  /** The saved fields (a copy): `score`, `combine`, `thresholds`, `scoreStats`. */
  toState(): PostProcessorState { return structuredClone(this.state); }

  /** The ranking score. */
  get scoreKind(): ScoreKind { return this.state.score; }
  get combine(): BaseScore[] { return [...this.state.combine]; }
  get fusion(): Fusion { return this.state.fusion ?? 'mean'; }
  /** The threshold of each kind (live: do not modify; use withThreshold). */
  get thresholds(): ScoreRecord<ThresholdSpec> { return this.state.thresholds; }
  get stats(): BaseRecord<ScoreStats> { return this.state.scoreStats; }
  /** The score kinds this post-processor knows: the optional ones ('transform', 'segment') only when their statistics are there. */
  get kinds(): ScoreKind[] { return kindsOf(this.state.scoreStats); }

  /** The score a request ranks by: the model's own, or one named ('recon' = the training loss's error). */
  resolveKind(requested?: ScoreKind | 'recon'): ScoreKind {
    if (requested === undefined) return this.state.score;
    if (requested === 'recon') return this.recon;
    if (!this.kinds.includes(requested)) throw missingKind(requested, this.kinds);
    return requested;
  }

  /** Every score of a set of images: the base scores as given, plus 'combined'. */
  scores(base: BaseRecord<NumArray>): ScoreRecord<NumArray> {
    for (const k of BASE_SCORES) {
      if ((base[k] === undefined) !== (this.state.scoreStats[k] === undefined)) throw new Error(`post-processing: score '${k}' is ${base[k] === undefined ? 'missing' : 'unexpected'}`);
    }
    return { ...base, combined: fuse(base, this.state.combine, this.state.scoreStats, this.fusion) };
  }

  /** The verdict on one image by its scores (all kinds, as from `scores`). */
  decide(scores: ScoreRecord<number>, o: { score?: ScoreKind | 'recon'; rule?: VerdictRule } = {}): Verdict {
    return decide(scores, this.state.thresholds, { kind: this.resolveKind(o.score), rule: o.rule, recon: this.recon });
  }

  /** A copy with the threshold of `kind` replaced. */
  withThreshold(kind: ScoreKind, spec: ThresholdSpec): PostProcessor {
    const s = this.toState();
    s.thresholds[kind] = { ...spec };
    return new PostProcessor(s, this.recon);
  }
}

export type { ThresholdSpec } from '../scoring/threshold.js';
