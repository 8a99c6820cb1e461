/**
 * Forward results against known values. Values marked "PyTorch" were computed once with Debian's
 * PyTorch 1.13 (torch.nn.functional on the same float32 inputs, printed with 9 significant
 * digits) and pasted here; the tests never run Python. The rest are worked out by hand.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { ops, nn, tidy, liveTensors, manualSeed, Tensor } from '../../src/engine/index.js';
import { assertClose, f32, f64, randArray, values } from './helpers.js';

const live0 = liveTensors();
after(() => assert.equal(liveTensors(), live0, 'forward tests leaked tensors'));

/** Runs fn in tidy and compares the shape and values of the tensor it builds. */
function expectTensor(fn: () => Tensor, shape: number[], expected: number[], tol = { rtol: 1e-6, atol: 1e-6 }, what = 'values'): void {
  tidy(() => {
    const t = fn();
    assert.deepEqual(t.shape, shape, `${what}: shape`);
    assertClose(values(t), expected, tol, what);
  });
}

const x3 = () => f32([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 1, 3, 3]);
const x22 = () => f32([1, 2, 3, 4], [1, 1, 2, 2]);
// 4x4 image used for pooling: 3 1 4 1 / 5 9 2 6 / 5 3 5 8 / 9 7 9 3
const x44 = () => f32([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3], [1, 1, 4, 4]);

describe('forward: convolutions', () => {
  it('conv2d 2x2 kernel, no padding (by hand: x[i,j] - x[i+1,j+1] + 0.5 = -3.5)', () => {
    expectTensor(() => ops.conv2d(x3(), f32([1, 0, 0, -1], [1, 1, 2, 2]), f32([0.5])), [1, 1, 2, 2], [-3.5, -3.5, -3.5, -3.5]);
  });
  it('conv2d 3x3 ones kernel, stride 2, padding 1 (by hand: sums of the clipped windows)', () => {
    expectTensor(() => ops.conv2d(x3(), ops.ones([1, 1, 3, 3]), null, 2, 1), [1, 1, 2, 2], [12, 16, 24, 28]);
  });
  it('conv2d 3x3 kernel 1..9/10, padding 1, bias 0.5 (PyTorch)', () => {
    expectTensor(() => ops.conv2d(x3(), ops.div(f32([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 1, 3, 3]), 10), f32([0.5]), 1, 1), [1, 1, 3, 3],
      [9.89999962, 15.8999996, 11.0999994, 19.1000004, 29.0, 19.1000004, 11.1000004, 15.9000006, 9.89999962]);
  });
  it('conv2d over channels and batch: output channel = sum over input channels (by hand)', () => {
    // two input channels, weights 1 and -1 (1x1 kernel): out = c0 - c1
    expectTensor(() => ops.conv2d(f32([1, 2, 3, 4, 10, 20, 30, 40], [2, 2, 1, 2]), f32([1, -1], [1, 2, 1, 1])), [2, 1, 1, 2],
      [1 - 3, 2 - 4, 10 - 30, 20 - 40]);
  });
  it('convTranspose2d stride 2, padding 1, outputPadding 1, bias (PyTorch)', () => {
    expectTensor(() => ops.convTranspose2d(x22(), ops.div(f32([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 1, 3, 3]), 10), f32([0.25]), 2, 1, 1),
      [1, 1, 4, 4],
      [0.75, 1.6500001, 1.25, 1.45000005, 1.6500001, 3.8499999, 2.6500001, 3.25, 1.75, 3.6500001, 2.25, 2.6500001, 2.6500001, 5.75, 3.45000005, 3.8499999]);
  });
  it('convTranspose2d stride 2, kernel 2, two output channels: each input pixel stamps the kernel (PyTorch)', () => {
    expectTensor(() => ops.convTranspose2d(x22(), f32([1, -1, 2, 0.5, 0, 1, -2, 1], [1, 2, 2, 2]), null, 2), [1, 2, 4, 4],
      [1, -1, 2, -2, 2, 0.5, 4, 1, 3, -3, 4, -4, 6, 1.5, 8, 2, 0, 1, 0, 2, -2, 1, -4, 2, 0, 3, 0, 4, -6, 3, -8, 4]);
  });
  it('convTranspose2d output shapes: (in-1)*stride - 2*padding + kernel + outputPadding', () => {
    tidy(() => {
      const x = ops.zeros([2, 3, 5, 7]);
      assert.deepEqual(ops.convTranspose2d(x, ops.zeros([3, 4, 3, 3]), null, 2, 1, 1).shape, [2, 4, 10, 14]);
      assert.deepEqual(ops.convTranspose2d(x, ops.zeros([3, 4, 4, 4]), null, 2, 1, 0).shape, [2, 4, 10, 14]);
      assert.deepEqual(ops.convTranspose2d(x, ops.zeros([3, 1, 3, 3]), null, 1, 0, 0).shape, [2, 1, 7, 9]);
      const layer = new nn.ConvTranspose2d(3, 6, 3, { stride: 2, padding: 1, outputPadding: 1 });
      assert.deepEqual(layer.forward(x).shape, [2, 6, 10, 14]);
      layer.dispose();
    });
  });
});

