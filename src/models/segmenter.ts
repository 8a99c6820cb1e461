/**
 * A segmenter of synthetic anomalies, in the manner of DRAEM's discriminative network (Zavrtanik,
 * Kristan, Skočaj, ICCV 2021) without its external texture set: blobs of smooth random shape are
 * filled with another training image (turned, flipped, its brightness and contrast jittered) and
 * blended into a normal image, and a small U-Net learns to outline them. What it learns is "this
 * region does not continue its surroundings", which is what a small defect is: on the malaria cells
 * it sees the parasites where the autoencoder's 1 − SSIM stops at 0.90 (docs/BENCHMARKS.md,
 * session 14). No anomalous image is ever seen; the blobs are made from the training images.
 *
 * ```ts
 * const net = new SegmenterNet({ channels: 1, base: 16 });
 * const { x: xa, mask } = synthesizeAnomalies(x, rng);     // x: normal images [N, C, H, W] in [0, 1]
 * const loss = focalLoss(net.forward(xa), mask);
 * const scores = segmenterScores(net, x);                 // Float32Array, higher = more anomalous
 * ```
 */
import { nn, ops, tidy, noGrad, type Tensor } from '../engine/index.js';
import { Module } from '../engine/nn/module.js';
import type { Rng } from '../data/random.js';

export interface SegmenterConfig {
  channels: number;
  /** Filters of the first stage; the second and third have 2x and 4x. Default 16. */
  base?: number;
}

/** Two 3x3 convolutions, each with batch norm and ReLU. */
function stage(cin: number, cout: number): nn.Sequential {
  return new nn.Sequential([
    new nn.Conv2d(cin, cout, 3, { padding: 1, bias: false }), new nn.BatchNorm(cout), new nn.ReLU(),
    new nn.Conv2d(cout, cout, 3, { padding: 1, bias: false }), new nn.BatchNorm(cout), new nn.ReLU(),
  ]);
}

/** A three-stage U-Net: logits [N, 1, H, W] of "this pixel is anomalous" for any image size. */
export class SegmenterNet extends Module {
  readonly config: Required<SegmenterConfig>;
  private readonly down: nn.Sequential[];
  private readonly up: nn.Sequential[];
  private readonly head: nn.Conv2d;
  constructor(config: SegmenterConfig) {
    super();
    const base = config.base ?? 16;
    if (!Number.isInteger(base) || base < 1) throw new RangeError(`SegmenterNet: base must be a positive integer, got ${base}`);
    if (!Number.isInteger(config.channels) || config.channels < 1) throw new RangeError(`SegmenterNet: channels must be a positive integer, got ${config.channels}`);
    this.config = { channels: config.channels, base };
    this.down = [
      this.child('down0', stage(config.channels, base)),
      this.child('down1', stage(base, 2 * base)),
      this.child('down2', stage(2 * base, 4 * base)),
    ];
    this.up = [this.child('up1', stage(6 * base, 2 * base)), this.child('up0', stage(3 * base, base))];
    this.head = this.child('head', new nn.Conv2d(base, 1, 1));
  }
  forward(x: Tensor): Tensor {
    return tidy(() => {
      const e0 = this.down[0]!.forward(x);
      const e1 = this.down[1]!.forward(ops.maxPool2d(e0, 2));
      const e2 = this.down[2]!.forward(ops.maxPool2d(e1, 2));
      const join = (deep: Tensor, skip: Tensor) => ops.cat([ops.upsampleBilinear2d(deep, [skip.shape[2]!, skip.shape[3]!]), skip], 1);
      const d1 = this.up[0]!.forward(join(e2, e1));
      const d0 = this.up[1]!.forward(join(d1, e0));
      return this.head.forward(d0);
    });
  }
}

/**
 * Masks [N, 1, H, W] of smooth random blobs: a Gaussian field on a coarse grid of 2, 4 or 8 cells a
 * side (one per image), enlarged bicubically and cut at a level in [0.5, 1.5) standard deviations,
 * the way DRAEM cuts Perlin noise; half the images get no blob (they teach the net what is normal).
 */
export function blobMasks(n: number, h: number, w: number, device: string): Tensor {
  return tidy(() => {
    const fields = [2, 4, 8].map((cells) => ops.upsampleBicubic2d(ops.randn([n, 1, cells + 1, cells + 1], { device }), [h, w], true));
    const pick = ops.mul(ops.rand([n, 1, 1, 1], { device }), 3);
    const field = ops.where(ops.lt(pick, 1), fields[0]!, ops.where(ops.lt(pick, 2), fields[1]!, fields[2]!));
    const level = ops.add(ops.rand([n, 1, 1, 1], { device }), 0.5);
    const blobs = ops.toDtype(ops.gt(field, level), 'float32');
    const withBlob = ops.toDtype(ops.lt(ops.rand([n, 1, 1, 1], { device }), 0.5), 'float32');
    return ops.mul(blobs, withBlob);
  });
}

