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
 * autoSettings({ height: 512, width: 512, count: 49, lostDetail: 0.008 })
 * // { size: [256, 256], batchSize: 8, epochs: 86, steps: 602, loss: 'mse+ssim', fusion: 'max', ... }
 * autoSettings({ height: 640, width: 640, count: 270, lostDetail: 0.036 })
 * // { size: [640, 640], tiles: { size: 32, stride: 16, sigma: 8, perStep: 256, width: 0.5 }, loss: 'mse', steps: 3026, ... }
 * ```
 */
import type { LossName } from '../train/losses.js';
import type { Fusion } from '../postprocess/postprocessor.js';
import type { TileSpec } from '../models/tile-spec.js';
import { defaultDensityEstimator, STATS_NEIGHBOURS, type DensityEstimator, type DensityInput } from '../scoring/density-input.js';

/** The longest side the automatic input size goes up to: larger images are shrunk to it. */
export const AUTO_MAX_SIDE = 256;
/** The input size when nothing is known about the images (no header could be read). */
export const AUTO_FALLBACK_SIDE = 64;
/** Optimizer steps a default training makes at least. */
export const AUTO_MIN_STEPS = 600;
/** Epochs a default training of small images (at most SMALL_SIDE px) makes at least. */
export const AUTO_SMALL_EPOCHS = 30;
const SMALL_SIDE = 64;
/**
 * A tiled model learns tiles of TILE_SIDE px of the images at their own resolution (up to
 * TILED_MAX_SIDE px) instead of the whole image shrunk to at most AUTO_MAX_SIDE px: the defects of
 * circuit boards are a few pixels wide and vanish when the image is shrunk (docs/BENCHMARKS.md).
 * The defaults choose it for images whose detail the shrinking would lose (DETAIL_LIMIT); `tiles`
 * asks for it, `tiles: false` refuses it. It trains for about 9 minutes on 2 CPU cores (1,000 boards), 19 s on a GPU.
 */
export const TILE_SIDE = 32;
export const TILED_MAX_SIDE = 1024;
/** Optimizer steps of a tiled training, and the tiles in each step. */
export const TILE_STEPS = 3000;
export const TILES_PER_STEP = 256;
/**
 * A tile's net has this share of the filters a whole image of the tile's size gets (16, 32 for
 * 32-px tiles, against 32, 64). A training step costs 153 ms instead of 348 ms on 2 CPU cores, and
 * the boards lost nothing (docs/BENCHMARKS.md, session 15): a tile is a small, simple picture.
 */
export const TILE_WIDTH = 0.5;
/**
 * The share of the images' variance that shrinking them to AUTO_MAX_SIDE px may take away before
 * the defaults learn tiles instead (src/data/detail.ts measures it on up to 8 training images).
 * Measured over all training images: 512-px metal plates lose 0.8% (the whole image finds their
 * defects, image AUROC 0.97 to 0.98), 640-px circuit boards 3.6% (the whole image 0.60, tiles
 * 0.95). The limit lies between the two, a factor of about two from each (docs/BENCHMARKS.md).
 */
export const DETAIL_LIMIT = 0.015;
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
  /** The share of the images' variance lost by shrinking them to AUTO_MAX_SIDE (src/data/detail.ts), when measured. */
  lostDetail?: number;
}

export interface UserChoices {
  size?: number | [number, number];
  batchSize?: number;
  epochs?: number;
  loss?: LossName;
  fusion?: Fusion;
  /** false: whole images even when they are large; an object: tiles with these settings. */
  tiles?: boolean | Partial<TileSpec>;
  densityInput?: DensityInput;
  densityEstimator?: DensityEstimator;
  /** true: train the synthetic-anomaly segmenter; false: never. */
  segmenter?: boolean;
  /** The network's filters per encoder block (a tiled model's are then not narrowed). */
  filters?: number[];
}

/** The tiles of a tiled model, how many a training step draws, and how wide the net that learns them is. */
export type TileSettings = TileSpec & { perStep: number; width: number };

export interface AutoSettings {
  size: [number, number];
  batchSize: number;
  epochs: number;
  /** Optimizer steps the epochs make (the last batch of an epoch may be smaller). */
  steps: number;
  loss: LossName;
  /** How `combined` fuses its scores. */
  fusion: Fusion;
  /** Set when the model learns tiles of the images at `size` (src/models/tiled.ts). */
  tiles?: TileSettings;
  /**
   * Whether the reconstruction errors join the default `combined` only if they see pasted patches
   * (src/scoring/patch-check.ts): for whole-image photographs, not for digit-sized images (a patch
   * of black background pasted on black is no change) nor for tiles.
   */
  patchCheck: boolean;
  /**
   * What the latent density reads (src/scoring/density-input.ts): for whole-image photographs the
   * image's own colour, gradient and edge-direction statistics and the encoder's channel
   * statistics, which rank forest scenes better than the code does (0.958 against 0.83,
   * docs/BENCHMARKS.md, sessions 9 to 12); the bottleneck code for digit-sized images (MNIST's defaults) and tiles (whose image
   * scores are error peaks).
   */
  densityInput: DensityInput;
  /** How the density is estimated from what it reads (src/scoring/density-input.ts: kNN for the statistics, Gaussian KDE for the code). */
  densityEstimator: DensityEstimator;
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

/** The working size of a tiled model: the images' own, shrunk to at most TILED_MAX_SIDE, even. */
function tiledSize(height: number, width: number): [number, number] {
  const f = Math.min(1, TILED_MAX_SIDE / Math.max(height, width));
  const even = (v: number) => Math.max(8, Math.round(v * f / 2) * 2);
  return [even(height), even(width)];
}

/** Whether the images are larger than the whole-image input, so that shrinking them may lose detail. */
function isLarge(facts: ImageFacts): boolean {
  return !facts.fixedSize && !!facts.height && !!facts.width && Math.min(facts.height, facts.width) > AUTO_MAX_SIDE;
}

/** Whether the choice between tiles and the whole image is left to the rules and needs `lostDetail` measured. */
export function needsLostDetail(facts: ImageFacts, user: UserChoices): boolean {
  return user.tiles === undefined && user.size === undefined && isLarge(facts);
}

const percent = (v: number) => `${(100 * v).toFixed(1)}%`;

function tiledSettings(facts: ImageFacts, user: UserChoices): AutoSettings {
  const reasons: string[] = [];
  if (!user.tiles) reasons.push(`tiles: shrinking the images to ${AUTO_MAX_SIDE} px would lose ${percent(facts.lostDetail!)} of their detail (more than ${percent(DETAIL_LIMIT)}; option tiles: false, --no-tiles, keeps the whole image)`);
  const t = typeof user.tiles === 'object' ? user.tiles : {};
  let size: [number, number];
  if (user.size !== undefined) size = typeof user.size === 'number' ? [user.size, user.size] : user.size;
  else if (facts.height && facts.width) {
    size = tiledSize(facts.height, facts.width);
    const shrunk = Math.max(facts.height, facts.width) > TILED_MAX_SIDE;
    reasons.push(`input ${size[1]}x${size[0]}: the images are ${facts.width}x${facts.height}${shrunk ? `, shrunk to at most ${TILED_MAX_SIDE} px` : ', kept at their own detail'}`);
  } else size = [AUTO_FALLBACK_SIDE * 4, AUTO_FALLBACK_SIDE * 4];
  const tileSide = t.size ?? TILE_SIDE;
  const tiles: TileSettings = { size: tileSide, stride: t.stride ?? tileSide / 2, sigma: t.sigma ?? tileSide / 4, perStep: TILES_PER_STEP, width: TILE_WIDTH };
  if (Math.min(...size) < tiles.size) throw new RangeError(`tiles of ${tiles.size} px do not fit an input of ${size[1]}x${size[0]}`);
  if (t.size === undefined) reasons.push(`tiles of ${tiles.size} px, ${tiles.perStep} per step, scored every ${tiles.stride} px by the peak of the error map`);
  if (!user.filters) reasons.push(`filters: half of a whole ${tiles.size}-px image's, since a tile is a small picture and the narrower net trains twice as fast`);
  const count = Math.max(1, facts.count);
  const batchSize = user.batchSize ?? Math.max(1, Math.min(8, floorPow2(count / 4)));
  if (user.batchSize === undefined) reasons.push(`batch ${batchSize} images: ${tiles.perStep} tiles are drawn from them per step`);
  const perEpoch = Math.ceil(count / batchSize);
  const epochs = user.epochs ?? Math.max(1, Math.ceil(TILE_STEPS / perEpoch));
  const steps = epochs * perEpoch;
  if (user.epochs === undefined) reasons.push(`${epochs} epochs (${steps} steps): at least ${TILE_STEPS} steps for a tiled model`);
  const loss = user.loss ?? 'mse';
  if (user.loss === undefined) reasons.push('loss mse: tiled model');
  const fusion = user.fusion ?? 'max';
  if (user.fusion === undefined) reasons.push('fusion max: tiled model');
  const densityInput = user.densityInput ?? 'code';
  const densityEstimator = user.densityEstimator ?? defaultDensityEstimator(densityInput);
  return { size, batchSize, epochs, steps, loss, fusion, tiles, patchCheck: false, densityInput, densityEstimator, reasons };
}

