/**
 * Self-supervised anomaly scoring by geometric transformations (Golan & El-Yaniv, NeurIPS 2018,
 * "GEOM"; Hendrycks et al., NeurIPS 2019): a classifier learns to tell which of T transformations
 * (flips, shifts, quarter turns) was applied to a normal image. On an image unlike the training
 * class it cannot tell, so the score is the mean negative log-probability it gives the right
 * transformation:
 *
 *     score(x) = -(1/T) * sum_t log p(t | transform_t(x))
 *
 * It sees shape and orientation where an autoencoder sees pixels, which is why fusing the two
 * scores ranks better than either (docs/BENCHMARKS.md). Not for rotation-invariant data such as
 * cell images, where "which way up" has no answer.
 *
 * ```ts
 * const set = transformSet({ flips: true, shifts: 1, rotations: 4 });    // 2 x 3 x 3 x 4 = 72
 * const net = new TransformNet({ height: 28, width: 28, channels: 1, classes: set.count, filters: [32, 64, 128] });
 * const { x: xs, labels } = set.expand(x);    // every transformation of every image, and its index
 * const loss = ops.crossEntropy(net.forward(xs), labels);
 * const scores = transformScores(net, set, x);   // Float32Array, higher = more anomalous
 * ```
 */
import { nn, ops, tidy, keep, noGrad, type Tensor } from '../engine/index.js';
import { Module } from '../engine/nn/module.js';

export interface TransformSetOptions {
  /** Add horizontally flipped copies (x2). Default true. */
  flips?: boolean;
  /** Shift steps per axis on each side: 1 gives offsets {0, -s, +s} in x and y (x9). Default 1. */
  shifts?: number;
  /** Shift step as a fraction of the image side. Default 0.25 (7 px at 28, 8 at 32). */
  shiftFraction?: number;
  /** Quarter turns: 1 (none), 2 (0 and 180 degrees) or 4. Default 4. */
  rotations?: 1 | 2 | 4;
}

export interface TransformSpec { flip: boolean; dx: number; dy: number; quarterTurns: number }

export interface TransformSet {
  readonly options: Required<TransformSetOptions>;
  readonly transforms: readonly TransformSpec[];
  readonly count: number;
  /** One transformation of a batch [N, C, H, W] (same shape; shifted-in pixels are 0). */
  apply(x: Tensor, t: number): Tensor;
  /** Transformations from..to-1 of every image: [(to - from) * N, C, H, W], transformation-major. */
  applyRange(x: Tensor, from: number, to: number): Tensor;
  /** Every transformation of every image: [T * N, C, H, W], transformation-major, and the int64 labels [T * N]. */
  expand(x: Tensor): { x: Tensor; labels: Tensor };
  /** The int64 labels of applyRange(x, from, to) for N images: [(to - from) * N], each transformation's index N times. */
  labels(n: number, from: number, to: number, device: string): Tensor;
  /** `apply` done op by op (flip, pad, cut, turn): the definition that apply and expand's gather reproduce; for tests. */
  reference(x: Tensor, t: number): Tensor;
  /** Frees the cached pixel maps (one small int64 tensor per image size and device). */
  dispose(): void;
}

