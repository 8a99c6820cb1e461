import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Detector } from '../../src/detector.js';
import { DetectorEnsemble } from '../../src/detector/ensemble.js';
import { builtinSource, oneClassSource } from '../../src/data/builtin.js';
import { liveTensors } from '../../src/engine/index.js';
import { tempDir, TINY } from '../fixtures.js';

const FAST = { ...TINY, epochs: 2 };

test('ensemble: member seeds, scores are the members\' means, metrics, save/load round trip, no leaks', async () => {
  const before = liveTensors();
  const train = oneClassSource('mnist', 'train', 1, { limit: 200, seed: 0 });
  const test = builtinSource('mnist', 'test', { normal: [1], limit: 120, seed: 2 });
  const ens = await DetectorEnsemble.fit(train, { ...FAST, seed: 5, members: 2 });
  assert.equal(ens.members.length, 2);
  assert.equal(ens.scoreKind, 'combined');

  // member 0 is the single detector of the same seed
  const single = await Detector.fit(train, { ...FAST, seed: 5 });
  const [a, b] = [await ens.members[0]!.score(test), await single.score(test)];
  assert.deepEqual(a.map((r) => r.scores), b.map((r) => r.scores));
  single.dispose();

  const per = await Promise.all(ens.members.map((m) => m.score(test)));
  const results = await ens.score(test);
  assert.equal(results.length, 120);
  for (const i of [0, 57, 119]) {
    for (const k of ['mse', 'ssim', 'density', 'combined'] as const) {
      assert.ok(Math.abs(results[i]!.scores[k] - (per[0]![i]!.scores[k] + per[1]![i]!.scores[k]) / 2) < 1e-6, `${k} of image ${i} is the mean`);
    }
    assert.equal(results[i]!.score, results[i]!.scores.combined);
    assert.equal(results[i]!.isAnomaly, results[i]!.score > ens.thresholds.combined);
  }
  const { summary } = await ens.evaluate(test);
  assert.ok(summary.combined.auroc > 0.8, `AUROC ${summary.combined.auroc}`);
  assert.equal(summary.combined.nNormal + summary.combined.nAnomalous, 120);

  const dir = tempDir();
  const path = join(dir, 'ens');
  ens.save(path);
  assert.ok(existsSync(join(path, 'ensemble.json')) && existsSync(join(path, 'member-1', 'manifest.json')));
  const again = DetectorEnsemble.load(path, { device: 'cpu' });
  assert.deepEqual((await again.score(test)).map((r) => r.scores), results.map((r) => r.scores));
  again.dispose();
  ens.dispose();
  rmSync(dir, { recursive: true, force: true });
  assert.ok(liveTensors() <= before + 1, `tensors leaked: ${liveTensors() - before}`);
});

test('ensemble: from() checks its members; bad sizes and folders give clear errors', async () => {
  assert.throws(() => DetectorEnsemble.from([]), /at least one detector/);
  const train = oneClassSource('mnist', 'train', 0, { limit: 100 });
  const a = await Detector.fit(train, { ...FAST, epochs: 1 });
  const b = await Detector.fit(train, { ...FAST, epochs: 1, score: 'mse' });
  assert.throws(() => DetectorEnsemble.from([a, b]), /different scores/);
  const ens = DetectorEnsemble.from([a]);
  assert.equal(ens.members.length, 1);
  ens.dispose();
  b.dispose();
  await assert.rejects(DetectorEnsemble.fit(train, { ...FAST, members: 0 }), /positive integer/);
  assert.throws(() => DetectorEnsemble.load(join(tempDir(), 'nope')), /not a vigil ensemble folder/);
});
