/**
 * Anomaly thresholds: pick the score above which a sample is called anomalous, and persist that
 * choice as a plain JSON object (`ThresholdSpec`).
 *
 * **Convention, used across vigil:** higher score = more anomalous, and a sample is predicted
 * anomalous when `score > threshold` (strictly greater). A score equal to the threshold is normal.
 * This module only chooses thresholds; the rule itself is written once, in
 * `src/postprocess/postprocessor.ts` (`isAnomalous`), which every verdict goes through.
 *
 * Methods:
 * - `quantileThreshold`: a quantile of scores of normal validation images (numpy's default
 *   linear interpolation), e.g. q = 0.95 flags about 5% of normal images.
 * - `contaminationThreshold`: PyOD's `threshold_ = percentile(decision_scores_, 100 * (1 - contamination))`
 *   on the training scores (`pyod/models/base.py`), contamination in (0, 0.5].
 * - `bestF1Threshold`: the threshold maximising F1 on labelled validation scores (anomalib
 *   `F1AdaptiveThreshold`); warns when the labels hold only one class.
 * - `'fixed'`: a value set by hand.
 *
 * @example
 * ```ts
 * const t = quantileThreshold([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.95); // 9.549999999999999 (numpy: same)
 * const spec: ThresholdSpec = { method: 'quantile', value: t, param: 0.95 };
 * JSON.stringify(spec); // '{"method":"quantile","value":9.549999999999999,"param":0.95}'
 * ```
 *
 * See Also: `src/postprocess/postprocessor.ts` (the verdict), `src/eval/metrics.ts`.
 */

import { checkScores, clfCurveFromSorted, nextDown, sortedCopy, splitSorted } from '../eval/internal.js';
import type { NumArray } from '../eval/internal.js';

export type { NumArray } from '../eval/internal.js';

/**
 * numpy's default (`method='linear'`, Hyndman & Fan type 7) quantile of ascending `sorted`,
 * computed the way numpy does (`_lerp`), so results agree to the last bit.
 */
