/**
 * The Detector: learns what normal images look like and scores new ones.
 *
 * ```ts
 * import { Detector } from 'vigil';
 * const det = await Detector.fit('photos/good', { size: 64, epochs: 20 });
 * const results = await det.predict('photos/new');   // [{ id, score, isAnomaly, scores }]
 * await det.save('model');
 * const again = await Detector.load('model');         // identical scores in another process
 * ```
 *
 * scikit-learn/PyOD conventions: `fit` learns, `score` returns anomaly scores (higher = more
 * anomalous), `predict` adds verdicts against the threshold fitted on normal validation images.
 */
import { statSync } from 'node:fs';
import sharp from 'sharp';
import { ops, tidy, manualSeed, resolveDevice, makeSchedule, engineInfo, type Tensor } from './engine/index.js';
import { openSource, type OpenSourceOptions } from './data/open.js';
import { splitIndices } from './data/split.js';
import { folderSource, fileSource } from './data/folder.js';
import type { ImageSource, Preprocessing, ImageItem } from './data/types.js';
import type { AugmentOptions } from './data/augment.js';
import { ConvAutoencoder, defaultArchitecture, type Architecture } from './models/autoencoder.js';
import { planBatches, type BatchPlan } from './train/batches.js';
import { runTraining, type EpochRecord, type TrainingSummary } from './train/trainer.js';
import { AutoencoderTask, tensorsUnder } from './train/autoencoder-task.js';
import { AaeTask } from './train/aae-task.js';
import { AdversarialAutoencoder, aaeTrainingConfig, type AaeOptions, type AaeJSON, type RejectBy } from './models/aae.js';
import type { LossName } from './train/losses.js';
import { scoreBatches, type RawScores, type MapKind } from './scoring/reconstruction.js';
import { LatentKDE, type BandwidthRule } from './scoring/kde.js';
import { fitThreshold, type ThresholdSpec } from './scoring/threshold.js';
import { evaluate as evaluateScores, pixelAuroc, type EvaluationSummary } from './eval/metrics.js';
import { saveBundle, loadBundle } from './bundle/bundle.js';
import { quantile } from './scoring/threshold.js';
import { TransformNet, transformSet, transformScores, type TransformSet, type TransformSetOptions } from './models/transform-net.js';
import { TransformTask } from './train/transform-task.js';
import { VERSION } from './version.js';
import { autoSettings, type AutoSettings } from './config/auto.js';
import { reportFacts, type ReportFacts } from './scoring/report-facts.js';
import { inspectImages, type Inspection, type InspectOptions } from './scoring/inspect.js';
import { sketchIds, overlap, type IdSketch } from './data/fingerprint.js';

/** The scores vigil computes for every image. */
export type BaseScore = 'mse' | 'ssim' | 'density' | 'transform';
/** Which score ranks images and decides verdicts. 'combined' fuses the `combine` list. */
export type ScoreKind = BaseScore | 'combined';
export const SCORE_KINDS: readonly ScoreKind[] = ['mse', 'ssim', 'density', 'transform', 'combined'];
export const BASE_SCORES: readonly BaseScore[] = ['mse', 'ssim', 'density', 'transform'];
/** How 'combined' fuses its z-scores: their mean ('mean', the default) or their largest ('max'). */
export type Fusion = 'mean' | 'max';
export const FUSIONS: readonly Fusion[] = ['mean', 'max'];
/** The scores 'combined' fuses unless told otherwise: ssim and density, and transform when the classifier is there. */
export function defaultCombine(withTransforms: boolean): BaseScore[] {
  return withTransforms ? ['ssim', 'density', 'transform'] : ['ssim', 'density'];
}
/** The scores of every detector; 'transform' exists only with the transformation classifier (`transforms` option). */
type CoreKind = Exclude<ScoreKind, 'transform'>;
type CoreBase = Exclude<BaseScore, 'transform'>;
/** A value per score kind; `transform` only when the detector has the transformation classifier. */
export type ScoreRecord<V> = Record<CoreKind, V> & { transform?: V };
export type BaseRecord<V> = Record<CoreBase, V> & { transform?: V };

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

export type ThresholdOption =
  | { method: 'quantile'; q?: number }
  | { method: 'contamination'; contamination: number }
  | { method: 'fixed'; value: number };

export interface DetectorOptions {
  /**
   * Model input size in pixels (square) or [height, width]. Default: the images' own size for IDX
   * data; else the images' smaller side, at most 256 (src/config/auto.ts).
   */
  size?: number | [number, number];
  /** 1 = grayscale, 3 = RGB. Default: from the data. */
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
  /**
   * How 'combined' fuses the z-scores of its scores: 'mean' (default), their mean; 'max', the
   * largest, so an image is as anomalous as its most anomalous score says and a score that runs
   * the wrong way on some data (reconstruction error on smooth scenes against textured ones)
   * cannot cancel another. 'max' is better on the real photographs of docs/BENCHMARKS.md and
   * worse on MNIST / Fashion-MNIST, hence not the default.
   */
  fusion?: Fusion;
  /** Also train the transformation classifier and fuse its score (see TransformOptions). Default off. */
  transforms?: boolean | TransformOptions;
  /** How the threshold is chosen. Default 95% quantile of normal validation scores. */
  threshold?: ThresholdOption;
  /** Latent density bandwidth rule. Default 'scott'. */
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
  onWarning?: (message: string) => void;
}

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

