/**
 * vigil's public API. The Detector is the main entry point; the data readers, metrics and
 * thresholds are exported for custom pipelines, and the engine is available as `vigil/engine`.
 */
export { Detector, SCORE_KINDS, resolveImages } from './detector.js';
export type { DetectorOptions, ImageScore, ScoreOptions, ScoreKind, BaseScore, ThresholdOption, RejectedSummary } from './detector.js';
export { ConvAutoencoder, defaultArchitecture } from './models/autoencoder.js';
export type { Architecture } from './models/autoencoder.js';
export { AdversarialAutoencoder } from './models/aae.js';
export type { AaeOptions, AaeConfig, AaeTrainingConfig } from './models/aae.js';
export { Discriminator } from './models/discriminator.js';
export { DetectorEnsemble } from './models/ensemble.js';
export type { EnsembleOptions } from './models/ensemble.js';
export { auroc, averagePrecision, rocCurve, precisionRecallCurve, confusionAt, pixelAuroc, evaluate } from './eval/metrics.js';
export { quantileThreshold, contaminationThreshold, bestF1Threshold, fitThreshold } from './scoring/threshold.js';
export type { ThresholdSpec } from './scoring/threshold.js';
export { LatentKDE } from './scoring/kde.js';
export { builtinSource, oneClassSource, folderSource, classFolderSource, mvtecSource, idxSource, openSource, batches } from './data/index.js';
export type { ImageSource, ImageItem, Preprocessing, Batch } from './data/index.js';
export { saveBundle, loadBundle } from './bundle/bundle.js';
export { VERSION } from './version.js';
export { buildReport, writeReport, reportData, renderReport } from './report/index.js';
export type { ReportData, ReportOptions } from './report/index.js';
