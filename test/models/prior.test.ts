import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ops, liveTensors, manualSeed, dispose, tidy } from '../../src/engine/index.js';
import type { Tensor } from '../../src/engine/index.js';
import { GaussianMixture, StandardNormal, priorFromJSON } from '../../src/models/prior.js';
import type { GaussianMixtureJSON, Prior } from '../../src/models/prior.js';
import { close, closeArray, gauss, rng } from '../eval/helpers.js';

const LOG_2PI = Math.log(2 * Math.PI);

/** Rows as a float64 tensor, so comparisons can be tight. */
function rows(zs: number[][], dtype: 'float64' | 'float32' = 'float64'): Tensor {
  return ops.tensor(Float64Array.from(zs.flat()), [zs.length, zs[0]!.length], { dtype });
}

function logProbOf(prior: Prior, zs: number[][], dtype: 'float64' | 'float32' = 'float64'): number[] {
  return tidy(() => Array.from(prior.logProb(rows(zs, dtype)).toArray()));
}

/** Brute-force mixture log-density in float64. */
function refMixture(z: number[], means: number[][], std: number[], weights: number[]): number {
  const d = z.length;
  let p = 0;
  for (let c = 0; c < means.length; c++) {
    let sq = 0;
    for (let j = 0; j < d; j++) sq += (z[j]! - means[c]![j]!) ** 2;
    p += weights[c]! * Math.exp(-sq / (2 * std[c]! ** 2)) / Math.pow(std[c]! * Math.sqrt(2 * Math.PI), d);
  }
  return Math.log(p);
}

function randomRows(n: number, d: number, seed: number, scale = 2): number[][] {
  const u = rng(seed);
  return Array.from({ length: n }, () => Array.from({ length: d }, () => scale * gauss(u)));
}

/** Sample mean and (population) covariance of a [n, d] tensor, in float64. */
function moments(t: Tensor): { mean: number[]; cov: number[][] } {
  const [n, d] = t.shape as [number, number];
  const a = t.toArray();
  const mean = new Array<number>(d).fill(0);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += a[i * d + j]! / n;
  const cov = Array.from({ length: d }, () => new Array<number>(d).fill(0));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      for (let k = 0; k < d; k++) cov[j]![k] += ((a[i * d + j]! - mean[j]!) * (a[i * d + k]! - mean[k]!)) / n;
    }
  }
  return { mean, cov };
}

describe('StandardNormal', () => {
  it('logProb matches the closed form', () => {
    const p = new StandardNormal(2);
    closeArray(logProbOf(p, [[0, 0], [1, 2], [-3, 0.5]]), [-LOG_2PI, -2.5 - LOG_2PI, -4.625 - LOG_2PI]);
    const p3 = new StandardNormal(3);
    const zs = randomRows(5, 3, 1);
    closeArray(logProbOf(p3, zs), zs.map((z) => -0.5 * (z[0]! ** 2 + z[1]! ** 2 + z[2]! ** 2) - 1.5 * LOG_2PI));
    closeArray(logProbOf(p3, zs, 'float32'), zs.map((z) => -0.5 * (z[0]! ** 2 + z[1]! ** 2 + z[2]! ** 2) - 1.5 * LOG_2PI), 1e-6);
  });

  it('samples have mean 0 and identity covariance', () => {
    manualSeed(1);
    const z = new StandardNormal(3).sample(20000);
    assert.deepEqual(z.shape, [20000, 3]);
    assert.equal(z.dtype, 'float32');
    const { mean, cov } = moments(z);
    z.dispose();
    // Standard errors: mean 0.007, variance 0.01, covariance 0.007.
    mean.forEach((m) => assert.ok(Math.abs(m) < 0.04, `mean ${m}`));
    cov.forEach((r, j) => r.forEach((c, k) => assert.ok(Math.abs(c - (j === k ? 1 : 0)) < 0.05, `cov[${j}][${k}] = ${c}`)));
  });

  it('logProb is differentiable: d/dz = -z', () => {
    const z = rows([[0.5, -1], [2, 0.25]]).requireGrad();
    tidy(() => ops.sum(new StandardNormal(2).logProb(z)).backward());
    const g = z.grad!;
    closeArray(g.toArray(), [-0.5, 1, -2, -0.25]);
    dispose([g, z]);
  });
});

