import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  bestF1Threshold,
  contaminationThreshold,
  fitThreshold,
  parseThresholdSpec,
  quantile,
  quantileThreshold,
} from '../../src/scoring/threshold.js';
import type { ThresholdSpec } from '../../src/scoring/threshold.js';
import { confusionAt } from '../../src/eval/metrics.js';
import { isAnomalous, predictLabels } from '../../src/postprocess/postprocessor.js';
import { close, gauss, rng } from '../eval/helpers.js';

const ONE_TO_TEN = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

describe('quantileThreshold', () => {
  it('matches numpy linear interpolation to the last bit', () => {
    // np.quantile(np.arange(1, 11), 0.95) -> 9.549999999999999 (numpy 2.4)
    assert.equal(quantileThreshold(ONE_TO_TEN, 0.95), 9.549999999999999);
    close(quantileThreshold(ONE_TO_TEN, 0.95), 9.55);
    assert.equal(quantileThreshold(ONE_TO_TEN), 9.549999999999999); // default q = 0.95
    assert.equal(quantileThreshold([10, 1, 5, 2, 3, 9, 4, 8, 7, 6], 0.5), 5.5); // unsorted input
    assert.equal(quantileThreshold([0.2, 0.1, 0.4, 0.3], 0.5), 0.25);
    assert.equal(quantileThreshold([1.5], 0.3), 1.5);
    assert.equal(quantile(ONE_TO_TEN, 0), 1);
    assert.equal(quantile(ONE_TO_TEN, 1), 10);
  });
  it('rejects empty input, bad q and non-finite scores', () => {
    assert.throws(() => quantileThreshold([], 0.9), /no normal scores/);
    assert.throws(() => quantileThreshold(ONE_TO_TEN, 1), /q must be in \(0, 1\).*got 1/);
    assert.throws(() => quantileThreshold(ONE_TO_TEN, 0), /got 0/);
    assert.throws(() => quantileThreshold(ONE_TO_TEN, 95), /got 95/);
    assert.throws(() => quantileThreshold(ONE_TO_TEN, NaN), /got NaN/);
    assert.throws(() => quantileThreshold([1, NaN], 0.5), /finite/);
    assert.throws(() => quantileThreshold([1, Infinity], 0.5), /finite/);
  });
});

describe('contaminationThreshold', () => {
  it('matches PyOD: np.percentile(scores, 100 * (1 - contamination))', () => {
    assert.equal(contaminationThreshold([3, 1, 2, 10, 7.5], 0.1), 9); // numpy: 9.0
    assert.equal(contaminationThreshold(ONE_TO_TEN, 0.5), 5.5);
    // about contamination * n training scores lie above it
    const u = rng(4);
    const s = Array.from({ length: 10_000 }, () => gauss(u));
    const t = contaminationThreshold(s, 0.1);
    assert.equal(s.filter((v) => isAnomalous(v, t)).length, 1000);
  });
  it('rejects and quotes bad contamination values', () => {
    assert.throws(() => contaminationThreshold(ONE_TO_TEN, 0), /contamination must be in \(0, 0\.5\].*got 0$/);
    assert.throws(() => contaminationThreshold(ONE_TO_TEN, 0.7), /got 0\.7$/);
    assert.throws(() => contaminationThreshold(ONE_TO_TEN, -0.1), /got -0\.1$/);
    assert.throws(() => contaminationThreshold(ONE_TO_TEN, NaN), /got NaN$/);
    assert.throws(() => contaminationThreshold(ONE_TO_TEN, '0.1' as unknown as number), /got "0\.1"$/);
    assert.throws(() => contaminationThreshold([], 0.1), /no scores/);
  });
});

