// The public contract: score returns records, predict verdicts; score, predict and evaluate take
// the same inputs; warnings reach onWarning and nothing is printed; verdicts are the post-processor's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Detector } from '../../src/detector.js';
import { DetectorEnsemble } from '../../src/detector/ensemble.js';
import { decide } from '../../src/postprocess/postprocessor.js';
import { tempDir, writeCorrupt, writeDigits } from '../fixtures.js';
import { SMALL, stripesSource } from './helpers.js';

/** Everything written to stderr while `work` runs. */
async function stderrDuring<T>(work: () => Promise<T>): Promise<{ written: string; result: T }> {
  const write = process.stderr.write;
  let written = '';
  process.stderr.write = ((chunk: string | Uint8Array) => { written += String(chunk); return true; }) as typeof process.stderr.write;
  try {
    const result = await work();
    return { written, result };
  } finally {
    process.stderr.write = write;
  }
}

test('score gives records, predict verdicts; both are the post-processor\'s verdicts', async () => {
  const det = await Detector.fit(stripesSource(120), SMALL);
  const images = stripesSource(80, (i) => i % 8 === 0);
  for (const options of [{}, { rule: 'either' as const }, { score: 'mse' as const }, { score: 'recon' as const, rule: 'either' as const }]) {
    const scored = await det.score(images, options);
    const predicted = await det.predict(images, options);
    const kind = det.resolveKind(options.score);
    assert.equal(predicted.length, scored.length);
    predicted.forEach((p, i) => {
      const r = scored[i]!;
      assert.deepEqual(Object.keys(p), ['id', 'isAnomaly', 'score', 'threshold']);
      assert.deepEqual(p, { id: r.id, isAnomaly: r.isAnomaly, score: r.scores[kind], threshold: det.thresholds[kind]!.value });
      assert.deepEqual(Object.keys(r).sort(), ['flags', 'id', 'isAnomaly', 'label', 'score', 'scores']);
      const v = det.postprocessor.decide(r.scores, options);
      assert.equal(r.isAnomaly, v.isAnomaly);
      assert.deepEqual(r.flags, v.flags);
    });
  }
  det.dispose();
});

test('an ensemble decides through the same rule, on its mean scores and thresholds', async () => {
  const ens = await DetectorEnsemble.fit(stripesSource(80), { ...SMALL, epochs: 1, members: 2 });
  const images = stripesSource(40, (i) => i % 5 === 0);
  for (const rule of ['score', 'either'] as const) {
    for (const r of await ens.score(images, { rule })) {
      assert.deepEqual({ isAnomaly: r.isAnomaly, flags: r.flags }, (({ isAnomaly, flags }) => ({ isAnomaly, flags }))(decide(r.scores, ens.thresholds, { kind: 'combined', rule, recon: 'mse' })));
    }
  }
  const p = await ens.predict(images);
  assert.deepEqual(Object.keys(p[0]!), ['id', 'isAnomaly', 'score', 'threshold']);
  ens.dispose();
});

test('score, predict and evaluate take the same inputs: a folder, a list of files, a source', async () => {
  const root = tempDir();
  const normal = await writeDigits(join(root, 'normal'), 1, 30);
  await writeDigits(join(root, 'odd'), 7, 10);
  const det = await Detector.fit(join(root, 'normal'), { ...SMALL, size: 28, epochs: 1 });
  const source = stripesSource(20, (i) => i < 5);
  for (const input of [root, normal.slice(0, 6), source]) {
    const options = { normalClass: 'normal' };
    const scored = await det.score(input, options);
    const predicted = await det.predict(input, options);
    assert.deepEqual(predicted.map((p) => p.id), scored.map((r) => r.id));
    if (Array.isArray(input)) {
      await assert.rejects(det.evaluate(input, options), /no labelled images to evaluate/);
    } else {
      const { results, summary } = await det.evaluate(input, options);
      assert.deepEqual(results.map((r) => r.id), scored.map((r) => r.id));
      assert.equal(summary.combined.nNormal + summary.combined.nAnomalous, scored.length);
    }
  }
  det.dispose();
  rmSync(root, { recursive: true, force: true });
});

test('warnings go to onWarning, and the library prints nothing', async () => {
  const root = tempDir();
  await writeDigits(root, 1, 12);
  writeCorrupt(join(root, 'broken.png'));
  const warnings: string[] = [];
  const quiet = { ...SMALL, size: 28, epochs: 1 };
  const run = await stderrDuring(async () => {
    const det = await Detector.fit(root, { ...quiet, onWarning: (m) => warnings.push(m) });
    await det.score(root, { onWarning: (m) => warnings.push(`score: ${m}`) });
    await det.calibrate(stripesSource(10), { method: 'f1' }, { onWarning: (m) => warnings.push(`calibrate: ${m}`) });
    const silent = await Detector.fit(root, quiet); // no callback: the warnings are dropped, not printed
    await silent.score(root);
    det.dispose();
    silent.dispose();
  });
  assert.equal(run.written, '', 'nothing written to stderr');
  assert.ok(warnings.some((w) => /only \d+ training images/.test(w)), warnings.join('\n'));
  assert.ok(warnings.some((w) => /broken\.png/.test(w)), warnings.join('\n'));
  assert.ok(warnings.some((w) => /^score: .*broken\.png/.test(w)), warnings.join('\n'));
  assert.ok(warnings.some((w) => /^calibrate: .*no anomalous samples/.test(w)), warnings.join('\n'));
  rmSync(root, { recursive: true, force: true });
});
