// The post-processing component: statistics, fusion, thresholds, the verdict rule, and that no
// other module of the project writes a verdict of its own.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PostProcessor, decide, fuse, isAnomalous, predictLabels, scoreStats } from '../../src/postprocess/postprocessor.js';
import { confusionAt } from '../../src/eval/metrics.js';
import { quantileThreshold } from '../../src/scoring/threshold.js';

const validation = {
  mse: Float32Array.from([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]),
  ssim: Float32Array.from([0.05, 0.1, 0.1, 0.2, 0.2, 0.3, 0.3, 0.4, 0.4, 0.5]),
  density: Float32Array.from([10, 12, 9, 11, 13, 8, 10, 12, 11, 14]),
};
const training = {
  mse: Float32Array.from([0.1, 0.1, 0.2, 0.2, 0.3, 0.3, 0.4, 0.9, 1.5, 2.0]),
  ssim: Float32Array.from([0.1, 0.1, 0.1, 0.2, 0.2, 0.2, 0.3, 0.3, 0.6, 0.9]),
  density: Float32Array.from([9, 9, 10, 10, 11, 11, 12, 12, 20, 30]),
};

describe('PostProcessor', () => {
  it('fits statistics, z-score fusion and quantile thresholds on validation scores', () => {
    const post = PostProcessor.fit({ validation, combine: ['ssim', 'density'], threshold: { method: 'quantile', q: 0.9 }, score: 'combined' });
    const st = post.stats;
    assert.ok(Math.abs(st.mse.mean - 0.55) < 1e-6);
    assert.ok(Math.abs(st.mse.std - Math.sqrt(0.0916666)) < 1e-5, `sample std, got ${st.mse.std}`);
    assert.equal(st.mse.q50, quantileThreshold(validation.mse, 0.5));
    assert.equal(post.thresholds.mse.value, quantileThreshold(validation.mse, 0.9));
    assert.deepEqual(post.thresholds.mse, { method: 'quantile', value: quantileThreshold(validation.mse, 0.9), param: 0.9 });
    const all = post.scores(validation);
    for (let i = 0; i < 10; i++) {
      const z = ((validation.ssim[i]! - st.ssim.mean) / st.ssim.std + (validation.density[i]! - st.density.mean) / st.density.std) / 2;
      assert.ok(Math.abs(all.combined[i]! - z) < 1e-5);
    }
    assert.equal(post.thresholds.combined.value, quantileThreshold(all.combined, 0.9));
    assert.deepEqual(post.kinds, ['mse', 'ssim', 'density', 'combined']);
  });

  it('a contamination threshold reads the training scores; a fixed one is the value for every kind', () => {
    const c = PostProcessor.fit({ validation, training, combine: ['mse'], threshold: { method: 'contamination', contamination: 0.2 }, score: 'mse' });
    assert.equal(c.thresholds.mse.method, 'contamination');
    assert.equal(c.thresholds.mse.value, quantileThreshold(training.mse, 0.8));
    assert.throws(() => PostProcessor.fit({ validation, combine: ['mse'], threshold: { method: 'contamination', contamination: 0.2 }, score: 'mse' }), /training images' scores/);
    const f = PostProcessor.fit({ validation, combine: ['mse'], threshold: { method: 'fixed', value: 0.5 }, score: 'mse' });
    for (const k of f.kinds) assert.deepEqual(f.thresholds[k], { method: 'fixed', value: 0.5 });
  });

  it('decides by the ranking score (strictly above), or by density or reconstruction with the either rule', () => {
    const post = PostProcessor.fit({ validation, combine: ['ssim', 'density'], threshold: { method: 'fixed', value: 1 }, score: 'mse', recon: 'ssim' });
    const at = { mse: 1, ssim: 0.5, density: 0.5, combined: 0 };
    assert.equal(post.decide(at).isAnomaly, false, 'a score equal to the threshold is normal');
    assert.equal(post.decide({ ...at, mse: 1.0000001 }).isAnomaly, true);
    assert.deepEqual(post.decide({ ...at, density: 2 }).flags, { mse: false, ssim: false, density: true });
    assert.equal(post.decide({ ...at, density: 2 }, { rule: 'either' }).isAnomaly, true);
    assert.equal(post.decide({ ...at, ssim: 2 }, { rule: 'either' }).isAnomaly, true, 'recon is the training loss\'s score (ssim here)');
    assert.equal(post.decide({ ...at, mse: 2 }, { rule: 'either' }).isAnomaly, false, 'mse is not the reconstruction score of an ssim model');
    assert.equal(post.decide({ ...at, density: 3 }, { score: 'density' }).score, 3);
    assert.equal(post.resolveKind('recon'), 'ssim');
    assert.throws(() => post.resolveKind('transform'), /needs the transformation classifier/);
    assert.throws(() => post.resolveKind('nope' as 'mse'), /unknown score 'nope'/);
  });

  it('round-trips through its saved state; withThreshold leaves the original alone', () => {
    const post = PostProcessor.fit({ validation, combine: ['ssim', 'density'], threshold: { method: 'quantile' }, score: 'combined' });
    const back = new PostProcessor(JSON.parse(JSON.stringify(post.toState())));
    assert.deepEqual(back.toState(), post.toState());
    assert.deepEqual(Array.from(back.scores(training).combined), Array.from(post.scores(training).combined));
    const changed = post.withThreshold('combined', { method: 'fixed', value: -100 });
    assert.equal(changed.decide({ mse: 0, ssim: 0, density: 0, combined: -99 }).isAnomaly, true);
    assert.notEqual(post.thresholds.combined.value, -100);
    assert.throws(() => post.scores({ mse: training.mse, ssim: training.ssim } as typeof training), /'density' is missing/);
    assert.throws(() => new PostProcessor({ ...post.toState(), combine: ['transform'] }), /needs the transformation classifier/);
  });

  it('isAnomalous, predictLabels, decide and confusionAt agree', () => {
    const s = [0.1, 0.5, 0.5000001, 0.9, 0.3];
    const labels = [0, 0, 1, 1, 1];
    assert.deepEqual(Array.from(predictLabels(s, 0.5)), s.map((v) => (isAnomalous(v, 0.5) ? 1 : 0)));
    const c = confusionAt(s, labels, 0.5);
    assert.deepEqual([c.tp, c.fp, c.tn, c.fn], [2, 0, 2, 1]);
    assert.throws(() => isAnomalous(1, NaN), /not fitted/);
    const v = decide({ mse: 2, ssim: 0, density: 0, combined: 0 }, { mse: 1, ssim: 1, density: 1, combined: 1 }, { kind: 'mse', recon: 'mse' });
    assert.deepEqual(v, { score: 2, isAnomaly: true, flags: { mse: true, ssim: false, density: false } });
    assert.equal(scoreStats([3, 3, 3]).std, 1e-12, 'a constant score gets a tiny std, not 0');
    assert.deepEqual(Array.from(fuse({ mse: [1, 3], ssim: [0, 0], density: [0, 0] }, ['mse'], { mse: { mean: 2, std: 1 } } as never)), [-1, 1]);
  });
});

// ---- every verdict comes from src/postprocess ----

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const tsFiles = (d: string): string[] =>
  readdirSync(d).flatMap((f) => { const p = join(d, f); return statSync(p).isDirectory() ? tsFiles(p) : p.endsWith('.ts') ? [p] : []; });
/** Comments and string contents blanked, so only code is searched. */
const code = (s: string) =>
  s.replace(/\/\*[\s\S]*?\*\//g, (m) => m.replace(/[^\n]/g, ' ')).replace(/\/\/.*$/gm, '').replace(/`(?:[^`\\]|\\.)*`|'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"/g, '""');
/** A comparison written with spaces around the operator (the project's style; generics have none). */
const COMPARISON = /([\w$.!\][()]+)\s+(>=|<=|>|<)\s+([\w$.!\][()]+)/g;
/** An operand that is a threshold: t, th[...], threshold(s)..., something.value. */
const THRESHOLDISH = /^(t|th|thr|thresholds?|[\w$.]*[Tt]hreshold[\w$]*)([[!.].*)?$|\bth\[|\.value$/;
function verdictsIn(text: string): string[] {
  const hits: string[] = [];
  code(text).split('\n').forEach((line, i) => {
    for (const m of line.matchAll(COMPARISON)) {
      const [, a, , b] = m as unknown as [string, string, string, string];
      // a count or a literal is no score: `k < thresholds.length`, `t >= 0.5` in an interpolation
      const count = (x: string) => /^[\d.]+$/.test(x) || x.endsWith('.length');
      const threshold = (x: string) => THRESHOLDISH.test(x) && !count(x);
      if ((threshold(a) && !count(b)) || (threshold(b) && !count(a))) hits.push(`${i + 1}: ${m[0]}`);
    }
  });
  return hits;
}

describe('one verdict rule', () => {
  it('the scan finds the verdicts the project used to write in three places', () => {
    // the lines of detector.ts, models/ensemble.ts and eval/metrics.ts before the post-processing component
    assert.equal(verdictsIn('const flags = perBase(s, (k) => scores[k]! > th[k]!.value);').length, 1);
    assert.equal(verdictsIn("const isAnomaly = options.rule === 'either' ? flags.density || flags[recon] : score > th[kind]!.value;").length, 1);
    assert.equal(verdictsIn('const isAnomaly = options.rule === \'either\' ? flags.density || !!flags[recon] : scores[kind]! > th[kind]!;').length, 1);
    assert.equal(verdictsIn('    const flagged = scores[i]! > t;').length, 1);
    assert.equal(verdictsIn('for (let k = 0; k < c.thresholds.length; k++) {} // x > threshold').length, 0);
  });

  it('no module outside src/postprocess compares a score with a threshold (src and bench)', () => {
    const found: string[] = [];
    for (const f of [...tsFiles(join(root, 'src')), ...tsFiles(join(root, 'bench'))]) {
      if (relative(root, f).startsWith(join('src', 'postprocess'))) continue;
      for (const h of verdictsIn(readFileSync(f, 'utf8'))) found.push(`${relative(root, f)}:${h}`);
    }
    assert.deepEqual(found, [], 'verdicts belong to src/postprocess/postprocessor.ts (isAnomalous / decide)');
    const rule = readFileSync(join(root, 'src', 'postprocess', 'postprocessor.ts'), 'utf8').match(/score > thresholdValue\(threshold\)/g);
    assert.equal(rule?.length, 1, 'the rule is written once');
  });
});
