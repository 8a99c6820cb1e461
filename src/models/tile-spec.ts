/** The settings of a tiled model (src/models/tiled.ts), checked without loading libtorch (manifests, the CLI). */

export interface TileSpec {
  /** Side of the square tiles, in pixels of the working image. */
  size: number;
  /** Step between tiles when scoring (tiles overlap when smaller than `size`). */
  stride: number;
  /** Image scores are the peak of the error map blurred by a Gaussian of this sigma (px). */
  sigma: number;
}

export function checkTileSpec(t: TileSpec, where = 'tiles'): void {
  const bad = (why: string) => { throw new RangeError(`${where}: ${why}`); };
  if (!Number.isInteger(t.size) || t.size < 8 || t.size > 1024) bad(`size must be an integer from 8 to 1024, got ${t.size}`);
  if (!Number.isInteger(t.stride) || t.stride < 1 || t.stride > t.size) bad(`stride must be an integer from 1 to the size (${t.size}), got ${t.stride}`);
  if (!(t.sigma > 0 && t.sigma <= 64)) bad(`sigma must be in (0, 64], got ${t.sigma}`);
}

