/** Damaged model folders: each answered with the file and the problem, before any scoring. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Detector } from '../../src/detector.js';
import { oneClassSource } from '../../src/data/builtin.js';
import { weightsPath } from '../../src/bundle/bundle.js';
import { TINY } from '../fixtures.js';
import { tempDir, vigil } from './helpers.js';

test('truncated weights, a wrong checksum, a missing or bad weights entry, an unknown version, wrong shapes', async () => {
  const root = tempDir();
  const train = oneClassSource('mnist', 'train', 1, { limit: 40 });
  const save = async (name: string, o: object) => {
    const det = await Detector.fit(train, { ...TINY, epochs: 1, ...o });
    det.save(join(root, name));
    det.dispose();
    return join(root, name);
  };
  const good = await save('good', {});
  const other = await save('other', { architecture: { filters: [8, 16], latent: 4 } });
  const manifestText = readFileSync(join(good, 'manifest.json'), 'utf8');
  const weights = readFileSync(weightsPath(good));
  const damage = (edit: (m: Record<string, any>) => void) => {
    const m = JSON.parse(manifestText);
    edit(m);
    writeFileSync(join(good, 'manifest.json'), JSON.stringify(m));
  };
  const restore = () => { writeFileSync(join(good, 'manifest.json'), manifestText); writeFileSync(weightsPath(good), weights); };

  writeFileSync(weightsPath(good), weights.subarray(0, weights.length - 100));
  assert.throws(() => Detector.load(good), /weights\.[0-9a-f]{16}\.safetensors: damaged model: the file has \d+ bytes, manifest\.json says \d+ \(truncated\)/);
  const flipped = Buffer.from(weights);
  flipped[flipped.length - 3] ^= 0x40;
  writeFileSync(weightsPath(good), flipped);
  assert.throws(() => Detector.load(good), /damaged model: checksum mismatch \(sha256 [0-9a-f]+\.\.\., manifest\.json says [0-9a-f]+\.\.\.\)/);
  restore();

  damage((m) => { delete m.weights; });
  assert.throws(() => Detector.load(good), /manifest\.json: damaged model manifest: 'weights' is missing/);
  damage((m) => { m.weights.file = '../../etc/passwd'; });
  assert.throws(() => Detector.load(good), /'weights' has a bad file name/);
  damage((m) => { m.version = 99; });
  assert.throws(() => Detector.load(good), /model format version 99 is newer than this vigil understands \(2\); upgrade vigil/);
  damage((m) => { m.version = 'x'; });
  assert.throws(() => Detector.load(good), /format version "x" is not a version number/);
  damage((m) => { m.format = 'other'; });
  assert.throws(() => Detector.load(good), /not a vigil model manifest/);

  // another model's weights under a valid reference: the shapes do not fit the architecture
  const theirs = JSON.parse(readFileSync(join(other, 'manifest.json'), 'utf8')).weights;
  copyFileSync(weightsPath(other), join(good, theirs.file));
  damage((m) => { m.weights = theirs; });
  assert.throws(() => Detector.load(good), /has shape \[\d+(,\d+)*\] but the model expects \[\d+(,\d+)*\]/);
  restore();

  // the CLI says the same and exits non-zero
  writeFileSync(weightsPath(good), weights.subarray(0, 10));
  const r = vigil(['score', good, good]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /damaged model: the file has 10 bytes/);
  restore();
  Detector.load(good).dispose();
});

test('a model folder of format version 1 (fixed weights.safetensors, no checksum) still loads', async () => {
  const root = tempDir();
  const det = await Detector.fit(oneClassSource('mnist', 'train', 1, { limit: 40 }), { ...TINY, epochs: 1 });
  const dir = join(root, 'v1');
  det.save(dir);
  const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  copyFileSync(weightsPath(dir), join(dir, 'weights.safetensors'));
  delete m.weights;
  m.version = 1;
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m));
  const back = Detector.load(dir, { device: 'cpu' });
  const test = oneClassSource('mnist', 'train', 1, { limit: 5 });
  assert.deepEqual((await back.score(test)).map((r) => r.score), (await det.score(test)).map((r) => r.score));
  back.dispose();
  // saving over it writes format 2 and removes nothing of the user's
  det.save(dir);
  assert.equal(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')).version, 2);
  assert.ok(!existsSync(join(dir, 'weights.safetensors')), 'the format 1 weights file is removed once replaced');
  det.dispose();
  // an existing file or a folder of other things is not turned into a model folder
  writeFileSync(join(root, 'file'), 'x');
  const d2 = await Detector.fit(oneClassSource('mnist', 'train', 1, { limit: 40 }), { ...TINY, epochs: 1 });
  assert.throws(() => d2.save(join(root, 'file')), /exists and is a file, not a model folder/);
  assert.equal(readFileSync(join(root, 'file'), 'utf8'), 'x');
  writeFileSync(join(root, 'photo.png'), 'x');
  assert.throws(() => d2.save(root), /is a folder that is not a vigil model \(it holds file, photo\.png/);
  d2.dispose();
});
