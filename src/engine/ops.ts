/**
 * Tensor operations. Each one calls the ATen operator of the same name through the dispatcher,
 * so autograd and the CPU/CUDA kernels are libtorch's own. Operators are resolved once, lazily.
 */
import { native, type Handle } from './binding.js';
import { Tensor, type DType, type Device } from './tensor.js';
import { getDefaultDevice } from './runtime.js';

const opIds = new Map<string, number>();

function opId(name: string, overload = ''): number {
  const key = `${name}.${overload}`;
  let id = opIds.get(key);
  if (id === undefined) {
    id = native.resolveOp(`aten::${name}`, overload);
    opIds.set(key, id);
  }
  return id;
}

function unwrapArg(a: unknown): unknown {
  if (a instanceof Tensor) return a.handle;
  if (Array.isArray(a) && a.length > 0 && a[0] instanceof Tensor) return a.map((t: Tensor) => t.handle);
  return a;
}

function wrapResult(r: unknown): unknown {
  if (r === null || r === undefined) return r;
  if (typeof r === 'object' && !Array.isArray(r)) return new Tensor(r as Handle);
  if (Array.isArray(r)) return r.map(wrapResult);
  return r;
}

/** Calls any ATen operator: `callOp('conv2d', '', [x, w, b])`. The escape hatch behind every op. */
export function callOp(name: string, overload: string, args: unknown[]): unknown {
  return wrapResult(native.call(opId(name, overload), args.map(unwrapArg)));
}

function t1(name: string, overload: string, args: unknown[]): Tensor {
  return callOp(name, overload, args) as Tensor;
}

export type Scalar = number;
export type TensorLike = Tensor | Scalar;
export interface CreateOptions { dtype?: DType; device?: Device | string }

// ---------------------------------------------------------------------------------------------
// Creation

/** A tensor from a typed array or number list (copied). A Uint8Array with dtype float32 is scaled to [0,1]. */
export function tensor(data: ArrayBufferView | number[], shape?: number[], opts: CreateOptions = {}): Tensor {
  // number lists keep full precision for float64/int64 tensors
  const wide = opts.dtype === 'float64' || opts.dtype === 'int64';
  const arr = Array.isArray(data) ? (wide ? Float64Array.from(data) : Float32Array.from(data)) : data;
  const n = (arr as unknown as { length: number }).length;
  const shp = shape ?? [n];
  return new Tensor(native.fromArray(arr, shp, opts.dtype, opts.device ?? getDefaultDevice()));
}
export function scalar(v: number, opts: CreateOptions = {}): Tensor {
  return tensor([v], [], opts);
}
export function zeros(shape: number[], opts: CreateOptions = {}): Tensor {
  return t1('zeros', '', [shape, opts.dtype ?? 'float32', null, opts.device ?? getDefaultDevice()]);
}
export function ones(shape: number[], opts: CreateOptions = {}): Tensor {
  return t1('ones', '', [shape, opts.dtype ?? 'float32', null, opts.device ?? getDefaultDevice()]);
}
export function full(shape: number[], value: number, opts: CreateOptions = {}): Tensor {
  return t1('full', '', [shape, value, opts.dtype ?? 'float32', null, opts.device ?? getDefaultDevice()]);
}
/** Uniform on [0, 1). */
export function rand(shape: number[], opts: CreateOptions = {}): Tensor {
  return t1('rand', '', [shape, opts.dtype ?? 'float32', null, opts.device ?? getDefaultDevice()]);
}
/** Standard normal. */
export function randn(shape: number[], opts: CreateOptions = {}): Tensor {
  return t1('randn', '', [shape, opts.dtype ?? 'float32', null, opts.device ?? getDefaultDevice()]);
}
/** A random permutation of 0..n-1 (int64). */
export function randperm(n: number, opts: CreateOptions = {}): Tensor {
  return t1('randperm', '', [n, 'int64', null, opts.device ?? getDefaultDevice()]);
}
export function arange(end: number, opts: CreateOptions = {}): Tensor {
  return t1('arange', '', [end, opts.dtype ?? 'int64', null, opts.device ?? getDefaultDevice()]);
}
/** Integer indices as an int64 tensor. */
export function indices(values: ArrayLike<number>, device: Device | string = getDefaultDevice()): Tensor {
  return new Tensor(native.fromArray(Int32Array.from(values as ArrayLike<number>), [values.length], 'int64', device));
}
/** Fills t in place with U(low, high) (no autograd). */
export function uniform_(t: Tensor, low: number, high: number): Tensor {
  return t1('uniform_', '', [t, low, high]);
}
export function normal_(t: Tensor, mean = 0, std = 1): Tensor {
  return t1('normal_', '', [t, mean, std]);
}

