/**
 * Every differentiable op against central finite differences in float64 (see gradCheck in
 * helpers.ts). Inputs are tiny so the whole file runs in a few seconds.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { ops, liveTensors } from '../../src/engine/index.js';
import { gradCheck, rnd, awayFromZero, distinct, f64 } from './helpers.js';

const live0 = liveTensors();
after(() => assert.equal(liveTensors(), live0, 'gradient checks leaked tensors'));

describe('gradcheck: convolutions and pooling', () => {
  it('conv2d with stride, padding and bias', () => {
    gradCheck(([x, w, b]) => ops.conv2d(x, w, b, 2, 1), [rnd([1, 2, 5, 5], 1), rnd([3, 2, 3, 3], 2), rnd([3], 3)], { name: 'conv2d s2 p1' });
  });
  it('conv2d with asymmetric stride/padding, dilation, no bias', () => {
    gradCheck(([x, w]) => ops.conv2d(x, w, null, [1, 2], [0, 1], 2), [rnd([2, 1, 6, 5], 4), rnd([2, 1, 2, 2], 5)], { name: 'conv2d dilated' });
  });
  it('convTranspose2d with stride 2 and outputPadding 1', () => {
    gradCheck(([x, w, b]) => {
      const y = ops.convTranspose2d(x, w, b, 2, 1, 1);
      assert.deepEqual(y.shape, [1, 3, 6, 6]); // (3-1)*2 - 2*1 + 3 + 1
      return y;
    }, [rnd([1, 2, 3, 3], 6), rnd([2, 3, 3, 3], 7), rnd([3], 8)], { name: 'convTranspose2d' });
  });
  it('maxPool2d (non-overlapping and overlapping with padding)', () => {
    const x = { data: distinct(2 * 4 * 4, 9), shape: [1, 2, 4, 4] };
    gradCheck(([t]) => ops.maxPool2d(t, 2), [x], { name: 'maxPool2d k2' });
    gradCheck(([t]) => ops.maxPool2d(t, 3, 2, 1), [x], { name: 'maxPool2d k3 s2 p1' });
  });
  it('avgPool2d (non-overlapping and overlapping with padding)', () => {
    gradCheck(([t]) => ops.avgPool2d(t, 2), [rnd([1, 2, 4, 4], 10)], { name: 'avgPool2d k2' });
    gradCheck(([t]) => ops.avgPool2d(t, 3, 2, 1), [rnd([1, 1, 5, 5], 11)], { name: 'avgPool2d k3 s2 p1' });
  });
  it('upsampleNearest2d (integer and non-integer factors)', () => {
    gradCheck(([t]) => ops.upsampleNearest2d(t, [4, 6]), [rnd([1, 2, 2, 3], 12)], { name: 'nearest x2' });
    gradCheck(([t]) => ops.upsampleNearest2d(t, [5, 4]), [rnd([1, 1, 3, 3], 13)], { name: 'nearest 3->5,4' });
  });
  it('upsampleBilinear2d (alignCorners false and true)', () => {
    gradCheck(([t]) => ops.upsampleBilinear2d(t, [5, 7]), [rnd([1, 2, 3, 3], 14)], { name: 'bilinear' });
    gradCheck(([t]) => ops.upsampleBilinear2d(t, [4, 4], true), [rnd([1, 1, 2, 3], 15)], { name: 'bilinear alignCorners' });
  });
  it('batchNorm in training mode w.r.t. input, weight and bias (NCHW and NC)', () => {
    gradCheck(([x, w, b]) => ops.batchNorm(x, w, b, null, null, true), [rnd([2, 3, 2, 2], 16), rnd([3], 17, 0.5, 1.5), rnd([3], 18)],
      { name: 'batchNorm NCHW' });
    gradCheck(([x, w, b]) => ops.batchNorm(x, w, b, null, null, true, 0.1, 1e-3), [rnd([4, 2], 19), rnd([2], 20, 0.5, 1.5), rnd([2], 21)],
      { name: 'batchNorm NC' });
  });
  it('batchNorm in training mode with running statistics still has the same gradient', () => {
    const rm = f64([0, 0, 0]);
    const rv = f64([1, 1, 1]);
    gradCheck(([x, w, b]) => ops.batchNorm(x, w, b, rm, rv, true), [rnd([3, 3], 22), rnd([3], 23, 0.5, 1.5), rnd([3], 24)],
      { name: 'batchNorm with running stats' });
    rm.dispose();
    rv.dispose();
  });
  it('batchNorm in eval mode (running statistics) w.r.t. input, weight and bias', () => {
    const rm = f64([0.2, -0.1]);
    const rv = f64([0.5, 2]);
    gradCheck(([x, w, b]) => ops.batchNorm(x, w, b, rm, rv, false), [rnd([3, 2, 2], 25), rnd([2], 26, 0.5, 1.5), rnd([2], 27)],
      { name: 'batchNorm eval' });
    rm.dispose();
    rv.dispose();
  });
});

describe('gradcheck: dense layers and activations', () => {
  it('linear with and without bias', () => {
    gradCheck(([x, w, b]) => ops.linear(x, w, b), [rnd([3, 4], 30), rnd([2, 4], 31), rnd([2], 32)], { name: 'linear' });
    gradCheck(([x, w]) => ops.linear(x, w), [rnd([2, 3, 4], 33), rnd([5, 4], 34)], { name: 'linear 3d no bias' });
  });
  it('matmul (2d, batched with broadcasting, matrix-vector)', () => {
    gradCheck(([a, b]) => ops.matmul(a, b), [rnd([2, 3], 35), rnd([3, 4], 36)], { name: 'matmul 2d' });
    gradCheck(([a, b]) => ops.matmul(a, b), [rnd([2, 2, 3], 37), rnd([3, 2], 38)], { name: 'matmul batched' });
    gradCheck(([a, b]) => ops.matmul(a, b), [rnd([3, 4], 39), rnd([4], 40)], { name: 'matmul mv' });
  });
  it('relu and leakyRelu (away from the kink)', () => {
    const x = { data: awayFromZero(10, 41), shape: [2, 5] };
    gradCheck(([t]) => ops.relu(t), [x], { name: 'relu' });
    gradCheck(([t]) => ops.leakyRelu(t), [x], { name: 'leakyRelu default slope' });
    gradCheck(([t]) => ops.leakyRelu(t, 0.2), [x], { name: 'leakyRelu 0.2' });
  });
  it('sigmoid, tanh, softplus, logSigmoid', () => {
    const x = rnd([2, 5], 42, -3, 3);
    gradCheck(([t]) => ops.sigmoid(t), [x], { name: 'sigmoid' });
    gradCheck(([t]) => ops.tanh(t), [x], { name: 'tanh' });
    gradCheck(([t]) => ops.softplus(t), [x], { name: 'softplus' });
    gradCheck(([t]) => ops.logSigmoid(t), [x], { name: 'logSigmoid' });
  });
});

describe('gradcheck: elementwise arithmetic', () => {
  it('add/sub/mul/div tensor-tensor with broadcasting', () => {
    const a = rnd([2, 3], 50);
    const row = rnd([3], 51);
    const col = { data: awayFromZero(2, 52, 0.5, 2), shape: [2, 1] };
    gradCheck(([x, y]) => ops.add(x, y), [a, row], { name: 'add [2,3]+[3]' });
    gradCheck(([x, y]) => ops.add(x, y, 0.5), [a, col], { name: 'add alpha [2,3]+[2,1]' });
    gradCheck(([x, y]) => ops.sub(x, y), [a, col], { name: 'sub [2,3]-[2,1]' });
    gradCheck(([x, y]) => ops.sub(y, x, 2), [a, row], { name: 'sub alpha [3]-[2,3]' });
    gradCheck(([x, y]) => ops.mul(x, y), [a, row], { name: 'mul [2,3]*[3]' });
    gradCheck(([x, y]) => ops.div(x, y), [a, col], { name: 'div [2,3]/[2,1]' });
    gradCheck(([x, y]) => ops.div(y, x), [{ data: awayFromZero(6, 53, 0.5, 2), shape: [2, 3] }, row], { name: 'div [3]/[2,3]' });
  });
  it('scalar variants and neg/rsub/square', () => {
    const a = rnd([5], 54);
    gradCheck(([x]) => ops.mul(ops.add(x, 2), 3), [a], { name: 'add/mul scalar' });
    gradCheck(([x]) => ops.div(ops.sub(x, 1), 4), [a], { name: 'sub/div scalar' });
    gradCheck(([x]) => ops.rsub(ops.neg(x), 2), [a], { name: 'neg/rsub' });
    gradCheck(([x]) => ops.square(x), [a], { name: 'square' });
  });
  it('pow (scalar and tensor exponents)', () => {
    const base = rnd([4], 55, 0.3, 2);
    gradCheck(([x]) => ops.pow(x, 2.5), [base], { name: 'pow scalar' });
    gradCheck(([x]) => ops.pow(x, 3), [rnd([4], 56)], { name: 'pow 3 of signed' });
    gradCheck(([x, e]) => ops.pow(x, e), [base, rnd([4], 57, -1.5, 1.5)], { name: 'pow tensor' });
  });
  it('exp, log, sqrt, rsqrt, abs, clamp', () => {
    gradCheck(([x]) => ops.exp(x), [rnd([5], 58, -2, 2)], { name: 'exp' });
    gradCheck(([x]) => ops.log(x), [rnd([5], 59, 0.2, 3)], { name: 'log' });
    gradCheck(([x]) => ops.sqrt(x), [rnd([5], 60, 0.2, 3)], { name: 'sqrt' });
    gradCheck(([x]) => ops.rsqrt(x), [rnd([5], 61, 0.2, 3)], { name: 'rsqrt' });
    gradCheck(([x]) => ops.abs(x), [{ data: awayFromZero(6, 62), shape: [6] }], { name: 'abs' });
    // values chosen away from the clamp bounds -0.5 and 0.5
    const c = { data: [-1.2, -0.7, -0.3, 0.1, 0.4, 0.8, 1.3, -0.05], shape: [8] };
    gradCheck(([x]) => ops.clamp(x, -0.5, 0.5), [c], { name: 'clamp both' });
    gradCheck(([x]) => ops.clamp(x, -0.5), [c], { name: 'clamp min' });
    gradCheck(([x]) => ops.clamp(x, null, 0.5), [c], { name: 'clamp max' });
  });
  it('maximum, minimum, where (no ties)', () => {
    // a and b sit on different 0.1 grids (offset 0.05): no ties between them, and none of a is 0
    const a = { data: Array.from(distinct(6, 63)).map((v) => v + 0.025), shape: [2, 3] };
    const b = { data: Array.from(distinct(6, 64)).map((v) => v + 0.075), shape: [2, 3] };
    gradCheck(([x, y]) => ops.maximum(x, y), [a, b], { name: 'maximum' });
    gradCheck(([x, y]) => ops.minimum(x, y), [a, b], { name: 'minimum' });
    gradCheck(([x, y]) => {
      const cond = ops.gt(x, 0);
      const r = ops.where(cond, x, y);
      cond.dispose();
      return r;
    }, [a, b], { name: 'where' });
  });
});

describe('gradcheck: reductions', () => {
  const x = rnd([2, 3, 4], 70);
  it('sum and mean over all, one and several dims, with keepdim', () => {
    gradCheck(([t]) => ops.sum(t), [x], { name: 'sum all' });
    gradCheck(([t]) => ops.sum(t, [0, 2], true), [x], { name: 'sum [0,2] keepdim' });
    gradCheck(([t]) => ops.sum(t, -1), [x], { name: 'sum -1' });
    gradCheck(([t]) => ops.mean(t), [x], { name: 'mean all' });
    gradCheck(([t]) => ops.mean(t, 1), [x], { name: 'mean 1' });
    gradCheck(([t]) => ops.mean(t, [1, 2], true), [x], { name: 'mean [1,2] keepdim' });
  });
  it('logsumexp', () => {
    gradCheck(([t]) => ops.logsumexp(t, 1), [x], { name: 'logsumexp 1' });
    gradCheck(([t]) => ops.logsumexp(t, [0, 2], true), [x], { name: 'logsumexp [0,2]' });
  });
  it('variance and std (biased/unbiased, dims and all)', () => {
    gradCheck(([t]) => ops.variance(t), [x], { name: 'var all' });
    gradCheck(([t]) => ops.variance(t, 2, false), [x], { name: 'var dim biased' });
    gradCheck(([t]) => ops.variance(t, [0, 1], true, true), [x], { name: 'var dims keepdim' });
    gradCheck(([t]) => ops.std(t), [x], { name: 'std all' });
    gradCheck(([t]) => ops.std(t, 1), [x], { name: 'std dim' });
    gradCheck(([t]) => ops.std(t, 2, false, true), [x], { name: 'std biased keepdim' });
  });
  it('max/min over everything and along a dim (no ties)', () => {
    const d = { data: distinct(12, 71), shape: [3, 4] };
    gradCheck(([t]) => ops.max(t), [d], { name: 'max' });
    gradCheck(([t]) => ops.min(t), [d], { name: 'min' });
    gradCheck(([t]) => {
      const [v, i] = ops.maxDim(t, 1);
      i.dispose();
      return v;
    }, [d], { name: 'maxDim' });
  });
});

describe('gradcheck: shapes and indexing', () => {
  const x = rnd([2, 3, 4], 80);
  it('reshape, flatten, permute, transpose, unsqueeze/squeeze', () => {
    gradCheck(([t]) => ops.reshape(t, [4, -1]), [x], { name: 'reshape' });
    gradCheck(([t]) => ops.flatten(t, 1), [x], { name: 'flatten' });
    gradCheck(([t]) => ops.permute(t, [2, 0, 1]), [x], { name: 'permute' });
    gradCheck(([t]) => ops.transpose(t, 0, 2), [x], { name: 'transpose' });
    gradCheck(([t]) => ops.squeeze(ops.unsqueeze(t, 1), 1), [x], { name: 'unsqueeze/squeeze' });
  });
  it('cat and stack', () => {
    gradCheck(([a, b]) => ops.cat([a, b], 1), [rnd([2, 3], 81), rnd([2, 2], 82)], { name: 'cat dim 1' });
    gradCheck(([a, b, c]) => ops.cat([a, b, c], 0), [rnd([1, 3], 83), rnd([2, 3], 84), rnd([1, 3], 85)], { name: 'cat dim 0' });
    gradCheck(([a, b]) => ops.stack([a, b], 1), [rnd([2, 3], 86), rnd([2, 3], 87)], { name: 'stack' });
  });
  it('slice (with step), expand, repeat', () => {
    gradCheck(([t]) => ops.slice(t, 2, 1, 4), [x], { name: 'slice' });
    gradCheck(([t]) => ops.slice(t, 2, 0, 4, 2), [x], { name: 'slice step 2' });
    gradCheck(([t]) => ops.expand(t, [3, 2, 4]), [rnd([1, 2, 4], 88)], { name: 'expand' });
    gradCheck(([t]) => ops.repeat(t, [2, 1, 3]), [rnd([1, 2, 2], 89)], { name: 'repeat' });
  });
  it('indexSelect and gather (with repeated indices)', () => {
    const idx = ops.indices([2, 0, 2]);
    gradCheck(([t]) => ops.indexSelect(t, 1, idx), [x], { name: 'indexSelect' });
    idx.dispose();
    const g = ops.tensor(new BigInt64Array([0n, 2n, 2n, 1n, 1n, 0n]), [2, 3], { dtype: 'int64' });
    gradCheck(([t]) => ops.gather(t, 1, g), [rnd([2, 4], 90)], { name: 'gather' });
    g.dispose();
  });
  it('pad (constant, positive and negative padding)', () => {
    gradCheck(([t]) => ops.pad(t, [1, 2, 0, 1]), [rnd([1, 2, 3], 91)], { name: 'pad' });
    gradCheck(([t]) => ops.pad(t, [1, -1], 0.5), [rnd([2, 4], 92)], { name: 'pad negative' });
  });
  it('contiguous, clone, detach (detach blocks the gradient)', () => {
    gradCheck(([t]) => ops.contiguous(ops.transpose(t, 0, 1)), [rnd([2, 3], 93)], { name: 'contiguous' });
    gradCheck(([t]) => ops.clone(t), [rnd([2, 3], 94)], { name: 'clone' });
    // a detached branch scaled by 0 changes nothing, numerically or analytically
    gradCheck(([t]) => ops.add(t, ops.mul(ops.detach(t), 0)), [rnd([3], 95)], { name: 'detach' });
  });
});

describe('gradcheck: losses and distances', () => {
  it('mseLoss (mean, sum, none) w.r.t. both arguments', () => {
    const a = rnd([2, 3], 100);
    const b = rnd([2, 3], 101);
    gradCheck(([x, y]) => ops.mseLoss(x, y), [a, b], { name: 'mse mean' });
    gradCheck(([x, y]) => ops.mseLoss(x, y, 'sum'), [a, b], { name: 'mse sum' });
    gradCheck(([x, y]) => ops.mseLoss(x, y, 'none'), [a, b], { name: 'mse none' });
  });
  it('bceWithLogits w.r.t. logits and targets', () => {
    const logits = rnd([2, 3], 102, -3, 3);
    const targets = rnd([2, 3], 103, 0.05, 0.95);
    gradCheck(([x, y]) => ops.bceWithLogits(x, y), [logits, targets], { name: 'bce mean' });
    gradCheck(([x, y]) => ops.bceWithLogits(x, y, 'sum'), [logits, targets], { name: 'bce sum' });
    gradCheck(([x, y]) => ops.bceWithLogits(x, y, 'none'), [logits, targets], { name: 'bce none' });
  });
  it('logSoftmax and crossEntropy w.r.t. the logits', () => {
    const logits = rnd([3, 4], 106, -2, 2);
    gradCheck(([x]) => ops.logSoftmax(x, 1), [logits], { name: 'logSoftmax 1' });
    gradCheck(([x]) => ops.logSoftmax(x, 0), [logits], { name: 'logSoftmax 0' });
    const target = ops.indices([3, 0, 1]);
    gradCheck(([x]) => ops.crossEntropy(x, target), [logits], { name: 'crossEntropy mean' });
    gradCheck(([x]) => ops.crossEntropy(x, target, 'none'), [logits], { name: 'crossEntropy none' });
    target.dispose();
  });
  it('flip and rot90', () => {
    const x = rnd([1, 2, 2, 3], 107);
    gradCheck(([t]) => ops.flip(t, [2, 3]), [x], { name: 'flip' });
    gradCheck(([t]) => ops.rot90(t, 1), [x], { name: 'rot90' });
    gradCheck(([t]) => ops.rot90(t, 3, [2, 3]), [x], { name: 'rot90 k=3' });
  });
  it('pairwiseSqDist w.r.t. both point sets', () => {
    gradCheck(([a, b]) => ops.pairwiseSqDist(a, b), [rnd([3, 2], 104), rnd([4, 2], 105, 1, 2)], { name: 'pairwiseSqDist' });
  });
  it('a composite: a tiny conv autoencoder loss', () => {
    gradCheck(([x, w1, w2]) => {
      const h = ops.leakyRelu(ops.conv2d(x, w1, null, 2, 1), 0.2);
      const y = ops.sigmoid(ops.convTranspose2d(h, w2, null, 2, 1, 1));
      return ops.mseLoss(y, x);
    }, [rnd([1, 1, 4, 4], 106, 0, 1), rnd([2, 1, 3, 3], 107), rnd([2, 1, 3, 3], 108)], { name: 'tiny AE' });
  });
});

describe('gradcheck: the checker itself', () => {
  it('rejects a wrong gradient (detach makes analytic != numeric)', () => {
    assert.throws(() => gradCheck(([t]) => ops.mul(t, ops.detach(t)), [rnd([3], 110, 0.5, 1)], { name: 'x*detach(x)' }),
      /analytic vs numeric/);
  });
});
