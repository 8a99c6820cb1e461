/**
 * The Detector: learns what normal images look like and scores new ones.
 *
 * ```ts
 * import { Detector } from 'vigil';
 * const det = await Detector.fit('photos/good', { size: 64, epochs: 20 });
 * const results = await det.score('photos/new');      // [{ id, score, isAnomaly, scores, flags }]
 * const verdicts = await det.predict('photos/new');   // [{ id, isAnomaly, score, threshold }]
 * for await (const r of det.scoreStream('photos/huge')) console.log(r.id, r.score); // one at a time
 * det.save('model');                                  // synchronous
 * const again = Detector.load('model');               // identical scores in another process
 * det.dispose(); again.dispose();                     // frees the native memory
 * ```
 *
 * scikit-learn/PyOD conventions: `fit` learns, `score` returns anomaly scores (higher = more
 * anomalous) with their verdicts, `predict` only the verdicts against the thresholds fitted on
 * normal validation images. Every verdict comes from the post-processing component
 * (src/postprocess/postprocessor.ts), which is saved with the model.
 */
import type { AbortSignalLike } from '../util/abort.js';
import type { Tensor } from '../engine/index.js';
import { resolveDevice } from '../engine/index.js';
import type { ImageSource, Preprocessing } from '../data/types.js';
import { ConvAutoencoder, type Architecture } from '../models/autoencoder.js';
import type { TileSpec } from '../models/tile-spec.js';
import { AdversarialAutoencoder, type AaeJSON } from '../models/aae.js';
import { planBatches, type BatchPlan } from '../train/batches.js';
import { tensorsUnder } from '../train/autoencoder-task.js';
import { scoreBatchStream, scoreBatches, type RawScores, type Reconstructor } from '../scoring/reconstruction.js';
import { LatentKDE } from '../scoring/kde.js';
import { fitThreshold, type ThresholdSpec } from '../scoring/threshold.js';
import { evaluate as evaluateScores, pixelAuroc, type EvaluationSummary } from '../eval/metrics.js';
import { saveBundle, loadBundle } from '../bundle/bundle.js';
import { validateManifest, MODEL_FORMAT, MANIFEST_VERSION, type ModelManifest } from '../bundle/manifest.js';
import { checkCombine, type BaseScore, type ScoreKind, type ScoreRecord } from '../postprocess/kinds.js';
import { PostProcessor } from '../postprocess/postprocessor.js';
import { VERSION } from '../version.js';
import type { MapKind } from '../scoring/reconstruction.js';
import { overlap } from '../data/fingerprint.js';
import { inspectImages, type Inspection, type InspectOptions } from '../scoring/inspect.js';
import { resolveImages } from './input.js';
import { fitDetector, trainingSplit, calibrate, withDensity, withoutRejected, reconKind, mapKindFor, scorerFor, type DetectorParts, type DetectorState, type TrainingInfo } from './fit.js';
import { buildTransformNet, disposeTransform, resolveTransformOptions, scorerOf, trainTransformNet, type TransformParts } from './transforms.js';
import { buildSegmenter, segmentScorerOf } from './segmenter.js';
import type { SegmenterNet } from '../models/segmenter.js';
import type { DetectorInput, DetectorOptions, ImageScore, Prediction, ResolvedSegmenterOptions, ResolvedTransformOptions, ScoreOptions, TransformOptions } from './options.js';

export class Detector {
  private readonly model: ConvAutoencoder;
  /** What scores images: the model, or its tiled wrapper for a model of tiles. */
  private readonly scorer: Reconstructor;
  private readonly kde: LatentKDE;
  private post: PostProcessor;
  private readonly state: DetectorState;
  readonly device: string;
  /** The adversarial autoencoder when the model is 'aae' (it owns `model`). */
  private readonly aae?: AdversarialAutoencoder;
  /** The transformation classifier, when trained (`transforms`). */
  private readonly transform?: TransformParts;
  /** The synthetic-anomaly segmenter, when trained (`segmenter`). */
  private readonly segmenter?: SegmenterNet;

  private constructor(p: DetectorParts) {
    this.model = p.model;
    this.scorer = scorerFor(p.model, p.state.tiles, p.state.densityInput);
    this.kde = p.kde;
    this.post = p.post;
    this.state = p.state;
    this.device = p.device;
    this.aae = p.aae;
    this.transform = p.transform;
    this.segmenter = p.segmenter;
  }

