/**
 * The names of vigil's scores, shared by every layer above the raw scores (post-processing,
 * detector, report, service, CLI). Pure data: importing it loads neither libtorch nor sharp.
 */

/** The scores vigil computes for every image. */
export type BaseScore = 'mse' | 'ssim' | 'density' | 'transform';
/** Which score ranks images and decides verdicts. 'combined' fuses the `combine` list. */
export type ScoreKind = BaseScore | 'combined';
export const SCORE_KINDS: readonly ScoreKind[] = ['mse', 'ssim', 'density', 'transform', 'combined'];
export const BASE_SCORES: readonly BaseScore[] = ['mse', 'ssim', 'density', 'transform'];

/** The scores of every detector; 'transform' exists only with the transformation classifier (`transforms` option). */
type CoreKind = Exclude<ScoreKind, 'transform'>;
type CoreBase = Exclude<BaseScore, 'transform'>;
/** A value per score kind; `transform` only when the detector has the transformation classifier. */
export type ScoreRecord<V> = Record<CoreKind, V> & { transform?: V };
export type BaseRecord<V> = Record<CoreBase, V> & { transform?: V };

/** The scores 'combined' fuses unless told otherwise: ssim and density, and transform when the classifier is there. */
export function defaultCombine(withTransforms: boolean): BaseScore[] {
  return withTransforms ? ['ssim', 'density', 'transform'] : ['ssim', 'density'];
}

/** Throws when `combine` is empty, names an unknown score, or needs a classifier the detector lacks. */
export function checkCombine(combine: BaseScore[], hasTransform: boolean): void {
  if (!Array.isArray(combine) || combine.length === 0) throw new Error(`combine must list at least one of ${BASE_SCORES.join(', ')}`);
  for (const k of combine) {
    if (!BASE_SCORES.includes(k)) throw new Error(`combine: unknown score '${k as string}' (use ${BASE_SCORES.join(', ')})`);
    if (k === 'transform' && !hasTransform) throw new Error("combine: 'transform' needs the transformation classifier (option transforms / --transforms)");
  }
}

/** A value for each base score present in `s` (the transformation classifier's only when there is one). */
export function perBase<V>(s: { [K in BaseScore]?: unknown }, value: (k: BaseScore) => V): BaseRecord<V> {
  return Object.fromEntries(BASE_SCORES.filter((k) => s[k] !== undefined).map((k) => [k, value(k)])) as BaseRecord<V>;
}