describe('forward: pooling and upsampling', () => {
  it('maxPool2d kernel 2 (by hand) and kernel 3 stride 2 padding 1 (PyTorch)', () => {
    expectTensor(() => ops.maxPool2d(x44(), 2), [1, 1, 2, 2], [9, 6, 9, 9]);
    expectTensor(() => ops.maxPool2d(x44(), 3, 2, 1), [1, 1, 2, 2], [9, 9, 9, 9]);
    expectTensor(() => ops.maxPool2d(f32([-1, -2, -3, -4], [1, 1, 2, 2]), 2), [1, 1, 1, 1], [-1]);
  });
  it('avgPool2d kernel 2 (by hand) and kernel 3 stride 2 padding 1, padding counted (PyTorch)', () => {
    expectTensor(() => ops.avgPool2d(x44(), 2), [1, 1, 2, 2], [4.5, 3.25, 6.0, 6.25]);
    expectTensor(() => ops.avgPool2d(x44(), 3, 2, 1), [1, 1, 2, 2], [2.0, 2.55555558, 4.22222233, 5.77777767]);
  });
  it('upsampleBilinear2d of a 2x2 to 4x4 (PyTorch, align_corners=False)', () => {
    expectTensor(() => ops.upsampleBilinear2d(x22(), [4, 4]), [1, 1, 4, 4],
      [1.0, 1.25, 1.75, 2.0, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3.0, 3.25, 3.75, 4.0]);
  });
  it('upsampleBilinear2d 2x2 to 3x3 with alignCorners (by hand: midpoints)', () => {
    expectTensor(() => ops.upsampleBilinear2d(x22(), [3, 3], true), [1, 1, 3, 3], [1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4]);
  });
  it('upsampleNearest2d x2 (by hand) and to 3x5 (PyTorch)', () => {
    expectTensor(() => ops.upsampleNearest2d(x22(), [4, 4]), [1, 1, 4, 4], [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
    expectTensor(() => ops.upsampleNearest2d(x22(), [3, 5]), [1, 1, 3, 5], [1, 1, 1, 2, 2, 1, 1, 1, 2, 2, 3, 3, 3, 4, 4]);
  });
  it('nn.Upsample nearest and bilinear, nn.MaxPool2d, nn.AvgPool2d', () => {
    tidy(() => {
      const x = x22();
      assertClose(values(new nn.Upsample(2).forward(x)), [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
      assertClose(values(new nn.Upsample(2, 'bilinear').forward(x)), [1.0, 1.25, 1.75, 2.0, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3.0, 3.25, 3.75, 4.0]);
      assertClose(values(new nn.MaxPool2d(2).forward(x44())), [9, 6, 9, 9]);
      assertClose(values(new nn.AvgPool2d(2).forward(x44())), [4.5, 3.25, 6.0, 6.25]);
    });
  });
});

describe('forward: normalisation', () => {
  const xb = () => f32([1, 2, 3, -1, 0.5, 0], [3, 2]);
  it('batchNorm eval uses running statistics (PyTorch; by hand: (x-m)/sqrt(v+eps)*w+b)', () => {
    expectTensor(() => ops.batchNorm(xb(), f32([2, 1]), f32([0, 1]), f32([1, 2]), f32([4, 0.25]), false), [3, 2],
      [0.0, 1.0, 1.99999762, -4.99987984, -0.499999404, -2.99991989], { rtol: 1e-5, atol: 1e-6 });
  });
  it('batchNorm training normalises with batch statistics and updates running stats with the unbiased variance (PyTorch)', () => {
    tidy(() => {
      const rm = ops.zeros([2]);
      const rv = ops.ones([2]);
      const y = ops.batchNorm(xb(), f32([2, 1]), f32([0, 1]), rm, rv, true, 0.1, 1e-5);
      assertClose(values(y), [-0.925816178, 2.33630204, 2.77744818, -0.0690415502, -1.85163236, 0.732739627], { rtol: 1e-5 }, 'output');
      assertClose(values(rm), [0.150000006, 0.0333333351], { rtol: 1e-6 }, 'running mean');
      assertClose(values(rv), [1.07499993, 1.13333333], { rtol: 1e-6 }, 'running var');
    });
  });
  it('nn.BatchNorm: training updates running stats, eval uses them', () => {
    tidy(() => {
      const bn = new nn.BatchNorm(2);
      const x = xb();
      bn.forward(x);
      const sd = bn.stateDict();
      assertClose(values(sd.get('running_mean')!), [0.15, 0.0333333351], { rtol: 1e-6 }, 'running mean');
      assertClose(values(sd.get('running_var')!), [1.07499993, 1.13333333], { rtol: 1e-6 }, 'running var');
      bn.eval();
      const y = bn.forward(x);
      // eval: (x - rm) / sqrt(rv + eps) with weight 1 and bias 0
      const rm = [0.15, 0.1 / 3];
      const rv = [1.075, 1.1333333333];
      const xv = [1, 2, 3, -1, 0.5, 0];
      assertClose(values(y), xv.map((v, i) => (v - rm[i % 2]) / Math.sqrt(rv[i % 2] + 1e-5)), { rtol: 1e-5 }, 'eval output');
      // eval does not move the running stats
      assertClose(values(sd.get('running_mean')!), [0.15, 0.0333333351], { rtol: 1e-6 }, 'running mean after eval');
      bn.dispose();
    });
  });
});

describe('forward: activations', () => {
  const z = () => f32([-2, -0.5, 0, 0.5, 3]);
  it('relu and leakyRelu (by hand)', () => {
    expectTensor(() => ops.relu(z()), [5], [0, 0, 0, 0.5, 3]);
    expectTensor(() => ops.leakyRelu(z()), [5], [-0.02, -0.005, 0, 0.5, 3]);
    expectTensor(() => ops.leakyRelu(z(), 0.2), [5], [-0.4, -0.1, 0, 0.5, 3]);
  });
  it('sigmoid, tanh, softplus, logSigmoid (PyTorch)', () => {
    expectTensor(() => ops.sigmoid(z()), [5], [0.119202919, 0.377540678, 0.5, 0.622459352, 0.952574134]);
    expectTensor(() => ops.tanh(z()), [5], [-0.964027584, -0.462117165, 0.0, 0.462117165, 0.995054781]);
    expectTensor(() => ops.softplus(z()), [5], [0.126928002, 0.474076986, 0.693147182, 0.974076986, 3.04858732]);
    expectTensor(() => ops.logSigmoid(z()), [5], [-2.12692809, -0.974076986, -0.693147182, -0.474076986, -0.048587352]);
  });
  it('softplus and logSigmoid stay finite and accurate at +-30 (PyTorch)', () => {
    expectTensor(() => ops.softplus(f32([-30, 30])), [2], [9.35762291e-14, 30.0], { rtol: 1e-5, atol: 0 });
    expectTensor(() => ops.logSigmoid(f32([-30, 30])), [2], [-30.0, -9.35762291e-14], { rtol: 1e-5, atol: 0 });
  });
  it('nn activation modules match the ops', () => {
    tidy(() => {
      assertClose(values(new nn.ReLU().forward(z())), [0, 0, 0, 0.5, 3]);
      assertClose(values(new nn.LeakyReLU(0.2).forward(z())), [-0.4, -0.1, 0, 0.5, 3]);
      assertClose(values(new nn.Sigmoid().forward(z())), [0.119202919, 0.377540678, 0.5, 0.622459352, 0.952574134]);
      assertClose(values(new nn.Tanh().forward(z())), [-0.964027584, -0.462117165, 0.0, 0.462117165, 0.995054781]);
    });
  });
});

describe('forward: dropout', () => {
  it('training=false is the identity', () => {
    tidy(() => {
      const x = ops.randn([100]);
      assert.deepEqual(values(ops.dropout(x, 0.5, false)), values(x));
      const d = new nn.Dropout(0.5).eval();
      assert.deepEqual(values(d.forward(x)), values(x));
    });
  });
  it('training=true zeroes about p of the entries and scales the rest by 1/(1-p)', () => {
    manualSeed(7);
    tidy(() => {
      const n = 20000;
      for (const p of [0.2, 0.5]) {
        const y = values(ops.dropout(ops.ones([n]), p, true));
        const zeros = y.filter((v) => v === 0).length;
        // binomial sd is sqrt(p(1-p)/n) < 0.004: allow 0.02
        assert.ok(Math.abs(zeros / n - p) < 0.02, `p=${p}: zero fraction ${zeros / n}`);
        for (const v of y) if (v !== 0) assert.ok(Math.abs(v - 1 / (1 - p)) < 1e-6, `kept value ${v} != ${1 / (1 - p)}`);
      }
      const y = values(new nn.Dropout(0.25).forward(ops.ones([n])));
      assert.ok(Math.abs(y.filter((v) => v === 0).length / n - 0.25) < 0.02, 'nn.Dropout in training mode');
    });
  });
});

describe('forward: reductions, sorting, distances', () => {
  it('logsumexp is exact and stable for large values (by hand / PyTorch)', () => {
    expectTensor(() => ops.logsumexp(f32([1, 2, 3, -1000, 0, 1000], [2, 3]), 1), [2], [3.40760596444438, 1000]);
    expectTensor(() => ops.logsumexp(f64([1, 2, 3]), 0), [], [3.40760596444438], { rtol: 1e-14, atol: 0 });
  });
  it('sum, mean, variance, std (by hand / PyTorch)', () => {
    const v = () => f32([1, 2, 4, 3, 3, 9], [2, 3]);
    expectTensor(() => ops.sum(v()), [], [22]);
    expectTensor(() => ops.sum(v(), 0), [3], [4, 5, 13]);
    expectTensor(() => ops.mean(v(), 1, true), [2, 1], [7 / 3, 5]);
    expectTensor(() => ops.variance(v(), 1), [2], [2.33333325, 12.0]);
    expectTensor(() => ops.variance(v(), 1, false), [2], [1.55555558, 8.0]);
    expectTensor(() => ops.variance(v()), [], [7.86666679]);
    expectTensor(() => ops.std(v()), [], [2.80475783]);
  });
  it('max, min, argmax, maxDim, minDim', () => {
    tidy(() => {
      const m = f32([3, -1, 4, 1.5, -5, 9], [2, 3]);
      assert.equal(ops.max(m).item(), 9);
      assert.equal(ops.min(m).item(), -5);
      assert.equal(ops.argmax(m).item(), 5);
      assert.deepEqual(values(ops.argmax(m, 1)), [2, 2]);
      const [mv, mi] = ops.maxDim(m, 0);
      assert.deepEqual(values(mv), [3, -1, 9]);
      assert.deepEqual(values(mi), [0, 0, 1]);
      assert.equal(mi.dtype, 'int64');
      const [nv, ni] = ops.minDim(m, 1, true);
      assert.deepEqual(nv.shape, [2, 1]);
      assert.deepEqual(values(nv), [-1, -5]);
      assert.deepEqual(values(ni), [1, 1]);
    });
  });
  it('sort and topk give values and int64 indices (PyTorch)', () => {
    tidy(() => {
      const s = f32([3, -1, 4, 1.5, -5, 9, 2]);
      const [sv, si] = ops.sort(s);
      assert.deepEqual(values(sv), [-5, -1, 1.5, 2, 3, 4, 9]);
      assert.deepEqual(values(si), [4, 1, 3, 6, 0, 2, 5]);
      assert.equal(si.dtype, 'int64');
      const [dv, di] = ops.sort(s, 0, true);
      assert.deepEqual(values(dv), [9, 4, 3, 2, 1.5, -1, -5]);
      assert.deepEqual(values(di), [5, 2, 0, 6, 3, 1, 4]);
      const [tv, ti] = ops.topk(s, 3);
      assert.deepEqual(values(tv), [9, 4, 3]);
      assert.deepEqual(values(ti), [5, 2, 0]);
      const [bv, bi] = ops.topk(s, 2, -1, false);
      assert.deepEqual(values(bv), [-5, -1]);
      assert.deepEqual(values(bi), [4, 1]);
      // along rows of a matrix
      const [rv, ri] = ops.topk(f32([1, 5, 3, 9, 7, 8], [2, 3]), 1, 1);
      assert.deepEqual(rv.shape, [2, 1]);
      assert.deepEqual(values(rv), [5, 9]);
      assert.deepEqual(values(ri), [1, 0]);
    });
  });
  it('pairwiseSqDist (by hand: |a_i - b_j|^2) and clamps tiny negatives to 0', () => {
    expectTensor(() => ops.pairwiseSqDist(f32([0, 0, 1, 2, 3, -1], [3, 2]), f32([1, 1, -2, 0.5], [2, 2])), [3, 2],
      [2, 4.25, 1, 11.25, 8, 27.25], { rtol: 1e-6, atol: 1e-5 });
    tidy(() => {
      // distances of points to themselves: exactly representable cancellation may go below 0 without the clamp
      const p = ops.randn([50, 8]);
      const d = values(ops.pairwiseSqDist(p, p));
      for (const v of d) assert.ok(v >= 0, `negative squared distance ${v}`);
      for (let i = 0; i < 50; i++) assert.ok(d[i * 50 + i] < 1e-4, `self distance ${d[i * 50 + i]}`);
    });
  });
  it('logSoftmax and crossEntropy (by hand: log(e^x / sum e^x); mean of -logp[target])', () => {
    expectTensor(() => ops.logSoftmax(f32([1, 2, 3, 0, 0, 0], [2, 3]), 1), [2, 3],
      [-2.40760596444438, -1.40760596444438, -0.40760596444438, -Math.log(3), -Math.log(3), -Math.log(3)]);
    expectTensor(() => ops.crossEntropy(f32([1, 2, 3, 0, 0, 0], [2, 3]), ops.indices([2, 0]), 'none'), [2], [0.40760596444438, Math.log(3)]);
    expectTensor(() => ops.crossEntropy(f32([1, 2, 3, 0, 0, 0], [2, 3]), ops.indices([2, 0])), [], [(0.40760596444438 + Math.log(3)) / 2]);
    expectTensor(() => ops.crossEntropy(f32([1, 2, 3, 0, 0, 0], [2, 3]), ops.indices([2, 0]), 'sum'), [], [0.40760596444438 + Math.log(3)]);
  });
  it('mseLoss and bceWithLogits (by hand / PyTorch)', () => {
    expectTensor(() => ops.mseLoss(f32([1, 2, 3]), f32([1, 0, 0])), [], [13 / 3]);
    expectTensor(() => ops.mseLoss(f32([1, 2, 3]), f32([1, 0, 0]), 'sum'), [], [13]);
    expectTensor(() => ops.mseLoss(f32([1, 2, 3]), f32([1, 0, 0]), 'none'), [3], [0, 4, 9]);
    expectTensor(() => ops.bceWithLogits(f32([-2, 0, 3, 100]), f32([0, 1, 1, 0]), 'none'), [4], [0.126928046, 0.693147182, 0.0485873297, 100.0]);
    expectTensor(() => ops.bceWithLogits(f32([-2, 0, 3, 100]), f32([0, 1, 1, 0])), [], [25.217165], { rtol: 1e-6, atol: 1e-5 });
  });
});

describe('forward: dense layers, shapes, indexing', () => {
  it('linear and matmul (by hand)', () => {
    // x [2,3] * W^T with W [2,3] + b
    expectTensor(() => ops.linear(f32([1, 2, 3, 4, 5, 6], [2, 3]), f32([1, 0, -1, 0.5, 0.5, 0.5], [2, 3]), f32([10, 20])), [2, 2],
      [1 - 3 + 10, 3 + 20, 4 - 6 + 10, 7.5 + 20]);
    expectTensor(() => ops.matmul(f32([1, 2, 3, 4], [2, 2]), f32([5, 6, 7, 8], [2, 2])), [2, 2], [19, 22, 43, 50]);
    expectTensor(() => ops.matmul(f32([1, 2, 3, 4], [2, 2]), f32([1, -1])), [2], [-1, -1]);
  });
  it('nn.Linear uses weight [out, in] and bias; Sequential chains and frees intermediates', () => {
    tidy(() => {
      const lin = new nn.Linear(3, 2);
      lin.loadStateDict(new Map([['weight', f32([1, 0, -1, 0.5, 0.5, 0.5], [2, 3])], ['bias', f32([10, 20])]]));
      assertClose(values(lin.forward(f32([1, 2, 3], [1, 3]))), [8, 23]);
      const seq = new nn.Sequential([lin, new nn.ReLU(), new nn.Linear(2, 1, false)]);
      seq.loadStateDict(new Map([['0.weight', f32([1, 0, -1, 0.5, 0.5, 0.5], [2, 3])], ['0.bias', f32([-10, 20])], ['2.weight', f32([2, 3], [1, 2])]]));
      const before = liveTensors();
      const y = seq.forward(f32([1, 2, 3], [1, 3]));
      assert.equal(liveTensors(), before + 2, 'only the input and the output are new');
      assertClose(values(y), [0 * 2 + 23 * 3]);
      assert.deepEqual([...seq.stateDict().keys()], ['0.weight', '0.bias', '2.weight']);
      assert.equal(seq.parameterCount(), 6 + 2 + 2);
      seq.dispose();
    });
  });
  it('layer initialisation follows PyTorch bounds: |w| <= 1/sqrt(fan_in)', () => {
    tidy(() => {
      const conv = new nn.Conv2d(4, 8, 3);
      const bound = 1 / Math.sqrt(4 * 9);
      for (const [name, p] of conv.namedParameters()) {
        const v = values(p);
        assert.ok(v.every((x) => Math.abs(x) <= bound), `${name} outside +-${bound}`);
        assert.ok(Math.max(...v.map(Math.abs)) > bound * 0.5, `${name} not spread over the range`);
        assert.equal(p.requiresGrad, true);
      }
      assert.deepEqual(conv.stateDict().get('weight')!.shape, [8, 4, 3, 3]);
      conv.dispose();
    });
  });
  it('reshape, flatten, permute, transpose, cat, stack, slice, indexSelect, gather, pad', () => {
    tidy(() => {
      const a = f32([0, 1, 2, 3, 4, 5], [2, 3]);
      assert.deepEqual(values(ops.transpose(a, 0, 1)), [0, 3, 1, 4, 2, 5]);
      assert.deepEqual(ops.reshape(a, [3, -1]).shape, [3, 2]);
      assert.deepEqual(ops.flatten(ops.reshape(a, [1, 2, 3]), 1).shape, [1, 6]);
      assert.deepEqual(values(ops.permute(ops.reshape(a, [1, 2, 3]), [2, 0, 1])), [0, 3, 1, 4, 2, 5]);
      assert.deepEqual(values(ops.cat([a, f32([6, 7, 8], [1, 3])], 0)), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
      assert.deepEqual(values(ops.cat([a, f32([9, 9], [2, 1])], 1)), [0, 1, 2, 9, 3, 4, 5, 9]);
      assert.deepEqual(ops.stack([a, a], 0).shape, [2, 2, 3]);
      assert.deepEqual(values(ops.slice(a, 1, 1, 3)), [1, 2, 4, 5]);
      assert.deepEqual(values(ops.slice(f32([0, 1, 2, 3, 4, 5]), 0, 0, 6, 2)), [0, 2, 4]);
      assert.deepEqual(values(ops.indexSelect(a, 1, ops.indices([2, 0]))), [2, 0, 5, 3]);
      const idx = ops.tensor(new BigInt64Array([2n, 2n, 0n, 1n]), [2, 2], { dtype: 'int64' });
      assert.deepEqual(values(ops.gather(a, 1, idx)), [2, 2, 3, 4]);
      assert.deepEqual(values(ops.pad(f32([1, 2], [1, 2]), [1, 2], -1)), [-1, 1, 2, -1, -1]);
      assert.deepEqual(values(ops.pad(f32([1, 2], [1, 2]), [0, 0, 1, 0])), [0, 0, 1, 2]);
      assert.deepEqual(ops.expand(f32([1, 2], [1, 2]), [3, 2]).shape, [3, 2]);
      assert.deepEqual(values(ops.repeat(f32([1, 2]), [2])), [1, 2, 1, 2]);
      assert.deepEqual(ops.squeeze(ops.unsqueeze(a, 0), 0).shape, [2, 3]);
    });
  });
  it('flip and rot90 (by hand: torch.rot90 turns from the first dim towards the second)', () => {
    const x = () => f32([1, 2, 3, 4, 5, 6], [1, 1, 2, 3]);
    expectTensor(() => ops.flip(x(), [3]), [1, 1, 2, 3], [3, 2, 1, 6, 5, 4]);
    expectTensor(() => ops.flip(x(), [2, 3]), [1, 1, 2, 3], [6, 5, 4, 3, 2, 1]);
    expectTensor(() => ops.rot90(x()), [1, 1, 3, 2], [3, 6, 2, 5, 1, 4]);
    expectTensor(() => ops.rot90(x(), 2), [1, 1, 2, 3], [6, 5, 4, 3, 2, 1]);
    expectTensor(() => ops.rot90(x(), 3), [1, 1, 3, 2], [4, 1, 5, 2, 6, 3]);
    expectTensor(() => ops.rot90(x(), -1), [1, 1, 3, 2], [4, 1, 5, 2, 6, 3]);
  });
  it('comparisons and where', () => {
    tidy(() => {
      const a = f32([1, 2, 3]);
      const b = f32([3, 2, 1]);
      assert.deepEqual(values(ops.gt(a, b)), [0, 0, 1]);
      assert.equal(ops.gt(a, b).dtype, 'bool');
      assert.deepEqual(values(ops.ge(a, 2)), [0, 1, 1]);
      assert.deepEqual(values(ops.lt(a, b)), [1, 0, 0]);
      assert.deepEqual(values(ops.le(a, 2)), [1, 1, 0]);
      assert.deepEqual(values(ops.eq(a, b)), [0, 1, 0]);
      assert.deepEqual(values(ops.where(ops.gt(a, b), a, b)), [3, 2, 3]);
      assert.deepEqual(values(ops.maximum(a, b)), [3, 2, 3]);
      assert.deepEqual(values(ops.minimum(a, b)), [1, 2, 1]);
    });
  });
});

describe('forward: channels-last layout', () => {
  const strides = (t: Tensor) => [0, 1, 2, 3].map((d) => ops.callOp('stride', 'int', [t, d]) as number);
  for (const c of [1, 3]) {
    it(`channelsLast keeps the values and stores NHWC (${c} channel${c > 1 ? 's' : ''})`, () => {
      tidy(() => {
        const x = f32(randArray(2 * c * 4 * 5, 11 + c), [2, c, 4, 5]);
        const y = ops.channelsLast(x);
        assert.deepEqual(y.shape, [2, c, 4, 5]);
        assert.deepEqual(strides(y), [4 * 5 * c, 1, 5 * c, c]);
        assertClose(values(y), values(x), { rtol: 0, atol: 0 });
        // a convolution of the NHWC input gives the NCHW result
        const w = f32(randArray(6 * c * 9, 5), [6, c, 3, 3]);
        assertClose(values(ops.conv2d(y, w, null, 1, 1)), values(ops.conv2d(x, w, null, 1, 1)), { rtol: 1e-5, atol: 1e-5 });
      });
    });
  }
  it('channelsLast refuses a tensor that is not [N, C, H, W]', () => {
    tidy(() => assert.throws(() => ops.channelsLast(ops.zeros([3, 4])), /expected \[N, C, H, W\]/));
  });
});

describe('forward: creation and dtypes', () => {
  it('zeros, ones, full, arange, scalar, rand, randn, randperm', () => {
    tidy(() => {
      assert.deepEqual(values(ops.zeros([2, 2])), [0, 0, 0, 0]);
      assert.deepEqual(values(ops.ones([3], { dtype: 'float64' })), [1, 1, 1]);
      assert.equal(ops.ones([3], { dtype: 'float64' }).dtype, 'float64');
      assert.deepEqual(values(ops.full([2], 2.5)), [2.5, 2.5]);
      assert.deepEqual(values(ops.arange(4)), [0, 1, 2, 3]);
      assert.equal(ops.arange(4).dtype, 'int64');
      const s = ops.scalar(3.5);
      assert.deepEqual(s.shape, []);
      assert.equal(s.item(), 3.5);
      manualSeed(1);
      const r = values(ops.rand([1000]));
      assert.ok(r.every((v) => v >= 0 && v < 1));
      const n = values(ops.randn([4000]));
      const mean = n.reduce((p, q) => p + q, 0) / n.length;
      const sd = Math.sqrt(n.reduce((p, q) => p + (q - mean) ** 2, 0) / n.length);
      assert.ok(Math.abs(mean) < 0.1 && Math.abs(sd - 1) < 0.1, `randn mean ${mean} sd ${sd}`);
      assert.deepEqual(values(ops.randperm(10)).sort((p, q) => p - q), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    });
  });
  it('tensor from typed arrays keeps values; Uint8Array to float32 scales to [0, 1]', () => {
    tidy(() => {
      const t = ops.tensor(new Uint8Array([0, 51, 255]), [3], { dtype: 'float32' });
      assertClose(values(t), [0, 0.2, 1]);
      assert.equal(ops.tensor(new Uint8Array([0, 51, 255]), [3]).dtype, 'uint8');
      assert.deepEqual(values(ops.tensor(new Int32Array([-7, 8]), [2])), [-7, 8]);
      assert.equal(ops.tensor(new Float64Array([0.1]), [1]).dtype, 'float64');
      assert.deepEqual(values(ops.tensor(new Float64Array([0.1]), [1])), [0.1]);
      assert.equal(ops.indices([3, 1]).dtype, 'int64');
      const b = ops.toDtype(f32([0, 2, 0]), 'bool');
      assert.equal(b.dtype, 'bool');
      assert.deepEqual(values(b), [0, 1, 0]);
    });
  });
  it('tensor(number[], shape, {dtype: float64}) keeps full double precision', () => {
    // BUG (src/engine/ops.ts, tensor()): number[] data goes through Float32Array.from whatever the dtype, so
    // 0.1 becomes 0.10000000149011612 and 16777217 becomes 16777216 in a float64/int64 tensor.
    tidy(() => {
      assert.deepEqual(values(ops.tensor([0.1, 16777217], [2], { dtype: 'float64' })), [0.1, 16777217]);
      assert.deepEqual(values(ops.tensor([16777217], [1], { dtype: 'int64' })), [16777217]);
      assert.equal(ops.scalar(0.1, { dtype: 'float64' }).item(), 0.1);
    });
  });
  it('ops keep float64: results of float64 inputs are float64', () => {
    tidy(() => {
      const a = f64([1, 2, 3, 4], [1, 1, 2, 2]);
      for (const t of [ops.conv2d(a, f64([1], [1, 1, 1, 1])), ops.sigmoid(a), ops.upsampleBilinear2d(a, [3, 3]), ops.mean(a), ops.pairwiseSqDist(ops.reshape(a, [2, 2]), ops.reshape(a, [2, 2]))]) {
        assert.equal(t.dtype, 'float64');
      }
    });
  });
});