// ---------------------------------------------------------------------------------------------
// Elementwise arithmetic (b may be a number)

export function add(a: Tensor, b: TensorLike, alpha = 1): Tensor {
  return b instanceof Tensor ? t1('add', 'Tensor', [a, b, alpha]) : t1('add', 'Scalar', [a, b, alpha]);
}
export function sub(a: Tensor, b: TensorLike, alpha = 1): Tensor {
  return b instanceof Tensor ? t1('sub', 'Tensor', [a, b, alpha]) : t1('sub', 'Scalar', [a, b, alpha]);
}
export function mul(a: Tensor, b: TensorLike): Tensor {
  return b instanceof Tensor ? t1('mul', 'Tensor', [a, b]) : t1('mul', 'Scalar', [a, b]);
}
export function div(a: Tensor, b: TensorLike): Tensor {
  return b instanceof Tensor ? t1('div', 'Tensor', [a, b]) : t1('div', 'Scalar', [a, b]);
}
/** b - a for a number b. */
export function rsub(a: Tensor, b: number): Tensor { return t1('rsub', 'Scalar', [a, b, 1]); }
export function neg(a: Tensor): Tensor { return t1('neg', '', [a]); }
export function exp(a: Tensor): Tensor { return t1('exp', '', [a]); }
export function log(a: Tensor): Tensor { return t1('log', '', [a]); }
export function sqrt(a: Tensor): Tensor { return t1('sqrt', '', [a]); }
export function rsqrt(a: Tensor): Tensor { return t1('rsqrt', '', [a]); }
export function abs(a: Tensor): Tensor { return t1('abs', '', [a]); }
export function square(a: Tensor): Tensor { return t1('mul', 'Tensor', [a, a]); }
export function pow(a: Tensor, e: TensorLike): Tensor {
  return e instanceof Tensor ? t1('pow', 'Tensor_Tensor', [a, e]) : t1('pow', 'Tensor_Scalar', [a, e]);
}
export function clamp(a: Tensor, min: number | null, max: number | null = null): Tensor {
  return t1('clamp', '', [a, min, max]);
}
export function maximum(a: Tensor, b: Tensor): Tensor { return t1('maximum', '', [a, b]); }
export function minimum(a: Tensor, b: Tensor): Tensor { return t1('minimum', '', [a, b]); }
export function where(cond: Tensor, a: Tensor, b: Tensor): Tensor { return t1('where', 'self', [cond, a, b]); }
export function gt(a: Tensor, b: TensorLike): Tensor { return b instanceof Tensor ? t1('gt', 'Tensor', [a, b]) : t1('gt', 'Scalar', [a, b]); }
export function lt(a: Tensor, b: TensorLike): Tensor { return b instanceof Tensor ? t1('lt', 'Tensor', [a, b]) : t1('lt', 'Scalar', [a, b]); }
export function ge(a: Tensor, b: TensorLike): Tensor { return b instanceof Tensor ? t1('ge', 'Tensor', [a, b]) : t1('ge', 'Scalar', [a, b]); }
export function le(a: Tensor, b: TensorLike): Tensor { return b instanceof Tensor ? t1('le', 'Tensor', [a, b]) : t1('le', 'Scalar', [a, b]); }
export function eq(a: Tensor, b: TensorLike): Tensor { return b instanceof Tensor ? t1('eq', 'Tensor', [a, b]) : t1('eq', 'Scalar', [a, b]); }

// ---------------------------------------------------------------------------------------------
// Reductions. `dims` null means all dimensions.