  /** The per-batch scorers of the networks beside the autoencoder, for scoreBatches. */
  private extraScorers(transform = this.transform) {
    return { transform: scorerOf(transform), segment: segmentScorerOf(this.segmenter) };
  }

  /** The scores this detector computes: 'transform' and 'segment' only with their networks. */
  get scoreKinds(): ScoreKind[] { return this.post.kinds; }

  /** 'ae' (plain autoencoder) or 'aae' (robust adversarial autoencoder). */
  get modelKind(): 'ae' | 'aae' { return this.aae ? 'aae' : 'ae'; }

  get preprocessing(): Preprocessing { return this.state.preprocessing; }
  /** The tiles of a model of tiles (src/models/tiled.ts), else undefined. */
  get tiles(): TileSpec | undefined { return this.state.tiles; }
  /** Images per batch of a model of tiles when scoring or inspecting, unless asked: a batch of large tiled images holds thousands of tiles. */
  private get tiledBatchSize(): number | undefined { return this.state.tiles ? 8 : undefined; }
  get architecture(): Architecture { return this.state.architecture; }
  get thresholds(): ScoreRecord<ThresholdSpec> { return this.post.thresholds; }
  get scoreKind(): ScoreKind { return this.post.scoreKind; }
  /** The scores fused by 'combined'. */
  get combine(): BaseScore[] { return this.post.combine; }
  /** The error map of this model's images (src/detector/fit.ts, mapKindFor): what evaluate, reports, the server and `vigil score --maps` show. */
  get mapKind(): MapKind { return mapKindFor(this.state.loss, this.post.combine); }
  get training(): TrainingInfo | undefined { return this.state.training; }
  /** Statistics, fusion, thresholds and the verdict rule: what turns raw scores into verdicts (for reports and services). */
  get postprocessor(): PostProcessor { return this.post; }

  /** Trains on normal images: a folder, a spec such as `builtin:fashion-mnist`, files, or an ImageSource. */
  static async fit(input: DetectorInput, options: DetectorOptions = {}): Promise<Detector> {
    return new Detector(await fitDetector(input, options));
  }

  /**
   * A copy of this detector with the transformation classifier added: trained on the same
   * training images (pass the same input as to `fit`), its score fused into `combined`, the
   * statistics and thresholds refitted on the same validation images. The autoencoder and the
   * latent density are copied, not retrained, so trying the classifier on a trained model costs
   * only the classifier. On the CPU the result equals `fit(input, { ...options, transforms })`.
   */
  async withTransforms(
    input: DetectorInput,
    transforms: true | TransformOptions = true,
    options: { combine?: BaseScore[]; batchSize?: number; strict?: boolean; progress?: boolean; onWarning?: (message: string) => void; signal?: AbortSignalLike } = {},
  ): Promise<Detector> {
    const t = this.state.training;
    if (this.transform) throw new Error('withTransforms: this detector already has the transformation classifier');
    if (this.state.tiles) throw new Error('withTransforms: the transformation classifier needs a whole-image model; this one learned tiles (train with tiles: false)');
    if (t?.seed === undefined || t.valFraction === undefined || !t.threshold) {
      throw new Error('withTransforms: this model was saved by an earlier vigil, without its training split; train it again');
    }
    const warn = options.onWarning ?? (() => {});
    const transformOpts = resolveTransformOptions(transforms === true ? {} : transforms);
    const combine = options.combine ?? (this.post.combine.includes('transform') ? this.post.combine : [...this.post.combine, 'transform']);
    checkCombine(combine, { transform: true, segment: this.segmenter });
    const source = await resolveImages(input, { normalClass: t.normalClass, strict: options.strict, onWarning: warn, validate: (item) => item.label !== 1 });
    const { train, val } = trainingSplit(source, input, { normalClass: t.normalClass, valFraction: t.valFraction, seed: t.seed, warn: () => {} });
    const validationItems = val === train ? 0 : val.length;
    if (train.length !== t.items || validationItems !== t.validationItems) {
      throw new Error(`withTransforms: the detector was trained on ${t.items} + ${t.validationItems} images, the input gives ${train.length} + ${validationItems}: pass the input given to fit`);
    }
    const { preprocessing } = this.state;
    const seed = t.seed;
    const transform = await trainTransformNet(transformOpts, {
      source, train: withoutRejected(train, source, t.rejected?.ids), preprocessing, device: this.device, seed, strict: options.strict, warn, progress: options.progress, signal: options.signal,
    });
    const planFor = (idx: number[]) => planBatches({ source, indices: idx, preprocessing, batchSize: options.batchSize ?? 128, device: this.device, seed, strict: options.strict, onWarning: warn });
    let copy: Detector | undefined;
    let valPlan: BatchPlan | undefined, trainPlan: BatchPlan | undefined;
    try {
      copy = this.clone();
      valPlan = await planFor(val);
      let trainScores: RawScores | undefined;
      if (t.threshold.method === 'contamination') {
        trainPlan = await planFor(train);
        trainScores = await scoreBatches(copy.scorer, trainPlan, { ...copy.extraScorers(transform), signal: options.signal });
      }
      const validation = await scoreBatches(copy.scorer, valPlan, { ...copy.extraScorers(transform), signal: options.signal });
      const post = calibrate({
        validation, kde: copy.kde, train: trainScores, combine, fusion: this.post.fusion, threshold: t.threshold,
        score: this.post.scoreKind, recon: this.post.recon,
      });
      const state: DetectorState = { ...copy.state, transforms: transformOpts };
      return new Detector({ model: copy.model, kde: copy.kde, post, state, device: this.device, aae: copy.aae, transform, segmenter: copy.segmenter });
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
      return Detector.fromBundle({ format: MODEL_FORMAT, version: MANIFEST_VERSION, ...manifest }, tensors, this.device, 'clone');
    } finally {
      release();
    }
  }

