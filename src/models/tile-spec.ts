/** The settings of a tiled model (src/models/tiled.ts), checked without loading libtorch (manifests, the CLI). */

export interface TileSpec {
  /** Side of the square tiles, in pixels of the working image. */
  size: number;
  /** Step between tiles when scoring (tiles overlap when smaller than `size`). */
  stride: number;
  /** Image scores are the peak of the error map blurred by a Gaussian of this sigma (px). */
  sigma: number;
}

export function checkTileSpec(spec: TileSpec, where = 'tiles'): void {
  const bad = (why: string) => { throw new RangeError(`${where}: ${why}`); };
  if (!Number.isInteger(spec.size) || spec.size < 8 || spec.size > 1024) bad(`size must be an integer from 8 to 1024, got ${spec.size}`);
  if (!Number.isInteger(spec.stride) || spec.stride < 1 || spec.stride > spec.size) bad(`stride must be an integer from 1 to the size (${spec.size}), got ${spec.stride}`);
  if (!(spec.sigma > 0 && spec.sigma <= 64)) bad(`sigma must be in (0, 64], got ${spec.sigma}`);
}

