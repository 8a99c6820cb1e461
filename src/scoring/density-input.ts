/**
 * What the latent density of a model reads: its bottleneck code, or the channel statistics of its
 * encoder's blocks (ConvAutoencoder.encodeWithStats), which describe a photograph's texture at every
 * scale the encoder sees (docs/BENCHMARKS.md, session 9). Kept apart from the scoring code so that
 * options and manifests can name it without loading libtorch.
 */
export type DensityInput = 'code' | 'stats';
export const DENSITY_INPUTS: readonly DensityInput[] = ['code', 'stats'];

/** How the density is estimated: Gaussian kernels of one bandwidth, or the k-nearest-neighbour estimate (src/scoring/kde.ts). */
export type DensityEstimator = 'gaussian' | 'knn';
export const DENSITY_ESTIMATORS: readonly DensityEstimator[] = ['gaussian', 'knn'];

/** Neighbours of the kNN estimator on the encoder's statistics. */
export const STATS_NEIGHBOURS = 5;

/**
 * The density estimate an input gets unless the user names one: the encoder's statistics get the
 * 5-nearest-neighbour estimate with every block weighing the same (a Gaussian KDE at Scott's h is
 * the distance to the single nearest point in 1,472 dimensions, and the deep blocks' 1,024 values
 * would outvote the first block's 64); the code keeps the Gaussian KDE (MNIST's defaults).
 */
export function defaultDensityEstimator(input: DensityInput): DensityEstimator {
  return input === 'stats' ? 'knn' : 'gaussian';
}

/** The sizes of the dimension groups that weigh the same in the density's distances: one per encoder block for the statistics (its means and deviations), none for the code. */
export function densityInputGroups(input: DensityInput, arch: { filters: readonly number[] }): number[] | undefined {
  return input === 'stats' ? arch.filters.map((f) => 2 * f) : undefined;
}

/** How many values per image the density reads: the latent size, or a mean and a deviation per channel of every encoder block. */
export function densityInputSize(input: DensityInput, arch: { latent: number; filters: readonly number[] }): number {
  return input === 'stats' ? 2 * arch.filters.reduce((a, f) => a + f, 0) : arch.latent;
}
