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
import { AutoencoderTask } from './train/autoencoder-task.js';
import { AaeTask } from './train/aae-task.js';
import { AdversarialAutoencoder, aaeTrainingConfig, type AaeOptions, type AaeJSON } from './models/aae.js';
import type { LossName } from './train/losses.js';
import { scoreBatches, type RawScores, type MapKind } from './scoring/reconstruction.js';
import { LatentKDE, type BandwidthRule } from './scoring/kde.js';
import { fitThreshold, type ThresholdSpec } from './scoring/threshold.js';
import { evaluate as evaluateScores, pixelAuroc, type EvaluationSummary } from './eval/metrics.js';
import { saveBundle, loadBundle, type BundleManifest } from './bundle/bundle.js';
import { quantile } from './scoring/threshold.js';
import { VERSION } from './version.js';

/** The scores vigil computes for every image. */
export type BaseScore = 'mse' | 'ssim' | 'density';
/** Which score ranks images and decides verdicts. 'combined' fuses the `combine` list. */
export type ScoreKind = BaseScore | 'combined';
export const SCORE_KINDS: readonly ScoreKind[] = ['mse', 'ssim', 'density', 'combined'];

export type ThresholdOption =
  | { method: 'quantile'; q?: number }
  | { method: 'contamination'; contamination: number }
  | { method: 'fixed'; value: number };

export interface DetectorOptions {
  /** Model input size in pixels (square) or [height, width]. Default: the images' own size for IDX data, else 64. */
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
   * reject (fraction or 'auto', default 0.05), rejectBy ('prior' | 'prior+recon'), warmup (epochs,
   * default 2), discLr, genLr, discriminator size. See src/models/aae.ts and src/train/aae-task.ts.
   */
  aae?: AaeOptions;
  /** Architecture overrides (filters, latent, kind, dropout...). */
  architecture?: Partial<Architecture>;
  /** Default 30. */
  epochs?: number;
  /** Default 128. */
  batchSize?: number;
  /** Default 1e-3. */
  lr?: number;
  /** Default 'adam'. */
  optimizer?: 'adam' | 'adamw';
  /** Default 0 (Adam) / 0.01 (AdamW). */
  weightDecay?: number;
  /** Learning-rate decay over the epochs. Default 'cosine'. */
  schedule?: 'cosine' | 'constant' | 'step';
  /** Training loss. Default 'mse'. */
  loss?: LossName;
  /** Early stopping patience in epochs on validation loss (0 = off). Default 0. */
  patience?: number;
  /** The ranking/decision score. Default 'combined'. */
  score?: ScoreKind;
  /** Scores fused by 'combined'. Default ['ssim', 'density']. */
  combine?: BaseScore[];
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
  onWarning?: (message: string) => void;
}

export interface ImageScore {
  id: string;
  /** The configured score (higher = more anomalous). */
  score: number;
  isAnomaly: boolean;
  /** Every score: reconstruction MSE, 1 - SSIM, negative latent log-density, and the fused one. */
  scores: Record<ScoreKind, number>;
  /** Which individual scores exceed their own thresholds. */
  flags: Record<BaseScore, boolean>;
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
  rankedBy: 'prior' | 'prior+recon';
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
  thresholds: Record<ScoreKind, ThresholdSpec>;
  stats: Record<BaseScore, ScoreStats>;
  training?: TrainingSummary & { items: number; validationItems: number; device: string; engine: string; rejected?: RejectedSummary };
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
export async function resolveImages(input: string | string[] | ImageSource, o: { normalClass?: string | string[]; strict?: boolean; split?: 'train' | 'test'; onWarning?: (m: string) => void } = {}): Promise<ImageSource> {
  if (typeof input === 'object' && !Array.isArray(input)) return input;
  if (Array.isArray(input)) {
    const items: ImageItem[] = input.map((p) => ({ id: p }));
    return fileSource('', items, { strict: o.strict, onWarning: o.onWarning });
  }
  const opts: OpenSourceOptions = { normalClass: o.normalClass, strict: o.strict, onWarning: o.onWarning, split: o.split };
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
  ) {}

  /** 'ae' (plain autoencoder) or 'aae' (robust adversarial autoencoder). */
  get modelKind(): 'ae' | 'aae' { return this.aae ? 'aae' : 'ae'; }