export function autoSettings(facts: ImageFacts, user: UserChoices = {}): AutoSettings {
  if (user.tiles) return tiledSettings(facts, user);
  if (needsLostDetail(facts, user) && facts.lostDetail !== undefined && facts.lostDetail > DETAIL_LIMIT) return tiledSettings(facts, user);
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
      ? `input ${side}x${side}: the images are ${facts.width}x${facts.height}${isLarge(facts) ? `, shrunk to at most ${AUTO_MAX_SIDE} px${facts.lostDetail !== undefined ? `, which loses ${percent(facts.lostDetail)} of their detail (tiles from ${percent(DETAIL_LIMIT)} on)` : ''} (tiles keep the detail: option tiles, --tiles)` : ''}`
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
  const densityInput = user.densityInput ?? (photo ? 'image+stats' : 'code');
  if (user.densityInput === undefined && photo) reasons.push(`density on the image's and the encoder's channel statistics: ${bySize}`);
  const densityEstimator = user.densityEstimator ?? defaultDensityEstimator(densityInput);
  if (user.densityEstimator === undefined && densityEstimator === 'knn') reasons.push(`density by the ${STATS_NEIGHBOURS} nearest training images, every scale weighing the same: the statistics have hundreds of dimensions`);
  return { size, batchSize, epochs, steps, loss, fusion, patchCheck: photo, densityInput, densityEstimator, reasons };
}