  /**
   * Scores images: a folder, a file, a list of files, a spec such as `builtin:mnist:test`, or a
   * source. One record per readable image, in input order (unreadable ones are skipped with a
   * warning, or an error with `strict`).
   */
  async score(input: DetectorInput, options: ScoreOptions = {}): Promise<ImageScore[]> {
    const out: ImageScore[] = [];
    for await (const r of this.scoreStream(input, options)) out.push(r);
    return out;
  }

  /**
   * Like score, one record at a time as the batches are scored, in input order, so memory stays
   * flat whatever the number of images. Stopping the loop early frees what the stream holds.
   */
  async *scoreStream(input: DetectorInput, options: ScoreOptions = {}): AsyncGenerator<ImageScore> {
    const source = await this.open(input, options);
    for await (const b of this.scoredBatches(source, source.items.map((_, i) => i), options)) yield* b.results;
  }

  /**
   * The verdicts only (PyOD's `predict`): per image its id, `isAnomaly`, the score it was decided
   * on and that score's threshold. Takes the inputs and options of `score`.
   */
  async predict(input: DetectorInput, options: Omit<ScoreOptions, 'maps'> = {}): Promise<Prediction[]> {
    const kind = this.resolveKind(options.score);
    const threshold = this.post.thresholds[kind]!.value;
    const out: Prediction[] = [];
    for await (const r of this.scoreStream(input, { ...options, maps: false })) out.push({ id: r.id, isAnomaly: r.isAnomaly, score: r.score, threshold });
    return out;
  }

  /** Scores labelled images (normal class, MVTec test split, built-in test set) and computes metrics. */
  async evaluate(input: DetectorInput, options: ScoreOptions = {}): Promise<{ summary: ScoreRecord<EvaluationSummary>; pixelAuroc?: number; results: ImageScore[] }> {
    const source = await this.open(input, options);
    const labelled = source.items.map((_, i) => i).filter((i) => source.items[i].label !== undefined);
    if (labelled.length === 0) {
      throw new Error(`${typeof input === 'string' ? input : 'source'}: no labelled images to evaluate (give the normal class with --normal-class, or use an MVTec test folder)`);
    }
    const hasMasks = source.items.some((i) => i.maskPath !== undefined);
    const results: ImageScore[] = [];
    const masks: (Float32Array | undefined)[] = [];
    const mapKind = this.mapKind;
    for await (const b of this.scoredBatches(source, labelled, { ...options, maps: options.maps ?? (hasMasks ? mapKind : false) })) {
      results.push(...b.results);
      masks.push(...(b.masks ?? b.results.map(() => undefined)));
    }
    const seen = overlap(this.state.training?.trainingIds, results.map((r) => r.id));
    if (seen?.estimate) {
      options.onWarning?.(`${seen.found.length === seen.estimate ? '' : 'about '}${seen.estimate} of the ${results.length} images evaluated (e.g. ${seen.found[0]}) are images this model was trained on; their scores are optimistic (the density model holds their codes): evaluate on held-out images`);
    }
    const labels = results.map((r) => r.label!);
    const summary = {} as ScoreRecord<EvaluationSummary>;
    for (const k of this.scoreKinds) summary[k] = evaluateScores(results.map((r) => r.scores[k]!), labels, this.post.thresholds[k]!);
    let pix: number | undefined;
    const pairs = results.map((r, i) => [r.map, masks[i]] as const).filter(([m, mask]) => m !== undefined && mask !== undefined);
    if (pairs.length) {
      try { pix = pixelAuroc(pairs.map(([m]) => m!), pairs.map(([, mask]) => mask!)); } catch { pix = undefined; }
    }
    return { summary, pixelAuroc: pix, results };
  }

