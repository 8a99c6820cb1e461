/**
 * Optimizers against updates computed by hand in JS (float64), convergence on a quadratic,
 * learning-rate schedules, and zeroGrad.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { ops, tidy, liveTensors, Adam, AdamW, SGD, makeSchedule, Tensor } from '../../src/engine/index.js';
import type { Optimizer } from '../../src/engine/index.js';
import { assertClose, f32, f64, values } from './helpers.js';

const live0 = liveTensors();
after(() => assert.equal(liveTensors(), live0, 'optimizer tests leaked tensors'));

/** Sets p.grad to exactly g by backpropagating sum(p * g). */
function setGrad(p: Tensor, g: number[]): void {
  tidy(() => {
    const c = p.dtype === 'float64' ? f64(g, p.shape) : f32(g, p.shape);
    ops.sum(ops.mul(p, c)).backward();
  });
}

/** Reference Adam/AdamW in float64, PyTorch's formulation. */
function refAdam(p0: number[], grads: number[][], o: { lr: number; b1: number; b2: number; eps: number; wd: number; decoupled: boolean }): number[] {
  const p = [...p0];
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  grads.forEach((g0, k) => {
    const t = k + 1;
    for (let i = 0; i < p.length; i++) {
      let g = g0[i];
      if (o.wd && o.decoupled) p[i] *= 1 - o.lr * o.wd;
      else if (o.wd) g += o.wd * p[i];
      m[i] = o.b1 * m[i] + (1 - o.b1) * g;
      v[i] = o.b2 * v[i] + (1 - o.b2) * g * g;
      const mhat = m[i] / (1 - o.b1 ** t);
      const vhat = v[i] / (1 - o.b2 ** t);
      p[i] -= o.lr * mhat / (Math.sqrt(vhat) + o.eps);
    }
  });
  return p;
}

const P0 = [1, -2, 3, 0.5];
const GRADS = [[0.1, 0.2, -0.3, 0], [0.5, -0.1, 0.05, 1e-4], [-0.2, 0.3, 0.1, 2]];

function runOpt(opt: Optimizer, p: Tensor, grads: number[][]): void {
  for (const g of grads) {
    opt.zeroGrad();
    setGrad(p, g);
    opt.step();
  }
}

