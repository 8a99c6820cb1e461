import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir, writeClassFolders, writeCorrupt, writeDigits } from '../fixtures.js';

const bin = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'bin.js');
const vigil = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, VIGIL_THREADS: '2' } });
const TINY = ['--size', '28', '--epochs', '15', '--lr', '5e-3', '--batch-size', '16', '--filters', '8,16', '--latent', '8', '--device', 'cpu', '--quiet'];

test('--help on the main command and on every subcommand', () => {
  const main = vigil('--help');
  assert.equal(main.status, 0);
  for (const c of ['train', 'score', 'evaluate', 'demo', 'info']) {
    assert.match(main.stdout, new RegExp(`\\b${c}\\b`));
    const r = vigil(c, '--help');
    assert.equal(r.status, 0, `${c} --help`);
    assert.match(r.stdout, new RegExp(`Usage: vigil ${c}`));
    assert.match(r.stdout, /Options:/);
  }
});

test('usage errors exit 2 and say what is wrong', () => {
  const r = vigil('train', 'x', '--epochs', 'many');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--epochs expects an integer of at least 1, got 'many'/);
  const u = vigil('train', 'x', '--epoch', '3');
  assert.equal(u.status, 2);
  assert.match(u.stderr, /unknown option '--epoch'\n\(Did you mean --epochs\?\)/);
  const m = vigil('score');
  assert.equal(m.status, 2);
  assert.match(m.stderr, /missing required argument 'model'/);
  assert.equal(vigil('frobnicate').status, 2);
});

test('train, score (JSON and CSV), evaluate end to end on a tiny class-folder dataset; a corrupt file is skipped and named', async () => {
  const root = tempDir();
  const data = join(root, 'data');
  await writeClassFolders(data, 60, 20);
  writeCorrupt(join(data, 'normal', 'broken.png'));
  const model = join(root, 'model');
  const train = vigil('train', data, '--normal-class', 'normal', '--out', model, ...TINY);
  assert.equal(train.status, 0, train.stderr);
  assert.match(train.stderr, /broken\.png/);
  const summary = JSON.parse(train.stdout);
  assert.equal(summary.model, model);
  assert.ok(existsSync(join(model, 'manifest.json')));
  assert.ok(!existsSync(`${model}.checkpoint`), 'checkpoint removed after a finished run');

  const json = vigil('score', model, join(data, 'odd'), '--format', 'json');
  assert.equal(json.status, 0, json.stderr);
  const rows = JSON.parse(json.stdout).results;
  assert.equal(rows.length, 20);
  for (const r of rows) {
    assert.equal(typeof r.score, 'number');
    assert.equal(typeof r.isAnomaly, 'boolean');
    assert.ok(r.id.endsWith('.png'));
  }

  const out = join(root, 'scores.csv');
  const maps = join(root, 'maps');
  const csv = vigil('score', model, join(data, 'odd', readdirSync(join(data, 'odd'))[0]), join(data, 'odd', readdirSync(join(data, 'odd'))[1]), '--format', 'csv', '--out', out, '--maps', maps);
  assert.equal(csv.status, 0, csv.stderr);
  const lines = readFileSync(out, 'utf8').trim().split('\n');
  assert.equal(lines[0], 'id,score,isAnomaly,mse,ssim,density,combined,label,className');
  assert.equal(lines.length, 3);
  assert.equal(readdirSync(maps).filter((f) => f.endsWith('.heatmap.png')).length, 2);

  const ev = vigil('evaluate', model, data, '--normal-class', 'normal', '--json');
  assert.equal(ev.status, 0, ev.stderr);
  const report = JSON.parse(ev.stdout);
  assert.equal(report.images, 80);
  assert.ok(report.metrics.mse.auroc > 0.6, `auroc ${report.metrics.mse.auroc}`);
  assert.deepEqual(Object.keys(report.metrics.mse.confusion).sort(), ['fn', 'fp', 'tn', 'tp']);

  const strict = vigil('train', data, '--normal-class', 'normal', '--out', join(root, 'm2'), '--strict', ...TINY);
  assert.equal(strict.status, 1);
  assert.match(strict.stderr, /broken\.png/);
  assert.ok(!existsSync(join(root, 'm2')), 'nothing written on failure');
  rmSync(root, { recursive: true, force: true });
});

test('bad input: empty folder, missing folder, damaged model, unknown normal class', async () => {
  const root = tempDir();
  const empty = vigil('train', root, ...TINY);
  assert.equal(empty.status, 1);
  assert.match(empty.stderr, new RegExp(`no images found in ${root}`));
  const missing = vigil('train', join(root, 'nope'), ...TINY);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /nope/);
  const noModel = vigil('score', join(root, 'no-model'), root);
  assert.equal(noModel.status, 1);
  assert.match(noModel.stderr, /model folder .*no-model does not exist/);
  await writeDigits(join(root, 'cls', 'a'), 1, 5);
  await writeDigits(join(root, 'cls', 'b'), 2, 5);
  const cls = vigil('train', join(root, 'cls'), '--normal-class', 'c', ...TINY);
  assert.equal(cls.status, 1);
  assert.match(cls.stderr, /a, b|"a", "b"|a,b/);
  rmSync(root, { recursive: true, force: true });
});

