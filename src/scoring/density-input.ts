/**
 * What the latent density of a model reads: its bottleneck code; the channel statistics of its
 * encoder's blocks (ConvAutoencoder.encodeWithStats), which describe a photograph's texture at every
 * scale the encoder sees (docs/BENCHMARKS.md, session 9); or those preceded by the image's own
 * colour, gradient and edge-direction statistics at three scales (src/scoring/image-stats.ts;
 * sessions 11 and 12). Kept apart from the scoring code so that options and manifests can name it
 * without loading libtorch.
 */
export type DensityInput = 'code' | 'stats' | 'image+stats';
export const DENSITY_INPUTS: readonly DensityInput[] = ['code', 'stats', 'image+stats'];

/**
 * Scales at which 'image+stats' reads the image's own statistics (src/scoring/image-stats.ts): the
 * image, then halved, then quartered.
 */
export const IMAGE_STATS_SCALES = 3;

/** Bins of the gradient orientation histogram that 'image+stats' reads at each of its scales (the doubled angle's octants). */
export const ORIENTATION_BINS = 8;

/** The side of the window over which 'image+stats' averages the structure tensor for its coherence. */
export const COHERENCE_WINDOW = 5;

/** The values of the edge directions (orientation histograms and coherence) among the image's statistics. */
export const EDGE_DIRECTION_VALUES = IMAGE_STATS_SCALES * (ORIENTATION_BINS + 2);

/**
 * The image's own statistics as groups that weigh the same (src/scoring/image-stats.ts):
 * - per channel, its mean and deviation with its gradients' at full size (6 values), then its
 *   gradients' at each smaller scale (4 values): the mean absolute horizontal and vertical
 *   difference and their deviations;
 * - the orientation histogram of its brightness gradients at each scale (ORIENTATION_BINS values);
 * - the coherence of its edges, two values per scale, in one group.
 */
export function imageStatsGroups(channels: number): number[] {
  const perScale = (size: number) => Array.from({ length: IMAGE_STATS_SCALES }, () => size);
  return [6 * channels, ...perScale(4 * channels).slice(1), ...perScale(ORIENTATION_BINS), 2 * IMAGE_STATS_SCALES];
}

/** How the density is estimated: Gaussian kernels of one bandwidth, or the k-nearest-neighbour estimate (src/scoring/kde.ts). */
export type DensityEstimator = 'gaussian' | 'knn';
export const DENSITY_ESTIMATORS: readonly DensityEstimator[] = ['gaussian', 'knn'];

/** Neighbours of the kNN estimator on the statistics. */
export const STATS_NEIGHBOURS = 5;

/**
 * The density estimate an input gets unless the user names one: the statistics get the
 * 5-nearest-neighbour estimate with every block (and scale of the image) weighing the same (a
 * Gaussian KDE at Scott's h is the distance to the single nearest point in 1,472 dimensions, and
 * the deep blocks' 1,024 values would outvote the first block's 64); the code keeps the Gaussian
 * KDE (MNIST's defaults).
 */
export function defaultDensityEstimator(input: DensityInput): DensityEstimator {
  return input === 'code' ? 'gaussian' : 'knn';
}

/**
 * The sizes of the dimension groups that weigh the same in the density's distances: one per
 * encoder block for the statistics (its means and deviations), preceded by one per scale of the
 * image's own for 'image+stats'; none for the code.
 */
export function densityInputGroups(input: DensityInput, arch: { filters: readonly number[]; channels: number }): number[] | undefined {
  if (input === 'code') return undefined;
  const blocks = arch.filters.map((f) => 2 * f);
  return input === 'image+stats' ? [...imageStatsGroups(arch.channels), ...blocks] : blocks;
}

/** How many values per image the density reads: the latent size, or the sum of its groups. */
export function densityInputSize(input: DensityInput, arch: { latent: number; filters: readonly number[]; channels: number }): number {
  return densityInputGroups(input, arch)?.reduce((a, g) => a + g, 0) ?? arch.latent;
}
