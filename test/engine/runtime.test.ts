/**
 * Seeding, threads, devices and grad mode.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  ops, nn, tidy, noGrad, isGradEnabled, liveTensors, manualSeed, setNumThreads, getNumThreads, cudaAvailable, cudaDeviceCount,
  resolveDevice, engineInfo, synchronize, Adam, setDefaultDevice, getDefaultDevice,
} from '../../src/engine/index.js';
import { TEST_THREADS, TEST_DEVICE, values } from './helpers.js';

const live0 = liveTensors();
after(() => assert.equal(liveTensors(), live0, 'runtime tests leaked tensors'));

/** Builds a small model from the current seed and returns its loss over 5 Adam steps on seeded data. */
function lossSequence(seed: number): number[] {
  manualSeed(seed);
  const model = new nn.Sequential([
    new nn.Conv2d(1, 4, 3, { stride: 2, padding: 1 }), new nn.BatchNorm(4), new nn.ReLU(), new nn.Dropout(0.2),
    new nn.ConvTranspose2d(4, 1, 3, { stride: 2, padding: 1, outputPadding: 1 }), new nn.Sigmoid(),
  ]);
  const opt = new Adam(model.parameters(), { lr: 0.01 });
  const x = ops.rand([4, 1, 8, 8]);
  const losses: number[] = [];
  for (let i = 0; i < 5; i++) {
    losses.push(tidy(() => {
      const noisy = ops.clamp(ops.add(x, ops.mul(ops.randn([4, 1, 8, 8]), 0.1)), 0, 1);
      const loss = ops.mseLoss(model.forward(noisy), x);
      opt.zeroGrad();
      loss.backward();
      opt.step();
      return loss.item();
    }));
  }
  model.dispose();
  opt.dispose();
  x.dispose();
  return losses;
}

describe('seeding', () => {
  it('manualSeed gives identical randn, rand, randperm and dropout masks', () => {
    tidy(() => {
      manualSeed(42);
      const a = [values(ops.randn([16])), values(ops.rand([8])), values(ops.randperm(10)), values(ops.dropout(ops.ones([32]), 0.5, true))];
      manualSeed(42);
      const b = [values(ops.randn([16])), values(ops.rand([8])), values(ops.randperm(10)), values(ops.dropout(ops.ones([32]), 0.5, true))];
      assert.deepEqual(b, a);
      manualSeed(43);
      assert.notDeepEqual(values(ops.randn([16])), a[0]);
      // float64 draws are seeded as well
      manualSeed(7);
      const c = values(ops.randn([4], { dtype: 'float64' }));
      manualSeed(7);
      assert.deepEqual(values(ops.randn([4], { dtype: 'float64' })), c);
    });
  });

  it('layer initialisation follows the seed', () => {
    manualSeed(5);
    const a = new nn.Linear(4, 3);
    manualSeed(5);
    const b = new nn.Linear(4, 3);
    tidy(() => {
      for (const [name, p] of a.namedParameters()) assert.deepEqual(values(b.stateDict().get(name)!), values(p), name);
    });
    a.dispose();
    b.dispose();
  });

  it('identical training results (same loss sequence over 5 steps) twice, also with 2 threads', () => {
    const first = lossSequence(123);
    const second = lossSequence(123);
    assert.equal(first.length, 5);
    assert.ok(first.every(Number.isFinite));
    assert.ok(first[4] < first[0], `loss should go down: ${first}`);
    assert.deepEqual(second, first);
    assert.notDeepEqual(lossSequence(124), first);
    setNumThreads(2);
    try {
      assert.deepEqual(lossSequence(123), lossSequence(123), 'with 2 threads');
    } finally {
      setNumThreads(TEST_THREADS);
    }
  });

  it('rejects bad seeds', () => {
    assert.throws(() => manualSeed(-1), /seed must be a non-negative integer, got -1/);
    assert.throws(() => manualSeed(1.5), /seed must be a non-negative integer, got 1.5/);
  });
});

describe('threads', () => {
  it('setNumThreads / getNumThreads', () => {
    const before = getNumThreads();
    try {
      setNumThreads(1);
      assert.equal(getNumThreads(), 1);
      setNumThreads(2);
      assert.equal(getNumThreads(), 2);
      assert.equal(engineInfo().threads, 2);
    } finally {
      setNumThreads(before);
    }
    assert.equal(getNumThreads(), before);
    assert.throws(() => setNumThreads(0), /threads must be a positive integer, got 0/);
    assert.throws(() => setNumThreads(1.5), /threads must be a positive integer/);
  });
});

