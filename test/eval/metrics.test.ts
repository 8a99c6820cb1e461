import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  auroc,
  averagePrecision,
  confusionAt,
  evaluate,
  pixelAuroc,
  precisionRecallCurve,
  rankData,
  rocCurve,
} from '../../src/eval/metrics.js';
import { radixSortFloat32Bits } from '../../src/eval/internal.js';
import { close, closeArray, gauss, rng } from './helpers.js';

// A 24-sample case with many ties (and a -0), reference values from scikit-learn 1.9.1:
//   rng = np.random.default_rng(7); y = rng.integers(0, 2, 24); s = np.round(rng.normal(size=24) + 0.8 * y, 1)
const TIES_Y = [1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0, 1, 0, 0, 0];
const TIES_S = [
  0.9, -0.1, 0.8, 1.5, -0.5, 0.3, -1.1, -1.3, -1.8, -0.2, -1.3, 1.1, 1.0, -0.2, -2.5, 0.3, -0.0, 0.9, -1.5, -0.5, -0.2,
  -0.8, 1.1, -0.8,
];

/** O(n^2) Mann-Whitney: the definition. */
function bruteAuroc(s: ArrayLike<number>, y: ArrayLike<number>): number {
  let num = 0;
  let pairs = 0;
  for (let i = 0; i < s.length; i++) {
    if (y[i] !== 1) continue;
    for (let j = 0; j < s.length; j++) {
      if (y[j] !== 0) continue;
      pairs++;
      if (s[i]! > s[j]!) num += 1;
      else if (s[i] === s[j]) num += 0.5;
    }
  }
  return num / pairs;
}

/** AP by definition: at each distinct score t (descending), flag score >= t. */
function bruteAp(s: ArrayLike<number>, y: ArrayLike<number>): number {
  const distinct = [...new Set(Array.from(s))].sort((a, b) => b - a);
  const nPos = Array.from(y).filter((v) => v === 1).length;
  let ap = 0;
  let prevR = 0;
  for (const t of distinct) {
    let tp = 0;
    let fp = 0;
    for (let i = 0; i < s.length; i++) {
      if (s[i]! >= t) {
        if (y[i] === 1) tp++;
        else fp++;
      }
    }
    const r = tp / nPos;
    ap += (r - prevR) * (tp / (tp + fp));
    prevR = r;
  }
  return ap;
}

function randomCase(n: number, seed: number, shift = 1, decimals?: number) {
  const u = rng(seed);
  const scores = new Float64Array(n);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = u() < 0.3 ? 1 : 0;
    let s = gauss(u) + shift * labels[i]!;
    if (decimals !== undefined) s = Math.round(s * 10 ** decimals) / 10 ** decimals;
    scores[i] = s;
  }
  return { scores, labels };
}