export function sum(a: Tensor, dims: number[] | number | null = null, keepdim = false): Tensor {
  if (dims === null) return t1('sum', '', [a]);
  return t1('sum', 'dim_IntList', [a, typeof dims === 'number' ? [dims] : dims, keepdim]);
}
export function mean(a: Tensor, dims: number[] | number | null = null, keepdim = false): Tensor {
  if (dims === null) return t1('mean', '', [a]);
  return t1('mean', 'dim', [a, typeof dims === 'number' ? [dims] : dims, keepdim]);
}
/** Maximum over everything. */
export function max(a: Tensor): Tensor { return t1('max', '', [a]); }
export function min(a: Tensor): Tensor { return t1('min', '', [a]); }
/** Maximum along a dimension: [values, indices]. */
export function maxDim(a: Tensor, dim: number, keepdim = false): [Tensor, Tensor] {
  return callOp('max', 'dim', [a, dim, keepdim]) as [Tensor, Tensor];
}
export function minDim(a: Tensor, dim: number, keepdim = false): [Tensor, Tensor] {
  return callOp('min', 'dim', [a, dim, keepdim]) as [Tensor, Tensor];
}
export function argmax(a: Tensor, dim: number | null = null, keepdim = false): Tensor { return t1('argmax', '', [a, dim, keepdim]); }
export function logsumexp(a: Tensor, dims: number[] | number, keepdim = false): Tensor {
  return t1('logsumexp', '', [a, typeof dims === 'number' ? [dims] : dims, keepdim]);
}
/** Variance (unbiased by default, like PyTorch). */
export function variance(a: Tensor, dims: number[] | number | null = null, unbiased = true, keepdim = false): Tensor {
  if (dims === null) return t1('var', '', [a, unbiased]);
  return t1('var', 'dim', [a, typeof dims === 'number' ? [dims] : dims, unbiased, keepdim]);
}
export function std(a: Tensor, dims: number[] | number | null = null, unbiased = true, keepdim = false): Tensor {
  if (dims === null) return t1('std', '', [a, unbiased]);
  return t1('std', 'dim', [a, typeof dims === 'number' ? [dims] : dims, unbiased, keepdim]);
}
/** Sorted values and their indices along dim. */
export function sort(a: Tensor, dim = -1, descending = false): [Tensor, Tensor] {
  return callOp('sort', '', [a, dim, descending]) as [Tensor, Tensor];
}
export function topk(a: Tensor, k: number, dim = -1, largest = true): [Tensor, Tensor] {
  return callOp('topk', '', [a, k, dim, largest, true]) as [Tensor, Tensor];
}

// ---------------------------------------------------------------------------------------------
// Shapes and indexing

export function reshape(a: Tensor, shape: number[]): Tensor { return t1('reshape', '', [a, shape]); }
export function flatten(a: Tensor, startDim = 0, endDim = -1): Tensor { return t1('flatten', 'using_ints', [a, startDim, endDim]); }
export function unsqueeze(a: Tensor, dim: number): Tensor { return t1('unsqueeze', '', [a, dim]); }
export function squeeze(a: Tensor, dim: number): Tensor { return t1('squeeze', 'dim', [a, dim]); }
export function permute(a: Tensor, dims: number[]): Tensor { return t1('permute', '', [a, dims]); }
export function transpose(a: Tensor, d0: number, d1: number): Tensor { return t1('transpose', 'int', [a, d0, d1]); }
export function contiguous(a: Tensor): Tensor { return t1('contiguous', '', [a]); }
/**
 * The same [N, C, H, W] values stored channels-last (NHWC, PyTorch's `memory_format=torch.channels_last`).
 * A convolution given such an input runs in NHWC (cuDNN, oneDNN on the CPU) and keeps the layout
 * for the layers after it, which spares the tensor cores a transposition per layer. With one
 * channel the NCHW bytes are already NHWC, but libtorch reads such strides as NCHW, so that case
 * is a restrided view.
 */