export function transformSet(opts: TransformSetOptions = {}): TransformSet {
  const options: Required<TransformSetOptions> = {
    flips: opts.flips ?? true, shifts: opts.shifts ?? 1, shiftFraction: opts.shiftFraction ?? 0.25, rotations: opts.rotations ?? 4,
  };
  if (![1, 2, 4].includes(options.rotations)) throw new RangeError(`transforms: rotations must be 1, 2 or 4, got ${options.rotations}`);
  if (!Number.isInteger(options.shifts) || options.shifts < 0 || options.shifts > 2) throw new RangeError(`transforms: shifts must be 0, 1 or 2, got ${options.shifts}`);
  if (!(options.shiftFraction > 0 && options.shiftFraction * Math.max(1, options.shifts) < 0.5)) {
    throw new RangeError(`transforms: shiftFraction x shifts must be in (0, 0.5), got ${options.shiftFraction} x ${options.shifts}`);
  }
  const offsets = [0];
  for (let s = 1; s <= options.shifts; s++) offsets.push(-s, s);
  const transforms: TransformSpec[] = [];
  for (const flip of options.flips ? [false, true] : [false]) {
    for (const dx of offsets) for (const dy of offsets) {
      for (let r = 0; r < options.rotations; r++) transforms.push({ flip, dx, dy, quarterTurns: (r * 4) / options.rotations });
    }
  }
  if (transforms.length < 2) throw new RangeError('transforms: the set needs at least 2 transformations (turn on flips, shifts or rotations)');

  // Each transformation as ops (flip, shift by pad-and-cut, quarter turns): the definition.
  const compose = (x: Tensor, t: number): Tensor => {
    const spec = transforms[t];
    const [, , h, w] = x.shape as [number, number, number, number];
    return tidy(() => {
      let y = spec.flip ? ops.flip(x, [3]) : x;
      if (spec.dx || spec.dy) {
        const sx = Math.round(spec.dx * options.shiftFraction * w);
        const sy = Math.round(spec.dy * options.shiftFraction * h);
        // shift by padding one side and cutting the other: the image moves, zeros come in
        const padded = ops.pad(y, [Math.max(sx, 0), Math.max(-sx, 0), Math.max(sy, 0), Math.max(-sy, 0)]);
        y = ops.slice(ops.slice(padded, 3, Math.max(-sx, 0), Math.max(-sx, 0) + w), 2, Math.max(-sy, 0), Math.max(-sy, 0) + h);
      }
      if (spec.quarterTurns) y = ops.rot90(y, spec.quarterTurns, [2, 3]);
      return y === x ? ops.clone(x) : ops.contiguous(y);
    });
  };
  // Every transformation only moves pixels (or lets zeros in), so all of them together are one
  // gather from the image with a zero pixel in front: index 0 is that zero, i + 1 is pixel i. The
  // map is made once per image size and device by running `compose` on an image of positions;
  // a training step then costs one gather instead of a few ops per transformation.
  const maps = new Map<string, Tensor>();
  const sourceIndex = (h: number, w: number, device: string): Tensor => {
    const key = `${h}x${w}@${device}`;
    let map = maps.get(key);
    if (!map) {
      if (transforms.some((s) => s.quarterTurns % 2 === 1) && h !== w) throw new RangeError(`transforms: quarter turns need square images, got ${h}x${w}`);
      const positions = new Float32Array(h * w).map((_, i) => i + 1);
      const rows = noGrad(() => tidy(() => {
        const image = ops.tensor(positions, [1, 1, h, w], { device: 'cpu' });
        return ops.cat(transforms.map((_, t) => ops.reshape(compose(image, t), [1, h * w])), 0).toFloat32();
      }));
      map = keep(ops.indices(rows, device)); // [T * H * W], transformation-major
      maps.set(key, map);
    }
    return map;
  };
  const gather = (x: Tensor, from: number, to: number): Tensor => {
    const [n, c, h, w] = x.shape as [number, number, number, number];
    const map = sourceIndex(h, w, x.device);
    return tidy(() => {
      const withZero = ops.pad(ops.reshape(x, [n, c, h * w]), [1, 0]);
      const picked = ops.indexSelect(withZero, 2, ops.slice(map, 0, from * h * w, to * h * w)); // [N, C, k * H * W]
      if (to - from === 1) return ops.reshape(picked, [n, c, h, w]);
      const all = ops.reshape(picked, [n, c, to - from, h, w]);
      return ops.reshape(ops.contiguous(ops.permute(all, [2, 0, 1, 3, 4])), [(to - from) * n, c, h, w]);
    });
  };
  const labels = (n: number, from: number, to: number, device: string): Tensor =>
    ops.indices(Array.from({ length: (to - from) * n }, (_, i) => from + Math.floor(i / n)), device);
  const checkRange = (from: number, to: number) => {
    if (!(Number.isInteger(from) && Number.isInteger(to) && from >= 0 && to <= transforms.length && from < to)) {
      throw new RangeError(`transforms: index ${to - from === 1 ? from : `range ${from}..${to}`} out of range 0..${transforms.length - 1}`);
    }
  };
  return {
    options, transforms, count: transforms.length,
    apply(x: Tensor, t: number) {
      checkRange(t, t + 1);
      return gather(x, t, t + 1);
    },
    applyRange(x: Tensor, from: number, to: number) {
      checkRange(from, to);
      return gather(x, from, to);
    },
    expand(x: Tensor) {
      return tidy(() => ({ x: gather(x, 0, transforms.length), labels: labels(x.shape[0]!, 0, transforms.length, x.device) }));
    },
    labels(n: number, from: number, to: number, device: string) {
      checkRange(from, to);
      return labels(n, from, to, device);
    },
    reference: compose,
    dispose() {
      for (const m of maps.values()) m.dispose();
      maps.clear();
    },
  };
}