export interface ScoreOptions {
  /** Rank and decide by this score instead of the model's own; 'recon' is the training loss's error (mse or ssim). */
  score?: ScoreKind | 'recon';
  /**
   * How verdicts are made: 'score' (default): the ranking score above its threshold; 'either':
   * anomalous if the latent density is below its threshold or the reconstruction error (of the
   * training loss) is above its threshold.
   */
  rule?: 'score' | 'either';
  /** Return per-pixel error maps: 'mse' or 'ssim'. */
  maps?: MapKind | false;
  normalClass?: string | string[];
  strict?: boolean;
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
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

interface ScoreStats { mean: number; std: number; q50: number; q95: number; q99: number }

interface DetectorState {
  preprocessing: Preprocessing;
  loss: LossName;
  architecture: Architecture;
  score: ScoreKind;
  combine: BaseScore[];
  fusion: Fusion;
  thresholds: ScoreRecord<ThresholdSpec>;
  stats: BaseRecord<ScoreStats>;
  transforms?: ResolvedTransformOptions;
  training?: TrainingSummary & Partial<ReportFacts> & {
    items: number; validationItems: number; device: string; engine: string; rejected?: RejectedSummary;
    /** The batch size trained with, and what the defaults chose from the images and why (src/config/auto.ts). */
    batchSize?: number; settings?: string[];
    /** What fixed the training/validation split and the thresholds (withTransforms redoes them). */
    seed?: number; valFraction?: number; normalClass?: string | string[]; threshold?: ThresholdOption;
    /** A sketch of the training images' ids: `evaluate` warns when it is given them. */
    trainingIds?: IdSketch;
  };
  kde: ReturnType<LatentKDE['toState']>['json'];
}

function stats(v: Float32Array): ScoreStats {
  let m = 0;
  for (const x of v) m += x;
  m /= v.length;
  let s = 0;
  for (const x of v) s += (x - m) ** 2;
  return { mean: m, std: Math.sqrt(s / Math.max(v.length - 1, 1)) || 1e-12, q50: quantile(v, 0.5), q95: quantile(v, 0.95), q99: quantile(v, 0.99) };
}

/** Opens what the user passed: a path/spec string, a list of image files, or a source. */
export async function resolveImages(input: string | string[] | ImageSource, o: { normalClass?: string | string[]; strict?: boolean; split?: 'train' | 'test'; onWarning?: (m: string) => void; validate?: boolean | ((item: ImageItem) => boolean) } = {}): Promise<ImageSource> {
  if (typeof input === 'object' && !Array.isArray(input)) return input;
  if (Array.isArray(input)) {
    const items: ImageItem[] = input.map((p) => ({ id: p }));
    return fileSource('', items, { strict: o.strict, onWarning: o.onWarning, validate: o.validate });
  }
  const opts: OpenSourceOptions = { normalClass: o.normalClass, strict: o.strict, onWarning: o.onWarning, split: o.split, validate: o.validate };
  try {
    if (statSync(input).isFile() && !/idx\d-ubyte(\.gz)?$/.test(input)) return fileSource('', [{ id: input }], opts);
  } catch { /* not a file: openSource explains */ }
  return openSource(input, opts);
}

async function probeFirstImage(source: ImageSource): Promise<{ height: number; width: number; channels: 1 | 3 } | undefined> {
  for (const item of source.items.slice(0, 5)) {
    try {
      const m = await sharp(item.id).metadata();
      const gray = m.channels === 1 || (m.channels === 2) || m.space === 'b-w';
      return { height: m.height ?? 64, width: m.width ?? 64, channels: gray ? 1 : 3 };
    } catch { /* try the next one */ }
  }
  return undefined;
}

export class Detector {
  private constructor(
    private readonly model: ConvAutoencoder,
    private readonly kde: LatentKDE,
    private readonly state: DetectorState,
    readonly device: string,
    /** The adversarial autoencoder when the model is 'aae' (it owns `model`). */
    private readonly aae?: AdversarialAutoencoder,
    /** The transformation classifier, when trained (`transforms`). */
    private readonly transform?: { net: TransformNet; set: TransformSet },
  ) {}

  /** The scores this detector computes: every kind but 'transform' unless it has the transformation classifier. */
  get scoreKinds(): ScoreKind[] { return SCORE_KINDS.filter((k) => k !== 'transform' || this.transform); }

  /** 'ae' (plain autoencoder) or 'aae' (robust adversarial autoencoder). */
  get modelKind(): 'ae' | 'aae' { return this.aae ? 'aae' : 'ae'; }

