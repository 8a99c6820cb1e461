/**
 * What the latent density of a model reads: its bottleneck code, or the channel statistics of its
 * encoder's blocks (ConvAutoencoder.encoderStats), which describe a photograph's texture at every
 * scale the encoder sees (docs/BENCHMARKS.md, session 9). Kept apart from the scoring code so that
 * options and manifests can name it without loading libtorch.
 */
export type DensityInput = 'code' | 'stats';
export const DENSITY_INPUTS: readonly DensityInput[] = ['code', 'stats'];
