import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ops, liveTensors, encodeTensors, decodeTensors, saveTensors, loadTensors, dispose } from '../../src/engine/index.js';
import {
  LatentKDE,
  KDE_POINTS_KEY,
  bandwidthGrid,
  logUnitBallVolume,
  scottBandwidth,
  silvermanBandwidth,
} from '../../src/scoring/kde.js';
import type { LatentKDEState } from '../../src/scoring/kde.js';
import { close, gauss, rng } from '../eval/helpers.js';

/** n x d standard normals, scaled and shifted per dimension so standardisation matters. */
function data(n: number, d: number, seed: number, scale = [2, 0.5, 3, 1], shift = [1, -3, 0, 5]): Float64Array {
  const u = rng(seed);
  const out = new Float64Array(n * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) out[i * d + j] = shift[j % shift.length]! + scale[j % scale.length]! * gauss(u);
  return out;
}

/** Per-dimension population mean and std in float64. */
function moments(x: ArrayLike<number>, d: number): { mean: number[]; std: number[] } {
  const n = x.length / d;
  const mean = new Array<number>(d).fill(0);
  const std = new Array<number>(d).fill(0);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += x[i * d + j]! / n;
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) std[j] += (x[i * d + j]! - mean[j]!) ** 2 / n;
  return { mean, std: std.map(Math.sqrt) };
}

/** Brute-force Gaussian KDE log-density in float64 (double loop), optionally standardising. */
function refLogDensity(points: ArrayLike<number>, queries: ArrayLike<number>, d: number, h: number, standardize = true): Float64Array {
  const n = points.length / d;
  const m = queries.length / d;
  const { mean, std } = standardize ? moments(points, d) : { mean: new Array<number>(d).fill(0), std: new Array<number>(d).fill(1) };
  const out = new Float64Array(m);
  const terms = new Float64Array(n);
  for (let q = 0; q < m; q++) {
    let mx = -Infinity;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < d; j++) {
        const a = (queries[q * d + j]! - mean[j]!) / std[j]!;
        const b = (points[i * d + j]! - mean[j]!) / std[j]!;
        s += (a - b) ** 2;
      }
      terms[i] = -s / (2 * h * h);
      mx = Math.max(mx, terms[i]!);
    }
    let acc = 0;
    for (let i = 0; i < n; i++) acc += Math.exp(terms[i]! - mx);
    out[q] = mx + Math.log(acc) - Math.log(n) - d * Math.log(h * Math.sqrt(2 * Math.PI));
  }
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** float32 scoring vs float64 reference: a few 1e-6 relative of the terms involved. */
function assertCloseToRef(actual: Float32Array, expected: Float64Array, tol = 5e-5): void {
  for (let i = 0; i < expected.length; i++) close(actual[i]!, expected[i]!, tol, `query ${i}:`);
}

const N = 50;
const D = 3;
const POINTS = data(N, D, 1);
const QUERIES = data(20, D, 2, [3, 1, 4, 2]); // wider than the points: some far tails