  get preprocessing(): Preprocessing { return this.state.preprocessing; }
  get architecture(): Architecture { return this.state.architecture; }
  get thresholds(): ScoreRecord<ThresholdSpec> { return this.state.thresholds; }
  get scoreKind(): ScoreKind { return this.state.score; }
  /** The scores fused by 'combined'. */
  get combine(): BaseScore[] { return [...this.state.combine]; }
  get training(): DetectorState['training'] { return this.state.training; }

  /** Trains on normal images: a folder, a spec such as `builtin:fashion-mnist`, or an ImageSource. */
  static async fit(input: string | string[] | ImageSource, options: DetectorOptions = {}): Promise<Detector> {
    const o = options;
    const seed = o.seed ?? 0;
    const device = resolveDevice(o.device ?? 'auto');
    const warn = o.onWarning ?? ((m: string) => process.stderr.write(`warning: ${m}\n`));
    if (o.model !== undefined && o.model !== 'ae' && o.model !== 'aae') throw new Error(`unknown model '${o.model as string}' (use ae or aae)`);
    if (o.model === 'aae') aaeTrainingConfig(o.aae); // bad settings fail before any data is read
    const transformOpts = o.transforms ? resolveTransformOptions(o.transforms === true ? {} : o.transforms) : undefined;
    const combine = o.combine ?? defaultCombine(!!transformOpts);
    checkCombine(combine, !!transformOpts);
    const fusion = o.fusion ?? 'mean';
    if (!FUSIONS.includes(fusion)) throw new Error(`unknown fusion '${fusion as string}' (use ${FUSIONS.join(' or ')})`);
    if (o.score === 'transform' && !transformOpts) throw new Error("score 'transform' needs the transformation classifier (option transforms / --transforms)");
    manualSeed(seed);
    const source = await resolveImages(input, { normalClass: o.normalClass, strict: o.strict, onWarning: warn, validate: (item) => item.label !== 1 });
    const valFraction = o.valFraction ?? 0.1;
    const { train, val } = trainingSplit(source, input, { normalClass: o.normalClass, valFraction, seed, warn });

    // The defaults that adapt to the images (src/config/auto.ts): size, batch, training length, loss.
    const native = source.nativeSize ?? (await probeFirstImage(source));
    const auto = autoSettings(
      { height: native?.height, width: native?.width, count: train.length, fixedSize: !!source.nativeSize },
      { size: o.size, batchSize: o.batchSize, epochs: o.epochs, loss: o.loss },
    );
    const [height, width] = auto.size;
    const loss = auto.loss;
    const preprocessing: Preprocessing = { height, width, channels: o.channels ?? native?.channels ?? 3, resize: o.resize ?? 'stretch' };
    const architecture = defaultArchitecture({ height, width, channels: preprocessing.channels }, o.architecture);
    o.onSettings?.(auto);

    const batchSize = auto.batchSize;
    const planFor = (idx: number[], augment?: AugmentOptions) =>
      planBatches({ source, indices: idx, preprocessing, batchSize, device, seed, augment, strict: o.strict, onWarning: warn });
    const trainPlan = await planFor(train, o.augment);
    const valPlan = await planFor(val);

    const aae = o.model === 'aae' ? new AdversarialAutoencoder(architecture, { seed, ...o.aae }).to(device) : undefined;
    const model = aae ? aae.ae : new ConvAutoencoder(architecture).to(device);
    const epochs = auto.epochs;
    const lr = o.lr ?? 1e-3;
    const optOptions = { optimizer: o.optimizer ?? 'adam', lr, weightDecay: o.weightDecay ?? (o.optimizer === 'adamw' ? 0.01 : 0) } as const;
    const task = aae
      ? new AaeTask(aae, loss, optOptions, trainPlan, o.aae)
      : new AutoencoderTask(model, loss, optOptions);
    const schedule = makeSchedule(lr, o.schedule === 'constant' ? { kind: 'constant' } : o.schedule === 'step' ? { kind: 'step', every: Math.max(1, Math.round(epochs / 3)), gamma: 0.1 } : { kind: 'cosine', epochs });
    let summary: TrainingSummary;
    let rejected: number[] = [];
    let rejectedSummary: RejectedSummary | undefined;
    try {
      summary = await runTraining(task, {
        epochs, schedule, train: trainPlan, val: valPlan, patience: o.patience, checkpointDir: o.checkpointDir, resume: o.resume,
        seed, progress: o.progress, onEpochEnd: o.onEpochEnd,
        settings: { model: o.model ?? 'ae', aae: o.aae, loss, epochs, batchSize, ...optOptions, schedule: o.schedule ?? 'cosine', architecture, preprocessing, augment: o.augment, seed, valFraction, trainImages: train.length, validationImages: val.length },
      });
      if (task instanceof AaeTask) {
        rejected = task.rejectedIndices();
        rejectedSummary = {
          count: rejected.length, fraction: task.rejectFraction, reject: task.config.reject, rankedBy: task.config.rejectBy, warmup: task.config.warmup,
          ids: rejected.map((i) => source.items[i].id),
        };
      }
    } finally {
      task.dispose();
    }

    const transform = transformOpts
      ? await trainTransformNet(transformOpts, { source, train: withoutRejected(train, source, rejectedSummary?.ids), preprocessing, device, seed, strict: o.strict, warn, progress: o.progress })
      : undefined;

    // Density of the training codes (for the robust AAE: of the images it kept), then every
    // score's statistics and threshold on validation images.
    const threshold = o.threshold ?? { method: 'quantile', q: 0.95 };
    const byContamination = threshold.method === 'contamination';
    // the training images' own scores matter to a contamination threshold only; the classifier's
    // costs a forward per transformation, so it is skipped when nothing reads it
    const trainScores = await scoreBatches(model, trainPlan, { transform: byContamination ? scorerOf(transform) : undefined });
    const kde = new LatentKDE({ bandwidth: o.bandwidth ?? 'scott', device, seed });
    kde.fit(rejected.length ? keptCodes(trainScores, new Set(rejected)) : trainScores.codes, trainScores.latent);
    const { stats: st, thresholds } = await calibrate({ model, kde, transform, valPlan, train: byContamination ? trainScores : undefined, combine, fusion, threshold });
    const facts = await reportFacts(model, valPlan, input); // the report's error colour scale (src/scoring/report-facts.ts)
    trainPlan.dispose();
    valPlan.dispose();
    const kdeState = kde.toState();
    for (const t of kdeState.tensors.values()) t.dispose();
    const state: DetectorState = {
      preprocessing, loss, architecture, score: o.score ?? 'combined', combine, fusion, thresholds, stats: st, kde: kdeState.json,
      ...(transformOpts ? { transforms: transformOpts } : {}),
      training: {
        ...summary, items: trainPlan.usableCount, validationItems: val === train ? 0 : valPlan.usableCount, device, engine: `libtorch ${engineInfo().torch}`,
        batchSize, settings: auto.reasons,
        ...(rejectedSummary ? { rejected: rejectedSummary } : {}),
        seed, valFraction, threshold, ...(o.normalClass !== undefined ? { normalClass: o.normalClass } : {}), ...facts,
        trainingIds: sketchIds(train.map((i) => source.items[i].id)),
      },
    };
    return new Detector(model, kde, state, device, aae, transform);
  }