/**
 * Whether the synthetic-anomaly segmenter (src/models/segmenter.ts) is trained and its score fused,
 * decided after the pasted-patch check: for whole-image photographs whose reconstruction errors
 * see pasted patches (`fused`, what the check kept, holds an error), since those are images whose
 * anomalies are local: the cells (ssim 0.90, with the segmenter 0.95) and the plates. Not where
 * the density alone ranks (the forests' other scenes differ as a whole, not in a blob), nor for
 * digit-sized images or tiles, where the check does not run. Its score joins by the mean of the
 * z-scores, not their maximum: both see the same defects, and the mean lets each confirm the other
 * (cells 0.950 against 0.935, docs/BENCHMARKS.md, session 14).
 */
export function segmenterRule(settings: AutoSettings, user: UserChoices, fused: readonly string[]): { train: boolean; fusion: Fusion; reason?: string } {
  const train = user.segmenter ?? (settings.patchCheck && fused.some((k) => k === 'mse' || k === 'ssim'));
  if (!train) return { train, fusion: settings.fusion };
  const fusion = user.fusion ?? 'mean';
  const why = user.segmenter === undefined ? ': the errors see local changes, so the anomalies are local' : '';
  return { train, fusion, reason: `synthetic-anomaly segmenter${user.fusion === undefined ? ', its score fused by the mean' : ''}${why}` };
}
