import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { weightsPath } from '../../src/bundle/bundle.js';
import { Detector } from '../../src/detector.js';
import { builtinSource, oneClassSource } from '../../src/data/builtin.js';
import { auroc } from '../../src/eval/metrics.js';
import { liveTensors } from '../../src/engine/index.js';
import { tempDir, writeClassFolders, writeDigits, TINY } from '../fixtures.js';

const here = dirname(fileURLToPath(import.meta.url));

test('fit on one digit, score the test set: fitted fields, shapes, an AUROC floor, no leaked tensors', async () => {
  const before = liveTensors();
  const train = oneClassSource('mnist', 'train', 1, { limit: 600, seed: 0 });
  const det = await Detector.fit(train, { ...TINY, epochs: 3 });
  assert.equal(det.training!.epochs, 3);
  assert.equal(det.training!.history.length, 3);
  assert.ok(det.training!.history[2].trainLoss < det.training!.history[0].trainLoss, 'loss decreases');
  for (const k of ['mse', 'ssim', 'density', 'combined'] as const) assert.ok(Number.isFinite(det.thresholds[k].value));
  const test = builtinSource('mnist', 'test', { normal: [1], limit: 600, seed: 3 });
  const results = await det.score(test, { maps: 'mse' });
  assert.equal(results.length, 600);
  assert.equal(results[0].map!.length, 28 * 28);
  const a = auroc(results.map((r) => r.scores.mse), results.map((r) => r.label!));
  assert.ok(a > 0.8, `AUROC of digit 1 vs others should be high, got ${a}`);
  const flagged = results.filter((r) => r.label === 0 && r.isAnomaly).length / results.filter((r) => r.label === 0).length;
  assert.ok(flagged < 0.3, `false positive rate at the 95% threshold should be low, got ${flagged}`);
  det.dispose();
  // the SSIM window is cached once per process (it is tiny); everything else is freed
  assert.ok(liveTensors() <= before + 1, `tensors leaked: ${liveTensors() - before}`);
});

test('save and load in a fresh process give identical scores; the save is atomic', async () => {
  const dir = tempDir();
  const det = await Detector.fit(oneClassSource('mnist', 'train', 3, { limit: 300 }), TINY);
  const model = join(dir, 'model');
  det.save(model);
  assert.ok(existsSync(join(model, 'manifest.json')) && existsSync(weightsPath(model)));
  const manifest = JSON.parse(readFileSync(join(model, 'manifest.json'), 'utf8'));
  assert.equal(manifest.format, 'vigil-model');
  assert.equal(manifest.preprocessing.height, 28);
  assert.ok(manifest.thresholds.combined.value !== undefined);
  const test = builtinSource('mnist', 'test', { limit: 50 });
  const ours = (await det.score(test)).map((r) => r.scores);
  const script = `
    import { Detector } from ${JSON.stringify(join(here, '..', '..', 'src', 'detector.js'))};
    import { builtinSource } from ${JSON.stringify(join(here, '..', '..', 'src', 'data', 'builtin.js'))};
    const det = Detector.load(${JSON.stringify(model)}, { device: 'cpu' });
    const r = await det.score(builtinSource('mnist', 'test', { limit: 50 }));
    console.log(JSON.stringify(r.map((x) => x.scores)));`;
  const out = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(out.status, 0, out.stderr);
  assert.deepEqual(JSON.parse(out.stdout), JSON.parse(JSON.stringify(ours)));
  // saving again over it leaves no temporary folders behind
  det.save(model);
  const { readdirSync } = await import('node:fs');
  assert.deepEqual(readdirSync(dir), ['model']);
  det.dispose();
  rmSync(dir, { recursive: true, force: true });
});

test('damaged or missing model folders give clear errors', async () => {
  const dir = tempDir();
  assert.throws(() => Detector.load(join(dir, 'nope')), /model folder .*nope does not exist/);
  const det = await Detector.fit(oneClassSource('mnist', 'train', 0, { limit: 100 }), { ...TINY, epochs: 1 });
  const model = join(dir, 'm');
  det.save(model);
  det.dispose();
  const wPath = weightsPath(model);
  const weights = readFileSync(wPath);
  writeFileSync(wPath, weights.subarray(0, weights.length / 2));
  assert.throws(() => Detector.load(model), /weights\.[0-9a-f]+\.safetensors.*truncated/);
  rmSync(wPath);
  assert.throws(() => Detector.load(model), /weights\.[0-9a-f]+\.safetensors, named by manifest\.json, is missing/);
  writeFileSync(join(model, 'manifest.json'), '{ not json');
  assert.throws(() => Detector.load(model), /manifest\.json: damaged model manifest/);
  rmSync(join(model, 'manifest.json'));
  assert.throws(() => Detector.load(model), /not a vigil model: manifest\.json is missing/);
  rmSync(dir, { recursive: true, force: true });
});

test('class folders: trains on the normal class only and evaluates with labels', async () => {
  const root = tempDir();
  await writeClassFolders(root, 60, 20);
  const det = await Detector.fit(root, { ...TINY, normalClass: 'normal', epochs: 3 });
  assert.equal(det.training!.items + det.training!.validationItems, 60);
  const { summary, results } = await det.evaluate(root, { normalClass: 'normal' });
  assert.equal(results.length, 80);
  assert.equal(summary.mse.nNormal, 60);
  assert.equal(summary.mse.nAnomalous, 20);
  assert.ok(summary.mse.auroc > 0.7, `auroc ${summary.mse.auroc}`);
  det.dispose();
  rmSync(root, { recursive: true, force: true });
});

test('an interrupted training resumes from its checkpoint', async () => {
  const dir = tempDir();
  const ck = join(dir, 'ck');
  const train = oneClassSource('mnist', 'train', 2, { limit: 200 });
  const first = await Detector.fit(train, { ...TINY, epochs: 1, checkpointDir: ck });
  first.dispose();
  assert.ok(existsSync(join(ck, 'checkpoint.json')));
  const resumed = await Detector.fit(train, { ...TINY, epochs: 3, checkpointDir: ck, resume: true });
  assert.equal(resumed.training!.resumedFrom, 0);
  assert.equal(resumed.training!.history.length, 3);
  resumed.dispose();
  rmSync(dir, { recursive: true, force: true });
});

test('empty and missing folders are errors naming the folder', async () => {
  const dir = tempDir();
  await assert.rejects(Detector.fit(dir, TINY), new RegExp(`no images found in ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  await assert.rejects(Detector.fit(join(dir, 'missing'), TINY), /missing/);
  await writeDigits(join(dir, 'few'), 4, 30);
  await assert.rejects(Detector.fit(join(dir, 'few'), { ...TINY, size: 4 }), /height must be an integer from 8/);
  rmSync(dir, { recursive: true, force: true });
});