  /**
   * A copy of this detector with the transformation classifier added: trained on the same
   * training images (pass the same input as to `fit`), its score fused into `combined`, the
   * statistics and thresholds refitted on the same validation images. The autoencoder and the
   * latent density are copied, not retrained, so trying the classifier on a trained model costs
   * only the classifier. On the CPU the result equals `fit(input, { ...options, transforms })`.
   */
  async withTransforms(
    input: string | string[] | ImageSource,
    transforms: true | TransformOptions = true,
    options: { combine?: BaseScore[]; batchSize?: number; strict?: boolean; progress?: boolean; onWarning?: (message: string) => void } = {},
  ): Promise<Detector> {
    const t = this.state.training;
    if (this.transform) throw new Error('withTransforms: this detector already has the transformation classifier');
    if (t?.seed === undefined || t.valFraction === undefined || !t.threshold) {
      throw new Error('withTransforms: this model was saved by an earlier vigil, without its training split; train it again');
    }
    const warn = options.onWarning ?? ((m: string) => process.stderr.write(`warning: ${m}\n`));
    const transformOpts = resolveTransformOptions(transforms === true ? {} : transforms);
    const combine = options.combine ?? (this.state.combine.includes('transform') ? this.state.combine : [...this.state.combine, 'transform']);
    checkCombine(combine, true);
    const source = await resolveImages(input, { normalClass: t.normalClass, strict: options.strict, onWarning: warn, validate: (item) => item.label !== 1 });
    const { train, val } = trainingSplit(source, input, { normalClass: t.normalClass, valFraction: t.valFraction, seed: t.seed, warn: () => {} });
    const validationItems = val === train ? 0 : val.length;
    if (train.length !== t.items || validationItems !== t.validationItems) {
      throw new Error(`withTransforms: the detector was trained on ${t.items} + ${t.validationItems} images, the input gives ${train.length} + ${validationItems}: pass the input given to fit`);
    }
    const { preprocessing } = this.state;
    const seed = t.seed;
    const transform = await trainTransformNet(transformOpts, { source, train: withoutRejected(train, source, t.rejected?.ids), preprocessing, device: this.device, seed, strict: options.strict, warn, progress: options.progress });
    const planFor = (idx: number[]) => planBatches({ source, indices: idx, preprocessing, batchSize: options.batchSize ?? 128, device: this.device, seed, strict: options.strict, onWarning: warn });
    let copy: Detector | undefined;
    let valPlan: BatchPlan | undefined, trainPlan: BatchPlan | undefined;
    try {
      copy = this.clone();
      valPlan = await planFor(val);
      let trainScores: RawScores | undefined;
      if (t.threshold.method === 'contamination') {
        trainPlan = await planFor(train);
        trainScores = await scoreBatches(copy.model, trainPlan, { transform: scorerOf(transform) });
      }
      const { stats: st, thresholds } = await calibrate({ model: copy.model, kde: copy.kde, transform, valPlan, train: trainScores, combine, fusion: copy.state.fusion, threshold: t.threshold });
      const state: DetectorState = { ...copy.state, combine, stats: st, thresholds, transforms: transformOpts };
      return new Detector(copy.model, copy.kde, state, this.device, copy.aae, transform);
    } catch (e) {
      copy?.dispose();
      disposeTransform(transform);
      throw e;
    } finally {
      valPlan?.dispose();
      trainPlan?.dispose();
    }
  }

