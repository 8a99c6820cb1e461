/**
 * vigil's public API. The Detector (and its seed ensemble) is the main entry point; the
 * post-processing (statistics, fusion, thresholds, the verdict rule), the metrics, the model
 * manifest and the data readers are exported for custom pipelines, reports and services. The
 * engine is `vigil/engine`, every data reader `vigil/data`.
 */
export { Detector, SCORE_KINDS, BASE_SCORES } from './detector.js';
export type {
  DetectorInput, DetectorOptions, ImageScore, Prediction, ScoreOptions, ScoreKind, BaseScore, ScoreRecord, BaseRecord,
  ThresholdOption, VerdictRule, TransformOptions, RejectedSummary, TrainingInfo,
} from './detector.js';
export { DetectorEnsemble } from './detector/ensemble.js';
export type { EnsembleOptions } from './detector/ensemble.js';
export { PostProcessor, isAnomalous, predictLabels, decide, fuse, scoreStats } from './postprocess/postprocessor.js';
export type { PostProcessorState, ScoreStats, Verdict, Fusion } from './postprocess/postprocessor.js';
export { autoSettings } from './config/auto.js';
export type { AutoSettings } from './config/auto.js';
export { auroc, averagePrecision, rocCurve, precisionRecallCurve, confusionAt, pixelAuroc, evaluate } from './eval/metrics.js';
export type { EvaluationSummary, Confusion } from './eval/metrics.js';
export { quantileThreshold, contaminationThreshold, bestF1Threshold, fitThreshold, parseThresholdSpec } from './scoring/threshold.js';
export type { ThresholdSpec } from './scoring/threshold.js';
export { readManifest, validateManifest, ManifestError, MANIFEST_VERSION } from './bundle/manifest.js';
export type { ModelManifest } from './bundle/manifest.js';
export { builtinSource, oneClassSource, folderSource, classFolderSource, mvtecSource, idxSource, openSource } from './data/index.js';
export type { ImageSource, ImageItem, Preprocessing } from './data/index.js';
export type { Architecture } from './models/autoencoder.js';
export { VERSION } from './version.js';
export { buildReport, writeReport, reportData, renderReport } from './report/index.js';
export type { ReportData, ReportOptions } from './report/index.js';
