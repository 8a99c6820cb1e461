/** Unreadable files: right counts in the summary and the manifest, each skipped file named once, clear errors when too few images can be read. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Detector } from '../../src/detector.js';
import { TINY } from '../fixtures.js';
import { TINY_ARGS, digitFolder, tempDir, vigil, writeBytes } from './helpers.js';

test('30 readable and 30 zero-byte images: trained, held out and skipped add up, in the summary, the manifest and stderr', async () => {
  const root = tempDir();
  const data = await digitFolder(join(root, 'data'), 30);
  for (let i = 0; i < 30; i++) writeBytes(join(data, `zero${i}.png`), '');
  const warnings: string[] = [];
  const det = await Detector.fit(data, { ...TINY, epochs: 2, onWarning: (m) => warnings.push(m) });
  const t = det.training!;
  assert.equal(t.items + t.validationItems, 30);
  assert.equal(t.validationItems, 3);
  assert.equal(t.skipped.length, 30);
  assert.ok(t.skipped.every((s) => /zero\d+\.png$/.test(s.id) && s.reason === 'empty file'));
  assert.equal(new Set(t.skipped.map((s) => s.id)).size, 30, 'each file once');
  for (let i = 0; i < 30; i++) {
    assert.equal(warnings.filter((w) => w.includes(`zero${i}.png:`)).length, 1, `one warning for zero${i}.png`);
  }
  const model = join(root, 'm');
  det.save(model);
  det.dispose();
  const m = JSON.parse(readFileSync(join(model, 'manifest.json'), 'utf8'));
  assert.equal(m.training.items, 27);
  assert.equal(m.density.n, 27, 'the density model holds the codes of the images trained on');

  const cli = vigil(['train', data, ...TINY_ARGS, '--out', join(root, 'm2')]);
  assert.equal(cli.status, 0, cli.stderr);
  assert.match(cli.stderr, /trained on 27 images \(3 held out\) .*; skipped 30 unreadable/);
  assert.equal(cli.stderr.match(/skipping .*zero\d+\.png: empty file/g)?.length, 30);
});

test('too few readable images are refused up front with the folder named; scoring nothing readable fails', async () => {
  const root = tempDir();
  const one = await digitFolder(join(root, 'one'), 1);
  writeBytes(join(one, 'zero.png'), '');
  await assert.rejects(Detector.fit(one, { ...TINY, onWarning: () => {} }), new RegExp(`need at least 2 readable images to train, found 1 in ${one}`));
  const bad = join(root, 'bad');
  for (let i = 0; i < 4; i++) writeBytes(join(bad, `z${i}.png`), i % 2 ? '' : 'not an image');
  await assert.rejects(Detector.fit(bad, { ...TINY, onWarning: () => {} }), new RegExp(`no readable images in ${bad}: all 4 files are unreadable \\(${bad}/z0\\.png: `));
  const r = vigil(['train', bad, ...TINY_ARGS, '--out', join(root, 'never')]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /all 4 files are unreadable/);

  const good = await digitFolder(join(root, 'good'), 12);
  const det = await Detector.fit(good, { ...TINY, epochs: 1, onWarning: () => {} });
  await assert.rejects(det.score(bad), new RegExp(`none of the 4 images in ${bad} could be read`));
  const model = join(root, 'm');
  det.save(model);
  det.dispose();
  const s = vigil(['score', model, bad]);
  assert.notEqual(s.status, 0);
  assert.match(s.stderr, /none of the 4 images.* could be read/);
  assert.equal(s.stdout, '');
});

test('a learning rate that makes training diverge is named as such', async () => {
  const root = tempDir();
  const data = await digitFolder(join(root, 'data'), 20);
  // one epoch: the loss of every step is finite, the last update breaks the weights
  for (const epochs of [1, 3]) {
    await assert.rejects(Detector.fit(data, { ...TINY, epochs, lr: 1e9 }), /training diverged: (validation )?loss is (NaN|-?Infinity) at epoch \d; lower the learning rate/);
  }
});
