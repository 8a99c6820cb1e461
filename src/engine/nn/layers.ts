/**
 * Layers with PyTorch's defaults and initialisation (kaiming-uniform weights with a = sqrt(5),
 * biases uniform in +-1/sqrt(fan_in)), so a vigil model starts where the same PyTorch model does.
 * Constructors reject bad values and say which.
 */
import { Tensor } from '../tensor.js';
import * as ops from '../ops.js';
import { Module } from './module.js';

function positiveInt(layer: string, name: string, v: number): number {
  if (!Number.isInteger(v) || v <= 0) throw new RangeError(`${layer}: ${name} must be a positive integer, got ${v}`);
  return v;
}
function nonNegativeInt(layer: string, name: string, v: number): number {
  if (!Number.isInteger(v) || v < 0) throw new RangeError(`${layer}: ${name} must be a non-negative integer, got ${v}`);
  return v;
}

function uniformParam(shape: number[], bound: number): Tensor {
  const t = ops.zeros(shape);
  ops.uniform_(t, -bound, bound).dispose();
  return t;
}

export interface Conv2dOptions { stride?: number; padding?: number; dilation?: number; bias?: boolean }

export class Conv2d extends Module {
  readonly config: Required<Conv2dOptions> & { inChannels: number; outChannels: number; kernelSize: number };
  constructor(inChannels: number, outChannels: number, kernelSize: number, opts: Conv2dOptions = {}) {
    super();
    this.config = {
      inChannels: positiveInt('Conv2d', 'inChannels', inChannels),
      outChannels: positiveInt('Conv2d', 'outChannels', outChannels),
      kernelSize: positiveInt('Conv2d', 'kernelSize', kernelSize),
      stride: positiveInt('Conv2d', 'stride', opts.stride ?? 1),
      padding: nonNegativeInt('Conv2d', 'padding', opts.padding ?? 0),
      dilation: positiveInt('Conv2d', 'dilation', opts.dilation ?? 1),
      bias: opts.bias ?? true,
    };
    const bound = 1 / Math.sqrt(inChannels * kernelSize * kernelSize);
    this.param('weight', uniformParam([outChannels, inChannels, kernelSize, kernelSize], bound));
    if (this.config.bias) this.param('bias', uniformParam([outChannels], bound));
  }
  forward(x: Tensor): Tensor {
    const c = this.config;
    return ops.conv2d(x, this.get('weight'), this.has('bias') ? this.get('bias') : null, c.stride, c.padding, c.dilation);
  }
}

export interface ConvTranspose2dOptions { stride?: number; padding?: number; outputPadding?: number; bias?: boolean }

export class ConvTranspose2d extends Module {
  readonly config: Required<ConvTranspose2dOptions> & { inChannels: number; outChannels: number; kernelSize: number };
  constructor(inChannels: number, outChannels: number, kernelSize: number, opts: ConvTranspose2dOptions = {}) {
    super();
    this.config = {
      inChannels: positiveInt('ConvTranspose2d', 'inChannels', inChannels),
      outChannels: positiveInt('ConvTranspose2d', 'outChannels', outChannels),
      kernelSize: positiveInt('ConvTranspose2d', 'kernelSize', kernelSize),
      stride: positiveInt('ConvTranspose2d', 'stride', opts.stride ?? 1),
      padding: nonNegativeInt('ConvTranspose2d', 'padding', opts.padding ?? 0),
      outputPadding: nonNegativeInt('ConvTranspose2d', 'outputPadding', opts.outputPadding ?? 0),
      bias: opts.bias ?? true,
    };
    if (this.config.outputPadding >= this.config.stride) {
      throw new RangeError(`ConvTranspose2d: outputPadding (${this.config.outputPadding}) must be smaller than stride (${this.config.stride})`);
    }
    // PyTorch computes fan_in of a transposed conv from weight dim 1 (= outChannels)
    const bound = 1 / Math.sqrt(outChannels * kernelSize * kernelSize);
    this.param('weight', uniformParam([inChannels, outChannels, kernelSize, kernelSize], bound));
    if (this.config.bias) this.param('bias', uniformParam([outChannels], bound));
  }
  forward(x: Tensor): Tensor {
    const c = this.config;
    return ops.convTranspose2d(x, this.get('weight'), this.has('bias') ? this.get('bias') : null, c.stride, c.padding, c.outputPadding);
  }
}