describe('LatentKDE against a brute-force float64 reference', () => {
  for (const rule of ['scott', 'silverman', 'likelihood', 0.4] as const) {
    it(`bandwidth ${rule}`, () => {
      const kde = new LatentKDE({ bandwidth: rule }).fit(POINTS, D);
      try {
        const h = kde.bandwidth_!;
        if (rule === 'scott') close(h, Math.pow(N, -1 / (D + 4)), 1e-15);
        if (rule === 'silverman') close(h, Math.pow((N * (D + 2)) / 4, -1 / (D + 4)), 1e-15);
        if (rule === 0.4) assert.equal(h, 0.4);
        assertCloseToRef(kde.scoreSamples(QUERIES), refLogDensity(POINTS, QUERIES, D, h));
      } finally {
        kde.dispose();
      }
    });
  }

  it('far queries (exp underflows to 0) take the exact path and still match', () => {
    // Alternate near and far rows so the redone rows interleave with fast-path ones across chunks.
    const q = Float64Array.from(QUERIES);
    for (let i = 0; i < 20; i += 2) for (let j = 0; j < D; j++) q[i * D + j]! += (j % 2 ? -1 : 1) * (15 + i);
    for (const chunkSize of [1024, 3]) {
      const kde = new LatentKDE({ chunkSize }).fit(POINTS, D);
      const expected = refLogDensity(POINTS, q, D, kde.bandwidth_!);
      assert.ok(expected[0]! < -200, `query 0 is far: ${expected[0]}`);
      assertCloseToRef(kde.scoreSamples(q), expected);
      kde.dispose();
    }
  });

  it('standardize: false uses raw codes', () => {
    const kde = new LatentKDE({ standardize: false, bandwidth: 1.3 }).fit(POINTS, D);
    assert.deepEqual(kde.mean_, [0, 0, 0]);
    assert.deepEqual(kde.std_, [1, 1, 1]);
    assertCloseToRef(kde.scoreSamples(QUERIES), refLogDensity(POINTS, QUERIES, D, 1.3, false));
    kde.dispose();
  });

  it('stores population mean/std of the codes', () => {
    const kde = new LatentKDE().fit(POINTS, D);
    const { mean, std } = moments(POINTS, D);
    for (let j = 0; j < D; j++) { close(kde.mean_![j]!, mean[j]!, 1e-6); close(kde.std_![j]!, std[j]!, 1e-6); }
    kde.dispose();
  });

  it('accepts tensors and flat arrays alike, and scores in chunks without changing results', () => {
    const pts = ops.tensor(POINTS, [N, D], { dtype: 'float32' });
    const qs = ops.tensor(QUERIES, [20, D], { dtype: 'float64' });
    const a = new LatentKDE().fit(pts);
    const b = new LatentKDE({ chunkSize: 7 }).fit(Float32Array.from(POINTS), D);
    const sa = a.scoreSamples(qs);
    assert.ok(maxAbsDiff(sa, b.scoreSamples(QUERIES)) < 1e-5);
    assert.ok(maxAbsDiff(sa, a.scoreSamples(Float32Array.from(QUERIES))) < 1e-6);
    assert.ok(!pts.isDisposed && !qs.isDisposed, 'inputs stay owned by the caller');
    dispose([pts, qs]);
    a.dispose(); b.dispose();
  });

  it('is a true density: integrates to 1 (d = 1)', () => {
    const x = data(40, 1, 3, [2], [1]);
    const grid = new Float64Array(4001).map((_, i) => -30 + (60 * i) / 4000); // step 0.015
    const dx = 60 / 4000;
    for (const standardize of [false, true]) {
      const kde = new LatentKDE({ standardize }).fit(x, 1);
      let mass = 0;
      for (const v of kde.scoreSamples(grid)) mass += Math.exp(v) * dx;
      // Standardised space: dz = dx / std.
      if (standardize) mass /= kde.std_![0]!;
      close(mass, 1, 1e-4, `standardize=${standardize}`);
      kde.dispose();
    }
  });
});

describe('LatentKDE scores', () => {
  it('score = -scoreSamples; far-away queries score higher', () => {
    const kde = new LatentKDE().fit(POINTS, D);
    const { mean } = moments(POINTS, D);
    const far = mean.map((m) => m + 40);
    const q = Float64Array.from([...mean, ...far]);
    const lp = kde.scoreSamples(q);
    const s = kde.score(q);
    assert.deepEqual(Array.from(s), Array.from(lp, (v) => -v));
    assert.ok(s[1]! > s[0]! + 10);
    assert.equal(kde.scoreSamples(new Float32Array(0)).length, 0);
    kde.dispose();
  });
});

