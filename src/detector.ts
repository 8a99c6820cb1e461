/**
 * The Detector and its types, from one import (the code lives in src/detector/: options.ts what
 * it takes and returns, fit.ts how it is fitted, detector.ts the class, ensemble.ts seed
 * ensembles; post-processing in src/postprocess/, the manifest in src/bundle/manifest.ts).
 */
export { Detector } from './detector/detector.js';
export { resolveImages, probeSource } from './detector/input.js';
export { SCORE_KINDS, BASE_SCORES, defaultCombine } from './detector/options.js';
export type {
  DetectorInput, DetectorOptions, ImageScore, Prediction, ScoreOptions, ScoreKind, BaseScore, ScoreRecord, BaseRecord,
  ThresholdOption, VerdictRule, TransformOptions, ResolvedTransformOptions, RejectedSummary,
} from './detector/options.js';
export type { TrainingInfo } from './detector/fit.js';
