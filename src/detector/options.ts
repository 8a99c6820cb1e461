/**
 * What a Detector is given and what it returns: the options of fit and score, the records of
 * score, predict and scoreStream. Types only (and the score names they use), so a caller can
 * import them without loading libtorch.
 */
import type { AbortSignalLike } from '../util/abort.js';
import type { ImageSource } from '../data/types.js';
import type { AugmentOptions } from '../data/augment.js';
import type { Architecture } from '../models/autoencoder.js';
import type { TileSpec } from '../models/tile-spec.js';
import type { AaeOptions, RejectBy } from '../models/aae.js';
import type { TransformSetOptions } from '../models/transform-net.js';
import type { LossName } from '../train/losses.js';
import type { EpochRecord } from '../train/trainer.js';
import type { BandwidthRule } from '../scoring/kde.js';
import type { MapKind } from '../scoring/reconstruction.js';
import type { DensityEstimator, DensityInput } from '../scoring/density-input.js';
import type { BaseRecord, BaseScore, ScoreKind, ScoreRecord } from '../postprocess/kinds.js';
import type { Fusion, ThresholdOption, VerdictRule } from '../postprocess/postprocessor.js';
import type { AutoSettings } from '../config/auto.js';

export { SCORE_KINDS, BASE_SCORES, defaultCombine } from '../postprocess/kinds.js';
export type { BaseScore, ScoreKind, ScoreRecord, BaseRecord } from '../postprocess/kinds.js';
export type { ThresholdOption, VerdictRule } from '../postprocess/postprocessor.js';

/**
 * Images, as fit, score, scoreStream, predict, evaluate and calibrate all take them: a folder, a
 * file, a spec such as `builtin:mnist:test`, a list of files, or an ImageSource.
 */
export type DetectorInput = string | string[] | ImageSource;

/**
 * The transformation classifier (src/models/transform-net.ts; Golan & El-Yaniv 2018): trained
 * after the autoencoder to tell which flip, shift and quarter turn was applied to a normal image;
 * its 'transform' score joins the fusion. Off by default: it costs about 70 forward passes per
 * image (one per transformation), so it is meant for a GPU; it suits objects with an up and a
 * left (clothes, digits, parts), not rotation-invariant data (cells, textures).
 */
export interface TransformOptions extends TransformSetOptions {
  /** Filters of the classifier's stages. Default [32, 64, 128]. */
  filters?: number[];
  /** Epochs over the training images (each with every transformation). Default 3. */
  epochs?: number;
  /** Images per step (times the number of transformations). Default 16. */
  batchSize?: number;
  /** Default 1e-3 (Adam, cosine decay). */
  lr?: number;
}

export type ResolvedTransformOptions = Required<TransformSetOptions> & { filters: number[]; epochs: number; batchSize: number; lr: number };

/**
 * The synthetic-anomaly segmenter (src/models/segmenter.ts; after DRAEM): a small U-Net trained
 * after the autoencoder to outline blobs of other training images blended into normal ones; its
 * 'segment' score, the peak of its map, joins the fusion. Default: on for whole-image photographs
 * whose 1 − SSIM sees pasted patches (cells, plates; src/config/auto.ts), off otherwise.
 */
export interface SegmenterOptions {
  /** Filters of the U-Net's first stage (2x and 4x below). Default 16. */
  base?: number;
  /** Optimizer steps. Default 1000. */
  steps?: number;
  /** Images per step. Default 32, at most a quarter of the images. */
  batchSize?: number;
  /** Images larger than this learn from square crops of this side, `batchSize` of them a step. Default 64. */
  crop?: number;
  /** Default 1e-3 (Adam, cosine decay). */
  lr?: number;
}

export type ResolvedSegmenterOptions = Required<SegmenterOptions>;