describe('bandwidth rules', () => {
  it('Scott and Silverman formulas', () => {
    close(scottBandwidth(100, 2), Math.pow(100, -1 / 6), 1e-15);
    close(scottBandwidth(60000, 32), 0.73667, 1e-5);
    close(silvermanBandwidth(100, 2), Math.pow(100, -1 / 6), 1e-15); // n(d+2)/4 = n when d = 2
    close(silvermanBandwidth(50, 3), Math.pow(62.5, -1 / 7), 1e-15);
  });

  it('uses the number of fitted points after the cap', () => {
    const x = data(500, 2, 4);
    const kde = new LatentKDE({ maxPoints: 100, bandwidth: 'silverman' }).fit(x, 2);
    assert.equal(kde.n, 100);
    assert.equal(kde.nSeen_, 500);
    close(kde.bandwidth_!, silvermanBandwidth(100, 2), 1e-15);
    const again = new LatentKDE({ maxPoints: 100, bandwidth: 'silverman' }).fit(x, 2);
    const other = new LatentKDE({ maxPoints: 100, bandwidth: 'silverman', seed: 9 }).fit(x, 2);
    const q = data(10, 2, 5);
    assert.deepEqual(kde.scoreSamples(q), again.scoreSamples(q), 'same seed, same subsample');
    assert.notDeepEqual(kde.scoreSamples(q), other.scoreSamples(q));
    // Mean/std come from all 500 codes, not the subsample.
    const { mean } = moments(x, 2);
    close(kde.mean_![0]!, mean[0]!, 1e-6);
    for (const k of [kde, again, other]) k.dispose();
  });

  it('likelihood: picks from the grid, at least as good as Scott on the held-out set', () => {
    const kde = new LatentKDE({ bandwidth: 'likelihood', seed: 3 }).fit(POINTS, D);
    const sel = kde.selection_!;
    const grid = bandwidthGrid(N, D);
    assert.deepEqual(sel.grid, grid);
    assert.equal(grid.length, 16);
    close(grid[0]!, 0.05 * scottBandwidth(N, D), 1e-12);
    close(grid[grid.length - 1]!, 2 * scottBandwidth(N, D), 1e-12);
    const iScott = grid.indexOf(scottBandwidth(N, D));
    assert.ok(iScott >= 0, 'Scott is in the grid');
    const iBest = grid.indexOf(kde.bandwidth_!);
    assert.ok(iBest >= 0, 'selected h is a grid value');
    assert.equal(Math.max(...sel.logLik), sel.logLik[iBest]);
    assert.ok(sel.logLik[iBest]! >= sel.logLik[iScott]!);
    assert.equal(sel.nHeldOut, 10);
    assert.equal(sel.nTrain, 40);
    kde.dispose();
  });

  it('likelihood: held-out log-likelihoods equal the closed form (n = 2)', () => {
    // Standardised, two points are +-1 in every dimension: ||x1 - x2||^2 = 4d, whichever is held out.
    const d = 3;
    const kde = new LatentKDE({ bandwidth: 'likelihood' }).fit(Float64Array.from([0, 1, 2, 5, -1, 7]), d);
    const sel = kde.selection_!;
    assert.equal(sel.nHeldOut, 1);
    sel.grid.forEach((h, i) => close(sel.logLik[i]!, (-4 * d) / (2 * h * h) - d * Math.log(h) - (d / 2) * Math.log(2 * Math.PI), 1e-6));
    kde.dispose();
  });

  it('likelihood: on tight clusters it shrinks h and generalises better than Scott', () => {
    const u = rng(11);
    const centres = [[-4, 0], [0, 4], [4, 0], [0, -4]];
    const draw = (n: number) => {
      const out = new Float64Array(n * 2);
      for (let i = 0; i < n; i++) {
        const c = centres[Math.floor(u() * 4)]!;
        out[2 * i] = c[0]! + 0.1 * gauss(u);
        out[2 * i + 1] = c[1]! + 0.1 * gauss(u);
      }
      return out;
    };
    const train = draw(400);
    const test = draw(200);
    const kde = new LatentKDE({ bandwidth: 'likelihood' }).fit(train, 2);
    const scott = scottBandwidth(400, 2);
    assert.ok(kde.bandwidth_! < 0.5 * scott, `h ${kde.bandwidth_} vs Scott ${scott}`);
    const meanLL = (h: number) => refLogDensity(train, test, 2, h).reduce((a, b) => a + b, 0) / 200;
    assert.ok(meanLL(kde.bandwidth_!) > meanLL(scott) + 0.5);
    kde.dispose();
  });
});