test('train --transforms adds the transform score to score (CSV column), evaluate, and --score transform', async () => {
  const root = tempDir();
  const data = join(root, 'data');
  await writeClassFolders(data, 40, 10);
  const model = join(root, 'model');
  const fast = [...TINY.map((a) => (a === '15' ? '2' : a)), '--transforms', '--transform-epochs', '1'];
  const train = vigil('train', data, '--normal-class', 'normal', '--out', model, ...fast);
  assert.equal(train.status, 0, train.stderr);
  const manifest = JSON.parse(readFileSync(join(model, 'manifest.json'), 'utf8'));
  assert.deepEqual(manifest.combine, ['ssim', 'density', 'transform']);
  assert.equal(manifest.transforms.epochs, 1);

  const csv = vigil('score', model, join(data, 'odd'), '--format', 'csv', '--score', 'transform');
  assert.equal(csv.status, 0, csv.stderr);
  const lines = csv.stdout.trim().split('\n');
  assert.equal(lines[0], 'id,score,isAnomaly,mse,ssim,density,transform,combined,label,className');
  const first = lines[1]!.split(',');
  assert.equal(first[1], first[6], 'the ranking score is the transform column');

  const ev = vigil('evaluate', model, data, '--normal-class', 'normal');
  assert.equal(ev.status, 0, ev.stderr);
  assert.match(ev.stdout, /^transform\s+\d\.\d{4}/m);

  const bad = vigil('train', data, '--normal-class', 'normal', '--out', join(root, 'm2'), ...TINY, '--combine', 'ssim,transform');
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /'transform' needs the transformation classifier/);
  rmSync(root, { recursive: true, force: true });
});

test('train --segmenter-steps trains the synthetic-anomaly segmenter: its segment column in score, its line in evaluate; --no-segmenter keeps it out', async () => {
  const root = tempDir();
  const data = join(root, 'data');
  await writeClassFolders(data, 40, 10);
  const model = join(root, 'model');
  const fast = TINY.map((a) => (a === '15' ? '1' : a));
  const train = vigil('train', data, '--normal-class', 'normal', '--out', model, ...fast, '--segmenter-steps', '5');
  assert.equal(train.status, 0, train.stderr);
  const manifest = JSON.parse(readFileSync(join(model, 'manifest.json'), 'utf8'));
  assert.deepEqual(manifest.combine, ['ssim', 'density', 'segment']);
  assert.equal(manifest.fusion, 'mean');
  assert.equal(manifest.segmenter.steps, 5);
  const csv = vigil('score', model, join(data, 'odd'), '--format', 'csv', '--score', 'segment');
  assert.equal(csv.status, 0, csv.stderr);
  const lines = csv.stdout.trim().split('\n');
  assert.equal(lines[0], 'id,score,isAnomaly,mse,ssim,density,segment,combined,label,className');
  const first = lines[1]!.split(',');
  assert.equal(first[1], first[6], 'the ranking score is the segment column');
  const ev = vigil('evaluate', model, data, '--normal-class', 'normal');
  assert.equal(ev.status, 0, ev.stderr);
  assert.match(ev.stdout, /^segment\s+\d\.\d{4}/m);
  const off = vigil('train', data, '--normal-class', 'normal', '--out', join(root, 'off'), ...fast, '--no-segmenter');
  assert.equal(off.status, 0, off.stderr);
  assert.equal(JSON.parse(readFileSync(join(root, 'off', 'manifest.json'), 'utf8')).segmenter, undefined);
  rmSync(root, { recursive: true, force: true });
});

test('train prints what the fit chose after training: the pasted-patch check and the segmenter, though the segmenter takes the fusion line out', async () => {
  const root = tempDir();
  const data = join(root, 'data');
  await writeClassFolders(data, 24, 4);
  // 48 px: a photograph's size, so the check runs and the fusion would be max before the segmenter's mean
  const train = vigil('train', data, '--normal-class', 'normal', '--out', join(root, 'model'), '--size', '48', '--epochs', '1', '--batch-size', '8',
    '--filters', '4,8', '--latent', '4', '--device', 'cpu', '--segmenter-steps', '2');
  assert.equal(train.status, 0, train.stderr);
  const after = train.stderr.split('\n').find((l) => l.startsWith('vigil: after training: ')) ?? '';
  assert.match(after, /pasted patches/, train.stderr);
  assert.match(after, /synthetic-anomaly segmenter, its score fused by the mean/);
  assert.doesNotMatch(after, /fusion max/);
  rmSync(root, { recursive: true, force: true });
});