function lerpQuantile(sorted: Float64Array, q: number): number {
  const n = sorted.length;
  const virtual = (n - 1) * q;
  const prev = Math.min(Math.max(Math.floor(virtual), 0), n - 1);
  const next = Math.min(prev + 1, n - 1);
  const a = sorted[prev]!;
  const b = sorted[next]!;
  const t = virtual - Math.floor(virtual);
  if (prev === next || t === 0) return a;
  const diff = b - a;
  return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

/**
 * The q-quantile of `values` with linear interpolation, equal to `numpy.quantile(values, q)`.
 * @param q in [0, 1].
 */
export function quantile(values: NumArray, q: number): number {
  checkScores(values, 'quantile', 'values', true);
  if (typeof q !== 'number' || !(q >= 0 && q <= 1)) throw new Error(`quantile: q must be in [0, 1], got ${String(q)}`);
  return lerpQuantile(sortedCopy(values), q);
}

/**
 * Threshold at the q-quantile of normal validation scores (numpy linear interpolation):
 * about a fraction 1 - q of normal images will score above it.
 *
 * @param normalScores scores of normal images only (finite numbers).
 * @param q quantile in (0, 1); default 0.95.
 * @example quantileThreshold([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.95) // 9.549999999999999, as np.quantile
 */
export function quantileThreshold(normalScores: NumArray, q = 0.95): number {
  if (typeof q !== 'number' || !(q > 0 && q < 1)) {
    throw new Error(`quantileThreshold: q must be in (0, 1), e.g. 0.95; got ${String(q)}`);
  }
  checkScores(normalScores, 'quantileThreshold', 'normal scores', true);
  return lerpQuantile(sortedCopy(normalScores), q);
}

/**
 * PyOD's threshold: `np.percentile(trainingScores, 100 * (1 - contamination))`
 * (`pyod/models/base.py` `_process_decision_scores`), the same arithmetic so results agree.
 *
 * @param scores training (or validation) scores, assumed mostly normal.
 * @param contamination expected fraction of anomalies, in (0, 0.5]. PyOD's default is 0.1.
 */
export function contaminationThreshold(scores: NumArray, contamination: number): number {
  if (typeof contamination !== 'number' || !(contamination > 0 && contamination <= 0.5)) {
    throw new Error(
      `contaminationThreshold: contamination must be in (0, 0.5] (the expected fraction of anomalies, e.g. 0.1), got ${typeof contamination === 'string' ? JSON.stringify(contamination) : String(contamination)}`,
    );
  }
  checkScores(scores, 'contaminationThreshold', 'scores', true);
  return lerpQuantile(sortedCopy(scores), (100 * (1 - contamination)) / 100);
}

/** Result of `bestF1Threshold`. `warning` is set when the labels hold only one class. */
export interface BestF1 {
  threshold: number;
  f1: number;
  precision: number;
  recall: number;
  warning?: string;
}

/**
 * The threshold maximising F1 under `score > threshold` on labelled validation scores.
 *
 * Candidates are the midpoints between consecutive distinct sorted scores plus one value below the
 * minimum (everything anomalous); every distinct way of splitting the sorted scores is tried, so
 * the result is exact, in O(n log n). Ties in F1 go to the highest threshold (fewest alarms).
 * When a midpoint is not representable strictly between its neighbours, the lower neighbour is used.
 *
 * Like anomalib's `F1AdaptiveThreshold`: with no anomalies in `labels` the threshold is the highest
 * score (nothing flagged, F1 = 0) and `warning` says so; with no normals everything is flagged
 * (F1 = 1) and `warning` says the threshold is meaningless.
 *
 * @param scores finite scores; @param labels 0 = normal, 1 = anomalous.
 */
export function bestF1Threshold(scores: NumArray, labels: NumArray): BestF1 {
  const fn = 'bestF1Threshold';
  checkScores(scores, fn, 'scores', true);
  const curve = clfCurveFromSorted(splitSorted(scores, labels, fn));
  const { thresholds: v, tps, fps, nPos, nNeg } = curve;
  const m = v.length;
  if (nPos === 0) {
    return {
      threshold: v[0]!,
      f1: 0,
      precision: 0,
      recall: 0,
      warning:
        `${fn}: no anomalous samples in labels, so F1 is 0 at every threshold; ` +
        'the threshold was set to the highest score. Add anomalous validation images, or use quantileThreshold on normal scores',
    };
  }
  let best = -1;
  let bestF1 = -1;
  for (let k = 0; k < m; k++) {
    const f1 = (2 * tps[k]!) / (tps[k]! + fps[k]! + nPos);
    if (f1 > bestF1) {
      bestF1 = f1;
      best = k;
    }
  }
  let threshold: number;
  if (best + 1 < m) {
    const lo = v[best + 1]!;
    const hi = v[best]!;
    const mid = lo / 2 + hi / 2;
    threshold = mid > lo && mid < hi ? mid : lo;
  } else {
    const min = v[m - 1]!;
    const gap = m >= 2 ? (v[m - 2]! - min) / 2 : 0.5 * Math.max(1, Math.abs(min));
    threshold = min - gap;
    if (!(threshold < min) || !Number.isFinite(threshold)) threshold = nextDown(min);
  }
  const tp = tps[best]!;
  const fp = fps[best]!;
  const result: BestF1 = { threshold, f1: bestF1, precision: tp / (tp + fp), recall: tp / nPos };
  if (nNeg === 0) {
    result.warning =
      `${fn}: no normal samples in labels, so flagging everything gives F1 = 1; ` +
      'the threshold (below the lowest score) is not meaningful. Add normal validation images';
  }
  return result;
}

/** How a threshold was chosen. */
export type ThresholdMethod = 'quantile' | 'f1' | 'contamination' | 'fixed';

/**
 * A threshold as persisted in model bundles: a plain object, so `JSON.stringify` and
 * `parseThresholdSpec(JSON.parse(...))` round-trip it.
 * - `value`: the threshold itself (anomalous if score > value).
 * - `param`: the method's parameter: q for 'quantile', contamination for 'contamination';
 *   absent for 'f1' and 'fixed'.
 */
export interface ThresholdSpec {
  method: ThresholdMethod;
  value: number;
  param?: number;
}

/** What `fitThreshold` needs for each method. */
export type ThresholdFitOptions =
  | { method: 'quantile'; normalScores: NumArray; q?: number }
  | { method: 'contamination'; scores: NumArray; contamination: number }
  | { method: 'f1'; scores: NumArray; labels: NumArray }
  | { method: 'fixed'; value: number };

/**
 * Fits a threshold with the named method and returns it as a `ThresholdSpec`, plus a warning
 * from `bestF1Threshold` when there is one.
 */
export function fitThreshold(opts: ThresholdFitOptions): { spec: ThresholdSpec; warning?: string } {
  switch (opts.method) {
    case 'quantile': {
      const q = opts.q ?? 0.95;
      return { spec: { method: 'quantile', value: quantileThreshold(opts.normalScores, q), param: q } };
    }
    case 'contamination':
      return {
        spec: {
          method: 'contamination',
          value: contaminationThreshold(opts.scores, opts.contamination),
          param: opts.contamination,
        },
      };
    case 'f1': {
      const r = bestF1Threshold(opts.scores, opts.labels);
      return r.warning === undefined
        ? { spec: { method: 'f1', value: r.threshold } }
        : { spec: { method: 'f1', value: r.threshold }, warning: r.warning };
    }
    case 'fixed':
      if (typeof opts.value !== 'number' || !Number.isFinite(opts.value)) {
        throw new Error(`fitThreshold: a fixed threshold must be a finite number, got ${String(opts.value)}`);
      }
      return { spec: { method: 'fixed', value: opts.value } };
    default:
      throw new Error(`fitThreshold: unknown method ${JSON.stringify((opts as { method: unknown }).method)}; use 'quantile', 'f1', 'contamination' or 'fixed'`);
  }
}

const METHODS: readonly ThresholdMethod[] = ['quantile', 'f1', 'contamination', 'fixed'];

/** Checks a parsed JSON value and returns it as a `ThresholdSpec` (a fresh plain object). */
export function parseThresholdSpec(json: unknown): ThresholdSpec {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new Error(`threshold spec must be an object like {"method":"quantile","value":0.7,"param":0.95}, got ${JSON.stringify(json)}`);
  }
  const o = json as Record<string, unknown>;
  if (!METHODS.includes(o.method as ThresholdMethod)) {
    throw new Error(`threshold spec: method must be one of ${METHODS.map((m) => `'${m}'`).join(', ')}, got ${JSON.stringify(o.method)}`);
  }
  if (typeof o.value !== 'number' || !Number.isFinite(o.value)) {
    throw new Error(`threshold spec: value must be a finite number, got ${JSON.stringify(o.value)}`);
  }
  const spec: ThresholdSpec = { method: o.method as ThresholdMethod, value: o.value };
  if (o.param !== undefined) {
    if (typeof o.param !== 'number' || !Number.isFinite(o.param)) {
      throw new Error(`threshold spec: param must be a finite number when present, got ${JSON.stringify(o.param)}`);
    }
    if (spec.method === 'quantile' && !(o.param > 0 && o.param < 1)) {
      throw new Error(`threshold spec: quantile param q must be in (0, 1), got ${o.param}`);
    }
    if (spec.method === 'contamination' && !(o.param > 0 && o.param <= 0.5)) {
      throw new Error(`threshold spec: contamination param must be in (0, 0.5], got ${o.param}`);
    }
    spec.param = o.param;
  }
  return spec;
}