  get preprocessing(): Preprocessing { return this.state.preprocessing; }
  get architecture(): Architecture { return this.state.architecture; }
  get thresholds(): Record<ScoreKind, ThresholdSpec> { return this.state.thresholds; }
  get scoreKind(): ScoreKind { return this.state.score; }
  get training(): DetectorState['training'] { return this.state.training; }

  /** Trains on normal images: a folder, a spec such as `builtin:fashion-mnist`, or an ImageSource. */
  static async fit(input: string | string[] | ImageSource, options: DetectorOptions = {}): Promise<Detector> {
    const o = options;
    const seed = o.seed ?? 0;
    const device = resolveDevice(o.device ?? 'auto');
    const warn = o.onWarning ?? ((m: string) => process.stderr.write(`warning: ${m}\n`));
    if (o.model !== undefined && o.model !== 'ae' && o.model !== 'aae') throw new Error(`unknown model '${o.model as string}' (use ae or aae)`);
    if (o.model === 'aae') aaeTrainingConfig(o.aae); // bad settings fail before any data is read
    manualSeed(seed);
    const source = await resolveImages(input, { normalClass: o.normalClass, strict: o.strict, onWarning: warn });
    let indices = source.items.map((_, i) => i);
    if (o.normalClass !== undefined && typeof input === 'string') indices = indices.filter((i) => source.items[i].label !== 1);
    if (indices.length === 0) throw new Error(`no training images in ${typeof input === 'string' ? input : 'the source'}${o.normalClass ? ` for normal class ${o.normalClass}` : ''}`);

    const native = source.nativeSize ?? (await probeFirstImage(source));
    const size = o.size ?? (source.nativeSize ? [source.nativeSize.height, source.nativeSize.width] : 64);
    const [height, width] = typeof size === 'number' ? [size, size] : size;
    const preprocessing: Preprocessing = { height, width, channels: o.channels ?? native?.channels ?? 3, resize: o.resize ?? 'stretch' };
    const architecture = defaultArchitecture({ height, width, channels: preprocessing.channels }, o.architecture);

    const valFraction = o.valFraction ?? 0.1;
    let { train, val } = splitIndices(indices, { fraction: indices.length >= 20 ? valFraction : 0, seed });
    if (val.length === 0) {
      warn(`only ${indices.length} training images: thresholds are fitted on the training images themselves`);
      val = train;
    }
    const batchSize = o.batchSize ?? 128;
    const planFor = (idx: number[], augment?: AugmentOptions) =>
      planBatches({ source, indices: idx, preprocessing, batchSize, device, seed, augment, strict: o.strict, onWarning: warn });
    const trainPlan = await planFor(train, o.augment);
    const valPlan = await planFor(val);

    const aae = o.model === 'aae' ? new AdversarialAutoencoder(architecture, { seed, ...o.aae }).to(device) : undefined;
    const model = aae ? aae.ae : new ConvAutoencoder(architecture).to(device);
    const epochs = o.epochs ?? 30;
    const lr = o.lr ?? 1e-3;
    const optOptions = { optimizer: o.optimizer ?? 'adam', lr, weightDecay: o.weightDecay ?? (o.optimizer === 'adamw' ? 0.01 : 0) } as const;
    const task = aae
      ? new AaeTask(aae, o.loss ?? 'mse', optOptions, trainPlan, o.aae)
      : new AutoencoderTask(model, o.loss ?? 'mse', optOptions);
    const schedule = makeSchedule(lr, o.schedule === 'constant' ? { kind: 'constant' } : o.schedule === 'step' ? { kind: 'step', every: Math.max(1, Math.round(epochs / 3)), gamma: 0.1 } : { kind: 'cosine', epochs });
    let summary: TrainingSummary;
    let rejected: number[] = [];
    let rejectedSummary: RejectedSummary | undefined;
    try {
      summary = await runTraining(task, {
        epochs, schedule, train: trainPlan, val: valPlan, patience: o.patience, checkpointDir: o.checkpointDir, resume: o.resume,
        seed, progress: o.progress, onEpochEnd: o.onEpochEnd,
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

    // Density of the training codes (for the robust AAE: of the images it kept), and every score's
    // statistics and threshold on validation images.
    const trainScores = await scoreBatches(model, trainPlan);
    const kde = new LatentKDE({ bandwidth: o.bandwidth ?? 'scott', device, seed });
    kde.fit(rejected.length ? keptCodes(trainScores, new Set(rejected)) : trainScores.codes, trainScores.latent);
    const valScores = await scoreBatches(model, valPlan);
    trainPlan.dispose();
    valPlan.dispose();
    const base = withDensity(valScores, kde);
    const trainBase = withDensity(trainScores, kde);
    const st = { mse: stats(base.mse), ssim: stats(base.ssim), density: stats(base.density) };
    const combine = o.combine ?? ['ssim', 'density'];
    const combined = fuse(base, combine, st);
    const trainCombined = fuse(trainBase, combine, st);
    const thresholdFor = (normal: Float32Array, trainAll: Float32Array): ThresholdSpec => {
      const t = o.threshold ?? { method: 'quantile', q: 0.95 };
      if (t.method === 'quantile') return fitThreshold({ method: 'quantile', normalScores: normal, q: t.q ?? 0.95 }).spec;
      if (t.method === 'contamination') return fitThreshold({ method: 'contamination', scores: trainAll, contamination: t.contamination }).spec;
      return fitThreshold({ method: 'fixed', value: t.value }).spec;
    };
    const thresholds = {
      mse: thresholdFor(base.mse, trainBase.mse),
      ssim: thresholdFor(base.ssim, trainBase.ssim),
      density: thresholdFor(base.density, trainBase.density),
      combined: thresholdFor(combined, trainCombined),
    };
    const kdeState = kde.toState();
    for (const t of kdeState.tensors.values()) t.dispose();
    const state: DetectorState = {
      preprocessing, loss: o.loss ?? 'mse', architecture, score: o.score ?? 'combined', combine, thresholds, stats: st, kde: kdeState.json,
      training: {
        ...summary, items: train.length, validationItems: val === train ? 0 : val.length, device, engine: `libtorch ${engineInfo().torch}`,
        ...(rejectedSummary ? { rejected: rejectedSummary } : {}),
      },
    };
    return new Detector(model, kde, state, device, aae);
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
  async evaluate(input: string | ImageSource, options: ScoreOptions = {}): Promise<{ summary: Record<ScoreKind, EvaluationSummary>; pixelAuroc?: number; results: ImageScore[] }> {
    const source = await resolveImages(input, { normalClass: options.normalClass, strict: options.strict, split: 'test' });
    const labelled = source.items.map((_, i) => i).filter((i) => source.items[i].label !== undefined);
    if (labelled.length === 0) {
      throw new Error(`${typeof input === 'string' ? input : 'source'}: no labelled images to evaluate (give the normal class with --normal-class, or use an MVTec test folder)`);
    }
    const { results, raw } = await this.scoreSource(source, labelled, { ...options, maps: options.maps ?? (raw_hasMasks(source) ? 'mse' : false) });
    const labels = results.map((r) => r.label!);
    const summary = {} as Record<ScoreKind, EvaluationSummary>;
    for (const k of SCORE_KINDS) summary[k] = evaluateScores(results.map((r) => r.scores[k]), labels, this.state.thresholds[k]);
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
      raw = await scoreBatches(this.model, plan, { maps: options.maps || undefined, onBatch: options.onProgress });
    } finally {
      plan.dispose();
    }
    const s = withDensity(raw, this.kde);
    const combined = fuse(s, this.state.combine, this.state.stats);
    const th = this.state.thresholds;
    const kind = this.resolveKind(options.score);
    const recon = this.resolveKind('recon') as 'mse' | 'ssim';
    const results = raw.indices.map((idx, i): ImageScore => {
      const item = source.items[idx];
      const scores = { mse: s.mse[i], ssim: s.ssim[i], density: s.density[i], combined: combined[i] };
      const score = scores[kind];
      const flags = { mse: scores.mse > th.mse.value, ssim: scores.ssim > th.ssim.value, density: scores.density > th.density.value };
      const isAnomaly = options.rule === 'either' ? flags.density || flags[recon] : score > th[kind].value;
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
    if (!SCORE_KINDS.includes(requested)) throw new Error(`unknown score '${requested}' (use recon, ${SCORE_KINDS.join(', ')})`);
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
    const { spec, warning } = fitThreshold({ method: 'f1', scores: results.map((r) => r.scores[kind]), labels: results.map((r) => r.label!) });
    if (warning) process.stderr.write(`warning: ${warning}\n`);
    this.state.thresholds[kind] = spec;
    return spec;
  }

  /** Writes the model folder atomically. */
  save(dir: string): void {
    const tensors = new Map<string, Tensor>();
    for (const [k, t] of this.model.stateDict()) tensors.set(`model.${k}`, t);
    const kdeState = this.kde.toState();
    for (const [k, t] of kdeState.tensors) tensors.set(k, t);
    if (this.aae) for (const [k, t] of this.aae.disc.stateDict()) tensors.set(`disc.${k}`, t);
    const manifest = {
      vigilVersion: VERSION,
      model: this.aae ? 'aae' : 'autoencoder',
      ...(this.aae ? { aae: this.aae.toJSON() } : {}),
      loss: this.state.loss,
      architecture: this.state.architecture,
      preprocessing: this.state.preprocessing,
      score: this.state.score,
      combine: this.state.combine,
      thresholds: this.state.thresholds,
      scoreStats: this.state.stats,
      density: kdeState.json,
      training: this.state.training,
    };
    try {
      saveBundle(dir, manifest, tensors);
    } finally {
      for (const t of kdeState.tensors.values()) t.dispose();
    }
  }

  /** Loads a model folder written by save() (or `vigil train`). */
  static load(dir: string, options: { device?: string } = {}): Detector {
    const device = resolveDevice(options.device ?? 'auto');
    const { manifest, tensors } = loadBundle(dir, device);
    try {
      const m = manifest as BundleManifest & Record<string, any>;
      const need = (k: string) => { if (m[k] === undefined) throw new Error(`${dir}: damaged model manifest: '${k}' is missing`); return m[k]; };
      const architecture = need('architecture') as Architecture;
      if (m.model !== undefined && m.model !== 'autoencoder' && m.model !== 'aae') throw new Error(`${dir}: unknown model kind '${m.model}' in the manifest; a newer vigil may read it`);
      const aae = m.model === 'aae' ? AdversarialAutoencoder.fromJSON(architecture, need('aae') as AaeJSON).to(device) : undefined;
      const model = aae ? aae.ae : new ConvAutoencoder(architecture).to(device);
      try {
        if (aae) {
          aae.loadStateDict(new Map([...tensors].filter(([k]) => k.startsWith('model.') || k.startsWith('disc.'))), `${dir}/weights.safetensors`);
        } else {
          const modelTensors = new Map([...tensors].filter(([k]) => k.startsWith('model.')).map(([k, t]) => [k.slice(6), t] as [string, Tensor]));
          model.loadStateDict(modelTensors, `${dir}/weights.safetensors`);
        }
      } catch (e) {
        if (aae) aae.dispose(); else model.dispose();
        throw e;
      }
      model.eval();
      const kde = LatentKDE.fromState(need('density'), tensors, device);
      const state: DetectorState = {
        preprocessing: need('preprocessing'), loss: m.loss ?? 'mse', architecture, score: need('score'), combine: need('combine'),
        thresholds: need('thresholds'), stats: need('scoreStats'), training: m.training, kde: m.density,
      };
      return new Detector(model, kde, state, device, aae);
    } finally {
      for (const t of tensors.values()) t.dispose();
    }
  }

  /** Frees the native memory held by the model. */
  dispose(): void {
    if (this.aae) this.aae.dispose(); else this.model.dispose();
    this.kde.dispose();
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

function withDensity(raw: RawScores, kde: LatentKDE): { mse: Float32Array; ssim: Float32Array; density: Float32Array } {
  return { mse: raw.mse, ssim: raw.ssim, density: kde.score(raw.codes) };
}

/** Mean of the chosen scores, each standardised by its normal validation statistics. */
function fuse(s: Record<BaseScore, Float32Array>, combine: BaseScore[], st: Record<BaseScore, ScoreStats>): Float32Array {
  const n = s.mse.length;
  const out = new Float32Array(n);
  for (const k of combine) {
    const { mean, std } = st[k];
    const v = s[k];
    for (let i = 0; i < n; i++) out[i] += (v[i] - mean) / std / combine.length;
  }
  return out;
}

export { tidy, ops };
