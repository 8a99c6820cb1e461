// The typed model manifest: validation on load (folder and field named), migration of version 1,
// and reading it without the native engine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Detector } from '../../src/detector.js';
import { MANIFEST_VERSION, ManifestError, migrateManifest, readManifest, validateManifest } from '../../src/bundle/manifest.js';
import { tempDir } from '../fixtures.js';
import { SMALL, stripesSource } from './helpers.js';

const here = dirname(fileURLToPath(import.meta.url));
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

test('manifests are checked on load: the folder and the bad field are named', async () => {
  const dir = tempDir();
  const model = join(dir, 'model');
  const det = await Detector.fit(stripesSource(60), { ...SMALL, epochs: 1 });
  det.save(model);
  det.dispose();
  const good = JSON.parse(readFileSync(join(model, 'manifest.json'), 'utf8'));
  assert.equal(good.version, MANIFEST_VERSION);
  assert.equal(validateManifest(good).score, 'combined');
  assert.equal(readManifest(model).preprocessing.channels, good.preprocessing.channels);

  const cases: [string, (m: any) => void, RegExp][] = [
    ['thresholds missing', (m) => { delete m.thresholds; }, /'thresholds' is missing/],
    ['threshold value a string', (m) => { m.thresholds.combined.value = 'high'; }, /'thresholds\.combined' must be a threshold.*value must be a finite number/],
    ['threshold of a kind missing', (m) => { delete m.thresholds.density; }, /'thresholds\.density' is missing/],
    ['channels 2', (m) => { m.preprocessing.channels = 2; }, /'preprocessing\.channels' must be one of 1, 3, got 2/],
    ['a zero std', (m) => { m.scoreStats.density.std = 0; }, /'scoreStats\.density\.std' must be a positive number, got 0/],
    ['score without classifier', (m) => { m.score = 'transform'; }, /'score' must be one of "mse", "ssim", "density", "combined", got "transform"/],
    ['empty combine', (m) => { m.combine = []; }, /'combine' must be a non-empty list/],
    ['a filter as a string', (m) => { m.architecture.filters[1] = '16'; }, /'architecture\.filters\.1' must be an integer >= 1, got "16"/],
    ['an unknown model', (m) => { m.model = 'vae'; }, /'model' must be one of "autoencoder", "aae", got "vae"/],
    ['an unknown loss', (m) => { m.loss = 'l1'; }, /'loss' must be one of/],
    ['density of another size', (m) => { m.density.d = 3; }, /'density\.d' must be the architecture's latent size 8, got 3/],
    ['a version from the future', (m) => { m.version = 99; }, /version 99 is newer than this vigil understands/],
    ['a version that is not a number', (m) => { m.version = 'two'; }, /version "two" is not a version number|'version' must be a positive integer, got "two"/],
  ];
  for (const [name, change, message] of cases) {
    const m = structuredClone(good);
    change(m);
    writeFileSync(join(model, 'manifest.json'), JSON.stringify(m));
    assert.throws(() => Detector.load(model, { device: 'cpu' }), (e: Error) => {
      assert.match(e.message, new RegExp(escape(join(model, 'manifest.json'))), `${name}: names the file`);
      assert.match(e.message, message, name);
      return true;
    });
    if (name !== 'a version from the future') assert.throws(() => readManifest(model), ManifestError, `${name}: readManifest runs the same check`);
  }
  writeFileSync(join(model, 'manifest.json'), '{ "format": "vigil-model", ');
  assert.throws(() => readManifest(model), /manifest\.json: damaged model manifest: is not JSON/);
  rmSync(dir, { recursive: true, force: true });
});

test('a version-1 manifest is migrated and scores the same; one with no version is refused (vigil always wrote it)', async () => {
  const dir = tempDir();
  const model = join(dir, 'v2');
  const det = await Detector.fit(stripesSource(60), { ...SMALL, epochs: 1 });
  det.save(model);
  const images = stripesSource(40, (i) => i % 4 === 0);
  const expected = await det.score(images);
  det.dispose();
  const m = JSON.parse(readFileSync(join(model, 'manifest.json'), 'utf8'));
  for (const version of [1, undefined]) {
    const old = join(dir, `v${version}`);
    cpSync(model, old, { recursive: true });
    const v1 = { ...m, version };
    delete v1.model;
    delete v1.loss;
    // format 1 had a fixed weights.safetensors and no 'weights' entry
    if (v1.weights) { cpSync(join(old, v1.weights.file), join(old, 'weights.safetensors')); delete v1.weights; }
    writeFileSync(join(old, 'manifest.json'), JSON.stringify(v1));
    assert.deepEqual(migrateManifest(v1), { ...v1, model: 'autoencoder', loss: 'mse', version: 2 });
    if (version === undefined) {
      assert.throws(() => Detector.load(old, { device: 'cpu' }), /format version undefined is not a version number/);
      continue;
    }
    const again = Detector.load(old, { device: 'cpu' });
    assert.deepEqual(await again.score(images), expected);
    again.dispose();
  }
  rmSync(dir, { recursive: true, force: true });
});

test('manifests and post-processing load without the native engine or sharp', () => {
  const src = join(here, '..', '..', 'src');
  const script = `
    process.dlopen = () => { throw new Error('native addon loaded'); };
    await import(${JSON.stringify(join(src, 'bundle', 'manifest.js'))});
    const { PostProcessor } = await import(${JSON.stringify(join(src, 'postprocess', 'postprocessor.js'))});
    await import(${JSON.stringify(join(src, 'eval', 'metrics.js'))});
    console.log(typeof PostProcessor);`;
  const out = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(out.status, 0, out.stderr);
  assert.equal(out.stdout.trim(), 'function');
});
