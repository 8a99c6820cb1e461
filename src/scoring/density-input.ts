/**
 * What the latent density of a model reads: its bottleneck code, or the channel statistics of its
 * encoder's blocks (ConvAutoencoder.encodeWithStats), which describe a photograph's texture at every
 * scale the encoder sees (docs/BENCHMARKS.md, session 9). Kept apart from the scoring code so that
 * options and manifests can name it without loading libtorch.
 */
export type DensityInput = 'code' | 'stats';
export const DENSITY_INPUTS: readonly DensityInput[] = ['code', 'stats'];

/** How many values per image the density reads: the latent size, or a mean and a deviation per channel of every encoder block. */
export function densityInputSize(input: DensityInput, arch: { latent: number; filters: readonly number[] }): number {
  return input === 'stats' ? 2 * arch.filters.reduce((a, f) => a + f, 0) : arch.latent;
}