describe('LatentKDE state', () => {
  it('round trips through safetensors bytes and JSON with identical scores', () => {
    const cases = [
      { bandwidth: 'scott', maxPoints: 30 },
      { bandwidth: 'likelihood', maxPoints: 30 },
      { bandwidth: 0.25, maxPoints: Infinity }, // no cap: JSON holds null
    ] as const;
    for (const { bandwidth, maxPoints } of cases) {
      const kde = new LatentKDE({ bandwidth, maxPoints }).fit(POINTS, D);
      const { json, tensors } = kde.toState();
      assert.deepEqual([...tensors.keys()], [KDE_POINTS_KEY]);
      assert.deepEqual(tensors.get(KDE_POINTS_KEY)!.shape, [Math.min(maxPoints, N), D]);
      const bytes = Buffer.concat(encodeTensors(tensors));
      dispose([...tensors.values()]);
      const decoded = decodeTensors(bytes, 'memory');
      const restored = LatentKDE.fromState(JSON.parse(JSON.stringify(json)) as LatentKDEState, decoded.tensors);
      dispose([...decoded.tensors.values()]);
      assert.equal(restored.bandwidth_, kde.bandwidth_);
      assert.equal(restored.maxPoints, maxPoints);
      assert.equal(restored.bandwidthParam, bandwidth);
      assert.deepEqual(restored.toState().json, json);
      assert.ok(maxAbsDiff(restored.scoreSamples(QUERIES), kde.scoreSamples(QUERIES)) < 1e-6);
      dispose(restored.toState().tensors.get(KDE_POINTS_KEY));
      kde.dispose(); restored.dispose();
    }
  });

  it('round trips through a safetensors file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-kde-'));
    try {
      const kde = new LatentKDE().fit(POINTS, D);
      const { json, tensors } = kde.toState();
      saveTensors(join(dir, 'kde.safetensors'), tensors);
      dispose([...tensors.values()]);
      const loaded = loadTensors(join(dir, 'kde.safetensors')).tensors;
      const restored = LatentKDE.fromState(json, loaded);
      dispose([...loaded.values()]);
      const diff = maxAbsDiff(restored.scoreSamples(QUERIES), kde.scoreSamples(QUERIES));
      kde.dispose(); restored.dispose();
      assert.ok(diff < 1e-6, `max abs diff ${diff}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects a state whose tensor does not match', () => {
    const kde = new LatentKDE().fit(POINTS, D);
    const { json, tensors } = kde.toState();
    assert.throws(() => LatentKDE.fromState(json, new Map()), /no tensor named kde\.points/);
    assert.throws(() => LatentKDE.fromState({ ...json, d: 4 }, tensors), /shape \[50,3\], expected \[50,4\]/);
    assert.throws(() => LatentKDE.fromState({ ...json, kind: 'x' } as unknown as LatentKDEState, tensors), /kind/);
    dispose([...tensors.values()]);
    kde.dispose();
  });
});

/** Brute-force kNN log-density in float64: log k - log n - log V_d - d log r_k, after standardising (and each group scaled by 1/sqrt(size)). */
function refKnnLogDensity(points: ArrayLike<number>, queries: ArrayLike<number>, d: number, k: number, groups?: number[]): Float64Array {
  const n = points.length / d;
  const { mean, std } = moments(points, d);
  const scale = new Array<number>(d).fill(1);
  if (groups) { let j = 0; for (const g of groups) for (let i = 0; i < g; i++) scale[j++] = 1 / Math.sqrt(g); }
  const m = queries.length / d;
  const out = new Float64Array(m);
  for (let q = 0; q < m; q++) {
    const dist: number[] = [];
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += (((queries[q * d + j]! - points[i * d + j]!) / std[j]!) * scale[j]!) ** 2;
      dist.push(Math.sqrt(s));
    }
    dist.sort((a, b) => a - b);
    out[q] = Math.log(k) - Math.log(n) - logUnitBallVolume(d) - d * Math.log(dist[k - 1]!);
  }
  return out;
}

describe('the kNN estimator', () => {
  it('matches a brute-force float64 reference, with and without groups', () => {
    for (const [k, groups] of [[1, undefined], [5, undefined], [3, [1, 2]]] as const) {
      const kde = new LatentKDE({ estimator: 'knn', k, groups: groups as number[] | undefined }).fit(POINTS, D);
      const ref = refKnnLogDensity(POINTS, QUERIES, D, k, groups as number[] | undefined);
      const got = kde.scoreSamples(QUERIES);
      for (let i = 0; i < ref.length; i++) close(got[i]!, ref[i]!, 2e-4, `k ${k}, groups ${groups}, query ${i}:`);
      kde.dispose();
    }
  });

  it('is a true density: log V_d is exact, and in d = 1 the estimate of a uniform sample is near 1', () => {
    close(logUnitBallVolume(1), Math.log(2), 1e-12);
    close(logUnitBallVolume(2), Math.log(Math.PI), 1e-12);
    close(logUnitBallVolume(3), Math.log((4 / 3) * Math.PI), 1e-12);
    close(logUnitBallVolume(4), Math.log((Math.PI ** 2) / 2), 1e-12);
    // 2,001 evenly spaced points on [0, 1], unstandardised: 10 neighbours lie within 5/2000 of a middle query
    const pts = Float64Array.from({ length: 2001 }, (_, i) => i / 2000);
    const kde = new LatentKDE({ estimator: 'knn', k: 10, standardize: false }).fit(pts, 1);
    const logp = kde.scoreSamples(new Float64Array([0.5001, 0.3002]));
    for (const v of logp) assert.ok(Math.abs(v) < 0.15, `log-density ${v} of a uniform density`);
    kde.dispose();
  });

  it('ranks a far query below near ones, and a query equal to the points gets a finite score', () => {
    const kde = new LatentKDE({ estimator: 'knn', k: 2 }).fit(new Float64Array([0, 0, 0, 0, 1, 1, 1, 1]), 2);
    const s = kde.score(new Float64Array([0, 0, 0.5, 0.5, 9, 9]));
    assert.ok(Number.isFinite(s[0]!), 'two points equal to the query: floored, not -Infinity');
    assert.ok(s[2]! > s[1]!, 'the far query is more anomalous');
    kde.dispose();
  });

  it('keeps the estimator, k and the groups in its state; older states mean the Gaussian', () => {
    const kde = new LatentKDE({ estimator: 'knn', k: 4, groups: [2, 1] }).fit(POINTS, D);
    const { json, tensors } = kde.toState();
    assert.equal(json.estimator, 'knn');
    assert.equal(json.k, 4);
    assert.deepEqual(json.groups, [2, 1]);
    const restored = LatentKDE.fromState(JSON.parse(JSON.stringify(json)) as LatentKDEState, tensors);
    assert.ok(maxAbsDiff(restored.scoreSamples(QUERIES), kde.scoreSamples(QUERIES)) < 1e-6);
    assert.throws(() => LatentKDE.fromState({ ...json, k: 99 }, tensors), /k 99 for 50 points/);
    assert.throws(() => LatentKDE.fromState({ ...json, estimator: 'ball' as 'knn' }, tensors), /estimator "ball"/);
    assert.throws(() => LatentKDE.fromState({ ...json, groups: [1, 1] }, tensors), /groups must sum to 3/);
    const gauss = new LatentKDE().fit(POINTS, D);
    const g = gauss.toState();
    assert.equal(g.json.estimator, undefined, 'the Gaussian writes nothing new');
    assert.equal(LatentKDE.fromState(g.json, g.tensors).estimator, 'gaussian');
    dispose([...tensors.values(), ...g.tensors.values()]);
    for (const x of [kde, restored, gauss]) x.dispose();
  });

  it('explains bad options', () => {
    assert.throws(() => new LatentKDE({ estimator: 'knn', k: 0 }).fit(POINTS, D), /k must be a positive integer/);
    assert.throws(() => new LatentKDE({ estimator: 'knn', k: 60 }).fit(POINTS, D), /needs at least k = 60 codes, got 50/);
    assert.throws(() => new LatentKDE({ estimator: 'tophat' as 'knn' }).fit(POINTS, D), /unknown estimator "tophat"/);
    assert.throws(() => new LatentKDE({ groups: [1, 1] }).fit(POINTS, D), /groups \[1, 1\] sum to 2, but the codes have dimension 3/);
    assert.throws(() => new LatentKDE({ groups: [3], standardize: false }).fit(POINTS, D), /groups need standardize/);
  });
});

describe('LatentKDE errors', () => {
  it('explains bad input', () => {
    const kde = new LatentKDE();
    assert.throws(() => kde.scoreSamples(QUERIES), /not fitted; call fit/);
    assert.throws(() => kde.fit(new Float32Array([1, 2, 3]), 3), /at least 2 codes, got 1/);
    assert.throws(() => kde.fit(new Float32Array(0), 3), /at least 2 codes, got 0/);
    assert.throws(() => kde.fit(new Float32Array(7), 3), /length 7 is not a multiple of d = 3/);
    assert.throws(() => kde.fit(new Float32Array(6)), /needs its dimension d/);
    const bad = Float32Array.from(POINTS);
    bad[7 * D + 2] = NaN;
    bad[9 * D] = Infinity;
    assert.throws(() => kde.fit(bad, D), /2 non-finite value\(s\).*row 7, column 2/);
    assert.throws(() => new LatentKDE({ bandwidth: -1 }).fit(POINTS, D), /positive finite/);
    assert.throws(() => new LatentKDE({ bandwidth: 'auto' as 'scott' }).fit(POINTS, D), /unknown bandwidth rule "auto"/);
    assert.throws(() => new LatentKDE({ maxPoints: 1 }).fit(POINTS, D), /maxPoints/);
    kde.fit(POINTS, D);
    assert.throws(() => kde.scoreSamples(new Float32Array(8)), /length 8 is not a multiple of d = 3/);
    const q4 = ops.zeros([2, 4]);
    assert.throws(() => kde.scoreSamples(q4), /dimension 4 but the KDE was fitted on dimension 3/);
    q4.dispose();
    assert.throws(() => kde.scoreSamples(new Float32Array([0, NaN, 0])), /queries contain 1 non-finite/);
    kde.dispose();
  });
});

describe('LatentKDE memory', () => {
  it('frees every tensor: fit, refit, score, state round trip, errors', () => {
    const base = liveTensors();
    const pts = ops.tensor(POINTS, [N, D]);
    const kde = new LatentKDE({ bandwidth: 'likelihood', maxPoints: 40 }).fit(pts);
    kde.fit(POINTS, D); // refit frees the old points
    kde.scoreSamples(QUERIES);
    kde.score(pts);
    const { json, tensors } = kde.toState();
    const restored = LatentKDE.fromState(json, tensors);
    dispose([...tensors.values()]);
    restored.scoreSamples(QUERIES);
    const wrong = ops.zeros([1, 5]);
    assert.throws(() => kde.scoreSamples(wrong));
    wrong.dispose();
    const bad = Float32Array.from(POINTS);
    bad[0] = NaN;
    assert.throws(() => new LatentKDE().fit(bad, D));
    kde.dispose();
    restored.dispose();
    pts.dispose();
    assert.equal(liveTensors(), base);
  });
});
