/**
 * The names of vigil's scores, shared by every layer above the raw scores (post-processing,
 * detector, report, service, CLI). Pure data: importing it loads neither libtorch nor sharp.
 */

/** The scores vigil computes for every image. */
export type BaseScore = 'mse' | 'ssim' | 'density' | 'transform' | 'segment';
/** Which score ranks images and decides verdicts. 'combined' fuses the `combine` list. */
export type ScoreKind = BaseScore | 'combined';
export const SCORE_KINDS: readonly ScoreKind[] = ['mse', 'ssim', 'density', 'transform', 'segment', 'combined'];
export const BASE_SCORES: readonly BaseScore[] = ['mse', 'ssim', 'density', 'transform', 'segment'];

/** The scores only some detectors have, and the network each needs. */
export type OptionalScore = 'transform' | 'segment';
export const OPTIONAL_SCORES: Readonly<Record<OptionalScore, string>> = {
  transform: 'the transformation classifier (option transforms / --transforms)',
  segment: 'the synthetic-anomaly segmenter (option segmenter / --segmenter)',
};
function isOptional(k: string): k is OptionalScore {
  return k in OPTIONAL_SCORES;
}
/** Which optional scores a detector has: any record keyed by score (its statistics, its options), present keys count. */
export type Present = { [K in OptionalScore]?: unknown };

type CoreKind = Exclude<ScoreKind, OptionalScore>;
type CoreBase = Exclude<BaseScore, OptionalScore>;
/** A value per score kind; `transform` and `segment` only when the detector has their networks. */
export type ScoreRecord<V> = Record<CoreKind, V> & { [K in OptionalScore]?: V };
export type BaseRecord<V> = Record<CoreBase, V> & { [K in OptionalScore]?: V };

/** The score kinds of a detector with the optional scores `present` has (all the base ones plus 'combined'). */
export function kindsOf(present: Present): ScoreKind[] {
  return SCORE_KINDS.filter((k) => !isOptional(k) || present[k] !== undefined);
}
/** The base scores of a detector with the optional scores `present` has. */
export function basesOf(present: Present): BaseScore[] {
  return BASE_SCORES.filter((k) => !isOptional(k) || present[k] !== undefined);
}

/** The scores 'combined' fuses unless told otherwise: ssim and density, and transform when the classifier is there. */
export function defaultCombine(withTransforms: boolean): BaseScore[] {
  return withTransforms ? ['ssim', 'density', 'transform'] : ['ssim', 'density'];
}

/** Throws when `combine` is empty, names an unknown score, or needs a network the detector lacks. */
export function checkCombine(combine: BaseScore[], present: Present): void {
  if (!Array.isArray(combine) || combine.length === 0) throw new Error(`combine must list at least one of ${BASE_SCORES.join(', ')}`);
  for (const k of combine) {
    if (!BASE_SCORES.includes(k)) throw new Error(`combine: unknown score '${k as string}' (use ${BASE_SCORES.join(', ')})`);
    if (isOptional(k) && present[k] === undefined) throw new Error(`combine: '${k}' needs ${OPTIONAL_SCORES[k]}`);
  }
}

/** The error for a score kind the detector lacks: for an optional one, it names the network the score needs. */
export function missingKind(requested: string, known: readonly string[]): Error {
  if (isOptional(requested)) return new Error(`score '${requested}' needs ${OPTIONAL_SCORES[requested]}`);
  return new Error(`unknown score '${requested}' (use recon, ${known.join(', ')})`);
}

/** A value for each base score present in `s` (the optional ones, transform and segment, only when there). */
export function perBase<V>(s: { [K in BaseScore]?: unknown }, value: (k: BaseScore) => V): BaseRecord<V> {
  return Object.fromEntries(BASE_SCORES.filter((k) => s[k] !== undefined).map((k) => [k, value(k)])) as BaseRecord<V>;
}