describe('Adam and AdamW', () => {
  it('one Adam step on a known gradient equals the closed form (m, v, bias corrections)', () => {
    const p = f32(P0).requireGrad();
    const opt = new Adam([p], { lr: 0.1 });
    runOpt(opt, p, [GRADS[0]]);
    // first step: mhat = g, vhat = g^2, so the update is lr * g / (|g| + eps) = lr * sign(g) (0 where g = 0)
    const expected = refAdam(P0, [GRADS[0]], { lr: 0.1, b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0, decoupled: false });
    assertClose(expected, [0.9, -2.1, 3.1, 0.5], { rtol: 1e-7, atol: 1e-7 }, 'closed form itself');
    assertClose(values(p), expected, { rtol: 1e-6, atol: 1e-7 });
    assert.equal(opt.stateDict().scalars.step, 1);
    assertClose(values(opt.stateDict().tensors.get('exp_avg.0')!), GRADS[0].map((g) => 0.1 * g), { rtol: 1e-6, atol: 1e-9 }, 'm');
    // rtol 1e-4: CUDA's fused Adam forms 1 - beta2 in float32 (0.001 to ~1e-5 relative)
    assertClose(values(opt.stateDict().tensors.get('exp_avg_sq.0')!), GRADS[0].map((g) => 0.001 * g * g), { rtol: 1e-4, atol: 1e-12 }, 'v');
    opt.dispose();
    p.dispose();
  });

  it('three Adam steps with custom betas/eps and L2 weight decay match the reference', () => {
    const p = f32(P0).requireGrad();
    const o = { lr: 0.05, b1: 0.8, b2: 0.99, eps: 1e-3, wd: 0.1, decoupled: false };
    const opt = new Adam([p], { lr: o.lr, betas: [o.b1, o.b2], eps: o.eps, weightDecay: o.wd });
    runOpt(opt, p, GRADS);
    assertClose(values(p), refAdam(P0, GRADS, o), { rtol: 1e-5, atol: 1e-6 });
    opt.dispose();
    p.dispose();
  });

  it('AdamW decays the weights directly (decoupled), not through the gradient', () => {
    const o = { lr: 0.05, b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0.1, decoupled: true };
    const p = f32(P0).requireGrad();
    const opt = new AdamW([p], { lr: o.lr, weightDecay: o.wd });
    runOpt(opt, p, GRADS);
    const expected = refAdam(P0, GRADS, o);
    assertClose(values(p), expected, { rtol: 1e-5, atol: 1e-6 });
    // and it differs from Adam's coupled L2 with the same coefficient
    const coupled = refAdam(P0, GRADS, { ...o, decoupled: false });
    assert.ok(Math.abs(coupled[3] - expected[3]) > 1e-3, 'coupled and decoupled decay should differ here');
    opt.dispose();
    p.dispose();
  });

  it('AdamW defaults to weight decay 0.01: a zero gradient still shrinks the weights by lr*wd', () => {
    const p = f32([2, -4]).requireGrad();
    const opt = new AdamW([p], { lr: 0.1 });
    runOpt(opt, p, [[0, 0]]);
    assertClose(values(p), [2 * (1 - 0.1 * 0.01), -4 * (1 - 0.1 * 0.01)], { rtol: 1e-6 });
    opt.dispose();
    p.dispose();
  });

  it('parameters without a gradient are left alone', () => {
    const a = f32([1, 1]).requireGrad();
    const b = f32([5, 5]).requireGrad();
    const opt = new Adam([a, b], { lr: 0.1 });
    opt.zeroGrad();
    setGrad(a, [1, -1]);
    opt.step();
    assertClose(values(a), [0.9, 1.1], { rtol: 1e-6 });
    assert.deepEqual(values(b), [5, 5]);
    opt.dispose();
    a.dispose();
    b.dispose();
  });

  it('works on float64 parameters (moments in the parameters\' dtype) and matches the reference to 1e-12', () => {
    // BUG (src/engine/optim.ts, zerosLike): moment/momentum buffers are created as float32 whatever the
    // parameter dtype, and libtorch's _foreach_* kernels then fail with
    // "!needs_dynamic_casting<func_t>::check(iter) INTERNAL ASSERT FAILED".
    const p = f64(P0).requireGrad();
    const opt = new Adam([p], { lr: 0.1 });
    try {
      runOpt(opt, p, GRADS);
      assertClose(values(p), refAdam(P0, GRADS, { lr: 0.1, b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0, decoupled: false }), { rtol: 1e-12, atol: 1e-14 });
      assert.equal(opt.stateDict().tensors.get('exp_avg.0')!.dtype, 'float64');
    } finally {
      opt.dispose();
      p.dispose();
    }
    const q = f64([1, 2]).requireGrad();
    const sgd = new SGD([q], { lr: 0.1, momentum: 0.9 });
    try {
      runOpt(sgd, q, [[1, 1], [1, 1]]);
      assertClose(values(q), [1 - 0.1 - 0.19, 2 - 0.1 - 0.19], { rtol: 1e-12 });
    } finally {
      sgd.dispose();
      q.dispose();
    }
  });

  it('rejects bad hyper-parameters with clear messages', () => {
    const p = f32([1]).requireGrad();
    assert.throws(() => new Adam([p], { lr: 0 }), /Adam: lr must be positive, got 0/);
    assert.throws(() => new Adam([p], { lr: -1 }), /lr must be positive/);
    assert.throws(() => new Adam([p], { betas: [1, 0.999] }), /betas must be in \[0, 1\)/);
    assert.throws(() => new Adam([p], { weightDecay: -0.1 }), /weightDecay must be >= 0/);
    assert.throws(() => new SGD([p], { lr: NaN }), /SGD: lr must be positive/);
    assert.throws(() => new SGD([p], { nesterov: true }), /nesterov needs momentum > 0 and no dampening/);
    assert.throws(() => new SGD([p], { nesterov: true, momentum: 0.9, dampening: 0.1 }), /nesterov/);
    p.dispose();
  });
});