describe('GaussianMixture', () => {
  it('one component is a shifted, scaled Gaussian', () => {
    const mu = [1, -2, 0.5];
    const s = 0.7;
    const g = new GaussianMixture({ dim: 3, means: [mu], std: s });
    const zs = randomRows(6, 3, 2);
    const expected = zs.map((z) => z.reduce((acc, v, j) => acc - ((v - mu[j]!) ** 2) / (2 * s * s) - Math.log(s) - 0.5 * LOG_2PI, 0));
    closeArray(logProbOf(g, zs), expected, 1e-12);
    // ... and equals the standard normal at (z - mu) / s, minus d log s.
    const std = logProbOf(new StandardNormal(3), zs.map((z) => z.map((v, j) => (v - mu[j]!) / s)));
    closeArray(logProbOf(g, zs), std.map((v) => v - 3 * Math.log(s)), 1e-12);
    // Differentiable: d/dz = -(z - mu) / s^2.
    const z = rows(zs.slice(0, 2)).requireGrad();
    tidy(() => ops.sum(g.logProb(z)).backward());
    const grad = z.grad!;
    closeArray(grad.toArray(), zs.slice(0, 2).flatMap((r) => r.map((v, j) => -(v - mu[j]!) / (s * s))), 1e-12);
    dispose([grad, z]);
  });

  it('logProb equals a brute-force mixture density', () => {
    const means = [[0, 0, 0], [3, 1, -1], [-2, 2, 0.5], [1, -3, 2]];
    const std = [0.5, 1, 1.5, 0.8];
    const weights = [1, 2, 3, 4];
    const g = new GaussianMixture({ dim: 3, means, std, weights });
    const w = weights.map((v) => v / 10);
    closeArray(g.weights, w, 1e-15);
    const zs = randomRows(20, 3, 3);
    const expected = zs.map((z) => refMixture(z, means, std, w));
    closeArray(logProbOf(g, zs), expected, 1e-12);
    closeArray(logProbOf(g, zs, 'float32'), expected, 1e-5);
    // Far from every mean, logsumexp keeps it finite where exp would underflow.
    const far = logProbOf(g, [[100, 100, 100]])[0]!;
    assert.ok(Number.isFinite(far) && far < -1000);
  });

  it('default means: circle of the given radius, or seeded random directions', () => {
    const g = new GaussianMixture({ dim: 4, components: 8, radius: 3 });
    assert.equal(g.means.length, 8);
    g.means.forEach((m) => { close(Math.hypot(...m), 3, 1e-12); assert.equal(m[2], 0); assert.equal(m[3], 0); });
    closeArray(g.means[2]!, [0, 3, 0, 0], 1e-12);
    assert.deepEqual(new GaussianMixture({ dim: 2, components: 1 }).means, [[0, 0]]);
    assert.deepEqual(new GaussianMixture({ dim: 1, components: 3, radius: 2 }).means, [[-2], [0], [2]]);
    const r1 = new GaussianMixture({ dim: 5, components: 3, layout: 'random', seed: 4 });
    const r2 = new GaussianMixture({ dim: 5, components: 3, layout: 'random', seed: 4 });
    const r3 = new GaussianMixture({ dim: 5, components: 3, layout: 'random', seed: 5 });
    assert.deepEqual(r1.means, r2.means);
    assert.notDeepEqual(r1.means, r3.means);
    r1.means.forEach((m) => close(Math.hypot(...m), 4, 1e-12));
    assert.deepEqual(r1.std, [0.5, 0.5, 0.5]);
  });

  it('samples follow the weights, mean and covariance of the mixture', () => {
    const means = [[4, 0, 1], [0, 4, -1], [-4, 0, 0]];
    const std = [0.5, 1, 0.25];
    const weights = [0.2, 0.3, 0.5];
    const g = new GaussianMixture({ dim: 3, means, std, weights, seed: 7 });
    const counts = [0, 0, 0];
    for (const c of g.sampleComponents(20000)) counts[c]! += 1;
    counts.forEach((c, i) => assert.ok(Math.abs(c / 20000 - weights[i]!) < 0.015, `component ${i}: ${c}`));

    manualSeed(2);
    const z = g.sample(20000);
    const { mean, cov } = moments(z);
    z.dispose();
    const mu = [0, 1, 2].map((j) => weights.reduce((a, w, c) => a + w * means[c]![j]!, 0));
    const theory = [0, 1, 2].map((j) => [0, 1, 2].map((k) =>
      weights.reduce((a, w, c) => a + w * ((j === k ? std[c]! ** 2 : 0) + means[c]![j]! * means[c]![k]!), 0) - mu[j]! * mu[k]!));
    // Standard errors are about 0.03 (mean) and 0.1 (largest covariance entries).
    mean.forEach((m, j) => assert.ok(Math.abs(m - mu[j]!) < 0.1, `mean[${j}] ${m} vs ${mu[j]}`));
    cov.forEach((r, j) => r.forEach((c, k) => assert.ok(Math.abs(c - theory[j]![k]!) < 0.4, `cov[${j}][${k}] ${c} vs ${theory[j]![k]}`)));
  });

  it('is deterministic for a seed (with manualSeed for the noise)', () => {
    const opts = { dim: 2, components: 5, seed: 3 };
    assert.deepEqual(new GaussianMixture(opts).sampleComponents(50), new GaussianMixture(opts).sampleComponents(50));
    assert.notDeepEqual(new GaussianMixture(opts).sampleComponents(50), new GaussianMixture({ ...opts, seed: 4 }).sampleComponents(50));
    manualSeed(9);
    const a = new GaussianMixture(opts).sample(100);
    manualSeed(9);
    const b = new GaussianMixture(opts).sample(100);
    assert.deepEqual(a.toArray(), b.toArray());
    dispose([a, b]);
  });
});