export interface DetectorOptions {
  /**
   * Model input size in pixels (square) or [height, width]. Default: the images' own size for IDX
   * data; else the images' smaller side, at most 256 (src/config/auto.ts).
   */
  size?: number | [number, number];
  /** 1 = grayscale, 3 = RGB. Default: from the data (the first readable image's header). */
  channels?: 1 | 3;
  /** 'stretch' (default) or 'crop' (keep aspect, centre-crop). */
  resize?: 'stretch' | 'crop';
  /** For labelled layouts given as a path: the normal class(es); only those are trained on. */
  normalClass?: string | string[];
  /** Fraction of the normal images held out for validation and thresholds. Default 0.1. */
  valFraction?: number;
  augment?: AugmentOptions;
  /** Unreadable images are errors instead of skipped warnings. */
  strict?: boolean;
  /** 'ae' (default): plain convolutional autoencoder; 'aae': robust adversarial autoencoder. */
  model?: 'ae' | 'aae';
  /**
   * Robust adversarial autoencoder settings (model 'aae'): prior ('gmm' (default) | 'normal'), components,
   * reject (fraction or 'auto', default 0.05), rejectBy ('prior' | 'prior+recon' | 'prior+recon+knn' (default)), warmup (epochs,
   * default 2), discLr, genLr, discriminator size. See src/models/aae.ts and src/train/aae-task.ts.
   */
  aae?: AaeOptions;
  /** Architecture overrides (filters, latent, kind, dropout...). */
  architecture?: Partial<Architecture>;
  /** Default: enough for at least 600 optimizer steps, and at least 30 epochs for images of 64 px or less. */
  epochs?: number;
  /** Default: by input size (128 up to 32 px, 64 up to 64 px, 32 up to 128 px, then 16), at most a quarter of the images. */
  batchSize?: number;
  /** Default 1e-3. */
  lr?: number;
  /** Default 'adam'. */
  optimizer?: 'adam' | 'adamw';
  /** Default 0 (Adam) / 0.01 (AdamW). */
  weightDecay?: number;
  /** Learning-rate decay over the epochs. Default 'cosine'. */
  schedule?: 'cosine' | 'constant' | 'step';
  /** Training loss. Default 'mse+ssim' for inputs of 48 px or more, else 'mse'. */
  loss?: LossName;
  /** Early stopping patience in epochs on validation loss (0 = off). Default 0. */
  patience?: number;
  /** The ranking/decision score. Default 'combined'. */
  score?: ScoreKind;
  /** Scores fused by 'combined'. Default ['ssim', 'density'], plus 'transform' with `transforms`. */
  combine?: BaseScore[];
  /** How 'combined' fuses their z-scores: 'mean' (default) or 'max' (src/postprocess/postprocessor.ts says when it helps). */
  fusion?: Fusion;
  /**
   * Learn tiles of the images at their own resolution (up to 1024 px) instead of the whole image
   * shrunk to at most 256 px (src/models/tiled.ts): `true`, or tile settings (size, default 32;
   * stride, default half the size; sigma of the error map's blur, default a quarter). Default: when
   * shrinking the images to 256 px would lose their detail (src/config/auto.ts); `false` refuses it.
   */
  tiles?: boolean | Partial<TileSpec>;
  /** Also train the transformation classifier and fuse its score (see TransformOptions). Default off. */
  transforms?: boolean | TransformOptions;
  /** Train the synthetic-anomaly segmenter and fuse its score (see SegmenterOptions); `false` refuses it. Default: by the images. */
  segmenter?: boolean | SegmenterOptions;
  /** How the threshold is chosen. Default 95% quantile of normal validation scores. */
  threshold?: ThresholdOption;
  /**
   * What the latent density reads: 'code', the bottleneck code; 'stats', the channel mean and
   * standard deviation of each encoder block (a texture description at every scale); or
   * 'image+stats', those after the image's own colour, gradient and edge-direction statistics at
   * three scales (src/scoring/image-stats.ts). Default 'image+stats' for whole-image photographs
   * (inputs of 48 px or more), else 'code' (src/config/auto.ts).
   */
  densityInput?: DensityInput;
  /**
   * How the density is estimated: 'gaussian' (a KDE) or 'knn' (the 5-nearest-neighbour estimate,
   * every scale weighing the same). Default 'knn' when the density reads statistics, else
   * 'gaussian'.
   */
  densityEstimator?: DensityEstimator;
  /** Latent density bandwidth rule (the 'gaussian' estimator). Default 'scott'. */
  bandwidth?: BandwidthRule | number;
  /** 'auto' (CUDA when available), 'cpu', 'cuda'. Default 'auto'. */
  device?: string;
  /** Default 0. */
  seed?: number;
  /** Folder for per-epoch checkpoints; with `resume`, training continues from it. */
  checkpointDir?: string;
  resume?: boolean;
  /** Progress bar on stderr. Default false in the library, true in the CLI. */
  progress?: boolean;
  onEpochEnd?: (r: EpochRecord) => void | Promise<void>;
  /** Called once with the settings the defaults chose from the images (before training starts). */
  onSettings?: (settings: AutoSettings) => void;
  /** Receives every warning (skipped images, tiny training sets). The library never prints them itself. */
  onWarning?: (message: string) => void;
  /** Stops training between steps: fit then rejects with the signal's reason (an AbortError) and frees what it built. */
  signal?: AbortSignalLike;
}

/** One image's scores and verdict, as `score` and `scoreStream` return them. */
export interface ImageScore {
  id: string;
  /** The configured score (higher = more anomalous). */
  score: number;
  isAnomaly: boolean;
  /** Every score: reconstruction MSE, 1 - SSIM, negative latent log-density, and the fused one. */
  scores: ScoreRecord<number>;
  /** Which individual scores exceed their own thresholds. */
  flags: BaseRecord<boolean>;
  label?: 0 | 1;
  className?: string;
  /** Per-pixel error map (height x width), when asked for. */
  map?: Float32Array;
}

/** One image's verdict, as `predict` returns it (PyOD's `predict`: the label, with what decided it). */
export interface Prediction {
  id: string;
  isAnomaly: boolean;
  /** The score the verdict is about. */
  score: number;
  /** Its threshold; with rule 'either' the verdict reads the density and reconstruction thresholds instead. */
  threshold: number;
}

export interface ScoreOptions {
  /** Rank and decide by this score instead of the model's own; 'recon' is the training loss's error (mse or ssim). */
  score?: ScoreKind | 'recon';
  /**
   * How verdicts are made: 'score' (default): the ranking score above its threshold; 'either':
   * anomalous if the latent density is below its threshold or the reconstruction error (of the
   * training loss) is above its threshold.
   */
  rule?: VerdictRule;
  /** Return per-pixel error maps: 'mse' or 'ssim'. */
  maps?: MapKind | false;
  normalClass?: string | string[];
  strict?: boolean;
  batchSize?: number;
  /** Batches done so far and their total, after each batch. */
  onProgress?: (done: number, total: number) => void;
  /** Receives every warning (skipped images, a calibration set of one class). */
  onWarning?: (message: string) => void;
  /** Stops scoring between batches: the call rejects (the stream throws) with the signal's reason, an AbortError. */
  signal?: AbortSignalLike;
}

/** Training images the robust AAE left out of its last epoch (ids as in the source). */
export interface RejectedSummary {
  count: number;
  /** The fraction used (estimated when reject is 'auto'). */
  fraction: number;
  /** The setting: a fixed fraction or 'auto'. */
  reject: number | 'auto';
  rankedBy: RejectBy;
  /** Epochs trained on every image before rejection started. */
  warmup: number;
  ids: string[];
}