  /** An independent copy (its own native tensors; dispose both). */
  clone(): Detector {
    const { manifest, tensors, release } = this.bundle();
    try {
      return Detector.fromBundle(manifest, tensors, this.device, 'clone');
    } finally {
      release();
    }
  }

  /** Scores images: a folder, a file, a list of files, a spec such as `builtin:mnist:test`, or a source. */
  async score(input: string | string[] | ImageSource, options: ScoreOptions = {}): Promise<ImageScore[]> {
    const source = await resolveImages(input, { normalClass: options.normalClass, strict: options.strict, split: 'test' });
    return this.scoreSource(source, source.items.map((_, i) => i), options).then((r) => r.results);
  }

  /** Like score; the verdicts are in `isAnomaly`. */
  async predict(input: string | string[] | ImageSource, options: ScoreOptions = {}): Promise<ImageScore[]> {
    return this.score(input, options);
  }

  /** Scores labelled images (normal class, MVTec test split, built-in test set) and computes metrics. */
  async evaluate(input: string | ImageSource, options: ScoreOptions = {}): Promise<{ summary: ScoreRecord<EvaluationSummary>; pixelAuroc?: number; results: ImageScore[] }> {
    const source = await resolveImages(input, { normalClass: options.normalClass, strict: options.strict, split: 'test' });
    const labelled = source.items.map((_, i) => i).filter((i) => source.items[i].label !== undefined);
    if (labelled.length === 0) {
      throw new Error(`${typeof input === 'string' ? input : 'source'}: no labelled images to evaluate (give the normal class with --normal-class, or use an MVTec test folder)`);
    }
    // pixel-level AUROC from the map of the training loss: SSIM maps where SSIM was trained on
    const mapKind: MapKind = this.state.loss === 'mse' ? 'mse' : 'ssim';
    const { results, raw } = await this.scoreSource(source, labelled, { ...options, maps: options.maps ?? (raw_hasMasks(source) ? mapKind : false) });
    const labels = results.map((r) => r.label!);
    const seen = overlap(this.state.training?.trainingIds, results.map((r) => r.id));
    if (seen?.estimate) process.stderr.write(`warning: ${seen.found.length === seen.estimate ? '' : 'about '}${seen.estimate} of the ${results.length} images evaluated (e.g. ${seen.found[0]}) are images this model was trained on; their scores are optimistic (the density model holds their codes): evaluate on held-out images\n`);
    const summary = {} as ScoreRecord<EvaluationSummary>;
    for (const k of this.scoreKinds) summary[k] = evaluateScores(results.map((r) => r.scores[k]!), labels, this.state.thresholds[k]!);
    let pix: number | undefined;
    if (raw.maps && raw.masks) {
      const pairs = raw.maps.map((m, i) => [m, raw.masks![i]] as const).filter(([, mask]) => mask !== undefined);
      if (pairs.length) {
        try { pix = pixelAuroc(pairs.map(([m]) => m), pairs.map(([, mask]) => mask!)); } catch { pix = undefined; }
      }
    }
    return { summary, pixelAuroc: pix, results };
  }

  private async scoreSource(source: ImageSource, indices: number[], options: ScoreOptions): Promise<{ results: ImageScore[]; raw: RawScores }> {
    const plan = await planBatches({ source, indices, preprocessing: this.state.preprocessing, batchSize: options.batchSize ?? 256, device: this.device, seed: 0, strict: options.strict });
    let raw: RawScores;
    try {
      raw = await scoreBatches(this.model, plan, { maps: options.maps || undefined, onBatch: options.onProgress, transform: scorerOf(this.transform) });
    } finally {
      plan.dispose();
    }
    const s = withDensity(raw, this.kde);
    const combined = fuse(s, this.state.combine, this.state.stats, this.state.fusion);
    const th = this.state.thresholds;
    const kind = this.resolveKind(options.score);
    const recon = this.resolveKind('recon') as 'mse' | 'ssim';
    const results = raw.indices.map((idx, i): ImageScore => {
      const item = source.items[idx];
      const scores: ScoreRecord<number> = { ...perBase(s, (k) => s[k]![i]!), combined: combined[i]! };
      const flags = perBase(s, (k) => scores[k]! > th[k]!.value);
      const score = scores[kind]!;
      const isAnomaly = options.rule === 'either' ? flags.density || flags[recon] : score > th[kind]!.value;
      const r: ImageScore = { id: item.id, score, isAnomaly, scores, flags };
      if (item.label !== undefined) r.label = item.label;
      if (item.className !== undefined) r.className = item.className;
      if (raw.maps) r.map = raw.maps[i];
      return r;
    });
    return { results, raw };
  }

