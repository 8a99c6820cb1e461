/**
 * Fitting a detector, in order (PyOD's template method): read and split the normal images,
 * choose the settings left to defaults, train the autoencoder (or the robust AAE), optionally
 * the transformation classifier, fit the latent density on the training codes, then the
 * post-processing (statistics and thresholds) on the validation images. On any error, or an
 * abort, everything built so far is freed before the error is passed on.
 */
import { manualSeed, resolveDevice, makeSchedule, engineInfo, retainFreedMemory } from '../engine/index.js';
import { splitIndices } from '../data/split.js';
import type { ImageSource, Preprocessing } from '../data/types.js';
import type { AugmentOptions } from '../data/augment.js';
import { ConvAutoencoder, defaultArchitecture, type Architecture } from '../models/autoencoder.js';
import { AdversarialAutoencoder, aaeTrainingConfig } from '../models/aae.js';
import { planBatches, type BatchPlan } from '../train/batches.js';
import { runTraining, type TrainingSummary } from '../train/trainer.js';
import { AutoencoderTask, TiledAutoencoderTask } from '../train/autoencoder-task.js';
import { TiledAutoencoder, checkTileSpec, type TileSpec } from '../models/tiled.js';
import type { Reconstructor } from '../scoring/reconstruction.js';
import { AaeTask } from '../train/aae-task.js';
import type { LossName } from '../train/losses.js';
import { scoreBatches, encodeBatches, type EncodedImages, type MapKind, type RawScores } from '../scoring/reconstruction.js';
import { DENSITY_ESTIMATORS, DENSITY_INPUTS, STATS_NEIGHBOURS, densityInputGroups, type DensityInput } from '../scoring/density-input.js';
import { LatentKDE } from '../scoring/kde.js';
import { prependImageStatistics } from '../scoring/image-stats.js';
import { checkCombine, defaultCombine, kindsOf, missingKind, SCORE_KINDS, type BaseRecord, type BaseScore, type ScoreKind } from '../postprocess/kinds.js';
import { PostProcessor, checkFusion, type Fusion, type ThresholdOption } from '../postprocess/postprocessor.js';
import { autoSettings, needsLostDetail, segmenterRule, AUTO_MAX_SIDE, type ImageFacts, type UserChoices } from '../config/auto.js';
import { sourceLostDetail } from '../data/detail.js';
import { pastedPatchCheck, keepPatchSeeing, patchCheckReason, PATCH_IMAGES } from '../scoring/patch-check.js';
import { reportFacts, type ReportFacts } from '../scoring/report-facts.js';
import { sketchIds, type IdSketch } from '../data/fingerprint.js';
import { resolveImages, probeSource } from './input.js';
import { disposeTransform, resolveTransformOptions, scorerOf, trainTransformNet, type TransformParts } from './transforms.js';
import { resolveSegmenterOptions, segmentScorerOf, trainSegmenter } from './segmenter.js';
import type { SegmenterNet } from '../models/segmenter.js';
import type { DetectorInput, DetectorOptions, RejectedSummary, ResolvedSegmenterOptions, ResolvedTransformOptions } from './options.js';

/** What fit recorded about the training run (saved in the manifest as `training`). */
export type TrainingInfo = TrainingSummary & {
  items: number; validationItems: number; device: string; engine: string; rejected?: RejectedSummary;
  /** What fixed the training/validation split and the thresholds (withTransforms redoes them). */
  seed?: number; valFraction?: number; normalClass?: string | string[]; threshold?: ThresholdOption;
  /** The batch size trained with, and what the defaults chose from the images and why (src/config/auto.ts). */
  batchSize?: number; settings?: string[];
  /** A sketch of the training images' ids: `evaluate` warns when it is given them. */
  trainingIds?: IdSketch;
} & Partial<ReportFacts>;

/** What a detector is made of besides its networks. */
export interface DetectorState {
  preprocessing: Preprocessing;
  loss: LossName;
  architecture: Architecture;
  /** Set for a model of tiles (src/models/tiled.ts); the architecture is then the tile's size. */
  tiles?: TileSpec;
  /** What the latent density reads (absent: the bottleneck code). */
  densityInput?: DensityInput;
  transforms?: ResolvedTransformOptions;
  /** The synthetic-anomaly segmenter's settings, when it was trained. */
  segmenter?: ResolvedSegmenterOptions;
  training?: TrainingInfo;
}