describe('auroc', () => {
  it('matches sklearn on small cases, ties counting one half', () => {
    assert.equal(auroc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]), 0.75);
    // all tied: every pair counts 1/2
    assert.equal(auroc([1, 1, 1, 1], [0, 1, 0, 1]), 0.5);
    // pairs (pos, neg): (0.5,0.5)=0.5, (0.5,0.2)=1, (0.9,0.5)=1, (0.9,0.2)=1 -> 3.5 / 4
    assert.equal(auroc([0.5, 0.5, 0.2, 0.9], [0, 1, 0, 1]), 0.875);
    assert.equal(auroc([0, 1], [0, 1]), 1);
    assert.equal(auroc([1, 0], [0, 1]), 0);
    close(auroc(TIES_S, TIES_Y), 0.8402777777777778);
  });

  it('accepts typed arrays and infinities', () => {
    assert.equal(auroc(new Float32Array([0.1, 0.4, 0.35, 0.8]), new Uint8Array([0, 0, 1, 1])), 0.75);
    assert.equal(auroc([-Infinity, Infinity, Infinity, 0], [0, 1, 0, 1]), 0.625);
  });

  it('rejects one class, bad labels, NaN and length mismatch', () => {
    assert.throws(() => auroc([0.1, 0.2], [0, 0]), /only one class present/);
    assert.throws(() => auroc([0.1, 0.2], [1, 1]), /only one class present/);
    assert.throws(() => auroc([0.1, 0.2], [0, 2]), /labels must be 0 \(normal\) or 1 \(anomalous\), got 2 at index 1/);
    assert.throws(() => auroc([0.1, NaN], [0, 1]), /NaN/);
    assert.throws(() => auroc([0.1, 0.2, 0.3], [0, 1]), /differ in length/);
    assert.throws(() => auroc([], []), /no scores/);
  });

  it('equals the O(n^2) pair count on random data with and without ties', () => {
    for (const [seed, decimals] of [
      [1, undefined],
      [2, 1],
      [3, 0],
    ] as const) {
      const { scores, labels } = randomCase(1500, seed, 0.7, decimals);
      close(auroc(scores, labels), bruteAuroc(scores, labels), 1e-13, `seed ${seed}`);
    }
  });

  it('fast path on 1e5 scores agrees with a brute-force subsample and with the rank-sum formula', () => {
    const { scores, labels } = randomCase(100_000, 42, 0.8, 2); // rounded: many ties
    const fast = auroc(scores, labels);
    // full-size cross-check via the Wilcoxon rank sum of the positives
    const ranks = rankData(scores);
    let rankSum = 0;
    let nPos = 0;
    for (let i = 0; i < scores.length; i++) {
      if (labels[i] === 1) {
        rankSum += ranks[i]!;
        nPos++;
      }
    }
    const nNeg = scores.length - nPos;
    close(fast, (rankSum - (nPos * (nPos + 1)) / 2) / (nPos * nNeg), 1e-12, 'rank-sum');
    // brute force on every 40th sample
    const sub = { s: [] as number[], y: [] as number[] };
    for (let i = 0; i < scores.length; i += 40) {
      sub.s.push(scores[i]!);
      sub.y.push(labels[i]!);
    }
    close(auroc(sub.s, sub.y), bruteAuroc(sub.s, sub.y), 1e-13, 'subsample');
    assert.ok(Math.abs(fast - auroc(sub.s, sub.y)) < 0.03, 'subsample estimate close to the full value');
  });

  it('takes well under a second on 1e6 scores', () => {
    const { scores, labels } = randomCase(1_000_000, 5);
    const t0 = performance.now();
    const a = auroc(scores, labels);
    const ms = performance.now() - t0;
    assert.ok(a > 0.7 && a < 0.8, `AUROC of a unit shift is ~0.76, got ${a}`);
    assert.ok(ms < 1000, `auroc(1e6) took ${ms.toFixed(0)} ms`);
  });
});