describe('SGD', () => {
  // loss = 0.5 * sum(a * p^2): grad = a * p, so each step's gradient depends on the previous step
  const A = [1, 2, 0.5];
  const Q0 = [1, -1, 2];

  /** Reference SGD in float64 (PyTorch's formulation: the first step copies the gradient into the buffer). */
  function refSgd(steps: number, o: { lr: number; momentum: number; nesterov: boolean; dampening: number; wd: number }): number[] {
    const p = [...Q0];
    const buf = p.map(() => 0);
    for (let t = 0; t < steps; t++) {
      for (let i = 0; i < p.length; i++) {
        let g = A[i] * p[i] + o.wd * p[i];
        if (o.momentum) {
          buf[i] = t === 0 ? g : o.momentum * buf[i] + (1 - o.dampening) * g;
          g = o.nesterov ? g + o.momentum * buf[i] : buf[i];
        }
        p[i] -= o.lr * g;
      }
    }
    return p;
  }

  function runSgd(opts: { lr: number; momentum: number; nesterov: boolean; dampening: number; wd: number }, steps: number): number[] {
    const p = f32(Q0).requireGrad();
    const opt = new SGD([p], { lr: opts.lr, momentum: opts.momentum, nesterov: opts.nesterov, dampening: opts.dampening, weightDecay: opts.wd });
    const a = f32(A);
    for (let t = 0; t < steps; t++) {
      opt.zeroGrad();
      tidy(() => ops.mul(ops.sum(ops.mul(a, ops.mul(p, p))), 0.5).backward());
      opt.step();
    }
    const out = values(p);
    opt.dispose();
    p.dispose();
    a.dispose();
    return out;
  }

  const cases = [
    { name: 'plain', lr: 0.1, momentum: 0, nesterov: false, dampening: 0, wd: 0 },
    { name: 'momentum 0.9', lr: 0.1, momentum: 0.9, nesterov: false, dampening: 0, wd: 0 },
    { name: 'nesterov momentum 0.9', lr: 0.1, momentum: 0.9, nesterov: true, dampening: 0, wd: 0 },
    { name: 'momentum with dampening 0.5 and weight decay 0.1', lr: 0.05, momentum: 0.8, nesterov: false, dampening: 0.5, wd: 0.1 },
  ];
  for (const c of cases) {
    it(`${c.name}: 3 steps match the hand computation`, () => {
      assertClose(runSgd(c, 3), refSgd(3, c), { rtol: 1e-6, atol: 1e-7 });
    });
  }

  it('momentum by hand for the first coordinate (a=1, p0=1, lr=0.1, mu=0.9)', () => {
    // step 1: g=1, buf=1, p=0.9; step 2: g=0.9, buf=1.8, p=0.72; step 3: g=0.72, buf=2.34, p=0.486
    assertClose([runSgd(cases[1], 3)[0]], [0.486], { rtol: 1e-6 });
    // nesterov: step 1: g=1, buf=1, d=1.9, p=0.81; step 2: g=0.81, buf=1.71, d=2.349, p=0.5751
    assertClose([runSgd(cases[2], 2)[0]], [0.5751], { rtol: 1e-6 });
  });
});

describe('convergence', () => {
  const target = [3, -1, 0.5, 2];
  const quadLoss = (p: Tensor, t: Tensor) => ops.sum(ops.square(ops.sub(p, t)));
  const makers: [string, (ps: Tensor[]) => Optimizer, number][] = [
    ['Adam', (ps) => new Adam(ps, { lr: 0.1 }), 300],
    ['AdamW (no decay)', (ps) => new AdamW(ps, { lr: 0.1, weightDecay: 0 }), 300],
    ['SGD', (ps) => new SGD(ps, { lr: 0.1 }), 100],
    ['SGD momentum', (ps) => new SGD(ps, { lr: 0.05, momentum: 0.9 }), 200],
    ['SGD nesterov', (ps) => new SGD(ps, { lr: 0.05, momentum: 0.9, nesterov: true }), 200],
  ];
  for (const [name, make, steps] of makers) {
    it(`${name} minimises a quadratic`, () => {
      const p = ops.zeros([4]).requireGrad();
      const t = f32(target);
      const opt = make([p]);
      const first = tidy(() => quadLoss(p, t).item());
      for (let i = 0; i < steps; i++) {
        tidy(() => {
          opt.zeroGrad();
          quadLoss(p, t).backward();
          opt.step();
        });
      }
      const last = tidy(() => quadLoss(p, t).item());
      assert.ok(last < first * 1e-4, `${name}: loss ${first} -> ${last}`);
      assertClose(values(p), target, { rtol: 0, atol: 0.02 });
      opt.dispose();
      p.dispose();
      t.dispose();
    });
  }
});

