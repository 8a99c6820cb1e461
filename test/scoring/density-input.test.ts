import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ops, liveTensors, noGrad, tidy } from '../../src/engine/index.js';
import { ConvAutoencoder, defaultArchitecture } from '../../src/models/autoencoder.js';
import { autoSettings } from '../../src/config/auto.js';
import { Detector } from '../../src/detector.js';
import { validateManifest } from '../../src/bundle/manifest.js';
import { stripesSource, SMALL } from '../detector/helpers.js';
import { tempDir } from '../fixtures.js';

describe('the encoder statistics the density of photographs reads', () => {
  it('gives each block\'s channel mean and standard deviation, [N, 2 * sum(filters)], and frees the rest', () => {
    const before = liveTensors();
    const ae = new ConvAutoencoder(defaultArchitecture({ height: 16, width: 16, channels: 1 }, { filters: [4, 6], latent: 3 }));
    ae.eval();
    noGrad(() => {
      const x = ops.rand([2, 1, 16, 16]);
      const { code, stats } = ae.encodeWithStats(x);
      assert.deepEqual(stats.shape, [2, 2 * (4 + 6)]);
      const alone = ae.encode(x);
      assert.deepEqual(code.toFloat32(), alone.toFloat32(), 'the same code as encode');
      // the first block's output, computed on its own, gives the first 4 means and 4 deviations
      const first = ae.encoderConv.layers[0]!.forward(x);
      const mean = tidy(() => ops.mean(first, [2, 3]).toFloat32());
      const std = tidy(() => ops.std(first, [2, 3], false).toFloat32());
      const s = stats.toFloat32();
      for (let i = 0; i < 2; i++) {
        for (let c = 0; c < 4; c++) {
          assert.ok(Math.abs(s[i * 20 + c]! - mean[i * 4 + c]!) < 1e-5, 'mean');
          assert.ok(Math.abs(s[i * 20 + 4 + c]! - std[i * 4 + c]!) < 1e-5, 'std');
        }
      }
      for (const t of [x, code, stats, alone, first]) t.dispose();
    });
    ae.dispose();
    assert.equal(liveTensors(), before, 'no tensor leaked');
  });

  it('is the default for whole-image photographs, not for digit-sized images, tiles or a choice of the user', () => {
    assert.equal(autoSettings({ height: 150, width: 150, count: 576 }).densityInput, 'stats');
    assert.equal(autoSettings({ height: 50, width: 50, count: 2160 }).densityInput, 'stats');
    assert.equal(autoSettings({ height: 28, width: 28, count: 6000, fixedSize: true }).densityInput, 'code');
    assert.equal(autoSettings({ height: 640, width: 640, count: 300, lostDetail: 0.04 }).densityInput, 'code');
    assert.equal(autoSettings({ height: 150, width: 150, count: 576 }, { densityInput: 'code' }).densityInput, 'code');
    assert.ok(autoSettings({ height: 150, width: 150, count: 576 }).reasons.some((r) => r.startsWith('density on the encoder')));
    assert.equal(autoSettings({ height: 150, width: 150, count: 576 }).densityEstimator, 'knn');
    assert.equal(autoSettings({ height: 28, width: 28, count: 6000, fixedSize: true }).densityEstimator, 'gaussian');
    assert.equal(autoSettings({ height: 640, width: 640, count: 300, lostDetail: 0.04 }).densityEstimator, 'gaussian');
    assert.equal(autoSettings({ height: 150, width: 150, count: 576 }, { densityInput: 'code' }).densityEstimator, 'gaussian');
    assert.equal(autoSettings({ height: 150, width: 150, count: 576 }, { densityEstimator: 'gaussian' }).densityEstimator, 'gaussian');
  });

  it('goes into the saved model and back: the loaded detector scores as the fitted one', async () => {
    const options = { ...SMALL, size: 48, architecture: { filters: [4, 8], latent: 4 } };
    const det = await Detector.fit(stripesSource(40), options);
    const dir = tempDir();
    det.save(join(dir, 'm'));
    const manifest = JSON.parse(readFileSync(join(dir, 'm', 'manifest.json'), 'utf8'));
    assert.equal(manifest.densityInput, 'stats');
    assert.equal(manifest.density.d, 2 * (4 + 8), 'the density was fitted on the statistics');
    assert.equal(manifest.density.estimator, 'knn', 'the statistics get the kNN estimate');
    assert.equal(manifest.density.k, 5);
    assert.deepEqual(manifest.density.groups, [8, 16], 'one group per encoder block');
    assert.throws(() => validateManifest({ ...manifest, density: { ...manifest.density, groups: [8, 8] } }, 'm/manifest.json'), /'density.groups'/);
    const test = stripesSource(12, (i) => i % 3 === 0);
    const ours = (await det.score(test)).map((r) => r.scores.density);
    const loaded = Detector.load(join(dir, 'm'), { device: 'cpu' });
    assert.deepEqual((await loaded.score(test)).map((r) => r.scores.density), ours);
    det.dispose(); loaded.dispose();

    const byCode = await Detector.fit(stripesSource(40), { ...options, densityInput: 'code' });
    byCode.save(join(dir, 'c'));
    const m2 = JSON.parse(readFileSync(join(dir, 'c', 'manifest.json'), 'utf8'));
    assert.equal(m2.densityInput, undefined, 'the code is the default of older models: not written');
    assert.equal(m2.density.d, 4);
    assert.equal(m2.density.estimator, undefined, 'the code keeps the Gaussian KDE');
    byCode.dispose();

    const gaussian = await Detector.fit(stripesSource(40), { ...options, densityEstimator: 'gaussian' });
    gaussian.save(join(dir, 'g'));
    const m3 = JSON.parse(readFileSync(join(dir, 'g', 'manifest.json'), 'utf8'));
    assert.equal(m3.density.estimator, undefined, 'the user chose the Gaussian on the statistics');
    assert.equal(m3.density.d, 24);
    gaussian.dispose();
  });

  it('refuses an unknown value, in the options and in a manifest', async () => {
    await assert.rejects(Detector.fit(stripesSource(40), { ...SMALL, densityInput: 'pixels' as never }), /unknown densityInput 'pixels'/);
    await assert.rejects(Detector.fit(stripesSource(40), { ...SMALL, densityEstimator: 'ball' as never }), /unknown densityEstimator 'ball'/);
    const dir = tempDir();
    const det = await Detector.fit(stripesSource(40), SMALL);
    det.save(join(dir, 'm'));
    det.dispose();
    const manifest = JSON.parse(readFileSync(join(dir, 'm', 'manifest.json'), 'utf8'));
    assert.throws(() => validateManifest({ ...manifest, densityInput: 'pixels' }, 'm/manifest.json'), /'densityInput'/);
  });
});