describe('rocCurve', () => {
  it('matches sklearn roc_curve(drop_intermediate=False) on a small case', () => {
    const c = rocCurve([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]);
    assert.deepEqual(Array.from(c.thresholds), [Infinity, 0.8, 0.4, 0.35, 0.1]);
    assert.deepEqual(Array.from(c.fpr), [0, 0, 0.5, 0.5, 1]);
    assert.deepEqual(Array.from(c.tpr), [0, 0.5, 0.5, 1, 1]);
  });

  it('groups ties at one threshold', () => {
    // sklearn: fpr [0, 0, .5, 1], tpr [0, .5, 1, 1], thresholds [inf, .9, .5, .2]
    const c = rocCurve([0.5, 0.5, 0.2, 0.9], [0, 1, 0, 1]);
    assert.deepEqual(Array.from(c.thresholds), [Infinity, 0.9, 0.5, 0.2]);
    assert.deepEqual(Array.from(c.fpr), [0, 0, 0.5, 1]);
    assert.deepEqual(Array.from(c.tpr), [0, 0.5, 1, 1]);
  });

  it('matches sklearn with drop_intermediate=True on the tied case', () => {
    const c = rocCurve(TIES_S, TIES_Y, { dropIntermediate: true });
    closeArray(c.thresholds, [Infinity, 1.5, 1.1, 1.0, 0.9, 0.8, 0.3, -0.0, -0.1, -0.2, -0.5, -0.8, -1.1, -1.3, -2.5]);
    const t = 1 / 12;
    closeArray(c.fpr, [0, 0, t, t, t, t, t, 2 * t, 2 * t, 4 * t, 5 * t, 7 * t, 7 * t, 9 * t, 1]);
    closeArray(c.tpr, [0, t, 2 * t, 3 * t, 5 * t, 6 * t, 8 * t, 8 * t, 9 * t, 10 * t, 11 * t, 11 * t, 1, 1, 1]);
    assert.equal(rocCurve(TIES_S, TIES_Y).thresholds.length, 17); // sklearn, drop_intermediate=False
  });

  it('trapezoidal area under the curve equals auroc', () => {
    const { scores, labels } = randomCase(5000, 9, 0.5, 1);
    const c = rocCurve(scores, labels);
    let area = 0;
    for (let k = 1; k < c.fpr.length; k++) area += ((c.fpr[k]! - c.fpr[k - 1]!) * (c.tpr[k]! + c.tpr[k - 1]!)) / 2;
    close(area, auroc(scores, labels), 1e-12);
  });

  it('rejects one class', () => {
    assert.throws(() => rocCurve([1, 2], [1, 1]), /only one class present/);
  });
});

describe('averagePrecision and precisionRecallCurve', () => {
  it('matches sklearn average_precision_score', () => {
    close(averagePrecision([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]), 0.8333333333333333);
    // ties: at 0.9 P=1, R=0.5; at 0.5 (three tied) P=0.5, R=1 -> 0.5*1 + 0.5*0.5
    close(averagePrecision([0.5, 0.5, 0.5, 0.9], [0, 1, 0, 1]), 0.75);
    close(averagePrecision(TIES_S, TIES_Y), 0.7974833706741602);
    assert.equal(averagePrecision([1, 2], [1, 1]), 1); // no normals
  });

  it('equals the definition on random tied data', () => {
    const { scores, labels } = randomCase(2000, 11, 0.6, 1);
    close(averagePrecision(scores, labels), bruteAp(scores, labels), 1e-12);
  });

  it('rejects data without anomalies', () => {
    assert.throws(() => averagePrecision([1, 2], [0, 0]), /no anomalous samples/);
    assert.throws(() => precisionRecallCurve([1, 2], [0, 0]), /no anomalous samples/);
  });

  it('precisionRecallCurve matches sklearn', () => {
    const c = precisionRecallCurve([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]);
    closeArray(c.precision, [0.5, 2 / 3, 0.5, 1, 1]);
    assert.deepEqual(Array.from(c.recall), [1, 1, 0.5, 0.5, 0]);
    assert.deepEqual(Array.from(c.thresholds), [0.1, 0.35, 0.4, 0.8]);
    const t = precisionRecallCurve([0.5, 0.5, 0.5, 0.9], [0, 1, 0, 1]);
    assert.deepEqual(Array.from(t.precision), [0.5, 1, 1]);
    assert.deepEqual(Array.from(t.recall), [1, 0.5, 0]);
    assert.deepEqual(Array.from(t.thresholds), [0.5, 0.9]);
  });
});

