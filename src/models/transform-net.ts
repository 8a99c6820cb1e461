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
import { nn, ops, tidy, noGrad, type Tensor } from '../engine/index.js';
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
  /** Every transformation of every image: [T * N, C, H, W], transformation-major, and the int64 labels [T * N]. */
  expand(x: Tensor): { x: Tensor; labels: Tensor };
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

  const apply = (x: Tensor, t: number): Tensor => {
    const spec = transforms[t];
    if (!spec) throw new RangeError(`transforms: index ${t} out of range 0..${transforms.length - 1}`);
    const [, , h, w] = x.shape as [number, number, number, number];
    if (spec.quarterTurns % 2 === 1 && h !== w) throw new RangeError(`transforms: quarter turns need square images, got ${h}x${w}`);
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
  return {
    options, transforms, count: transforms.length, apply,
    expand(x: Tensor) {
      return tidy(() => {
        const n = x.shape[0]!;
        const xs = ops.cat(transforms.map((_, t) => apply(x, t)), 0);
        const labels = ops.indices(transforms.flatMap((_, t) => new Array<number>(n).fill(t)), x.device);
        return { x: xs, labels };
      });
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
    return tidy(() => this.head.forward(ops.mean(this.body.forward(x), [2, 3])));
  }
}

/**
 * Mean negative log-probability of the right transformation over the whole set, per image
 * (eval mode, no gradient). Higher = more anomalous.
 */
export function transformScores(net: TransformNet, set: TransformSet, x: Tensor): Float32Array {
  net.eval();
  return noGrad(() => tidy(() => {
    const n = x.shape[0]!;
    // one transformation at a time: memory stays that of one batch whatever the set's size
    let total: Tensor | undefined;
    for (let t = 0; t < set.count; t++) {
      const labels = ops.full([n], t, { dtype: 'int64', device: x.device });
      const nll = ops.crossEntropy(net.forward(set.apply(x, t)), labels, 'none');
      total = total ? ops.add(total, nll) : nll;
    }
    return ops.div(total!, set.count).toFloat32();
  }));
}