export class Linear extends Module {
  readonly config: { inFeatures: number; outFeatures: number; bias: boolean };
  constructor(inFeatures: number, outFeatures: number, bias = true) {
    super();
    this.config = {
      inFeatures: positiveInt('Linear', 'inFeatures', inFeatures),
      outFeatures: positiveInt('Linear', 'outFeatures', outFeatures),
      bias,
    };
    const bound = 1 / Math.sqrt(inFeatures);
    this.param('weight', uniformParam([outFeatures, inFeatures], bound));
    if (bias) this.param('bias', uniformParam([outFeatures], bound));
  }
  forward(x: Tensor): Tensor {
    return ops.linear(x, this.get('weight'), this.has('bias') ? this.get('bias') : null);
  }
}

/** Batch norm over channels (dim 1) for NCHW or NC input. */
export class BatchNorm extends Module {
  readonly config: { features: number; momentum: number; eps: number };
  constructor(features: number, opts: { momentum?: number; eps?: number } = {}) {
    super();
    this.config = { features: positiveInt('BatchNorm', 'features', features), momentum: opts.momentum ?? 0.1, eps: opts.eps ?? 1e-5 };
    if (!(this.config.momentum >= 0 && this.config.momentum <= 1)) throw new RangeError(`BatchNorm: momentum must be in [0, 1], got ${this.config.momentum}`);
    this.param('weight', ops.ones([features]));
    this.param('bias', ops.zeros([features]));
    this.buffer('running_mean', ops.zeros([features]));
    this.buffer('running_var', ops.ones([features]));
  }
  forward(x: Tensor): Tensor {
    return ops.batchNorm(x, this.get('weight'), this.get('bias'), this.get('running_mean'), this.get('running_var'),
      this.training, this.config.momentum, this.config.eps);
  }
}
export { BatchNorm as BatchNorm2d, BatchNorm as BatchNorm1d };

export class ReLU extends Module {
  forward(x: Tensor): Tensor { return ops.relu(x); }
}
export class LeakyReLU extends Module {
  constructor(readonly slope = 0.01) { super(); }
  forward(x: Tensor): Tensor { return ops.leakyRelu(x, this.slope); }
}
export class Sigmoid extends Module {
  forward(x: Tensor): Tensor { return ops.sigmoid(x); }
}
export class Tanh extends Module {
  forward(x: Tensor): Tensor { return ops.tanh(x); }
}
export class Dropout extends Module {
  constructor(readonly p = 0.5) {
    super();
    if (!(p >= 0 && p < 1)) throw new RangeError(`Dropout: p must be in [0, 1), got ${p}`);
  }
  forward(x: Tensor): Tensor { return this.p === 0 ? ops.clone(x) : ops.dropout(x, this.p, this.training); }
}
export class MaxPool2d extends Module {
  constructor(readonly kernel = 2, readonly stride = kernel) { super(); positiveInt('MaxPool2d', 'kernel', kernel); }
  forward(x: Tensor): Tensor { return ops.maxPool2d(x, this.kernel, this.stride); }
}
export class AvgPool2d extends Module {
  constructor(readonly kernel = 2, readonly stride = kernel) { super(); positiveInt('AvgPool2d', 'kernel', kernel); }
  forward(x: Tensor): Tensor { return ops.avgPool2d(x, this.kernel, this.stride); }
}
/** Upsampling by an integer factor, nearest or bilinear. */
export class Upsample extends Module {
  constructor(readonly factor = 2, readonly mode: 'nearest' | 'bilinear' = 'nearest') { super(); positiveInt('Upsample', 'factor', factor); }
  forward(x: Tensor): Tensor {
    const [, , h, w] = x.shape;
    const size: [number, number] = [h * this.factor, w * this.factor];
    return this.mode === 'nearest' ? ops.upsampleNearest2d(x, size) : ops.upsampleBilinear2d(x, size);
  }
}
export class Flatten extends Module {
  forward(x: Tensor): Tensor { return ops.flatten(x, 1); }
}
/** Reshapes [N, ...] to [N, ...shape]. */
export class Reshape extends Module {
  constructor(readonly shape: number[]) { super(); }
  forward(x: Tensor): Tensor { return ops.reshape(x, [x.shape[0], ...this.shape]); }
}