describe('confusionAt', () => {
  const s = [0.1, 0.4, 0.35, 0.8];
  const y = [0, 0, 1, 1];
  it('counts with "anomalous if score > threshold"', () => {
    const c = confusionAt(s, y, 0.3);
    assert.deepEqual({ tp: c.tp, fp: c.fp, tn: c.tn, fn: c.fn }, { tp: 2, fp: 1, tn: 1, fn: 0 });
    close(c.precision, 2 / 3);
    assert.equal(c.recall, 1);
    close(c.f1, 0.8);
    assert.equal(c.accuracy, 0.75);
  });
  it('a score equal to the threshold is normal', () => {
    const c = confusionAt(s, y, 0.4);
    assert.deepEqual([c.tp, c.fp, c.tn, c.fn], [1, 0, 2, 1]);
    assert.equal(c.precision, 1);
    assert.equal(c.recall, 0.5);
    close(c.f1, 2 / 3);
    assert.deepEqual([confusionAt(s, y, { method: 'fixed', value: 0.4 }).tp], [1]);
  });
  it('zero division gives 0', () => {
    const c = confusionAt(s, y, 1);
    assert.deepEqual([c.tp, c.fp, c.tn, c.fn, c.precision, c.recall, c.f1, c.accuracy], [0, 0, 2, 2, 0, 0, 0, 0.5]);
    const none = confusionAt([0.1, 0.2], [0, 0], 0.15);
    assert.deepEqual([none.precision, none.recall, none.f1], [0, 0, 0]);
  });
});

describe('pixelAuroc', () => {
  it('equals auroc on the flattened maps', () => {
    const u = rng(3);
    const maps: Float32Array[] = [];
    const masks: Float32Array[] = [];
    const flatS: number[] = [];
    const flatY: number[] = [];
    for (let m = 0; m < 6; m++) {
      const map = new Float32Array(32 * 32);
      const mask = new Float32Array(32 * 32);
      for (let i = 0; i < map.length; i++) {
        mask[i] = m % 2 === 1 && u() < 0.1 ? 1 : 0;
        map[i] = Math.round((u() + 0.5 * mask[i]!) * 50) / 50; // ties
        flatS.push(map[i]!);
        flatY.push(mask[i]!);
      }
      maps.push(map);
      masks.push(mask);
    }
    close(pixelAuroc(maps, masks), auroc(flatS, flatY), 1e-14);
    // -0 and +0 are one value
    assert.equal(pixelAuroc([new Float32Array([-0, 0, 0.5, -0])], [new Float32Array([1, 0, 1, 0])]), 0.75);
    assert.equal(auroc([-0, 0, 0.5, -0], [1, 0, 1, 0]), 0.75);
    // float64 maps take the other path, same answer
    close(pixelAuroc(maps.map((a) => Float64Array.from(a)), masks), auroc(flatS, flatY), 1e-14);
  });

  it('handles 100 maps of 256x256 quickly', () => {
    const u = rng(8);
    const maps: Float32Array[] = [];
    const masks: Float32Array[] = [];
    for (let m = 0; m < 100; m++) {
      const map = new Float32Array(256 * 256);
      const mask = new Float32Array(256 * 256);
      for (let i = 0; i < map.length; i++) {
        const anomalous = m >= 50 && (i & 255) < 32 && i >> 8 < 32;
        mask[i] = anomalous ? 1 : 0;
        map[i] = u() + (anomalous ? 0.5 : 0);
      }
      maps.push(map);
      masks.push(mask);
    }
    const t0 = performance.now();
    const a = pixelAuroc(maps, masks);
    const ms = performance.now() - t0;
    // uniform vs uniform + 0.5: P(X+0.5 > Y) = 1 - 0.5^2/2 = 0.875
    assert.ok(Math.abs(a - 0.875) < 0.005, `pixel AUROC ${a}`);
    assert.ok(ms < 3000, `pixelAuroc(6.5M) took ${ms.toFixed(0)} ms`);
  });

  it('rejects mismatched sizes and masks without anomalies', () => {
    assert.throws(() => pixelAuroc([new Float32Array(4)], [new Float32Array(3)]), /score map 0 has 4 pixels but its mask has 3/);
    assert.throws(() => pixelAuroc([new Float32Array(4)], []), /1 score maps but 0 masks/);
    assert.throws(() => pixelAuroc([new Float32Array(4)], [new Float32Array(4)]), /only one class present/);
  });
});

