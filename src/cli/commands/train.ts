import type { DensityInput } from '../../scoring/density-input.js';
import type { Command } from '../main.js';
import { UsageError, type Parsed } from '../args.js';
import { dataOptions, deviceOption, scoreKindOption, applyThreads, applyMaxPixels, warn } from '../shared.js';
import { checkOutputPath } from '../validate.js';
import { LOSSES } from '../../train/losses.js';
import { parseThresholdOption } from '../threshold-option.js';
import { BASE_SCORES, type BaseScore } from '../../detector.js';
import { REJECT_BY, type RejectBy } from '../../models/aae.js';

const AUGMENTATIONS = ['hflip', 'vflip', 'rotate', 'shift', 'brightness', 'contrast'];

function checkReject(raw: string): void {
  if (raw !== 'auto' && !(raw.trim() !== '' && Number(raw) >= 0 && Number(raw) < 1)) throw new Error(`must be a fraction in [0, 1) or auto, got '${raw}'`);
}

const command: Command = {
  spec: {
    name: 'train',
    summary: 'train a detector on normal images and write a model folder',
    usage: 'vigil train <images> [--out model] [options]',
    positionals: [{ name: 'images', help: 'Folder of normal images, class folders (with --normal-class), an MVTec category, an IDX file, or builtin:mnist / builtin:fashion-mnist', required: true }],
    options: {
      out: { type: 'string', alias: 'o', help: 'Model folder to write', default: 'vigil-model', value: 'dir' },
      size: { type: 'integer', help: 'Model input size in pixels (default: native size of IDX data, else the images\' smaller side, at most 256)', value: 'px', min: 8, max: 512 },
      channels: { type: 'string', help: '1 (grayscale) or 3 (RGB) (default: from the images)', value: 'n', choices: ['1', '3'] },
      resize: { type: 'string', help: 'How images are fitted to the size', choices: ['stretch', 'crop'], default: 'stretch' },
      ...dataOptions,
      model: { type: 'string', help: 'ae: plain convolutional autoencoder; aae: robust adversarial autoencoder (for training sets that contain some anomalies)', choices: ['ae', 'aae'], default: 'ae' },
      prior: { type: 'string', help: 'aae: latent prior, a mixture of Gaussians (default) or N(0, I)', choices: ['gmm', 'normal'], value: 'kind' },
      components: { type: 'integer', help: 'aae: mixture components of --prior gmm (default 10)', value: 'n', min: 1 },
      reject: { type: 'string', help: 'aae: fraction of training images left out of each epoch after the warm-up, or auto (default 0.05)', value: 'f|auto', validate: checkReject },
      'reject-by': { type: 'string', help: 'aae: rank images for rejection by the prior likelihood of their code, its rank average with the reconstruction error, or both with the distance to the nearest training codes (default)', choices: [...REJECT_BY], value: 'rank' },
      warmup: { type: 'integer', help: 'aae: epochs on every image before rejection starts (default 2)', value: 'n', min: 0 },
      tiles: { type: 'boolean', help: 'Learn tiles of the images at their own resolution (up to 1024 px) instead of the whole image shrunk to at most 256 px: finds defects a few pixels wide in large images; about 30 minutes on 2 CPU cores, under a minute on a GPU (default: when shrinking the images would lose more than 1.5% of their detail)' },
      'no-tiles': { type: 'boolean', help: 'Keep the whole image shrunk to at most 256 px, even when shrinking loses detail' },
      'tile-size': { type: 'integer', help: 'With tiles: the side of the tiles (default 32)', value: 'px', min: 8, max: 1024 },
      'tile-stride': { type: 'integer', help: 'With tiles: score every this many px (default half the tile; a quarter: circuit boards 0.948 -> 0.957, five times the scoring time)', value: 'px', min: 1, max: 1024 },
      arch: { type: 'string', help: 'Autoencoder layout: strided convs, or max pooling + upsampling', choices: ['strided', 'pooling'], default: 'strided' },
      filters: { type: 'list', help: 'Filters per encoder block, e.g. 32,64,128 (default: by size; a tile net half as many)', value: 'list', itemMin: 1 },
      latent: { type: 'integer', help: 'Bottleneck size (default: 32 to 128 by size)', value: 'n', min: 1 },
      dropout: { type: 'number', help: 'Dropout before the bottleneck', default: 0, value: 'p', min: 0, below: 1 },
      epochs: { type: 'integer', alias: 'e', help: 'Training epochs (default: enough for 600 optimizer steps; at least 30 for images of 64 px or less)', value: 'n', min: 1 },
      'batch-size': { type: 'integer', alias: 'b', help: 'Images per batch (default: 128 up to 32 px, 64 up to 64 px, 32 up to 128 px, else 16; at most a quarter of the images)', value: 'n', min: 1 },
      lr: { type: 'number', help: 'Learning rate', default: 1e-3, value: 'rate', above: 0 },
      optimizer: { type: 'string', help: 'Optimizer', choices: ['adam', 'adamw'], default: 'adam' },
      'weight-decay': { type: 'number', help: 'Weight decay (default: 0 for adam, 0.01 for adamw)', value: 'w', min: 0 },
      schedule: { type: 'string', help: 'Learning-rate decay', choices: ['cosine', 'step', 'constant'], default: 'cosine' },
      loss: { type: 'string', help: 'Training loss (default: mse+ssim for inputs of 48 px or more, else mse)', choices: LOSSES as string[] },
      patience: { type: 'integer', help: 'Early stopping: epochs without validation improvement (0 = off)', default: 0, value: 'n', min: 0 },
      'val-split': { type: 'number', help: 'Fraction of normal images held out for validation and the threshold', default: 0.1, value: 'f', min: 0, below: 1 },
      augment: { type: 'list', help: 'Augmentations', value: 'list', choices: AUGMENTATIONS },
      score: { ...scoreKindOption, default: 'combined' },
      'density-input': { type: 'string', help: "What the latent density reads: the bottleneck code, the channel statistics of the encoder's blocks, or those after the image's own colour, gradient and edge-direction statistics (default: image+stats for whole-image photographs of 48 px on, else code)", choices: ['code', 'stats', 'image+stats'] },
      'density-estimator': { type: 'string', help: 'How the latent density is estimated: gaussian kernels (a KDE) or the 5 nearest training images (default: knn when the density reads the statistics, else gaussian)', choices: ['gaussian', 'knn'] },
      fusion: { type: 'string', help: 'How the combined score fuses the z-scores of its scores: their mean or the largest (default: the largest from 48 px on, as for photographs, else the mean; see docs/BENCHMARKS.md)', choices: ['mean', 'max'] },
      combine: { type: 'list', help: 'Scores fused by the combined score (default ssim,density, plus transform with --transforms; the pasted-patch check keeps those that see local changes and adds segment)', value: 'list', choices: BASE_SCORES as string[] },
      transforms: { type: 'boolean', help: 'Also train a classifier of flips, shifts and quarter turns and fuse its score: better for objects with an up and a left, not for rotation-invariant images; about 70 passes per image (GPU advised)' },
      segmenter: { type: 'boolean', help: 'Train a small U-Net to outline blobs of other training images blended into normal ones, and fuse its score: finds small local defects (spots, stains) (default: when the reconstruction errors see pasted patches, as for cells and metal plates)' },
      'no-segmenter': { type: 'boolean', help: 'Never train the synthetic-anomaly segmenter, even where the defaults would' },
      'segmenter-steps': { type: 'integer', help: 'Optimizer steps of the segmenter (default 1000)', value: 'n', min: 1 },
      'transform-epochs': { type: 'integer', help: 'Epochs of the transformation classifier (default 3)', value: 'n', min: 1 },
      from: { type: 'string', help: 'With --transforms: add the classifier to this trained model (give the images it was trained on) instead of training a new autoencoder; its other settings are kept', value: 'model' },
      threshold: { type: 'string', help: 'quantile:Q (of normal validation scores), contamination:C, or fixed:V', default: 'quantile:0.95', value: 'spec', validate: (s) => { parseThresholdOption(s); } },
      seed: { type: 'integer', help: 'Random seed', default: 0, value: 'n', min: 0 },
      checkpoint: { type: 'string', help: 'Checkpoint folder (default: <out>.checkpoint)', value: 'dir' },
      resume: { type: 'boolean', help: 'Continue from the checkpoint if there is one' },
      quiet: { type: 'boolean', alias: 'q', help: 'No progress output' },
      report: { type: 'boolean', help: 'Also write the offline HTML report of the training run into the model folder (<out>/report.html)' },
      watch: { type: 'number', help: 'Serve a live view of training on this port (0 = a free one): loss curves and reconstructions every epoch', value: 'port' },
      ...deviceOption,
    },
    examples: [
      'vigil train photos/good --size 128 --out bottle-model',
      'vigil train cells/ --normal-class Uninfected --size 64 --loss ssim --out cell-model',
      'vigil train builtin:fashion-mnist --normal-class 1 --epochs 20',
      'vigil train photos/good --out m --resume      # after an interruption',
      'vigil train photos/good --from m --transforms --out m2   # add the transformation classifier to model m',
      'vigil train boards/ --tiles --out board-model     # large images with small defects',
      'vigil train builtin:mnist --normal-class 1 --model aae --reject 0.1 --reject-by prior+recon   # training data with some anomalies',
    ],
  },
  async run(a) {
    const out = a.out as string;
    checkOutputPath(out, '--out', 'model');
    const checkpointDir = (a.checkpoint as string | undefined) ?? `${out}.checkpoint`;
    if (a.checkpoint !== undefined) checkOutputPath(checkpointDir, '--checkpoint', 'folder');
    (await import('../../util/lock.js')).claimFolder(out); // a second training into the same --out refuses here
    const augmentList = (a.augment as string[] | undefined) ?? [];
    const augment = augmentList.length ? {
      hflip: augmentList.includes('hflip'), vflip: augmentList.includes('vflip'),
      rotate: augmentList.includes('rotate') ? 10 : 0, shift: augmentList.includes('shift') ? 0.05 : 0,
      brightness: augmentList.includes('brightness') ? 0.1 : 0, contrast: augmentList.includes('contrast') ? 0.1 : 0,
    } : undefined;
    const channels = a.channels === undefined ? undefined : Number(a.channels) as 1 | 3;
    const filters = (a.filters as string[] | undefined)?.map(Number);
    const aaeFlags = ['prior', 'components', 'reject', 'reject-by', 'warmup'].filter((k) => a[k] !== undefined);
    if (a.model !== 'aae' && aaeFlags.length) throw new UsageError(`--${aaeFlags[0]} applies to the robust adversarial autoencoder only; add --model aae`);
    const rejectRaw = a.reject as string | undefined;
    const transforms = a.transforms || a['transform-epochs'] !== undefined ? (a['transform-epochs'] !== undefined ? { epochs: a['transform-epochs'] as number } : true as const) : undefined;
    const t0 = Date.now();
    if (a.from !== undefined) {
      if (!transforms) throw new UsageError('--from adds the transformation classifier to a trained model: add --transforms');
      await applyThreads(a.threads);
      await applyMaxPixels(a['max-pixels']);
      await addTransforms(a, transforms, out);
      return;
    }
    const watch = a.watch === undefined ? undefined : await (await import('../../server/watch.js')).watchTraining({
      port: a.watch as number, title: a._[0], epochs: a.epochs as number, input: a._[0], normalClass: a['normal-class'] as string[] | undefined,
      valFraction: a['val-split'] as number, seed: a.seed as number, size: a.size as number | undefined, channels: a.channels as 1 | 3 | undefined,
      resize: a.resize as 'stretch' | 'crop', checkpointDir, architecture: { kind: a.arch as 'strided' | 'pooling', dropout: a.dropout as number, ...(filters ? { filters } : {}), ...(a.latent !== undefined ? { latent: a.latent as number } : {}) },
    });
    if (watch) process.stderr.write(`watch training at ${watch.url}/\n`);
    const { Detector } = await import('../../detector.js');
    await applyThreads(a.threads);
    await applyMaxPixels(a['max-pixels']);
    let shownSettings = new Set<string>();
    const det = await Detector.fit(a._[0], {
      size: a.size as number | undefined,
      channels,
      resize: a.resize as 'stretch' | 'crop',
      normalClass: a['normal-class'] as string[] | undefined,
      strict: a.strict as boolean,
      architecture: {
        kind: a.arch as 'strided' | 'pooling',
        dropout: a.dropout as number,
        ...(filters ? { filters } : {}),
        ...(a.latent !== undefined ? { latent: a.latent as number } : {}),
      },
      model: a.model as 'ae' | 'aae',
      ...(a.model === 'aae' ? {
        aae: {
          prior: a.prior as 'normal' | 'gmm' | undefined,
          components: a.components as number | undefined,
          reject: rejectRaw === undefined ? undefined : rejectRaw === 'auto' ? 'auto' as const : Number(rejectRaw),
          rejectBy: a['reject-by'] as RejectBy | undefined,
          warmup: a.warmup as number | undefined,
        },
      } : {}),
      epochs: a.epochs as number | undefined,
      batchSize: a['batch-size'] as number | undefined,
      lr: a.lr as number,
      optimizer: a.optimizer as 'adam' | 'adamw',
      weightDecay: a['weight-decay'] as number | undefined,
      schedule: a.schedule as 'cosine',
      loss: a.loss as 'mse' | undefined,
      fusion: a.fusion as 'max' | 'mean' | undefined,
      densityInput: a['density-input'] as DensityInput | undefined,
      densityEstimator: a['density-estimator'] as 'gaussian' | 'knn' | undefined,
      ...(a.tiles === false ? { tiles: false } : tileChoice(a)),
      patience: a.patience as number,
      valFraction: a['val-split'] as number,
      augment,
      score: a.score as 'combined',
      ...(a.combine ? { combine: a.combine as BaseScore[] } : {}),
      ...(transforms ? { transforms } : {}),
      ...segmenterChoice(a),
      threshold: parseThresholdOption(a.threshold as string),
      seed: a.seed as number,
      device: a.device as string,
      checkpointDir,
      resume: a.resume as boolean,
      progress: !a.quiet,
      onWarning: warn,
      onSettings: (st) => { watch?.onSettings(st); shownSettings = new Set(st.reasons); if (!a.quiet) process.stderr.write(`vigil: settings from the images: ${st.reasons.join('; ')}\n`); },
      onEpochEnd: watch?.onEpochEnd,
    }).finally(() => watch?.finish());
    det.save(out);
    if (a.report) {
      const { writeReport } = await import('../../report/index.js');
      const r = await writeReport(`${out}/report.html`, det, { modelDir: out, onWarning: (m) => process.stderr.write(`warning: ${m}\n`) });
      process.stderr.write(`report: ${r.path} (${(r.bytes / 1e6).toFixed(1)} MB)\n`);
    }
    const { rmSync } = await import('node:fs');
    rmSync(checkpointDir, { recursive: true, force: true });
    const t = det.training!;
    // what the fit chose once the model was trained (the fused scores, src/scoring/patch-check.ts,
    // and the segmenter); by content, since the segmenter's rule takes the fusion's line out
    const later = (t.settings ?? []).filter((r) => !shownSettings.has(r));
    if (later.length && !a.quiet) process.stderr.write(`vigil: after training: ${later.join('; ')}\n`);
    const th = det.thresholds[det.scoreKind];
    process.stderr.write(`trained on ${t.items} images (${t.validationItems} held out) in ${t.seconds.toFixed(1)}s on ${t.device}` +
      `${t.skipped.length ? `; skipped ${t.skipped.length} unreadable` : ''}\n`);
    if (t.rejected) {
      process.stderr.write(`robust AAE: left ${t.rejected.count} training images (${(100 * t.rejected.fraction).toFixed(1)}%) out of the last epoch` +
        `${t.rejected.count ? `, e.g. ${t.rejected.ids.slice(0, 3).join(', ')}; all are listed in ${out}/manifest.json (training.rejected.ids)` : ''}\n`);
    }
    const { getNumThreads } = await import('../../engine/runtime.js');
    process.stdout.write(JSON.stringify({ model: out, score: det.scoreKind, threshold: th, epochs: t.epochs, finalLoss: t.history.at(-1)?.trainLoss, valLoss: t.history.at(-1)?.valLoss, ...(t.rejected ? { rejected: t.rejected.count } : {}), seconds: (Date.now() - t0) / 1000, threads: getNumThreads() }) + '\n');
    det.dispose();
  },
};
/** `--from MODEL --transforms`: the trained model plus the transformation classifier, written to `out`. */
async function addTransforms(a: Parsed, transforms: true | { epochs: number }, out: string): Promise<void> {
  const { Detector } = await import('../../detector.js');
  const t0 = Date.now();
  const base = Detector.load(a.from as string, { device: a.device as string });
  let det;
  try {
    det = await base.withTransforms(a._[0]!, transforms, {
      ...(a.combine ? { combine: a.combine as BaseScore[] } : {}), batchSize: a['batch-size'] as number, strict: a.strict as boolean, progress: !a.quiet, onWarning: warn,
    });
  } finally {
    base.dispose();
  }
  det.save(out);
  const seconds = (Date.now() - t0) / 1000;
  process.stderr.write(`added the transformation classifier to ${a.from as string} in ${seconds.toFixed(1)}s on ${det.device}\n`);
  process.stdout.write(JSON.stringify({ model: out, from: a.from, score: det.scoreKind, combine: det.combine, threshold: det.thresholds[det.scoreKind], seconds }) + '\n');
  det.dispose();
}

export default command;

/** --segmenter, --no-segmenter and --segmenter-steps: a step count asks for the segmenter too. */
function segmenterChoice(a: Parsed): { segmenter?: boolean | { steps: number } } {
  if (a.segmenter === false) return { segmenter: false };
  if (a['segmenter-steps'] !== undefined) return { segmenter: { steps: a['segmenter-steps'] as number } };
  return a.segmenter ? { segmenter: true } : {};
}

/** --tiles and its settings: a tile setting asks for tiles too. */
function tileChoice(a: Parsed): { tiles?: true | { size?: number; stride?: number } } {
  const spec = {
    ...(a['tile-size'] !== undefined ? { size: a['tile-size'] as number } : {}),
    ...(a['tile-stride'] !== undefined ? { stride: a['tile-stride'] as number } : {}),
  };
  if (Object.keys(spec).length) return { tiles: spec };
  return a.tiles ? { tiles: true } : {};
}