export interface TransformNetConfig {
  height: number;
  width: number;
  channels: number;
  /** Number of transformations to tell apart. */
  classes: number;
  /** Filters of each stage (conv + conv stride 2, batch norm, ReLU). Default [32, 64, 128]. */
  filters?: number[];
}

/** A small all-convolutional classifier: stages of two 3x3 convs (the second strided), global average pooling, a linear head. */
export class TransformNet extends Module {
  readonly config: Required<TransformNetConfig>;
  private readonly body: nn.Sequential;
  private readonly head: nn.Linear;
  constructor(config: TransformNetConfig) {
    super();
    const filters = config.filters ?? [32, 64, 128];
    if (!filters.length || filters.some((f) => !Number.isInteger(f) || f < 1)) throw new RangeError(`TransformNet: filters must be positive integers, got [${filters}]`);
    if (!Number.isInteger(config.classes) || config.classes < 2) throw new RangeError(`TransformNet: classes must be an integer >= 2, got ${config.classes}`);
    this.config = { ...config, filters };
    const layers: Module[] = [];
    let c = config.channels;
    for (const f of filters) {
      layers.push(new nn.Conv2d(c, f, 3, { padding: 1, bias: false }), new nn.BatchNorm(f), new nn.ReLU());
      layers.push(new nn.Conv2d(f, f, 3, { stride: 2, padding: 1, bias: false }), new nn.BatchNorm(f), new nn.ReLU());
      c = f;
    }
    this.body = this.child('body', new nn.Sequential(layers));
    this.head = this.child('head', new nn.Linear(c, config.classes));
  }
  /** Logits [N, classes]. */
  forward(x: Tensor): Tensor {
    // channels-last: training steps 2.2x faster on an H100, 1.4x on the CPU (bench/layout, docs/BENCHMARKS.md)
    return tidy(() => this.head.forward(ops.mean(this.body.forward(ops.channelsLast(x)), [2, 3])));
  }
}

/**
 * Mean negative log-probability of the right transformation over the whole set, per image
 * (eval mode, no gradient). Higher = more anomalous. Several transformations go through the net
 * in one forward, about `imagesPerForward` images at a time. Default: on a GPU 1152, a training
 * step's worth (16 images x 72 transformations), so that a forward is not just kernel launches;
 * on the CPU 256, since bigger forwards ran slower there (2 cores: 1.5 s per 128 test images at
 * 256, 2.8 s at 1152), their activations no longer fitting the caches.
 */
export function transformScores(net: TransformNet, set: TransformSet, x: Tensor, imagesPerForward?: number): Float32Array {
  net.eval();
  return noGrad(() => tidy(() => {
    const n = x.shape[0]!;
    imagesPerForward ??= x.device.startsWith('cuda') ? 1152 : 256;
    const perForward = Math.max(1, Math.min(set.count, Math.floor(imagesPerForward / n)));
    let total: Tensor | undefined;
    for (let from = 0; from < set.count; from += perForward) {
      const to = Math.min(set.count, from + perForward);
      const nll = ops.crossEntropy(net.forward(set.applyRange(x, from, to)), set.labels(n, from, to, x.device), 'none'); // [(to - from) * N]
      const sum = ops.sum(ops.reshape(nll, [to - from, n]), 0);
      total = total ? ops.add(total, sum) : sum;
    }
    return ops.div(total!, set.count).toFloat32();
  }));
}