  private open(input: DetectorInput, options: ScoreOptions): Promise<ImageSource> {
    return resolveImages(input, { normalClass: options.normalClass, strict: options.strict, split: 'test', onWarning: options.onWarning ?? (() => {}) });
  }

  /** The records of each batch, as it is scored; `masks` are the batch's ground-truth masks when the source has them. */
  private async *scoredBatches(source: ImageSource, indices: number[], options: ScoreOptions): AsyncGenerator<{ results: ImageScore[]; masks?: (Float32Array | undefined)[] }> {
    const kind = this.resolveKind(options.score);
    const plan = await planBatches({
      source, indices, preprocessing: this.state.preprocessing, batchSize: options.batchSize ?? this.tiledBatchSize ?? 256, device: this.device, seed: 0,
      strict: options.strict, onWarning: options.onWarning ?? (() => {}),
    });
    try {
      const batches = scoreBatchStream(this.scorer, plan, { maps: options.maps || undefined, onBatch: options.onProgress, ...this.extraScorers(), signal: options.signal });
      for await (const b of batches) {
        const s = this.post.scores(withDensity(b, this.kde));
        const results = b.indices.map((idx, i): ImageScore => {
          const item = source.items[idx];
          const scores = Object.fromEntries(this.scoreKinds.map((k) => [k, s[k]![i]!])) as ScoreRecord<number>;
          const { score, isAnomaly, flags } = this.post.decide(scores, { score: kind, rule: options.rule });
          const r: ImageScore = { id: item.id, score, isAnomaly, scores, flags };
          if (item.label !== undefined) r.label = item.label;
          if (item.className !== undefined) r.className = item.className;
          if (b.maps) r.map = b.maps[i];
          return r;
        });
        yield { results, masks: b.masks };
      }
    } finally {
      plan.dispose();
    }
  }

  /** The score a request ranks by: the model's own, or one named ('recon' = the training loss's error). */
  resolveKind(requested?: ScoreKind | 'recon'): ScoreKind {
    return this.post.resolveKind(requested);
  }

  /** Sets the threshold of the ranking score from labelled examples (best F1) or a fixed value. */
  async calibrate(input: DetectorInput, how: { method: 'f1' } | { method: 'fixed'; value: number }, options: ScoreOptions = {}): Promise<ThresholdSpec> {
    const kind = this.post.scoreKind;
    if (how.method === 'fixed') {
      this.post = this.post.withThreshold(kind, fitThreshold({ method: 'fixed', value: how.value }).spec);
      return this.post.thresholds[kind]!;
    }
    const { results } = await this.evaluate(input, options);
    const { spec, warning } = fitThreshold({ method: 'f1', scores: results.map((r) => r.scores[kind]!), labels: results.map((r) => r.label!) });
    if (warning) options.onWarning?.(warning);
    this.post = this.post.withThreshold(kind, spec);
    return spec;
  }

  /** Writes the model folder atomically. Synchronous: the folder is complete when it returns. */
  save(dir: string): void {
    const { manifest, tensors, release } = this.bundle();
    try {
      saveBundle(dir, manifest, tensors);
    } finally {
      release();
    }
  }