  /** The score a request ranks by: the model's own, or one named ('recon' = the training loss's error). */
  resolveKind(requested?: ScoreKind | 'recon'): ScoreKind {
    if (requested === undefined) return this.state.score;
    if (requested === 'recon') return this.state.loss === 'ssim' ? 'ssim' : 'mse';
    if (!this.scoreKinds.includes(requested)) {
      if (requested === 'transform') throw new Error("score 'transform' needs the transformation classifier: train with transforms (vigil train --transforms)");
      throw new Error(`unknown score '${requested}' (use recon, ${this.scoreKinds.join(', ')})`);
    }
    return requested;
  }

  /** Sets the threshold of the ranking score from labelled examples (best F1) or a fixed value. */
  async calibrate(input: string | ImageSource, how: { method: 'f1' } | { method: 'fixed'; value: number }, options: ScoreOptions = {}): Promise<ThresholdSpec> {
    const kind = this.state.score;
    if (how.method === 'fixed') {
      this.state.thresholds[kind] = fitThreshold({ method: 'fixed', value: how.value }).spec;
      return this.state.thresholds[kind];
    }
    const { results } = await this.evaluate(input, options);
    const { spec, warning } = fitThreshold({ method: 'f1', scores: results.map((r) => r.scores[kind]!), labels: results.map((r) => r.label!) });
    if (warning) process.stderr.write(`warning: ${warning}\n`);
    this.state.thresholds[kind] = spec;
    return spec;
  }

  /** Writes the model folder atomically. */
  save(dir: string): void {
    const { manifest, tensors, release } = this.bundle();
    try {
      saveBundle(dir, manifest, tensors);
    } finally {
      release();
    }
  }

  /** Loads a model folder written by save() (or `vigil train`). */
  static load(dir: string, options: { device?: string } = {}): Detector {
    const device = resolveDevice(options.device ?? 'auto');
    const { manifest, tensors } = loadBundle(dir, device);
    try {
      return Detector.fromBundle(manifest, tensors, device, dir);
    } finally {
      for (const t of tensors.values()) t.dispose();
    }
  }

  /** The manifest and the named tensors of a model folder; release() frees the temporaries. */
  private bundle(): { manifest: { vigilVersion: string } & Record<string, unknown>; tensors: Map<string, Tensor>; release: () => void } {
    const tensors = new Map<string, Tensor>();
    for (const [k, t] of this.model.stateDict()) tensors.set(`model.${k}`, t);
    const kdeState = this.kde.toState();
    for (const [k, t] of kdeState.tensors) tensors.set(k, t);
    if (this.aae) for (const [k, t] of this.aae.disc.stateDict()) tensors.set(`disc.${k}`, t);
    if (this.transform) for (const [k, t] of this.transform.net.stateDict()) tensors.set(`transform.${k}`, t);
    const manifest = {
      vigilVersion: VERSION,
      model: this.aae ? 'aae' : 'autoencoder',
      ...(this.aae ? { aae: this.aae.toJSON() } : {}),
      loss: this.state.loss,
      architecture: this.state.architecture,
      preprocessing: this.state.preprocessing,
      score: this.state.score,
      combine: this.state.combine,
      fusion: this.state.fusion,
      thresholds: this.state.thresholds,
      scoreStats: this.state.stats,
      density: kdeState.json,
      ...(this.state.transforms ? { transforms: this.state.transforms } : {}),
      training: this.state.training,
    };
    return { manifest, tensors, release: () => { for (const t of kdeState.tensors.values()) t.dispose(); } };
  }

  /** A detector from a manifest and its tensors (copied: the caller still owns `tensors`); `where` names the source in errors. */
  private static fromBundle(manifest: Record<string, unknown>, tensors: Map<string, Tensor>, device: string, where: string): Detector {
    const m = manifest as Record<string, any>;
    const need = (k: string) => { if (m[k] === undefined) throw new Error(`${where}: damaged model manifest: '${k}' is missing`); return m[k]; };
    const architecture = need('architecture') as Architecture;
    if (m.model !== undefined && m.model !== 'autoencoder' && m.model !== 'aae') throw new Error(`${where}: unknown model kind '${m.model}' in the manifest; a newer vigil may read it`);
    const weights = `${where}/weights.safetensors`;
    const aae = m.model === 'aae' ? AdversarialAutoencoder.fromJSON(architecture, need('aae') as AaeJSON).to(device) : undefined;
    const model = aae ? aae.ae : new ConvAutoencoder(architecture).to(device);
    try {
      if (aae) {
        aae.loadStateDict(new Map([...tensors].filter(([k]) => k.startsWith('model.') || k.startsWith('disc.'))), weights);
      } else {
        model.loadStateDict(tensorsUnder('model', tensors), weights);
      }
    } catch (e) {
      if (aae) aae.dispose(); else model.dispose();
      throw e;
    }
    model.eval();
    let transform: { net: TransformNet; set: TransformSet } | undefined;
    if (m.transforms !== undefined) {
      try {
        transform = buildTransformNet(m.transforms as ResolvedTransformOptions, architecture, device);
        transform.net.loadStateDict(tensorsUnder('transform', tensors), weights);
        transform.net.eval();
      } catch (e) {
        disposeTransform(transform);
        if (aae) aae.dispose(); else model.dispose();
        throw e;
      }
    }
    const kde = LatentKDE.fromState(need('density'), tensors, device);
    const state: DetectorState = {
      preprocessing: need('preprocessing'), loss: m.loss ?? 'mse', architecture, score: need('score'), combine: need('combine'),
      fusion: m.fusion ?? 'mean', // models saved before the option fused by the mean
      thresholds: need('thresholds'), stats: need('scoreStats'), training: m.training, kde: m.density,
      ...(m.transforms !== undefined ? { transforms: m.transforms } : {}),
    };
    return new Detector(model, kde, state, device, aae, transform);
  }