describe('devices', () => {
  it('resolveDevice: cpu, auto and unknown names', () => {
    assert.equal(resolveDevice('cpu'), 'cpu');
    assert.equal(resolveDevice('auto'), cudaAvailable() ? 'cuda' : 'cpu');
    assert.equal(resolveDevice(), cudaAvailable() ? 'cuda' : 'cpu');
    assert.throws(() => resolveDevice('tpu'), /unknown device 'tpu' \(use cpu, cuda, cuda:N or auto\)/);
  });

  it('resolveDevice("cuda") without a GPU throws a clear error', { skip: cudaAvailable() ? 'a CUDA GPU is available' : false }, () => {
    assert.equal(cudaDeviceCount(), 0);
    assert.throws(() => resolveDevice('cuda'), /device cuda requested but this libtorch has no CUDA GPU.*--device cpu/);
    assert.throws(() => resolveDevice('cuda:1'), /device cuda:1 requested/);
  });

  it('creation calls without a device use the default device (VIGIL_TEST_DEVICE in these tests)', () => {
    assert.equal(getDefaultDevice(), resolveDevice(TEST_DEVICE));
    tidy(() => {
      for (const t of [ops.zeros([2]), ops.rand([2]), ops.tensor([1, 2]), ops.arange(3), ops.indices([0, 1])]) {
        assert.ok(t.device.startsWith(TEST_DEVICE), `${t.device} is not ${TEST_DEVICE}`);
      }
      assert.equal(ops.zeros([2], { device: 'cpu' }).device, 'cpu');
    });
    const layer = new nn.Linear(2, 2);
    for (const [, p] of layer.namedParameters()) assert.ok(p.device.startsWith(TEST_DEVICE), 'parameters follow the default device');
    layer.dispose();
    assert.throws(() => setDefaultDevice('tpu'), /unknown device 'tpu'/);
    assert.equal(getDefaultDevice(), resolveDevice(TEST_DEVICE), 'a refused default leaves the old one');
  });

  it('engineInfo and synchronize', () => {
    const info = engineInfo();
    assert.match(info.torch, /^\d+\.\d+/);
    assert.equal(info.gpus, cudaDeviceCount());
    assert.equal(info.cuda, cudaAvailable() || info.cuda); // a CUDA build may still see no GPU
    synchronize(); // a no-op on CPU, must not throw
    tidy(() => {
      const t = ops.ones([2], { device: 'cpu' });
      assert.equal(t.device, 'cpu');
      assert.equal(ops.toDevice(t, 'cpu').device, 'cpu');
    });
  });
});

describe('grad mode', () => {
  it('isGradEnabled is on by default; noGrad turns it off inside and restores it', () => {
    assert.equal(isGradEnabled(), true);
    const inside = noGrad(() => isGradEnabled());
    assert.equal(inside, false);
    assert.equal(isGradEnabled(), true);
  });

  it('noGrad restores the mode after a throw', () => {
    assert.throws(() => noGrad(() => { throw new Error('boom'); }), /boom/);
    assert.equal(isGradEnabled(), true);
    assert.throws(() => tidy(() => noGrad(() => ops.reshape(ops.ones([6]), [4]))), /invalid for input of size 6/);
    assert.equal(isGradEnabled(), true);
    // nested: the inner restores "off", the outer restores "on"
    noGrad(() => {
      assert.throws(() => noGrad(() => { throw new Error('inner'); }));
      assert.equal(isGradEnabled(), false);
    });
    assert.equal(isGradEnabled(), true);
  });

  it('ops inside noGrad do not record a graph; outside they do', () => {
    tidy(() => {
      const p = ops.ones([2]).requireGrad();
      const y = noGrad(() => ops.mul(p, 2));
      assert.equal(y.requiresGrad, false);
      assert.throws(() => ops.sum(y).backward(), /does not require grad/);
      const z = ops.mul(p, 2);
      assert.equal(z.requiresGrad, true);
      assert.equal(ops.detach(z).requiresGrad, false);
      p.dispose();
    });
  });
});