  /** Loads a model folder written by save() (or `vigil train`). Synchronous. The manifest is checked first (src/bundle/manifest.ts). */
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
    if (this.segmenter) for (const [k, t] of this.segmenter.stateDict()) tensors.set(`segmenter.${k}`, t);
    const manifest = {
      vigilVersion: VERSION,
      model: this.aae ? 'aae' : 'autoencoder',
      ...(this.aae ? { aae: this.aae.toJSON() } : {}),
      loss: this.state.loss,
      architecture: this.state.architecture,
      preprocessing: this.state.preprocessing,
      ...(this.state.tiles ? { tiles: this.state.tiles } : {}),
      ...(this.state.densityInput ? { densityInput: this.state.densityInput } : {}),
      ...this.post.toState(),
      density: kdeState.json,
      ...(this.state.transforms ? { transforms: this.state.transforms } : {}),
      ...(this.state.segmenter ? { segmenter: this.state.segmenter } : {}),
      training: this.state.training,
    };
    return { manifest, tensors, release: () => { for (const t of kdeState.tensors.values()) t.dispose(); } };
  }

  /** A detector from a manifest and its tensors (copied: the caller still owns `tensors`); `where` names the source in errors. */
  private static fromBundle(raw: unknown, tensors: Map<string, Tensor>, device: string, where: string): Detector {
    const m: ModelManifest = validateManifest(raw, `${where}/manifest.json`);
    const architecture = m.architecture;
    const weights = `${where}/weights.safetensors`;
    const aae = m.model === 'aae' ? AdversarialAutoencoder.fromJSON(architecture, m.aae as AaeJSON).to(device) : undefined;
    const model = aae ? aae.ae : new ConvAutoencoder(architecture).to(device);
    let transform: TransformParts | undefined;
    let segmenter: SegmenterNet | undefined;
    try {
      if (aae) {
        aae.loadStateDict(new Map([...tensors].filter(([k]) => k.startsWith('model.') || k.startsWith('disc.'))), weights);
      } else {
        model.loadStateDict(tensorsUnder('model', tensors), weights);
      }
      model.eval();
      if (m.transforms !== undefined) {
        transform = buildTransformNet(m.transforms as ResolvedTransformOptions, architecture, device);
        transform.net.loadStateDict(tensorsUnder('transform', tensors), weights);
        transform.net.eval();
      }
      if (m.segmenter !== undefined) {
        segmenter = buildSegmenter(m.segmenter as ResolvedSegmenterOptions, m.preprocessing.channels, device);
        segmenter.loadStateDict(tensorsUnder('segmenter', tensors), weights);
        segmenter.eval();
      }
      const post = new PostProcessor({ score: m.score, combine: m.combine, ...(m.fusion !== undefined ? { fusion: m.fusion } : {}), thresholds: m.thresholds, scoreStats: m.scoreStats }, reconKind(m.loss));
      const kde = LatentKDE.fromState(m.density, tensors, device);
      const state: DetectorState = {
        preprocessing: m.preprocessing, loss: m.loss, architecture, training: m.training as TrainingInfo | undefined,
        ...(m.tiles !== undefined ? { tiles: m.tiles } : {}),
        ...(m.densityInput !== undefined ? { densityInput: m.densityInput } : {}),
        ...(m.transforms !== undefined ? { transforms: m.transforms as ResolvedTransformOptions } : {}),
        ...(m.segmenter !== undefined ? { segmenter: m.segmenter as ResolvedSegmenterOptions } : {}),
      };
      return new Detector({ model, kde, post, state, device, aae, transform, segmenter });
    } catch (e) {
      disposeTransform(transform);
      segmenter?.dispose();
      if (aae) aae.dispose(); else model.dispose();
      throw e;
    }
  }

  /** Per image: the preprocessed input, its reconstruction, error map and latent code (for reports; src/scoring/inspect.ts). */
  async inspect(input: DetectorInput, options: InspectOptions & { normalClass?: string | string[] } = {}): Promise<Inspection[]> {
    const source = await resolveImages(input, { normalClass: options.normalClass, strict: options.strict, split: 'test', onWarning: options.onWarning });
    return inspectImages(this.scorer, source, { preprocessing: this.state.preprocessing, device: this.device }, { ...options, map: options.map ?? this.mapKind, batchSize: options.batchSize ?? this.tiledBatchSize });
  }

  /** Frees the native memory held by the model. */
  dispose(): void {
    if (this.aae) this.aae.dispose(); else this.model.dispose();
    disposeTransform(this.transform);
    this.segmenter?.dispose();
    this.kde.dispose();
  }
}