describe('rankData', () => {
  it('matches scipy rankdata (average)', () => {
    assert.deepEqual(Array.from(rankData([10, 20, 20, 5])), [2, 3.5, 3.5, 1]);
    assert.deepEqual(Array.from(rankData(TIES_S).slice(0, 6)), [19.5, 14, 18, 24, 9.5, 16.5]);
    assert.deepEqual(Array.from(rankData([])), []);
    assert.deepEqual(Array.from(rankData([-0, 0])), [1.5, 1.5]);
  });
});

describe('evaluate', () => {
  it('summarises at a given threshold', () => {
    const r = evaluate([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1], 0.3);
    assert.equal(r.auroc, 0.75);
    close(r.averagePrecision, 0.8333333333333333);
    assert.deepEqual(r.confusion, { tp: 2, fp: 1, tn: 1, fn: 0 });
    close(r.f1, 0.8);
    assert.equal(r.threshold, 0.3);
    assert.equal(r.thresholdSource, 'given');
    assert.deepEqual([r.nNormal, r.nAnomalous, r.warnings.length], [2, 2, 0]);
  });
  it('uses the best-F1 threshold when none is given', () => {
    const r = evaluate([0.1, 0.2, 0.7, 0.9], [0, 0, 1, 1]);
    assert.equal(r.thresholdSource, 'best-f1');
    assert.equal(r.f1, 1);
    close(r.threshold, 0.45);
  });
  it('reports NaN with a warning for one class instead of throwing', () => {
    const r = evaluate([0.1, 0.2, 0.9], [0, 0, 0], 0.5);
    assert.ok(Number.isNaN(r.auroc) && Number.isNaN(r.averagePrecision));
    assert.deepEqual(r.confusion, { tp: 0, fp: 1, tn: 2, fn: 0 });
    assert.ok(r.warnings.length >= 1);
  });
});

describe('radixSortFloat32Bits (pixelAuroc sort)', () => {
  it('orders keys exactly as the floats, equal floats giving equal keys', () => {
    const u = rng(17);
    const special = [0, -1e-45, 1e-45, -Infinity, Infinity, -3.4e38, 3.4e38, 1, -1, 0.5, -0.5];
    const vals = new Float32Array(50_000);
    for (let i = 0; i < vals.length; i++) {
      const v = i < special.length ? special[i]! : u() < 0.3 ? Math.round(gauss(u) * 4) / 4 : gauss(u) * 10 ** Math.floor(u() * 20 - 10);
      vals[i] = v + 0; // the documented precondition: no -0
    }
    const sorted = Float32Array.from(vals).sort();
    const keys = radixSortFloat32Bits(new Uint32Array(Float32Array.from(vals).buffer));
    assert.equal(keys.length, sorted.length);
    for (let i = 1; i < keys.length; i++) {
      assert.ok(keys[i - 1]! <= keys[i]!, `keys ascending at ${i}`);
      assert.equal(keys[i - 1] === keys[i], sorted[i - 1] === sorted[i], `ties agree at ${i}`);
    }
    // keys map back to the sorted floats
    const back = new Float32Array(keys.length);
    const bits = new Uint32Array(back.buffer);
    for (let i = 0; i < keys.length; i++) bits[i] = keys[i]! & 0x80000000 ? keys[i]! & 0x7fffffff : ~keys[i]! >>> 0;
    assert.deepEqual(back, sorted);
    // all equal: passes are skipped, input returned unchanged
    assert.deepEqual(Array.from(radixSortFloat32Bits(new Uint32Array(new Float32Array([2, 2, 2]).buffer))), [
      0xc0000000, 0xc0000000, 0xc0000000,
    ]);
  });
});