  /** Frees the native memory held by the model. */
  dispose(): void {
    if (this.aae) this.aae.dispose(); else this.model.dispose();
    disposeTransform(this.transform);
    this.kde.dispose();
  }

  /** Per image: the preprocessed input, its reconstruction, error map and latent code (for reports; src/scoring/inspect.ts). */
  async inspect(input: string | string[] | ImageSource, options: InspectOptions & { normalClass?: string | string[] } = {}): Promise<Inspection[]> {
    const source = await resolveImages(input, { normalClass: options.normalClass, strict: options.strict, split: 'test', onWarning: options.onWarning });
    return inspectImages(this.model, source, { preprocessing: this.state.preprocessing, device: this.device }, options);
  }
}

function raw_hasMasks(source: ImageSource): boolean {
  return source.items.some((i) => i.maskPath !== undefined);
}

/** The codes of the training images that were not rejected. */
function keptCodes(raw: RawScores, rejected: Set<number>): Float32Array {
  const d = raw.latent;
  const keep = raw.indices.map((idx, i) => [idx, i] as const).filter(([idx]) => !rejected.has(idx)).map(([, i]) => i);
  const out = new Float32Array(keep.length * d);
  keep.forEach((i, j) => out.set(raw.codes.subarray(i * d, (i + 1) * d), j * d));
  return out;
}

function withDensity(raw: RawScores, kde: LatentKDE): BaseRecord<Float32Array> {
  return { mse: raw.mse, ssim: raw.ssim, density: kde.score(raw.codes), ...(raw.transform ? { transform: raw.transform } : {}) };
}

/**
 * The training and validation images of a fit: the source's images (for a class-per-folder input
 * with a normal class, only that class), split by the seed; with fewer than 20 images the
 * thresholds are fitted on the training images themselves.
 */
function trainingSplit(
  source: ImageSource, input: string | string[] | ImageSource,
  o: { normalClass?: string | string[]; valFraction: number; seed: number; warn: (m: string) => void },
): { train: number[]; val: number[] } {
  let indices = source.items.map((_, i) => i);
  if (o.normalClass !== undefined && typeof input === 'string') indices = indices.filter((i) => source.items[i].label !== 1);
  if (indices.length < 2) throw new Error(`${indices.length ? 'need at least 2 readable images to train, found 1' : 'no training images'} in ${typeof input === 'string' ? input : 'the source'}${o.normalClass ? ` for normal class ${o.normalClass}` : ''}`);
  const { train, val } = splitIndices(indices, { fraction: indices.length >= 20 ? o.valFraction : 0, seed: o.seed });
  if (val.length > 0) return { train, val };
  o.warn(`only ${indices.length} training images: thresholds are fitted on the training images themselves`);
  return { train, val: train };
}

/**
 * Every score's statistics (for the z-scores of 'combined') and threshold, from the validation
 * images; a contamination threshold reads the training images' scores (`train`) instead.
 */
async function calibrate(c: {
  model: ConvAutoencoder; kde: LatentKDE; transform?: { net: TransformNet; set: TransformSet }; valPlan: BatchPlan; train?: RawScores;
  combine: BaseScore[]; fusion: Fusion; threshold: ThresholdOption;
}): Promise<{ stats: BaseRecord<ScoreStats>; thresholds: ScoreRecord<ThresholdSpec> }> {
  const base = withDensity(await scoreBatches(c.model, c.valPlan, { transform: scorerOf(c.transform) }), c.kde);
  const st = perBase(base, (k) => stats(base[k]!));
  const trainBase = c.train ? withDensity(c.train, c.kde) : undefined;
  const t = c.threshold;
  const thresholdFor = (normal: Float32Array, trainAll: () => Float32Array): ThresholdSpec => {
    if (t.method === 'quantile') return fitThreshold({ method: 'quantile', normalScores: normal, q: t.q ?? 0.95 }).spec;
    if (t.method === 'contamination') return fitThreshold({ method: 'contamination', scores: trainAll(), contamination: t.contamination }).spec;
    return fitThreshold({ method: 'fixed', value: t.value }).spec;
  };
  const thresholds: ScoreRecord<ThresholdSpec> = {
    ...perBase(base, (k) => thresholdFor(base[k]!, () => trainBase![k]!)),
    combined: thresholdFor(fuse(base, c.combine, st, c.fusion), () => fuse(trainBase!, c.combine, st, c.fusion)),
  };
  return { stats: st, thresholds };
}

/** The training images minus those the robust AAE rejected (by id): what the transformation classifier learns from. */
function withoutRejected(train: number[], source: ImageSource, rejectedIds: string[] | undefined): number[] {
  if (!rejectedIds?.length) return train;
  const out = new Set(rejectedIds);
  return train.filter((i) => !out.has(source.items[i].id));
}

/** A value for each base score the detector computed (the transformation classifier's only when it has one). */
function perBase<V>(s: BaseRecord<Float32Array>, value: (k: BaseScore) => V): BaseRecord<V> {
  return Object.fromEntries(BASE_SCORES.filter((k) => s[k] !== undefined).map((k) => [k, value(k)])) as BaseRecord<V>;
}

/** Frees the transformation classifier and its set's cached pixel maps, when there is one. */
function disposeTransform(t: { net: TransformNet; set: TransformSet } | undefined): void {
  t?.net.dispose();
  t?.set.dispose();
}

/** The transformation classifier as a per-batch scorer for scoreBatches, when there is one. */
function scorerOf(t: { net: TransformNet; set: TransformSet } | undefined): ((x: Tensor) => Float32Array) | undefined {
  return t ? (x) => transformScores(t.net, t.set, x) : undefined;
}

/** The chosen scores, each standardised by its normal validation statistics, fused by their largest or their mean. */
function fuse(s: BaseRecord<Float32Array>, combine: BaseScore[], st: BaseRecord<ScoreStats>, fusion: Fusion): Float32Array {
  const n = s.mse.length;
  const out = new Float32Array(n).fill(fusion === 'max' ? -Infinity : 0);
  for (const k of combine) {
    const { mean, std } = st[k]!;
    const v = s[k]!;
    if (fusion === 'max') for (let i = 0; i < n; i++) out[i] = Math.max(out[i], (v[i] - mean) / std);
    else for (let i = 0; i < n; i++) out[i] += (v[i] - mean) / std / combine.length;
  }
  return out;
}

function checkCombine(combine: BaseScore[], hasTransform: boolean): void {
  if (!Array.isArray(combine) || combine.length === 0) throw new Error(`combine must list at least one of ${BASE_SCORES.join(', ')}`);
  for (const k of combine) {
    if (!BASE_SCORES.includes(k)) throw new Error(`combine: unknown score '${k as string}' (use ${BASE_SCORES.join(', ')})`);
    if (k === 'transform' && !hasTransform) throw new Error("combine: 'transform' needs the transformation classifier (option transforms / --transforms)");
  }
}

export type ResolvedTransformOptions = Required<TransformSetOptions> & { filters: number[]; epochs: number; batchSize: number; lr: number };

function resolveTransformOptions(o: TransformOptions): ResolvedTransformOptions {
  const r: ResolvedTransformOptions = {
    ...transformSet(o).options,
    filters: o.filters ?? [32, 64, 128], epochs: o.epochs ?? 3, batchSize: o.batchSize ?? 16, lr: o.lr ?? 1e-3,
  };
  if (!Number.isInteger(r.epochs) || r.epochs < 1) throw new RangeError(`transforms: epochs must be a positive integer, got ${r.epochs}`);
  if (!Number.isInteger(r.batchSize) || r.batchSize < 1) throw new RangeError(`transforms: batchSize must be a positive integer, got ${r.batchSize}`);
  if (!(r.lr > 0)) throw new RangeError(`transforms: lr must be positive, got ${r.lr}`);
  return r;
}

function buildTransformNet(o: ResolvedTransformOptions, shape: { height: number; width: number; channels: number }, device: string): { net: TransformNet; set: TransformSet } {
  const set = transformSet(o);
  const net = new TransformNet({ height: shape.height, width: shape.width, channels: shape.channels, classes: set.count, filters: o.filters }).to(device);
  return { net, set };
}

async function trainTransformNet(
  o: ResolvedTransformOptions,
  c: { source: ImageSource; train: number[]; preprocessing: Preprocessing; device: string; seed: number; strict?: boolean; warn: (m: string) => void; progress?: boolean },
): Promise<{ net: TransformNet; set: TransformSet }> {
  manualSeed(c.seed + 1); // its own stream: the same classifier whether trained in fit or in withTransforms
  const built = buildTransformNet(o, c.preprocessing, c.device);
  const plan = await planBatches({ source: c.source, indices: c.train, preprocessing: c.preprocessing, batchSize: o.batchSize, device: c.device, seed: c.seed + 1, strict: c.strict, onWarning: c.warn });
  const task = new TransformTask(built.net, built.set, { optimizer: 'adam', lr: o.lr, weightDecay: 0 });
  try {
    await runTraining(task, { epochs: o.epochs, schedule: makeSchedule(o.lr, { kind: 'cosine', epochs: o.epochs }), train: plan, seed: c.seed + 1, progress: c.progress });
  } catch (e) {
    disposeTransform(built);
    throw e;
  } finally {
    task.dispose();
    plan.dispose();
  }
  built.net.eval();
  return built;
}

export { tidy, ops };