describe('zeroGrad', () => {
  it('clears gradients (to none); without it gradients accumulate', () => {
    const p = f32([1, 2]).requireGrad();
    const opt = new SGD([p], { lr: 0.1 });
    assert.equal(p.grad, null);
    setGrad(p, [1, 1]);
    setGrad(p, [1, 1]);
    tidy(() => assert.deepEqual(values(p.grad!), [2, 2], 'accumulated'));
    opt.zeroGrad();
    assert.equal(p.grad, null);
    setGrad(p, [3, -1]);
    tidy(() => assert.deepEqual(values(p.grad!), [3, -1]));
    opt.step();
    assertClose(values(p), [1 - 0.3, 2 + 0.1]);
    opt.zeroGrad();
    opt.step(); // no gradients: nothing moves
    assertClose(values(p), [1 - 0.3, 2 + 0.1]);
    opt.dispose();
    p.dispose();
  });
});

describe('schedules', () => {
  it('constant', () => {
    const s = makeSchedule(0.1, { kind: 'constant' });
    assert.equal(s(0), 0.1);
    assert.equal(s(100), 0.1);
  });
  it('step: multiplies by gamma every `every` epochs', () => {
    const s = makeSchedule(0.1, { kind: 'step', every: 10, gamma: 0.5 });
    assertClose([0, 9, 10, 19, 20, 35].map(s), [0.1, 0.1, 0.05, 0.05, 0.025, 0.0125], { rtol: 1e-12, atol: 0 });
    assert.throws(() => makeSchedule(0.1, { kind: 'step', every: 0, gamma: 0.5 }), /every must be positive, got 0/);
  });
  it('exponential: lr * gamma^epoch', () => {
    const s = makeSchedule(0.2, { kind: 'exponential', gamma: 0.9 });
    assertClose([0, 1, 3, 10].map(s), [0.2, 0.18, 0.2 * 0.729, 0.2 * 0.9 ** 10], { rtol: 1e-12, atol: 0 });
  });
  it('cosine: from lr to minLr over `epochs`, then flat (PyTorch CosineAnnealingLR closed form)', () => {
    const s = makeSchedule(0.1, { kind: 'cosine', epochs: 10, minLr: 0.01 });
    const cos = (e: number) => 0.01 + (0.1 - 0.01) * (1 + Math.cos(Math.PI * e / 10)) / 2;
    assertClose([0, 1, 5, 9, 10, 15].map(s), [0.1, cos(1), 0.055, cos(9), 0.01, 0.01], { rtol: 1e-12, atol: 1e-15 });
    const z = makeSchedule(1, { kind: 'cosine', epochs: 4 });
    assertClose([0, 2, 4].map(z), [1, 0.5, 0], { rtol: 1e-12, atol: 1e-15 });
    assert.throws(() => makeSchedule(0.1, { kind: 'cosine', epochs: 0 }), /epochs must be positive/);
  });
  it('setting opt.lr from a schedule changes the step size', () => {
    const p = f32([0]).requireGrad();
    const opt = new SGD([p], { lr: 1 });
    const s = makeSchedule(1, { kind: 'step', every: 1, gamma: 0.1 });
    for (let e = 0; e < 3; e++) {
      opt.lr = s(e);
      opt.zeroGrad();
      setGrad(p, [1]);
      opt.step();
    }
    assertClose(values(p), [-(1 + 0.1 + 0.01)], { rtol: 1e-6 });
    opt.dispose();
    p.dispose();
  });
});