/** What scores images for a model: itself, its tiled wrapper, or itself with its density reading the encoder's statistics (after the image's own for 'image+stats'). */
export function scorerFor(model: ConvAutoencoder, tiles: TileSpec | undefined, densityInput: DensityInput = 'code'): Reconstructor {
  if (tiles) return new TiledAutoencoder(model, tiles);
  if (densityInput === 'code') return model;
  const withImage = densityInput === 'image+stats';
  return {
    encode: (x) => model.encode(x), decode: (z) => model.decode(z), eval: () => model.eval(),
    encodeForDensity: (x) => {
      const { code, stats } = model.encodeWithStats(x);
      return { code, density: withImage ? prependImageStatistics(x, stats) : stats };
    },
  };
}

/** The parts of a fitted detector; the Detector owns them. */
export interface DetectorParts {
  model: ConvAutoencoder;
  kde: LatentKDE;
  post: PostProcessor;
  state: DetectorState;
  device: string;
  /** The adversarial autoencoder when the model is 'aae' (it owns `model`). */
  aae?: AdversarialAutoencoder;
  transform?: TransformParts;
  segmenter?: SegmenterNet;
}

/**
 * The error map of a model, the one rule for evaluate's pixel AUROC, the report's overlays, the
 * server and `vigil score --maps`: the reconstruction error its `combined` score is, when it is
 * one error alone (plates, cells, tiled boards: 1 - SSIM); else SSIM's where SSIM was trained on
 * and MSE's where the loss is MSE alone (digits, whose fusion of SSIM and density keeps MSE maps).
 */
export function mapKindFor(loss: LossName, combine: readonly BaseScore[]): MapKind {
  if (combine.length === 1 && (combine[0] === 'mse' || combine[0] === 'ssim')) return combine[0];
  return loss === 'mse' ? 'mse' : 'ssim';
}

/** The reconstruction score of a training loss: what 'recon' and the 'either' rule read. */
export function reconKind(loss: LossName): 'mse' | 'ssim' {
  return loss === 'ssim' ? 'ssim' : 'mse';
}

