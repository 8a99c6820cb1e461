/**
 * Patch-wise reconstruction: an autoencoder trained on small tiles of images kept at their own
 * resolution, and run over a whole image tile by tile. Large photographs (circuit boards, metal
 * plates) carry defects of a few pixels that shrinking the image to a model's input would erase;
 * tiles keep them at full size, and a small tile model cannot learn to copy what it never saw.
 *
 * ```ts
 * const ae = new ConvAutoencoder(defaultArchitecture({ height: 32, width: 32, channels: 1 }));
 * const tiled = new TiledAutoencoder(ae, { size: 32, stride: 16, sigma: 8 });
 * const { recon, code } = tiled.reconstruct(x); // x [N, 1, 640, 640] -> recon of the same shape, code [N, latent]
 * ```
 *
 * A whole image is cut into overlapping tiles (im2col) and reconstructed in chunks. The error
 * maps (squared error, 1 - SSIM) are taken per tile and their overlaps averaged (col2im): each
 * tile's own error counts, where averaging the reconstructions first would let a neighbour's good
 * guess hide it (boards at a fifth of the training: ssim 0.809 against 0.770). The reconstruction
 * shown in reports is the average of the tiles' reconstructions. The image's code is the mean of
 * its tiles' codes.
 */
import { ops, tidy, type Tensor } from '../engine/index.js';
import type { Rng } from '../data/random.js';
import type { ConvAutoencoder } from './autoencoder.js';
import { checkTileSpec, type TileSpec } from './tile-spec.js';

export { checkTileSpec, type TileSpec } from './tile-spec.js';

/** Tiles per forward pass when scoring: bounds the activations' memory whatever the image size. */
const TILE_CHUNK = 2048;

/** The padded side for which tiles of `size` at `stride` cover a side exactly. */
function coveredSide(side: number, spec: TileSpec): number {
  return side <= spec.size ? spec.size : spec.size + Math.ceil((side - spec.size) / spec.stride) * spec.stride;
}

/** The tiles [M, C, T, T] in consecutive slices of at most TILE_CHUNK, the pieces the model runs on. */
function chunks(tiles: Tensor): Tensor[] {
  const m = tiles.shape[0]!;
  const out: Tensor[] = [];
  for (let s = 0; s < m; s += TILE_CHUNK) out.push(ops.slice(tiles, 0, s, Math.min(m, s + TILE_CHUNK)));
  return out;
}

/** The image codes [N, latent]: the mean of each image's L tile codes (chunks of [*, latent] in tile order). */
function meanCode(codes: Tensor[], n: number, l: number): Tensor {
  return ops.mean(ops.reshape(ops.cat(codes, 0), [n, l, -1]), 1);
}

export class TiledAutoencoder {
  constructor(readonly model: ConvAutoencoder, readonly tiles: TileSpec) {
    checkTileSpec(tiles);
  }

  /** Image scores are the peak of the blurred error map (src/scoring/reconstruction.ts reads this). */
  get peakSigma(): number { return this.tiles.sigma; }

  eval(): this {
    this.model.eval();
    return this;
  }

  /**
   * Whole images in; out: their reconstructions and codes (the mean of the tiles'), and the maps
   * [N, 1, H, W] that `tileMaps` computes on each tile and its reconstruction (the scorer's error
   * maps), averaged over the tiles that cover each pixel.
   */
  reconstruct(x: Tensor, tileMaps?: (recon: Tensor, tile: Tensor) => Tensor[]): { recon: Tensor; code: Tensor; maps: Tensor[] } {
    const [n, c, h, w] = x.shape as [number, number, number, number];
    const t = this.tiles.size;
    return tidy(() => {
      const { tiles, l, hp, wp } = this.cut(x);
      const recons: Tensor[] = [], codes: Tensor[] = [], perTile: Tensor[][] = [];
      for (const part of chunks(tiles)) {
        const z = this.model.encode(part);
        const r = this.model.decode(z);
        codes.push(z);
        recons.push(r);
        if (tileMaps) perTile.push(tileMaps(r, part));
      }
      const k: [number, number] = [t, t];
      const step: [number, number] = [this.tiles.stride, this.tiles.stride];
      // how many tiles cover each pixel [1, 1, Hp, Wp]: the same for every channel and every map
      const covered = ops.col2im(ops.ones([1, t * t, l], { device: x.device }), [hp, wp], k, step);
      // tiles [N*L, ch, T, T] back to images [N, ch, H, W], overlaps averaged
      const fold = (parts: Tensor[], ch: number) => {
        const cols = ops.contiguous(ops.permute(ops.reshape(ops.cat(parts, 0), [n, l, ch * t * t]), [0, 2, 1]));
        const img = ops.div(ops.col2im(cols, [hp, wp], k, step), covered);
        return ops.contiguous(hp > h || wp > w ? ops.slice(ops.slice(img, 2, 0, h), 3, 0, w) : img);
      };
      const maps = perTile.length ? perTile[0]!.map((_, m) => fold(perTile.map((p) => p[m]!), 1)) : [];
      return { recon: fold(recons, c), code: meanCode(codes, n, l), maps };
    });
  }

