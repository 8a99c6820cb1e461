import type { Command } from '../main.js';
import type { Parsed } from '../args.js';
import { dataOptions, deviceOption, scoreKindOption, applyThreads } from '../shared.js';
import { LOSSES } from '../../train/losses.js';
import { parseThresholdOption } from '../threshold-option.js';
import type { BaseScore } from '../../detector.js';
import { REJECT_BY, type RejectBy } from '../../models/aae.js';
import { warnToStderr } from '../../data/errors.js';

const command: Command = {
  spec: {
    name: 'train',
    summary: 'train a detector on normal images and write a model folder',
    usage: 'vigil train <images> [--out model] [options]',
    positionals: [{ name: 'images', help: 'Folder of normal images, class folders (with --normal-class), an MVTec category, an IDX file, or builtin:mnist / builtin:fashion-mnist', required: true }],
    options: {
      out: { type: 'string', alias: 'o', help: 'Model folder to write', default: 'vigil-model', value: 'dir' },
      size: { type: 'number', help: 'Model input size in pixels, 28 to 512 (default: native size of IDX data, else 64)', value: 'px' },
      channels: { type: 'number', help: '1 (grayscale) or 3 (RGB) (default: from the images)', value: 'n' },
      resize: { type: 'string', help: 'How images are fitted to the size', choices: ['stretch', 'crop'], default: 'stretch' },
      ...dataOptions,
      model: { type: 'string', help: 'ae: plain convolutional autoencoder; aae: robust adversarial autoencoder (for training sets that contain some anomalies)', choices: ['ae', 'aae'], default: 'ae' },
      prior: { type: 'string', help: 'aae: latent prior, a mixture of Gaussians (default) or N(0, I)', choices: ['gmm', 'normal'], value: 'kind' },
      components: { type: 'number', help: 'aae: mixture components of --prior gmm (default 10)', value: 'n' },
      reject: { type: 'string', help: 'aae: fraction of training images left out of each epoch after the warm-up, or auto (default 0.05)', value: 'f|auto' },
      'reject-by': { type: 'string', help: 'aae: rank images for rejection by the prior likelihood of their code, its rank average with the reconstruction error, or both with the distance to the nearest training codes (default)', choices: [...REJECT_BY], value: 'rank' },
      warmup: { type: 'number', help: 'aae: epochs on every image before rejection starts (default 2)', value: 'n' },
      arch: { type: 'string', help: 'Autoencoder layout: strided convs, or max pooling + upsampling', choices: ['strided', 'pooling'], default: 'strided' },
      filters: { type: 'list', help: 'Filters per encoder block, e.g. 32,64,128 (default: by size)', value: 'list' },
      latent: { type: 'number', help: 'Bottleneck size (default: 32 to 128 by size)', value: 'n' },
      dropout: { type: 'number', help: 'Dropout before the bottleneck', default: 0, value: 'p' },
      epochs: { type: 'number', alias: 'e', help: 'Training epochs', default: 30, value: 'n' },
      'batch-size': { type: 'number', alias: 'b', help: 'Images per batch', default: 128, value: 'n' },
      lr: { type: 'number', help: 'Learning rate', default: 1e-3, value: 'rate' },
      optimizer: { type: 'string', help: 'Optimizer', choices: ['adam', 'adamw'], default: 'adam' },
      'weight-decay': { type: 'number', help: 'Weight decay (default: 0 for adam, 0.01 for adamw)', value: 'w' },
      schedule: { type: 'string', help: 'Learning-rate decay', choices: ['cosine', 'step', 'constant'], default: 'cosine' },
      loss: { type: 'string', help: 'Training loss', choices: LOSSES as string[], default: 'mse' },
      patience: { type: 'number', help: 'Early stopping: epochs without validation improvement (0 = off)', default: 0, value: 'n' },
      'val-split': { type: 'number', help: 'Fraction of normal images held out for validation and the threshold', default: 0.1, value: 'f' },
      augment: { type: 'list', help: 'Augmentations: hflip, vflip, rotate, shift, brightness, contrast', value: 'list' },
      score: { ...scoreKindOption, default: 'combined' },
      combine: { type: 'list', help: 'Scores fused by the combined score: mse, ssim, density, transform (default ssim,density, plus transform with --transforms)', value: 'list' },
      transforms: { type: 'boolean', help: 'Also train a classifier of flips, shifts and quarter turns and fuse its score: better for objects with an up and a left, not for rotation-invariant images; about 70 passes per image (GPU advised)' },
      'transform-epochs': { type: 'number', help: 'Epochs of the transformation classifier (default 3)', value: 'n' },
      from: { type: 'string', help: 'With --transforms: add the classifier to this trained model (give the images it was trained on) instead of training a new autoencoder; its other settings are kept', value: 'model' },
      threshold: { type: 'string', help: 'quantile:Q (of normal validation scores), contamination:C, or fixed:V', default: 'quantile:0.95', value: 'spec' },
      seed: { type: 'number', help: 'Random seed', default: 0, value: 'n' },
      checkpoint: { type: 'string', help: 'Checkpoint folder (default: <out>.checkpoint)', value: 'dir' },
      resume: { type: 'boolean', help: 'Continue from the checkpoint if there is one' },
      quiet: { type: 'boolean', alias: 'q', help: 'No progress output' },
      ...deviceOption,
    },
    examples: [
      'vigil train photos/good --size 128 --out bottle-model',
      'vigil train cells/ --normal-class Uninfected --size 64 --loss ssim --out cell-model',
      'vigil train builtin:fashion-mnist --normal-class 1 --epochs 20',
      'vigil train photos/good --out m --resume      # after an interruption',
      'vigil train photos/good --from m --transforms --out m2   # add the transformation classifier to model m',
      'vigil train builtin:mnist --normal-class 1 --model aae --reject 0.1 --reject-by prior+recon   # training data with some anomalies',
    ],
  },
  async run(a) {
    applyThreads(a.threads);
    const { Detector } = await import('../../detector.js');
    const out = a.out as string;
    const checkpointDir = (a.checkpoint as string | undefined) ?? `${out}.checkpoint`;
    const augmentList = (a.augment as string[] | undefined) ?? [];
    const known = ['hflip', 'vflip', 'rotate', 'shift', 'brightness', 'contrast'];
    const bad = augmentList.find((x) => !known.includes(x));
    if (bad) throw new Error(`unknown augmentation '${bad}' (use ${known.join(', ')})`);
    const augment = augmentList.length ? {
      hflip: augmentList.includes('hflip'), vflip: augmentList.includes('vflip'),
      rotate: augmentList.includes('rotate') ? 10 : 0, shift: augmentList.includes('shift') ? 0.05 : 0,
      brightness: augmentList.includes('brightness') ? 0.1 : 0, contrast: augmentList.includes('contrast') ? 0.1 : 0,
    } : undefined;
    if (a.channels !== undefined && a.channels !== 1 && a.channels !== 3) throw new Error(`--channels must be 1 or 3, got ${a.channels}`);
    const filters = (a.filters as string[] | undefined)?.map(Number);
    const aaeFlags = ['prior', 'components', 'reject', 'reject-by', 'warmup'].filter((k) => a[k] !== undefined);
    if (a.model !== 'aae' && aaeFlags.length) throw new Error(`--${aaeFlags[0]} applies to the robust adversarial autoencoder only; add --model aae`);
    const rejectRaw = a.reject as string | undefined;
    if (rejectRaw !== undefined && rejectRaw !== 'auto' && !(rejectRaw.trim() !== '' && Number(rejectRaw) >= 0 && Number(rejectRaw) < 1)) {
      throw new Error(`--reject must be a fraction in [0, 1) or auto, got '${rejectRaw}'`);
    }
    const transforms = a.transforms || a['transform-epochs'] !== undefined ? (a['transform-epochs'] !== undefined ? { epochs: a['transform-epochs'] as number } : true as const) : undefined;
    const t0 = Date.now();
    if (a.from !== undefined) {
      if (!transforms) throw new Error('--from adds the transformation classifier to a trained model: add --transforms');
      await addTransforms(a, transforms, out);
      return;
    }
    const det = await Detector.fit(a._[0], {
      size: a.size as number | undefined,
      channels: a.channels as 1 | 3 | undefined,
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
      epochs: a.epochs as number,
      batchSize: a['batch-size'] as number,
      lr: a.lr as number,
      optimizer: a.optimizer as 'adam' | 'adamw',
      weightDecay: a['weight-decay'] as number | undefined,
      schedule: a.schedule as 'cosine',
      loss: a.loss as 'mse',
      patience: a.patience as number,
      valFraction: a['val-split'] as number,
      augment,
      score: a.score as 'combined',
      ...(a.combine ? { combine: a.combine as BaseScore[] } : {}),
      ...(transforms ? { transforms } : {}),
      threshold: parseThresholdOption(a.threshold as string),
      seed: a.seed as number,
      device: a.device as string,
      checkpointDir,
      resume: a.resume as boolean,
      progress: !a.quiet,
      onWarning: warnToStderr,
    });
    det.save(out);
    const { rmSync } = await import('node:fs');
    rmSync(checkpointDir, { recursive: true, force: true });
    const t = det.training!;
    const th = det.thresholds[det.scoreKind];
    process.stderr.write(`trained on ${t.items} images (${t.validationItems} held out) in ${t.seconds.toFixed(1)}s on ${t.device}` +
      `${t.skipped.length ? `; skipped ${t.skipped.length} unreadable` : ''}\n`);
    if (t.rejected) {
      process.stderr.write(`robust AAE: left ${t.rejected.count} training images (${(100 * t.rejected.fraction).toFixed(1)}%) out of the last epoch` +
        `${t.rejected.count ? `, e.g. ${t.rejected.ids.slice(0, 3).join(', ')}; all are listed in ${out}/manifest.json (training.rejected.ids)` : ''}\n`);
    }
    process.stdout.write(JSON.stringify({ model: out, score: det.scoreKind, threshold: th, epochs: t.epochs, finalLoss: t.history.at(-1)?.trainLoss, valLoss: t.history.at(-1)?.valLoss, ...(t.rejected ? { rejected: t.rejected.count } : {}), seconds: (Date.now() - t0) / 1000 }) + '\n');
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
      ...(a.combine ? { combine: a.combine as BaseScore[] } : {}), batchSize: a['batch-size'] as number, strict: a.strict as boolean, progress: !a.quiet, onWarning: warnToStderr,
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