test('train --from adds the classifier to a trained model, whose autoencoder scores stay the same', async () => {
  const root = tempDir();
  const data = join(root, 'data');
  await writeClassFolders(data, 40, 10);
  const plain = join(root, 'plain'), plus = join(root, 'plus');
  const fast = TINY.map((a) => (a === '15' ? '2' : a));
  assert.equal(vigil('train', data, '--normal-class', 'normal', '--out', plain, ...fast).status, 0);
  const add = vigil('train', data, '--normal-class', 'normal', '--from', plain, '--transforms', '--transform-epochs', '1', '--out', plus, '--device', 'cpu', '--quiet');
  assert.equal(add.status, 0, add.stderr);
  assert.deepEqual(JSON.parse(add.stdout).combine, ['ssim', 'density', 'transform']);
  const scores = (m: string) => JSON.parse(vigil('score', m, join(data, 'odd'), '--format', 'json').stdout).results as Record<string, number>[];
  const before = scores(plain), after = scores(plus);
  assert.ok(after.every((r) => Number.isFinite(r.transform)));
  assert.deepEqual(after.map((r) => [r.mse, r.ssim, r.density]), before.map((r) => [r.mse, r.ssim, r.density]));

  const noFlag = vigil('train', data, '--normal-class', 'normal', '--from', plain, '--out', join(root, 'x'), '--quiet');
  assert.equal(noFlag.status, 2);
  assert.match(noFlag.stderr, /--from adds the transformation classifier to a trained model: add --transforms/);
  await writeClassFolders(join(root, 'other'), 30, 10);
  const other = vigil('train', join(root, 'other'), '--from', plain, '--transforms', '--out', join(root, 'y'), '--device', 'cpu', '--quiet');
  assert.equal(other.status, 1);
  assert.match(other.stderr, /pass the input given to fit/);
  rmSync(root, { recursive: true, force: true });
});

test('train --tiles --tile-size learns tiles at the images\' own size; score and evaluate use them; --tile-stride, --no-tiles', async () => {
  const root = tempDir();
  const data = join(root, 'data');
  await writeClassFolders(data, 30, 10);
  const model = join(root, 'model');
  const train = vigil('train', data, '--normal-class', 'normal', '--out', model, '--tiles', '--tile-size', '16', '--epochs', '2', '--filters', '8,16', '--latent', '8', '--device', 'cpu');
  assert.equal(train.status, 0, train.stderr);
  assert.match(train.stderr, /input 28x28: the images are 28x28, kept at their own detail/);
  const manifest = JSON.parse(readFileSync(join(model, 'manifest.json'), 'utf8'));
  assert.deepEqual(manifest.tiles, { size: 16, stride: 8, sigma: 4 });
  assert.equal(manifest.architecture.height, 16);
  const ev = vigil('evaluate', model, data, '--normal-class', 'normal', '--json');
  assert.equal(ev.status, 0, ev.stderr);
  assert.equal(JSON.parse(ev.stdout).images, 40);
  // a tile setting alone asks for tiles; --no-tiles refuses them
  const strided = vigil('train', data, '--normal-class', 'normal', '--out', join(root, 'strided'), '--tile-stride', '4', '--tile-size', '16', '--epochs', '1', '--filters', '8,16', '--latent', '8', '--device', 'cpu', '--quiet');
  assert.equal(strided.status, 0, strided.stderr);
  assert.deepEqual(JSON.parse(readFileSync(join(root, 'strided', 'manifest.json'), 'utf8')).tiles, { size: 16, stride: 4, sigma: 4 });
  const whole = vigil('train', data, '--normal-class', 'normal', '--out', join(root, 'whole'), '--no-tiles', '--epochs', '1', '--filters', '8,16', '--latent', '8', '--device', 'cpu', '--quiet');
  assert.equal(whole.status, 0, whole.stderr);
  assert.equal(JSON.parse(readFileSync(join(root, 'whole', 'manifest.json'), 'utf8')).tiles, undefined);
  // --density-input: the density of these 28 px images reads the code unless asked otherwise
  const stats = vigil('train', data, '--normal-class', 'normal', '--out', join(root, 'stats'), '--density-input', 'stats', '--epochs', '1', '--filters', '8,16', '--latent', '8', '--device', 'cpu', '--quiet');
  assert.equal(stats.status, 0, stats.stderr);
  const sm = JSON.parse(readFileSync(join(root, 'stats', 'manifest.json'), 'utf8'));
  assert.equal(sm.densityInput, 'stats');
  assert.equal(sm.density.d, 2 * (8 + 16));
  const bad = vigil('train', data, '--out', join(root, 'bad'), '--density-input', 'pixels', '--quiet');
  assert.equal(bad.status, 2, 'a usage error');
  assert.match(bad.stderr, /density-input/);
  rmSync(root, { recursive: true, force: true });
});
