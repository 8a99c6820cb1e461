/**
 * Defaults that adapt to the training images, chosen from what the images are and never from an
 * anomaly or a test label: the input size from the images' own size, the batch size from the input
 * size and the number of images, the training length as a number of optimizer steps rather than a
 * fixed epoch count, and the training loss and the score fusion from the input size. Every rule is here, so that the
 * CLI, the library and the benchmarks get the same configuration from the same images.
 *
 * How the numbers were chosen (docs/BENCHMARKS.md, "Real photographs"): on the four real sets
 * (metal plates, circuit boards, forest scenes, blood cells) together, with MNIST and
 * Fashion-MNIST kept at their earlier defaults.
 *
 * ```ts
 * autoSettings({ height: 512, width: 512, channels: 3, count: 49 })
 * // { size: [256, 256], batchSize: 8, epochs: 86, steps: 602, loss: 'mse+ssim', fusion: 'max', ... }
 * ```
 */
import type { LossName } from '../train/losses.js';
import type { Fusion } from '../postprocess/postprocessor.js';

/** The longest side the automatic input size goes up to: larger images are shrunk to it. */
export const AUTO_MAX_SIDE = 256;
/** The input size when nothing is known about the images (no header could be read). */
export const AUTO_FALLBACK_SIDE = 64;
/** Optimizer steps a default training makes at least. */
export const AUTO_MIN_STEPS = 600;
/** Epochs a default training of small images (at most SMALL_SIDE px) makes at least. */
export const AUTO_SMALL_EPOCHS = 30;
const SMALL_SIDE = 64;
/** From this side on, the default loss adds SSIM (its 11-px window needs images several windows wide). */
const SSIM_LOSS_SIDE = 48;

export interface ImageFacts {
  /** Size of the images as read from their headers (the first readable one), when known. */
  height?: number;
  width?: number;
  /** Number of training images. */
  count: number;
  /** True for data of a fixed native size (IDX files): the input is that size, as before. */
  fixedSize?: boolean;
}

export interface UserChoices {
  size?: number | [number, number];
  batchSize?: number;
  epochs?: number;
  loss?: LossName;
  fusion?: Fusion;
}

export interface AutoSettings {
  size: [number, number];
  batchSize: number;
  epochs: number;
  /** Optimizer steps the epochs make (the last batch of an epoch may be smaller). */
  steps: number;
  loss: LossName;
  /** How `combined` fuses its scores. */
  fusion: Fusion;
  /** One line per value the rules chose (values the user gave are not listed). */
  reasons: string[];
}

/** The largest power of two that is at most `n` (and at least 1). */
function floorPow2(n: number): number {
  return 2 ** Math.max(0, Math.floor(Math.log2(Math.max(1, n))));
}

/** The input side for images of a given size: their smaller side, at most AUTO_MAX_SIDE, even. */
export function autoSide(height: number | undefined, width: number | undefined): number {
  if (!height || !width) return AUTO_FALLBACK_SIDE;
  const side = Math.min(height, width, AUTO_MAX_SIDE);
  return Math.max(8, side - (side % 2));
}

/** Batch size by input side (the cost of a step grows with the pixels), and at most a quarter of the images. */
export function autoBatchSize(side: number, count: number): number {
  const bySide = side <= 32 ? 128 : side <= 64 ? 64 : side <= 128 ? 32 : 16;
  return Math.max(2, Math.min(bySide, floorPow2(count / 4)));
}

/** Epochs for a training of at least AUTO_MIN_STEPS steps (and at least 30 epochs for small images). */
export function autoEpochs(side: number, count: number, batchSize: number): number {
  const stepsPerEpoch = Math.max(1, Math.ceil(count / batchSize));
  const forSteps = Math.ceil(AUTO_MIN_STEPS / stepsPerEpoch);
  return side <= SMALL_SIDE ? Math.max(AUTO_SMALL_EPOCHS, forSteps) : forSteps;
}

export function autoSettings(facts: ImageFacts, user: UserChoices = {}): AutoSettings {
  const reasons: string[] = [];
  let size: [number, number];
  if (user.size !== undefined) {
    size = typeof user.size === 'number' ? [user.size, user.size] : user.size;
  } else if (facts.fixedSize && facts.height && facts.width) {
    size = [facts.height, facts.width];
    reasons.push(`input ${size[0]}x${size[1]}: the data's native size`);
  } else {
    const side = autoSide(facts.height, facts.width);
    size = [side, side];
    reasons.push(facts.height && facts.width
      ? `input ${side}x${side}: the images are ${facts.width}x${facts.height}${Math.min(facts.height, facts.width) > AUTO_MAX_SIDE ? `, shrunk to at most ${AUTO_MAX_SIDE} px` : ''}`
      : `input ${side}x${side}: the image size could not be read`);
  }
  const side = Math.min(size[0], size[1]);
  const count = Math.max(1, facts.count);
  const batchSize = user.batchSize ?? autoBatchSize(side, count);
  if (user.batchSize === undefined) reasons.push(`batch ${batchSize}: by input size and ${count} training images`);
  const epochs = user.epochs ?? autoEpochs(side, count, batchSize);
  const steps = epochs * Math.ceil(count / batchSize);
  if (user.epochs === undefined) reasons.push(`${epochs} epochs (${steps} steps): at least ${AUTO_MIN_STEPS} steps${side <= SMALL_SIDE ? ` and ${AUTO_SMALL_EPOCHS} epochs` : ''}`);
  const photo = side >= SSIM_LOSS_SIDE;
  const bySize = photo ? `input of ${SSIM_LOSS_SIDE} px or more` : `input under ${SSIM_LOSS_SIDE} px`;
  const loss = user.loss ?? (photo ? 'mse+ssim' : 'mse');
  if (user.loss === undefined) reasons.push(`loss ${loss}: ${bySize}`);
  // Photographs (the sizes that get SSIM): one score of the pair often runs the wrong way (forest
  // scenes' SSIM, AUROC 0.1-0.3) and the mean lets it cancel the other; the largest z-score keeps
  // the one that fires. MNIST-sized images keep the mean, better there (docs/BENCHMARKS.md).
  const fusion = user.fusion ?? (photo ? 'max' : 'mean');
  if (user.fusion === undefined) reasons.push(`fusion ${fusion}: ${bySize}`);
  return { size, batchSize, epochs, steps, loss, fusion, reasons };
}