export function channelsLast(a: Tensor): Tensor {
  if (a.shape.length !== 4) throw new RangeError(`channelsLast: expected [N, C, H, W], got [${a.shape}]`);
  const [, c, h, w] = a.shape as [number, number, number, number];
  if (c !== 1) return t1('contiguous', '', [a, MEMORY_FORMAT_CHANNELS_LAST]);
  const dense = contiguous(a);
  try {
    return t1('as_strided', '', [dense, a.shape, [h * w, 1, w, 1], null]);
  } finally {
    dense.dispose(); // the view keeps the storage alive
  }
}
const MEMORY_FORMAT_CHANNELS_LAST = 2; // c10::MemoryFormat::ChannelsLast
export function clone(a: Tensor): Tensor { return t1('clone', '', [a]); }
/** The same values cut from autograd. */
export function detach(a: Tensor): Tensor { return t1('detach', '', [a]); }
export function expand(a: Tensor, shape: number[]): Tensor { return t1('expand', '', [a, shape]); }
export function repeat(a: Tensor, repeats: number[]): Tensor { return t1('repeat', '', [a, repeats]); }
export function cat(ts: Tensor[], dim = 0): Tensor { return t1('cat', '', [ts, dim]); }
export function stack(ts: Tensor[], dim = 0): Tensor { return t1('stack', '', [ts, dim]); }
/** Elements start..end-1 (step) along dim, as a view. */
export function slice(a: Tensor, dim: number, start: number, end: number, step = 1): Tensor {
  return t1('slice', 'Tensor', [a, dim, start, end, step]);
}
export function indexSelect(a: Tensor, dim: number, index: Tensor): Tensor { return t1('index_select', '', [a, dim, index]); }
export function gather(a: Tensor, dim: number, index: Tensor): Tensor { return t1('gather', '', [a, dim, index, false]); }
/** Zero (or constant) padding: pad = [left, right, top, bottom, ...] from the last dim backwards. */
export function pad(a: Tensor, padding: number[], value = 0): Tensor { return t1('constant_pad_nd', '', [a, padding, value]); }
/** Reflection padding of the last two dims: pad = [left, right, top, bottom], each smaller than its dim. */
export function reflectionPad2d(a: Tensor, padding: [number, number, number, number]): Tensor { return t1('reflection_pad2d', '', [a, padding]); }
/** Sliding blocks of the last two dims (torch's F.unfold): [N, C, H, W] -> [N, C*kh*kw, L]. */
export function im2col(x: Tensor, kernel: [number, number], stride: [number, number], padding: [number, number] = [0, 0], dilation: [number, number] = [1, 1]): Tensor {
  return t1('im2col', '', [x, kernel, dilation, padding, stride]);
}
/** The inverse of im2col, summing where blocks overlap (torch's F.fold): [N, C*kh*kw, L] -> [N, C, H, W]. */
export function col2im(cols: Tensor, size: [number, number], kernel: [number, number], stride: [number, number], padding: [number, number] = [0, 0], dilation: [number, number] = [1, 1]): Tensor {
  return t1('col2im', '', [cols, size, kernel, dilation, padding, stride]);
}
/** Reverses the order of elements along the given dims. */
export function flip(a: Tensor, dims: number[]): Tensor { return t1('flip', '', [a, dims]); }
/** Rotates by k * 90 degrees in the plane of dims (default the last two: [.., H, W]), from the first towards the second. */
export function rot90(a: Tensor, k = 1, dims: [number, number] = [-2, -1]): Tensor { return t1('rot90', '', [a, k, dims]); }
export function toDevice(a: Tensor, device: Device | string): Tensor { return t1('to', 'device', [a, device, a.dtype, false, false]); }
export function toDtype(a: Tensor, dtype: DType): Tensor { return t1('to', 'dtype', [a, dtype, false, false]); }
/** In-place copy of src into dst (no autograd through dst's old value). */
export function copy_(dst: Tensor, src: Tensor): Tensor { return t1('copy_', '', [dst, src, false]); }

// ---------------------------------------------------------------------------------------------
// Neural network operations

