// Tests for src/scoring/normalize.ts (min-max normalisation and rank fusion).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  fitNormalizer,
  fuseByRank,
  normalize,
  normalizeAll,
  parseNormalizer,
  rankNormalize,
} from '../../src/scoring/normalize.js';
import { auroc } from '../../src/eval/metrics.js';
import { close, closeArray, gauss, rng } from './helpers.js';

describe('min-max normaliser', () => {
  it('maps the threshold to 0.5 and clamps to [0, 1] (anomalib formula)', () => {
    const n = fitNormalizer([1, 2, 3, 5], 4);
    assert.deepEqual(n, { min: 1, max: 5, threshold: 4 });
    assert.equal(normalize(4, n), 0.5);
    assert.equal(normalize(5, n), 0.75);
    assert.equal(normalize(2, n), 0);
    assert.equal(normalize(100, n), 1);
    assert.equal(normalize(-100, n), 0);
    assert.deepEqual(Array.from(normalizeAll([3, 4, 5, 6], n)), [0.25, 0.5, 0.75, 1]);
    assert.deepEqual(fitNormalizer([2, 2], { method: 'fixed', value: 3 }), { min: 2, max: 2, threshold: 3 });
    assert.equal(normalize(3.25, fitNormalizer([2, 2], 3)), 0.75); // zero range -> unit range
  });
  it('round-trips through JSON and refuses an unfitted one', () => {
    const n = fitNormalizer([0.1, 0.7, 0.3], 0.6);
    assert.deepEqual(parseNormalizer(JSON.parse(JSON.stringify(n))), n);
    assert.throws(() => normalize(1, { min: NaN, max: NaN, threshold: NaN }), /not fitted/);
    assert.throws(() => parseNormalizer({ min: 0, max: 1 }), /threshold must be a finite number/);
    assert.throws(() => parseNormalizer({ min: 2, max: 1, threshold: 1 }), /max \(1\) is below min \(2\)/);
    assert.throws(() => fitNormalizer([], 1), /no normal scores/);
    assert.throws(() => fitNormalizer([1], NaN), /threshold must be a finite number/);
  });
});

describe('rank normalisation and fusion', () => {
  it('within-sample ranks / n, and the empirical CDF against a reference', () => {
    assert.deepEqual(Array.from(rankNormalize([10, 20, 20, 5])), [0.5, 0.875, 0.875, 0.25]);
    // reference [1, 2, 3, 4]: 0 below -> 0; 2.5 -> 2/4; 3 -> (2 + 0.5)/4; 9 -> 1
    assert.deepEqual(Array.from(rankNormalize([0, 2.5, 3, 9], [4, 3, 2, 1])), [0, 0.5, 0.625, 1]);
  });

  it('fuses by max (default) or mean', () => {
    closeArray(fuseByRank([[1, 2, 3], [30, 10, 20]]), [1, 2 / 3, 1]);
    closeArray(fuseByRank([[1, 2, 3], [30, 10, 20]], null, 'mean'), [2 / 3, 0.5, 5 / 6]);
    const ref = [
      [0, 1, 2, 3],
      [100, 200, 300, 400],
    ];
    closeArray(fuseByRank([[1.5, 9], [50, 250]], ref), [0.5, 1]);
    closeArray(fuseByRank([[1.5, 9], [50, 250]], ref, 'mean'), [0.25, 0.75]);
  });

  it('keeps a defect seen by only one score type', () => {
    // type A detects anomalies, type B is noise on another scale: max fusion keeps most of A's AUROC
    const u = rng(21);
    const n = 2000;
    const y = Array.from({ length: n }, () => (u() < 0.2 ? 1 : 0));
    const a = y.map((l) => gauss(u) + 3 * l);
    const b = y.map(() => 1000 * gauss(u));
    const fused = fuseByRank([a, b]);
    assert.ok(auroc(a, y) > 0.95);
    assert.ok(auroc(fused, y) > 0.8, `fused AUROC ${auroc(fused, y)}`);
    close(auroc(fuseByRank([a]), y), auroc(a, y)); // one type: ranking unchanged
  });

  it('rejects mismatched inputs', () => {
    assert.throws(() => fuseByRank([[1, 2], [1]]), /score array 1 has 1 scores but array 0 has 2/);
    assert.throws(() => fuseByRank([[1, 2]], [[1], [2]]), /2 reference arrays for 1 score types/);
    assert.throws(() => fuseByRank([]), /no score arrays/);
    assert.throws(() => fuseByRank([[1]], null, 'median' as 'max'), /combine must be 'max' or 'mean', got "median"/);
  });
});