describe('bestF1Threshold', () => {
  it('finds F1 = 1 on a separable set, midway between the classes', () => {
    const r = bestF1Threshold([0.1, 0.9, 0.2, 0.8, 0.3], [0, 1, 0, 1, 0]);
    assert.equal(r.f1, 1);
    assert.equal(r.precision, 1);
    assert.equal(r.recall, 1);
    close(r.threshold, 0.55);
    assert.equal(r.warning, undefined);
    assert.equal(confusionAt([0.1, 0.9, 0.2, 0.8, 0.3], [0, 1, 0, 1, 0], r.threshold).f1, 1);
  });

  it('handles ties: tied scores fall on the same side', () => {
    // at "> 0.35": tp 1 fp 0 -> F1 2/3; at "> 0.2" (below 0.5): tp 2 fp 1 -> F1 0.8
    const r = bestF1Threshold([0.5, 0.5, 0.2, 0.9], [0, 1, 0, 1]);
    close(r.f1, 0.8);
    close(r.threshold, 0.35);
    close(r.precision, 2 / 3);
    assert.equal(r.recall, 1);
  });

  it('can choose "everything anomalous", below the minimum', () => {
    const r = bestF1Threshold([1, 2, 3], [1, 1, 0]); // all flagged: F1 = 4/5 beats any cut
    close(r.f1, 0.8);
    assert.ok(r.threshold < 1);
    close(r.threshold, 0.5);
    const one = bestF1Threshold([2, 2], [1, 0]);
    assert.ok(one.threshold < 2);
  });

  it('agrees with brute force over all candidates on random tied data', () => {
    const u = rng(12);
    for (let trial = 0; trial < 20; trial++) {
      const n = 40;
      const y = Array.from({ length: n }, () => (u() < 0.4 ? 1 : 0));
      const s = y.map((l) => Math.round((gauss(u) + l) * 4) / 4);
      const r = bestF1Threshold(s, y);
      const distinct = [...new Set(s)].sort((a, b) => a - b);
      let best = 0;
      for (const t of [distinct[0]! - 1, ...distinct]) best = Math.max(best, confusionAt(s, y, t).f1);
      close(r.f1, best, 1e-12, `trial ${trial}`);
      close(confusionAt(s, y, r.threshold).f1, best, 1e-12, `trial ${trial} at returned threshold`);
    }
  });

  it('warns when labels hold one class', () => {
    const noAnomaly = bestF1Threshold([0.1, 0.3, 0.2], [0, 0, 0]);
    assert.match(noAnomaly.warning ?? '', /no anomalous samples/);
    assert.equal(noAnomaly.threshold, 0.3);
    assert.equal(noAnomaly.f1, 0);
    const noNormal = bestF1Threshold([0.1, 0.3], [1, 1]);
    assert.match(noNormal.warning ?? '', /no normal samples/);
    assert.equal(noNormal.f1, 1);
    assert.ok(noNormal.threshold < 0.1);
  });
});

describe('ThresholdSpec', () => {
  it('fits, round-trips through JSON and applies the > rule', () => {
    const { spec } = fitThreshold({ method: 'quantile', normalScores: ONE_TO_TEN, q: 0.95 });
    assert.deepEqual(spec, { method: 'quantile', value: 9.549999999999999, param: 0.95 });
    const back = parseThresholdSpec(JSON.parse(JSON.stringify(spec)));
    assert.deepEqual(back, spec);
    assert.deepEqual(Array.from(predictLabels([9.5, 9.549999999999999, 9.6], back)), [0, 0, 1]);
    assert.deepEqual(fitThreshold({ method: 'contamination', scores: ONE_TO_TEN, contamination: 0.5 }).spec, {
      method: 'contamination',
      value: 5.5,
      param: 0.5,
    });
    const f1 = fitThreshold({ method: 'f1', scores: [0.1, 0.2], labels: [0, 0] });
    assert.equal(f1.spec.method, 'f1');
    assert.match(f1.warning ?? '', /no anomalous/);
    assert.deepEqual(fitThreshold({ method: 'fixed', value: 3 }).spec, { method: 'fixed', value: 3 });
    const fixed: ThresholdSpec = { method: 'fixed', value: 0.5 };
    assert.equal(isAnomalous(0.5, fixed), false);
    assert.equal(isAnomalous(0.50001, fixed), true);
  });
  it('rejects malformed specs with the offending value', () => {
    assert.throws(() => parseThresholdSpec({ method: 'otsu', value: 1 }), /method must be one of .*got "otsu"/);
    assert.throws(() => parseThresholdSpec({ method: 'fixed', value: null }), /value must be a finite number, got null/);
    assert.throws(() => parseThresholdSpec({ method: 'quantile', value: 1, param: 95 }), /q must be in \(0, 1\), got 95/);
    assert.throws(() => parseThresholdSpec({ method: 'contamination', value: 1, param: 0.6 }), /got 0\.6/);
    assert.throws(() => parseThresholdSpec('0.5'), /must be an object/);
    assert.throws(() => isAnomalous(1, NaN), /NaN/);
  });
});