export function linear(x: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor { return t1('linear', '', [x, weight, bias]); }
export function matmul(a: Tensor, b: Tensor): Tensor { return t1('matmul', '', [a, b]); }

export function conv2d(x: Tensor, weight: Tensor, bias: Tensor | null = null, stride: number | number[] = 1, padding: number | number[] = 0,
  dilation: number | number[] = 1, groups = 1): Tensor {
  return t1('conv2d', '', [x, weight, bias, pair(stride), pair(padding), pair(dilation), groups]);
}
export function convTranspose2d(x: Tensor, weight: Tensor, bias: Tensor | null = null, stride: number | number[] = 1,
  padding: number | number[] = 0, outputPadding: number | number[] = 0, groups = 1, dilation: number | number[] = 1): Tensor {
  return t1('conv_transpose2d', 'input', [x, weight, bias, pair(stride), pair(padding), pair(outputPadding), groups, pair(dilation)]);
}
export function maxPool2d(x: Tensor, kernel: number | number[], stride?: number | number[], padding: number | number[] = 0): Tensor {
  return t1('max_pool2d', '', [x, pair(kernel), pair(stride ?? kernel), pair(padding), [1, 1], false]);
}
export function avgPool2d(x: Tensor, kernel: number | number[], stride?: number | number[], padding: number | number[] = 0): Tensor {
  return t1('avg_pool2d', '', [x, pair(kernel), pair(stride ?? kernel), pair(padding), false, true, null]);
}
export function upsampleNearest2d(x: Tensor, size: [number, number]): Tensor {
  return t1('upsample_nearest2d', '', [x, size, null, null]);
}
export function upsampleBilinear2d(x: Tensor, size: [number, number], alignCorners = false): Tensor {
  return t1('upsample_bilinear2d', '', [x, size, alignCorners, null, null]);
}
export function upsampleBicubic2d(x: Tensor, size: [number, number], alignCorners = false): Tensor {
  return t1('upsample_bicubic2d', '', [x, size, alignCorners, null, null]);
}
/** Batch normalisation; in training it updates runningMean/runningVar in place. */
export function batchNorm(x: Tensor, weight: Tensor | null, bias: Tensor | null, runningMean: Tensor | null, runningVar: Tensor | null,
  training: boolean, momentum = 0.1, eps = 1e-5): Tensor {
  return t1('batch_norm', '', [x, weight, bias, runningMean, runningVar, training, momentum, eps, true]);
}
export function relu(x: Tensor): Tensor { return t1('relu', '', [x]); }
export function leakyRelu(x: Tensor, slope = 0.01): Tensor { return t1('leaky_relu', '', [x, slope]); }
export function sigmoid(x: Tensor): Tensor { return t1('sigmoid', '', [x]); }
export function tanh(x: Tensor): Tensor { return t1('tanh', '', [x]); }
export function softplus(x: Tensor): Tensor { return t1('softplus', '', [x, 1, 20]); }
export function logSigmoid(x: Tensor): Tensor { return t1('log_sigmoid', '', [x]); }
export function dropout(x: Tensor, p: number, training: boolean): Tensor { return t1('dropout', '', [x, p, training]); }

/** Mean squared error; reduction 'mean' | 'sum' | 'none'. */
export function mseLoss(a: Tensor, b: Tensor, reduction: 'mean' | 'sum' | 'none' = 'mean'): Tensor {
  return t1('mse_loss', '', [a, b, REDUCTION[reduction]]);
}
/** Binary cross-entropy on logits (numerically stable). */
export function bceWithLogits(logits: Tensor, target: Tensor, reduction: 'mean' | 'sum' | 'none' = 'mean'): Tensor {
  return t1('binary_cross_entropy_with_logits', '', [logits, target, null, null, REDUCTION[reduction]]);
}
const REDUCTION = { none: 0, mean: 1, sum: 2 } as const;
/** log(softmax(a)) along dim, computed stably. */
export function logSoftmax(a: Tensor, dim = -1): Tensor { return t1('log_softmax', 'int', [a, dim, null]); }
/** Cross-entropy of logits [n, classes] against int64 class indices [n] (PyTorch's F.cross_entropy). */
export function crossEntropy(logits: Tensor, target: Tensor, reduction: 'mean' | 'sum' | 'none' = 'mean'): Tensor {
  return t1('cross_entropy_loss', '', [logits, target, null, REDUCTION[reduction], -100, 0]);
}

/** Squared Euclidean distances between the rows of a [n,d] and b [m,d]: [n,m], clamped at 0. */
export function pairwiseSqDist(a: Tensor, b: Tensor): Tensor {
  const aa = sum(mul(a, a), 1, true);
  const bb = transpose(sum(mul(b, b), 1, true), 0, 1);
  const ab = matmul(a, transpose(b, 0, 1));
  const d = add(add(aa, bb), ab, -2);
  const out = clamp(d, 0, null);
  for (const t of [aa, bb, ab, d]) t.dispose();
  return out;
}

function pair(v: number | number[]): number[] {
  return typeof v === 'number' ? [v, v] : v;
}