describe('priorFromJSON', () => {
  it('round trips both priors through JSON text', () => {
    const priors: Prior[] = [
      new StandardNormal(4),
      new GaussianMixture({ dim: 4, components: 3, std: [0.3, 0.6, 0.9], weights: [1, 1, 2], seed: 12, layout: 'random' }),
    ];
    const zs = randomRows(8, 4, 5);
    for (const p of priors) {
      const json = JSON.parse(JSON.stringify(p.toJSON()));
      const q = priorFromJSON(json);
      assert.deepEqual(q.toJSON(), p.toJSON());
      assert.equal(q.dim, 4);
      assert.deepEqual(logProbOf(q, zs), logProbOf(p, zs));
    }
    const g = priorFromJSON(priors[1]!.toJSON()) as GaussianMixture;
    assert.deepEqual(g.sampleComponents(30), new GaussianMixture(priors[1]!.toJSON() as GaussianMixtureJSON).sampleComponents(30));
  });

  it('rejects malformed JSON with a reason', () => {
    assert.throws(() => priorFromJSON(null), /expected an object/);
    assert.throws(() => priorFromJSON({ type: 'laplace', dim: 2 }), /unknown prior type "laplace"/);
    assert.throws(() => priorFromJSON({ type: 'standard-normal', dim: 0 }), /dim must be a positive integer, got 0/);
    assert.throws(() => priorFromJSON({ type: 'gaussian-mixture', dim: 2 }), /needs means/);
    assert.throws(() => priorFromJSON({ type: 'gaussian-mixture', dim: 2, means: [[0, 0, 0]] }), /mean 0 has 3 entries, expected dim = 2/);
  });
});

describe('prior errors and memory', () => {
  it('explains bad arguments', () => {
    assert.throws(() => new GaussianMixture({ dim: 2, components: 0 }), /components must be a positive integer/);
    assert.throws(() => new GaussianMixture({ dim: 2, components: 2, weights: [1, -1] }), /weight of component 1/);
    assert.throws(() => new GaussianMixture({ dim: 2, components: 2, std: [1] }), /1 std values given for 2 components/);
    assert.throws(() => new GaussianMixture({ dim: 2, components: 2, std: 0 }), /std of component 0 must be positive/);
    assert.throws(() => new StandardNormal(2).sample(-1), /non-negative integer/);
    const z = ops.zeros([3, 5]);
    assert.throws(() => new StandardNormal(2).logProb(z), /shape \[n, 2\], got \[3,5\] \(dimension 5 vs the prior's 2\)/);
    assert.throws(() => new GaussianMixture({ dim: 4, components: 2 }).logProb(z), /dimension 5 vs the prior's 4/);
    z.dispose();
  });

  it('leaves no tensors behind', () => {
    const base = liveTensors();
    for (const p of [new StandardNormal(3), new GaussianMixture({ dim: 3, components: 4 })]) {
      const z = p.sample(64);
      const lp = p.logProb(z);
      assert.deepEqual(lp.shape, [64]);
      dispose([z, lp]);
      tidy(() => { assert.deepEqual(p.sample(0).shape, [0, 3]); });
    }
    assert.equal(liveTensors(), base);
  });
});