/**
 * Normal images with synthetic anomalies blended in, and where they are. The filling is another
 * image of the batch, turned by a quarter turn (half turns for non-square images) and maybe
 * flipped, with its contrast scaled by [0.5, 1.5) and its brightness shifted by ±0.2, blended over
 * the blob with an opacity in (0.2, 1].
 */
export function synthesizeAnomalies(x: Tensor, rng: Rng): { x: Tensor; mask: Tensor } {
  const [n, , h, w] = x.shape as [number, number, number, number];
  const device = x.device;
  return tidy(() => {
    const mask = blobMasks(n, h, w, device);
    let fill = ops.indexSelect(x, 0, ops.randperm(n, { device }));
    const turns = h === w ? Math.floor(rng() * 4) : 2 * Math.floor(rng() * 2);
    if (turns) fill = ops.rot90(fill, turns, [2, 3]);
    if (rng() < 0.5) fill = ops.flip(fill, [3]);
    const contrast = ops.add(ops.rand([n, 1, 1, 1], { device }), 0.5);
    const shift = ops.mul(ops.sub(ops.rand([n, 1, 1, 1], { device }), 0.5), 0.4);
    fill = ops.clamp(ops.add(ops.mul(fill, contrast), shift), 0, 1);
    // the blob shows the filling with opacity 1 - beta, beta in [0, 0.8)
    const beta = ops.mul(ops.rand([n, 1, 1, 1], { device }), 0.8);
    const blended = ops.add(ops.mul(x, beta), ops.mul(fill, ops.rsub(beta, 1)));
    const out = ops.add(ops.mul(x, ops.rsub(mask, 1)), ops.mul(blended, mask));
    return { x: out, mask };
  });
}

/** Focal loss (Lin et al. 2017, gamma 2) of per-pixel logits against a 0/1 mask: the blobs are a small part of the pixels. */
export function focalLoss(logits: Tensor, mask: Tensor, gamma = 2): Tensor {
  return tidy(() => {
    const p = ops.sigmoid(logits);
    const bce = ops.bceWithLogits(logits, mask, 'none');
    // the probability given to the right answer: p where the mask is 1, 1 - p where it is 0
    const right = ops.add(ops.mul(p, mask), ops.mul(ops.rsub(p, 1), ops.rsub(mask, 1)));
    return ops.mean(ops.mul(ops.pow(ops.rsub(right, 1), gamma), bce));
  });
}

/** The side of the window whose mean the image score takes the peak of. */
export const SEGMENTER_WINDOW = 5;

/** The segmenter's probability map [N, 1, H, W] (eval mode, no gradient). */
export function segmenterMaps(net: SegmenterNet, x: Tensor): Tensor {
  net.eval();
  return noGrad(() => tidy(() => ops.sigmoid(net.forward(x))));
}

/**
 * Pixels a scoring forward takes at once: a forward keeps about a kilobyte of activations per
 * pixel until it ends (full-resolution stages of 16 to 48 channels), so a scoring batch of 256
 * images of 256 px would hold 17 GB; chunks of 2^19 pixels hold about half a gigabyte.
 */
const SCORING_PIXELS = 2 ** 19;

/**
 * Image scores: the peak of the probability map's mean over 5 x 5 windows, so that one stray
 * pixel does not make an anomaly (DRAEM takes the peak of a smoothed map the same way).
 */
export function segmenterScores(net: SegmenterNet, x: Tensor): Float32Array {
  const [n, , h, w] = x.shape as [number, number, number, number];
  const per = Math.max(1, Math.floor(SCORING_PIXELS / (h * w)));
  const out = new Float32Array(n);
  for (let from = 0; from < n; from += per) {
    out.set(noGrad(() => tidy(() => {
      const maps = segmenterMaps(net, ops.slice(x, 0, from, Math.min(n, from + per)));
      const k = Math.min(SEGMENTER_WINDOW, h, w);
      const smooth = ops.avgPool2d(maps, k, 1, Math.floor(k / 2));
      return ops.maxDim(ops.flatten(smooth, 1), 1)[0].toFloat32();
    })), from);
  }
  return out;
}