export async function fitDetector(input: DetectorInput, o: DetectorOptions): Promise<DetectorParts> {
  const seed = o.seed ?? 0;
  const device = resolveDevice(o.device ?? 'auto');
  const warn = o.onWarning ?? (() => {});
  const signal = o.signal;
  if (o.model !== undefined && o.model !== 'ae' && o.model !== 'aae') throw new Error(`unknown model '${o.model as string}' (use ae or aae)`);
  if (o.model === 'aae') aaeTrainingConfig(o.aae); // bad settings fail before any data is read
  const transformOpts = o.transforms ? resolveTransformOptions(o.transforms === true ? {} : o.transforms) : undefined;
  // tiles need the plain autoencoder: the robust AAE and the classifier see whole images
  if (o.tiles && (o.model === 'aae' || transformOpts)) throw new Error(`tiles work with the plain autoencoder only, not with ${o.model === 'aae' ? "model 'aae'" : 'transforms'}`);
  // the segmenter's settings are checked before any data is read, even when the rules may leave it out
  const segmenterOpts = resolveSegmenterOptions(typeof o.segmenter === 'object' ? o.segmenter : {});
  // the optional scores' networks the caller asked for: a score or a fusion that needs one it did not ask for is refused here
  const asked = { transform: transformOpts, segment: o.segmenter || undefined };
  if (o.combine !== undefined) checkCombine(o.combine, asked);
  if (o.fusion !== undefined) checkFusion(o.fusion); // before any data is read
  if (o.densityInput !== undefined && !DENSITY_INPUTS.includes(o.densityInput)) throw new Error(`unknown densityInput '${o.densityInput as string}' (use ${DENSITY_INPUTS.join(' or ')})`);
  if (o.densityEstimator !== undefined && !DENSITY_ESTIMATORS.includes(o.densityEstimator)) throw new Error(`unknown densityEstimator '${o.densityEstimator as string}' (use ${DENSITY_ESTIMATORS.join(' or ')})`);
  if (o.score !== undefined && SCORE_KINDS.includes(o.score) && !kindsOf(asked).includes(o.score)) throw missingKind(o.score, kindsOf(asked));
  signal?.throwIfAborted();
  manualSeed(seed);
  retainFreedMemory(); // a training's steps reuse their memory instead of faulting it in afresh (src/engine/runtime.ts)
  // the headers of the images trained on are read first, so the counts are those of readable images
  const source = await resolveImages(input, { normalClass: o.normalClass, strict: o.strict, onWarning: warn, validate: (item) => item.label !== 1 });
  const valFraction = o.valFraction ?? 0.1;
  const { train, val } = trainingSplit(source, input, { normalClass: o.normalClass, valFraction, seed, warn });
  const native = await probeSource(source);

  // Defaults: every setting the caller left out, chosen here in one block. Those that adapt to
  // the images (size, batch, training length, loss, fusion) come from src/config/auto.ts.
  // the robust AAE and the classifier see whole images, so the rules may not choose tiles for them
  // the robust AAE's prior shapes its codes, so its density reads them
  const user: UserChoices = {
    size: o.size, batchSize: o.batchSize, epochs: o.epochs, loss: o.loss, fusion: o.fusion, tiles: o.tiles ?? (o.model === 'aae' || transformOpts ? false : undefined),
    densityInput: o.densityInput ?? (o.model === 'aae' ? 'code' : undefined), densityEstimator: o.densityEstimator,
    // a fusion the caller chose keeps the segmenter out unless asked for; the robust AAE's images may hold anomalies it would learn as normal
    segmenter: o.segmenter !== undefined ? o.segmenter !== false : (o.combine !== undefined || o.model === 'aae' ? false : undefined),
    filters: o.architecture?.filters,
  };
  const facts: ImageFacts = { height: native?.height, width: native?.width, count: train.length, fixedSize: !!source.nativeSize };
  if (needsLostDetail(facts, user)) facts.lostDetail = await sourceLostDetail(source, train, { height: facts.height!, width: facts.width! }, AUTO_MAX_SIDE);
  const auto = autoSettings(facts, user);
  const [height, width] = auto.size;
  const preprocessing: Preprocessing = { height, width, channels: o.channels ?? native?.channels ?? 3, resize: o.resize ?? 'stretch' };
  const tiles: TileSpec | undefined = auto.tiles ? { size: auto.tiles.size, stride: auto.tiles.stride, sigma: auto.tiles.sigma } : undefined;
  if (tiles) checkTileSpec(tiles); // before the images are decoded
  // a tiled model's network is the size of a tile and half as wide (TILE_WIDTH); the images keep their working size
  const netSize = tiles ? { height: tiles.size, width: tiles.size } : { height, width };
  const whole = defaultArchitecture({ ...netSize, channels: preprocessing.channels }, o.architecture);
  const architecture = auto.tiles && !o.architecture?.filters ? { ...whole, filters: whole.filters.map((f) => Math.max(1, Math.round(f * auto.tiles!.width))) } : whole;
  // a tiled model's image scores are error peaks, and its mean code says little: the errors are fused
  // a tiled model's image score is the peak of its 1 - SSIM map: on the boards above the fusion of
  // both errors in each of four tiled configurations (0.957 against 0.948 by default), level on
  // tiled plates (docs/BENCHMARKS.md, session 10)
  const combine = o.combine ?? (tiles ? ['ssim'] as BaseScore[] : defaultCombine(!!transformOpts));
  if (tiles && o.combine === undefined) auto.reasons.push('combined of ssim: tiled model, the peak of its 1 − SSIM map');
  const batchSize = auto.batchSize;
  const epochs = auto.epochs;
  const lr = o.lr ?? 1e-3;
  const loss: LossName = auto.loss;
  let fusion: Fusion = auto.fusion;
  const score: ScoreKind = o.score ?? 'combined';
  const threshold: ThresholdOption = o.threshold ?? { method: 'quantile', q: 0.95 };
  // End of the defaults.
  o.onSettings?.(auto);

  const planFor = (idx: number[], augment?: AugmentOptions) =>
    planBatches({ source, indices: idx, preprocessing, batchSize, device, seed, augment, strict: o.strict, onWarning: warn, cache: !!tiles });
  let trainPlan: BatchPlan | undefined, valPlan: BatchPlan | undefined;
  let aae: AdversarialAutoencoder | undefined, model: ConvAutoencoder | undefined;
  let transform: TransformParts | undefined, kde: LatentKDE | undefined, segmenter: SegmenterNet | undefined;
  try {
    trainPlan = await planFor(train, o.augment);
    valPlan = await planFor(val);
    aae = o.model === 'aae' ? new AdversarialAutoencoder(architecture, { seed, ...o.aae }).to(device) : undefined;
    model = aae ? aae.ae : new ConvAutoencoder(architecture).to(device);
    const optOptions = { optimizer: o.optimizer ?? 'adam', lr, weightDecay: o.weightDecay ?? (o.optimizer === 'adamw' ? 0.01 : 0) } as const;
    const task = aae
      ? new AaeTask(aae, loss, optOptions, trainPlan, o.aae)
      : tiles ? new TiledAutoencoderTask(model, loss, optOptions, tiles.size, auto.tiles!.perStep, seed) : new AutoencoderTask(model, loss, optOptions);
    const scorer = scorerFor(model, tiles, auto.densityInput);
    const schedule = makeSchedule(lr, o.schedule === 'constant' ? { kind: 'constant' } : o.schedule === 'step' ? { kind: 'step', every: Math.max(1, Math.round(epochs / 3)), gamma: 0.1 } : { kind: 'cosine', epochs });
    let summary: TrainingSummary;
    let rejected: number[] = [];
    let rejectedSummary: RejectedSummary | undefined;
    try {
      summary = await runTraining(task, {
        epochs, schedule, train: trainPlan, val: valPlan, patience: o.patience, checkpointDir: o.checkpointDir, resume: o.resume,
        seed, progress: o.progress, onEpochEnd: o.onEpochEnd, signal,
        // what --resume compares with the checkpoint's
        settings: { model: o.model ?? 'ae', aae: o.aae, loss, epochs, batchSize, ...optOptions, schedule: o.schedule ?? 'cosine', architecture, preprocessing, tiles, augment: o.augment, seed, valFraction, trainImages: train.length, validationImages: val.length },
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

    transform = transformOpts
      ? await trainTransformNet(transformOpts, { source, train: withoutRejected(train, source, rejectedSummary?.ids), preprocessing, device, seed, strict: o.strict, warn, progress: o.progress, signal })
      : undefined;

    // a whole-image photograph's reconstruction errors join the default fusion only if they see
    // pasted patches (src/scoring/patch-check.ts; auto.patchCheck says when)
    let fused = combine;
    if (o.combine === undefined && auto.patchCheck) {
      const checkPlan = await planFor(train.slice(0, PATCH_IMAGES));
      try {
        const check = await pastedPatchCheck(scorer, checkPlan, { seed, signal });
        fused = keepPatchSeeing(combine, check);
        auto.reasons.push(patchCheckReason(combine, fused, check));
      } finally {
        checkPlan.dispose();
      }
    }
    // the synthetic-anomaly segmenter, when the rules or the caller want it (src/config/auto.ts)
    const seg = segmenterRule(auto, user, fused);
    if (seg.train) {
      segmenter = await trainSegmenter(segmenterOpts, {
        source, train: withoutRejected(train, source, rejectedSummary?.ids), preprocessing, device, seed, strict: o.strict, warn, progress: o.progress, signal,
      });
      if (o.combine === undefined) fused = [...fused, 'segment'];
      // the segmenter's line replaces the fusion's; in place, since onSettings' callers hold this array
      if (seg.fusion !== fusion) auto.reasons.splice(0, auto.reasons.length, ...auto.reasons.filter((r) => !r.startsWith('fusion ')));
      fusion = seg.fusion;
      if (seg.reason) auto.reasons.push(seg.reason);
    }
    const extra = { transform: scorerOf(transform), segment: segmenter && segmentScorerOf(segmenter) };

    // Density of the training codes (for the robust AAE: of the images it kept), then every
    // score's statistics and threshold on validation images.
    const byContamination = threshold.method === 'contamination';
    // the training images' errors (and the classifier's score, a forward per transformation)
    // matter to a contamination threshold only; else the density's inputs come from the encoder alone
    const trainScores = byContamination ? await scoreBatches(scorer, trainPlan, { ...extra, signal }) : undefined;
    const trainCodes = trainScores ?? await encodeBatches(scorer, trainPlan, { signal });
    kde = new LatentKDE({
      bandwidth: o.bandwidth ?? 'scott', device, seed, estimator: auto.densityEstimator,
      ...(auto.densityEstimator === 'knn' ? { k: STATS_NEIGHBOURS, groups: densityInputGroups(auto.densityInput, architecture) } : {}),
    });
    kde.fit(rejected.length ? keptCodes(trainCodes, new Set(rejected)) : trainCodes.codes, trainCodes.latent);
    // one pass over the validation images for the thresholds and the report's error colour scale
    const validation = await scoreBatches(scorer, valPlan, { ...extra, maps: 'mse', signal });
    const post = calibrate({ validation, kde, train: trainScores, combine: fused, fusion, threshold, score, recon: reconKind(loss) });
    const facts = reportFacts(validation.maps ?? [], input); // src/scoring/report-facts.ts
    const state: DetectorState = {
      preprocessing, loss, architecture, ...(tiles ? { tiles } : {}),
      ...(auto.densityInput !== 'code' ? { densityInput: auto.densityInput } : {}),
      ...(transformOpts ? { transforms: transformOpts } : {}),
      ...(segmenter ? { segmenter: segmenterOpts } : {}),
      training: {
        ...summary, items: trainPlan.usableCount, validationItems: val === train ? 0 : valPlan.usableCount, device, engine: `libtorch ${engineInfo().torch}`,
        batchSize, settings: auto.reasons,
        ...(rejectedSummary ? { rejected: rejectedSummary } : {}),
        seed, valFraction, threshold, ...(o.normalClass !== undefined ? { normalClass: o.normalClass } : {}), ...facts,
        trainingIds: sketchIds(train.map((i) => source.items[i].id)),
      },
    };
    return { model, kde, post, state, device, aae, transform, segmenter };
  } catch (e) {
    disposeTransform(transform);
    segmenter?.dispose();
    kde?.dispose();
    if (aae) aae.dispose(); else model?.dispose();
    throw e;
  } finally {
    trainPlan?.dispose();
    valPlan?.dispose();
  }
}

/** The base scores of scored images: reconstruction errors, the density of their codes, the classifier's when there is one. */
export function withDensity(raw: Pick<RawScores, 'mse' | 'ssim' | 'codes' | 'transform' | 'segment'>, kde: LatentKDE): BaseRecord<Float32Array> {
  return { mse: raw.mse, ssim: raw.ssim, density: kde.score(raw.codes), ...(raw.transform ? { transform: raw.transform } : {}), ...(raw.segment ? { segment: raw.segment } : {}) };
}

/** The codes of the training images that were not rejected. */
function keptCodes(raw: EncodedImages, rejected: Set<number>): Float32Array {
  const d = raw.latent;
  const keep = raw.indices.map((idx, i) => [idx, i] as const).filter(([idx]) => !rejected.has(idx)).map(([, i]) => i);
  const out = new Float32Array(keep.length * d);
  keep.forEach((i, j) => out.set(raw.codes.subarray(i * d, (i + 1) * d), j * d));
  return out;
}

/**
 * The training and validation images of a fit: the source's images (for a class-per-folder input
 * with a normal class, only that class), split by the seed; with fewer than 20 images the
 * thresholds are fitted on the training images themselves.
 */
export function trainingSplit(
  source: ImageSource, input: DetectorInput,
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
 * The post-processing of a detector, fitted on the validation images' scores (a contamination
 * threshold reads the training images' scores, `train`, instead).
 */
export function calibrate(c: {
  validation: RawScores; kde: LatentKDE; train?: RawScores;
  combine: BaseScore[]; fusion?: Fusion; threshold: ThresholdOption; score: ScoreKind; recon: 'mse' | 'ssim';
}): PostProcessor {
  return PostProcessor.fit({
    validation: withDensity(c.validation, c.kde), training: c.train ? withDensity(c.train, c.kde) : undefined,
    combine: c.combine, fusion: c.fusion, threshold: c.threshold, score: c.score, recon: c.recon,
  });
}

/** The training images minus those the robust AAE rejected (by id): what the transformation classifier learns from. */
export function withoutRejected(train: number[], source: ImageSource, rejectedIds: string[] | undefined): number[] {
  if (!rejectedIds?.length) return train;
  const out = new Set(rejectedIds);
  return train.filter((i) => !out.has(source.items[i].id));
}