  /**
   * The images' codes (the mean of their tiles'), from the encoder alone: the same as
   * `reconstruct(x).code` without decoding a tile, which is most of the work (the fit's pass over
   * its training images needs the codes only).
   */
  encode(x: Tensor): Tensor {
    return tidy(() => {
      const { tiles, l } = this.cut(x);
      return meanCode(chunks(tiles).map((part) => this.model.encode(part)), x.shape[0]!, l);
    });
  }

  /** The images' tiles [N*L, C, T, T] every `stride` px (L per image), over the images padded to a whole number of strides (Hp x Wp). */
  private cut(x: Tensor): { tiles: Tensor; l: number; hp: number; wp: number } {
    const [n, c, h, w] = x.shape as [number, number, number, number];
    const t = this.tiles.size;
    const hp = coveredSide(h, this.tiles);
    const wp = coveredSide(w, this.tiles);
    // reflection covers the last partial tile with image content rather than a border the model never saw
    let padded = x;
    if (hp > h || wp > w) padded = hp - h < h && wp - w < w ? ops.reflectionPad2d(x, [0, wp - w, 0, hp - h]) : ops.pad(x, [0, wp - w, 0, hp - h]);
    const cols = ops.im2col(padded, [t, t], [this.tiles.stride, this.tiles.stride]); // [N, C*T*T, L]
    const l = cols.shape[2]!;
    return { tiles: ops.reshape(ops.permute(cols, [0, 2, 1]), [n * l, c, t, t]), l, hp, wp };
  }

  decode(): Tensor {
    throw new Error('a tiled autoencoder decodes tiles, not image codes: use reconstruct(x)');
  }
}

/**
 * `count` tiles of `size` px cut from a batch of whole images at a random offset (the same for
 * the batch, from `rng`), on a grid, then drawn at random: the training batch of a tiled model.
 * Reshapes rather than copies tile by tile, so a step costs a few engine calls.
 */
export function randomTiles(x: Tensor, size: number, count: number, rng: Rng): Tensor {
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const oy = Math.floor(rng() * Math.min(size, h - size + 1));
  const ox = Math.floor(rng() * Math.min(size, w - size + 1));
  const nh = Math.floor((h - oy) / size);
  const nw = Math.floor((w - ox) / size);
  return tidy(() => {
    const crop = ops.slice(ops.slice(x, 2, oy, oy + nh * size), 3, ox, ox + nw * size);
    const grid = ops.reshape(ops.permute(ops.reshape(crop, [n, c, nh, size, nw, size]), [0, 2, 4, 1, 3, 5]), [n * nh * nw, c, size, size]);
    const total = n * nh * nw;
    if (total <= count) return ops.contiguous(grid);
    // a partial Fisher-Yates draw of `count` distinct tiles
    const idx = Array.from({ length: total }, (_, i) => i);
    for (let i = 0; i < count; i++) {
      const j = i + Math.floor(rng() * (total - i));
      [idx[i], idx[j]] = [idx[j]!, idx[i]!];
    }
    return ops.indexSelect(grid, 0, ops.indices(idx.slice(0, count), x.device));
  });
}
