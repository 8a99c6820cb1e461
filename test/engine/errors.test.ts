/**
 * Misuse becomes a JavaScript exception with a clear message, never an abort: every case here runs
 * in this process, so the test process surviving is the proof. Cases that could crash run in a
 * child process and assert that it exits normally.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ops, nn, tidy, liveTensors, cudaAvailable, SGD, engineInfo } from '../../src/engine/index.js';
import { f32, values } from './helpers.js';

const live0 = liveTensors();
after(() => assert.equal(liveTensors(), live0, 'error cases leaked tensors'));

/** Asserts fn throws an Error (of the given class, default Error) whose message matches every pattern. */
function throwsWith(fn: () => unknown, patterns: RegExp[], cls: new (...a: never[]) => Error = Error): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof cls, `expected a ${cls.name}, got ${String(e)}`);
    for (const p of patterns) assert.match((e as Error).message, p);
    return true;
  });
}

describe('shape mismatches', () => {
  it('conv2d with the wrong channel count', () => {
    tidy(() => {
      throwsWith(() => ops.conv2d(ops.zeros([1, 3, 5, 5]), ops.zeros([4, 2, 3, 3])),
        [/weight of size \[4, 2, 3, 3\]/, /expected input\[1, 3, 5, 5\] to have 2 channels, but got 3 channels/]);
      const conv = new nn.Conv2d(2, 4, 3);
      throwsWith(() => conv.forward(ops.zeros([1, 1, 5, 5])), [/to have 2 channels, but got 1/]);
      conv.dispose();
    });
  });
  it('conv2d / pooling with an input smaller than the kernel', () => {
    tidy(() => {
      throwsWith(() => ops.conv2d(ops.zeros([1, 1, 2, 2]), ops.zeros([1, 1, 3, 3])), [/Kernel size can't be greater than actual input size/]);
      throwsWith(() => ops.maxPool2d(ops.zeros([1, 3, 5, 5]), 7), [/Output size is too small/]);
    });
  });
  it('matmul / linear with mismatched inner dimensions', () => {
    tidy(() => {
      throwsWith(() => ops.matmul(ops.zeros([2, 3]), ops.zeros([4, 5])), [/mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)/]);
      throwsWith(() => ops.matmul(ops.zeros([2, 2, 3]), ops.zeros([2, 4, 5])), [/batch2 tensor to be: \[2, 3\] but got: \[2, 4\]/]);
      throwsWith(() => ops.linear(ops.zeros([2, 3]), ops.zeros([4, 5])), [/cannot be multiplied \(2x3 and 5x4\)/]);
      const lin = new nn.Linear(16, 4);
      throwsWith(() => lin.forward(ops.zeros([8, 15])), [/cannot be multiplied \(8x15 and 16x4\)/]);
      lin.dispose();
    });
  });
  it('reshape to the wrong size', () => {
    tidy(() => {
      throwsWith(() => ops.reshape(ops.zeros([2, 3]), [4]), [/shape '\[4\]' is invalid for input of size 6/]);
      throwsWith(() => ops.reshape(ops.zeros([2, 3]), [-1, -1]), [/only one dimension can be inferred/]);
    });
  });
  it('cat / stack of mismatched shapes, and of nothing', () => {
    tidy(() => {
      throwsWith(() => ops.cat([ops.zeros([2, 3]), ops.zeros([2, 4])], 0),
        [/Sizes of tensors must match except in dimension 0/, /Expected size 3 but got size 4 for tensor number 1/]);
      throwsWith(() => ops.stack([ops.zeros([2]), ops.zeros([3])]), [/stack expects each tensor to be equal size/]);
      throwsWith(() => ops.cat([]), [/expected a non-empty list of Tensors/]);
    });
  });
  it('elementwise ops and losses with non-broadcastable shapes', () => {
    tidy(() => {
      throwsWith(() => ops.add(ops.zeros([2, 3]), ops.zeros([4])), [/size of tensor a \(3\) must match the size of tensor b \(4\) at non-singleton dimension 1/]);
      throwsWith(() => ops.mseLoss(ops.zeros([2, 3]), ops.zeros([4])), [/must match the size of tensor b/]);
      throwsWith(() => ops.copy_(ops.zeros([2]), ops.zeros([3])), [/size of tensor a \(2\) must match the size of tensor b \(3\)/]);
    });
  });
  it('bad dimensions and indices', () => {
    tidy(() => {
      throwsWith(() => ops.transpose(ops.zeros([2, 3]), 0, 5), [/Dimension out of range \(expected to be in range of \[-2, 1\], but got 5\)/]);
      throwsWith(() => ops.sum(ops.zeros([2, 3]), 2), [/Dimension out of range/]);
      throwsWith(() => ops.permute(ops.zeros([2, 3]), [0, 0]), [/duplicate dims/]);
      // Out-of-range indices are checked on the CPU only: on CUDA they are a device-side assert
      // (as in PyTorch), which leaves the CUDA context unusable for the rest of the process.
      const cpu = { device: 'cpu' };
      throwsWith(() => ops.indexSelect(ops.zeros([3], cpu), 0, ops.indices([5], 'cpu')), [/index out of range/]);
      throwsWith(() => ops.gather(ops.zeros([3], cpu), 0, ops.indices([5], 'cpu')), [/index 5 is out of bounds for dimension 0 with size 3/]);
      // libtorch 1.x rejects int32 indices for gather; 2.x accepts them
      if (engineInfo().torch.startsWith('1.')) {
        throwsWith(() => ops.gather(ops.zeros([3]), 0, ops.tensor(new Int32Array([0]), [1])), [/Expected dtype int64 for index/]);
      }
      throwsWith(() => ops.topk(ops.zeros([3]), 5), [/selected index k out of range/]);
    });
  });
});

describe('bad arguments', () => {
  it('tensor(data, shape) whose shape does not match the data length', () => {
    throwsWith(() => ops.tensor(new Float32Array(5), [2, 3]), [/fromArray: shape holds 6 elements but the array has 5/], RangeError);
    throwsWith(() => ops.tensor([1, 2, 3], [2, 2]), [/shape holds 4 elements but the array has 3/], RangeError);
    throwsWith(() => ops.tensor(new Float32Array(2), [1.5]), [/fromArray shape: 1.5\d* is not an integer/], TypeError);
    throwsWith(() => ops.tensor(new Float32Array(2), [-1, -2]), [/negative dimension/], RangeError);
    throwsWith(() => ops.tensor(new Uint16Array(2), [2]), [/unsupported typed array type/], TypeError);
    throwsWith(() => ops.tensor(new Float32Array(0), [2 ** 32, 2 ** 32]), [/overflow/]);
  });
  it('using a disposed tensor (in ops, reads, autograd, as an optimizer parameter)', () => {
    const t = ops.ones([2]);
    t.dispose();
    throwsWith(() => ops.add(t, 1), [/aten::add.Scalar argument 'self'/, /disposed/]);
    throwsWith(() => tidy(() => ops.cat([ops.ones([1]), t])), [/disposed/]);
    throwsWith(() => t.toArray(), [/disposed/]);
    throwsWith(() => t.dtype, [/disposed/]);
    throwsWith(() => t.backward(), [/disposed/]);
    throwsWith(() => t.requireGrad(), [/disposed/]);
    const lin = new nn.Linear(2, 2);
    lin.dispose();
    throwsWith(() => tidy(() => lin.forward(ops.ones([1, 2]))), [/disposed/]);
    const opt = new SGD(lin.parameters(), { lr: 0.1 });
    throwsWith(() => opt.step(), [/disposed/]);
    throwsWith(() => opt.zeroGrad(), [/disposed/]);
    opt.dispose();
  });
  it('backward on a tensor that does not require grad, or on a non-scalar without a gradient', () => {
    tidy(() => {
      throwsWith(() => ops.sum(ops.ones([3])).backward(), [/backward: the tensor does not require grad/]);
      const p = ops.ones([3]).requireGrad();
      throwsWith(() => ops.mul(p, 2).backward(), [/a gradient is needed for a non-scalar tensor/]);
      const l = ops.sum(ops.mul(p, p));
      l.backward();
      throwsWith(() => l.backward(), [/Trying to backward through the graph a second time/]);
      throwsWith(() => ops.uniform_(p, 0, 1), [/leaf Variable that requires grad is being used in an in-place operation/]);
      throwsWith(() => ops.arange(3).requireGrad(), [/Only Tensors of floating point and complex dtype can require gradients/]);
      p.dispose();
    });
  });
  it('negative or invalid values in layer constructors are quoted back', () => {
    throwsWith(() => new nn.Conv2d(1, 1, 3, { stride: -1 }), [/Conv2d: stride must be a positive integer, got -1/], RangeError);
    throwsWith(() => new nn.Conv2d(1, 1, 3, { padding: -1 }), [/Conv2d: padding must be a non-negative integer, got -1/], RangeError);
    throwsWith(() => new nn.Conv2d(1.5, 1, 3), [/Conv2d: inChannels must be a positive integer, got 1.5/], RangeError);
    throwsWith(() => new nn.ConvTranspose2d(1, 1, 3, { stride: 0 }), [/ConvTranspose2d: stride must be a positive integer, got 0/], RangeError);
    throwsWith(() => new nn.ConvTranspose2d(1, 1, 3, { stride: 2, outputPadding: 2 }), [/outputPadding \(2\) must be smaller than stride \(2\)/], RangeError);
    throwsWith(() => new nn.Linear(0, 3), [/Linear: inFeatures must be a positive integer, got 0/], RangeError);
    throwsWith(() => new nn.BatchNorm(3, { momentum: 2 }), [/BatchNorm: momentum must be in \[0, 1\], got 2/], RangeError);
    throwsWith(() => new nn.Dropout(1), [/Dropout: p must be in \[0, 1\), got 1/], RangeError);
    throwsWith(() => new nn.MaxPool2d(-2), [/MaxPool2d: kernel must be a positive integer, got -2/], RangeError);
    throwsWith(() => new nn.Upsample(0), [/Upsample: factor must be a positive integer, got 0/], RangeError);
    // and the functional ops refuse non-positive strides too
    tidy(() => throwsWith(() => ops.conv2d(ops.zeros([1, 1, 4, 4]), ops.zeros([1, 1, 3, 3]), null, -1), [/non-positive stride is not supported/]));
  });
  it('unknown dtype and device names', () => {
    throwsWith(() => ops.zeros([2], { dtype: 'float8' as never }), [/unknown dtype 'float8'/], TypeError);
    throwsWith(() => ops.tensor(new Float32Array(2), [2], { dtype: 'complex' as never }), [/unknown dtype 'complex'/], TypeError);
    throwsWith(() => ops.zeros([2], { device: 'tpu' }), [/unknown device 'tpu' \(use 'cpu', 'cuda' or 'cuda:N'\)/], TypeError);
    throwsWith(() => ops.tensor(new Float32Array(2), [2], { device: 'gpu0' }), [/unknown device 'gpu0'/], TypeError);
    tidy(() => throwsWith(() => ops.toDtype(ops.ones([1]), 'half-float' as never), [/unknown dtype 'half-float'/], TypeError));
  });
  it('a CUDA device without CUDA is an error, not a crash', { skip: cudaAvailable() ? 'a CUDA GPU is available' : false }, () => {
    tidy(() => {
      throwsWith(() => ops.zeros([2], { device: 'cuda' }), [/CUDA/]);
      throwsWith(() => ops.toDevice(ops.ones([2]), 'cuda'), [/cuda/i]);
    });
  });
  it('wrong argument types name the operator and the argument', () => {
    tidy(() => {
      const x = ops.ones([2]);
      throwsWith(() => ops.add(x, 'a' as never), [/aten::add.Scalar argument 'other': expected a number/], TypeError);
      throwsWith(() => ops.sum(x, 0.5), [/aten::sum.dim_IntList argument 'dim': 0.5\d* is not an integer/], TypeError);
      throwsWith(() => ops.dropout(x, 0.5, 'yes' as never), [/aten::dropout argument 'train': expected a boolean/], TypeError);
      throwsWith(() => ops.conv2d(x, 5 as never), [/argument 'weight': expected a tensor/], TypeError);
      throwsWith(() => ops.callOp('relu', '', [x, 1, 2]), [/aten::relu: takes at most 1 arguments, got 3/], TypeError);
      throwsWith(() => ops.callOp('add', 'Tensor', [x]), [/aten::add.Tensor: missing argument 'other'/], TypeError);
      throwsWith(() => ops.callOp('no_such_op', '', []), [/this libtorch has no operator aten::no_such_op/]);
      throwsWith(() => ops.ones([3]).item(), [/item\(\): tensor has 3 elements, shape \[3\]/]);
    });
  });
});

describe('the engine keeps working after errors', () => {
  it('no tensors leak from failed calls inside tidy, and later calls succeed', () => {
    const before = liveTensors();
    for (let i = 0; i < 10; i++) {
      assert.throws(() => tidy(() => ops.matmul(ops.ones([2, 3]), ops.ones([4, 5]))));
      assert.throws(() => tidy(() => ops.conv2d(ops.ones([1, 3, 4, 4]), ops.ones([1, 2, 3, 3]))));
    }
    assert.equal(liveTensors(), before);
    tidy(() => assert.deepEqual(values(ops.matmul(f32([1, 2], [1, 2]), f32([3, 4], [2, 1]))), [11]));
  });
});

describe('crash-prone misuse, in a child process', () => {
  const engine = fileURLToPath(new URL('../../src/engine/index.js', import.meta.url));
  /** Runs an ESM snippet with `ops`, `Adam`, `SGD` in scope; returns its exit status, signal and output. */
  function child(body: string) {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-errors-'));
    try {
      const script = join(dir, 'case.mjs');
      writeFileSync(script, `const { ops, Adam, SGD } = await import(${JSON.stringify(engine)});\n${body}\n`);
      const r = spawnSync(process.execPath, [script], { encoding: 'utf8', env: { ...process.env, VIGIL_THREADS: '1' }, timeout: 60_000 });
      return { status: r.status, signal: r.signal, out: `${r.stdout}${r.stderr}` };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('the child harness itself reports a clean exit and a JS error', () => {
    const r = child(`try { ops.reshape(ops.ones([6]), [4]); } catch (e) { console.log('caught:', e.message); }`);
    assert.equal(r.signal, null);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /caught: shape '\[4\]' is invalid/);
  });

  for (const [name, make] of [['Adam', 'new Adam([p])'], ['SGD with momentum', 'new SGD([p], { momentum: 0.9 })']] as const) {
    it(`${name}: a parameter pushed onto opt.params after construction is an error, not a segfault`, () => {
      // BUG (native/src/addon.cc, AdamStep/SgdStep): m[i], v[i], bufs[i] are indexed by the parameter
      // index without checking the list lengths; the optimizers expose `params` as a mutable array, so
      // pushing a parameter reads past the end of the state vectors and the process dies with SIGSEGV.
      const r = child(`
const p = ops.ones([2]).requireGrad();
const opt = ${make};
const q = ops.ones([3]).requireGrad();
opt.params.push(q);
ops.add(ops.sum(p), ops.sum(q)).backward();
try { opt.step(); console.log('no error'); } catch (e) { console.log('caught:', e.message); }
`);
      assert.equal(r.signal, null, `the process was killed by ${r.signal}: ${r.out}`);
      assert.equal(r.status, 0, r.out);
      assert.match(r.out, /caught:/);
    });
  }
});
