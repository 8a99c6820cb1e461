/**
 * Helpers for the engine tests: tolerance comparisons, a seeded JS random source (so test data
 * never depends on libtorch's generator), and a finite-difference gradient checker.
 */
import assert from 'node:assert/strict';
import { ops, tidy, noGrad, setNumThreads, setDefaultDevice, Tensor } from '../../src/engine/index.js';
import { createRng } from '../../src/data/random.js';

/**
 * The engine tests use tiny tensors, for which intra-op threads only add synchronisation: on a
 * loaded 2-core machine, OpenMP barriers made a 2x1x8x8 conv step ~1000x slower with 2 threads.
 * So the tests run on one thread unless VIGIL_TEST_THREADS says otherwise (runtime.test.ts also
 * trains with 2 threads on purpose).
 */
export const TEST_THREADS = Number(process.env.VIGIL_TEST_THREADS ?? 1);
setNumThreads(TEST_THREADS);

/**
 * VIGIL_TEST_DEVICE=cuda runs the engine tests on the GPU: every tensor a test creates without
 * naming a device goes there. CI has no GPU, so the default is the CPU.
 */
export const TEST_DEVICE = process.env.VIGIL_TEST_DEVICE ?? 'cpu';
setDefaultDevice(TEST_DEVICE);

/** mulberry32: a tiny deterministic PRNG, uniform on [0, 1). */
export function rng(seed: number): () => number {
  return createRng(seed);
}

/** n values uniform in [lo, hi), from a seeded generator. */
export function randArray(n: number, seed: number, lo = -1, hi = 1): Float64Array {
  const r = rng(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * r();
  return out;
}

/** Values whose magnitude is in [lo, hi) with random sign: keeps inputs away from kinks at 0. */
export function awayFromZero(n: number, seed: number, lo = 0.2, hi = 1.5): Float64Array {
  const r = rng(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = (r() < 0.5 ? -1 : 1) * (lo + (hi - lo) * r());
  return out;
}

/** A shuffled set of well-separated values (distinct by >= step), so max/sort have no near ties. */
export function distinct(n: number, seed: number, step = 0.1): Float64Array {
  const r = rng(seed);
  const vals = Array.from({ length: n }, (_, i) => (i - n / 2) * step);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [vals[i], vals[j]] = [vals[j], vals[i]];
  }
  return Float64Array.from(vals);
}

export function prod(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** A float64 tensor from numbers. */
export function f64(data: ArrayLike<number>, shape: number[] = [data.length]): Tensor {
  return ops.tensor(Float64Array.from(data), shape, { dtype: 'float64' });
}
/** A float32 tensor from numbers. */
export function f32(data: ArrayLike<number>, shape: number[] = [data.length]): Tensor {
  return ops.tensor(Float32Array.from(data), shape);
}

export interface Tol { rtol?: number; atol?: number }

/** Element-wise |a - e| <= atol + rtol * |e|, with a message naming the first bad index. */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tol = {}, what = 'values'): void {
  const rtol = tol.rtol ?? 1e-5;
  const atol = tol.atol ?? 1e-6;
  assert.equal(actual.length, expected.length, `${what}: length ${actual.length} != expected ${expected.length}`);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = Number(actual[i]);
    const e = Number(expected[i]);
    if (Number.isNaN(e) && Number.isNaN(a)) continue;
    const excess = Math.abs(a - e) - (atol + rtol * Math.abs(e));
    if (!(excess <= 0) && (worst < 0 || excess > worstExcess || Number.isNaN(excess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    const show = (x: ArrayLike<number>) => Array.from(x).slice(0, 24).map((v) => Number(v).toPrecision(8)).join(', ');
    assert.fail(`${what}: index ${worst}: got ${actual[worst]}, expected ${expected[worst]} (rtol ${rtol}, atol ${atol})\n` +
      `  actual:   [${show(actual)}${actual.length > 24 ? ', ...' : ''}]\n  expected: [${show(expected)}${expected.length > 24 ? ', ...' : ''}]`);
  }
}

export function assertScalarClose(actual: number, expected: number, tol: Tol = {}, what = 'value'): void {
  assertClose([actual], [expected], tol, what);
}

/** Reads a tensor's values as a plain number array. */
export function values(t: Tensor): number[] {
  return Array.from(t.toArray() as ArrayLike<number>);
}

export interface GradInput { data: ArrayLike<number>; shape: number[] }

export interface GradCheckOptions {
  /** Finite-difference step (default 1e-6). */
  h?: number;
  rtol?: number;
  atol?: number;
  /** Seed of the fixed random weights the output is contracted with. */
  seed?: number;
  name?: string;
}

/**
 * Compares autograd's gradient with central finite differences, in float64.
 * loss = sum(fn(x) * W) with fixed random W, so every output element matters with a distinct
 * weight; the analytic gradient comes from backward, the numeric one from perturbing each input
 * element by +-h. Everything runs in tidy, so a check leaves no tensors behind.
 */
export function gradCheck(fn: (inputs: Tensor[]) => Tensor, inputs: GradInput[], opts: GradCheckOptions = {}): void {
  const h = opts.h ?? 1e-6;
  const rtol = opts.rtol ?? 1e-5;
  const atol = opts.atol ?? 1e-7;
  const name = opts.name ?? 'gradCheck';
  for (const inp of inputs) assert.equal(inp.data.length, prod(inp.shape), `${name}: input data does not match shape [${inp.shape}]`);
  const datas = inputs.map((i) => Float64Array.from(i.data));

  tidy(() => {
    // analytic
    const xs = datas.map((d, i) => f64(d, inputs[i].shape).requireGrad());
    const out = fn(xs);
    assert.equal(out.dtype, 'float64', `${name}: the op must keep float64 (got ${out.dtype})`);
    const weights = f64(randArray(out.size, opts.seed ?? 12345, -1, 1), out.shape);
    const loss = ops.sum(ops.mul(out, weights));
    loss.backward();
    const analytic = xs.map((x, i) => {
      const g = x.grad;
      return g ? Float64Array.from(g.toArray() as Float64Array) : new Float64Array(datas[i].length);
    });

    // numeric
    const lossAt = (): number => noGrad(() => tidy(() => {
      const ys = datas.map((d, i) => f64(d, inputs[i].shape));
      return ops.sum(ops.mul(fn(ys), weights)).item();
    }));
    for (let i = 0; i < datas.length; i++) {
      const d = datas[i];
      const numeric = new Float64Array(d.length);
      for (let j = 0; j < d.length; j++) {
        const orig = d[j];
        d[j] = orig + h;
        const plus = lossAt();
        d[j] = orig - h;
        const minus = lossAt();
        d[j] = orig;
        numeric[j] = (plus - minus) / (2 * h);
      }
      assertClose(analytic[i], numeric, { rtol, atol }, `${name}: gradient of input ${i} (analytic vs numeric)`);
    }
  });
}

/** An input of the given shape filled from randArray. */
export function rnd(shape: number[], seed: number, lo = -1, hi = 1): GradInput {
  return { data: randArray(prod(shape), seed, lo, hi), shape };
}
