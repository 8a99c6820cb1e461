import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ops, liveTensors, noGrad, tidy } from '../../src/engine/index.js';
import { ConvAutoencoder, defaultArchitecture } from '../../src/models/autoencoder.js';
import { autoSettings } from '../../src/config/auto.js';
import { imageStatistics } from '../../src/scoring/image-stats.js';
import { densityInputGroups, densityInputSize, imageStatsGroups } from '../../src/scoring/density-input.js';
import { Detector } from '../../src/detector.js';
import { validateManifest } from '../../src/bundle/manifest.js';
import { stripesSource, SMALL } from '../detector/helpers.js';
import { tempDir } from '../fixtures.js';

describe('the image statistics the density of photographs reads first', () => {
  it('gives per channel the mean and deviation, then the gradients\' at full, half and quarter size, and frees the rest', () => {
    const before = liveTensors();
    noGrad(() => {
      // channel 0: a horizontal ramp 0, 1/15, ..., 1; channel 1: the constant 0.5
      const W = 16, H = 12;
      const data = new Float32Array(2 * H * W);
      for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) { data[y * W + x] = x / (W - 1); data[H * W + y * W + x] = 0.5; }
      const img = ops.tensor(data, [1, 2, H, W]);
      const s = imageStatistics(img);
      assert.deepEqual(s.shape, [1, imageStatsGroups(2).reduce((a, g) => a + g, 0)]);
      assert.deepEqual(imageStatsGroups(2), [12, 8, 8, 8, 8, 8, 6]);
      const v = [...s.toFloat32()];
      const near = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-5, `${what}: ${a} against ${b}`);
      near(v[0]!, 0.5, 'ramp mean'); near(v[1]!, 0.5, 'constant mean');
      near(v[3]!, 0, 'constant deviation');
      // per scale: mean |dx| (2 channels), mean |dy|, deviation of dx, of dy
      for (const [scale, at] of [[1, 4], [2, 12], [4, 20]] as const) {
        near(v[at]!, scale / (W - 1), `ramp |dx| at 1/${scale}`);
        near(v[at + 1]!, 0, `constant |dx| at 1/${scale}`);
        near(v[at + 2]!, 0, `ramp |dy| at 1/${scale}`);
        near(v[at + 4]!, 0, `ramp dx deviation at 1/${scale}`);
      }
      // then per scale the orientation histogram of the brightness: all of a horizontal ramp's gradient points along x
      for (const at of [28, 36, 44]) {
        near(v[at]!, 1, 'ramp orientation 0°');
        for (let b = 1; b < 8; b++) near(v[at + b]!, 0, `ramp orientation bin ${b}`);
      }
      // then the edges' coherence, plain and edge-weighted, at each scale: a ramp's edges all share one direction
      for (let i = 52; i < 58; i++) near(v[i]!, 1, `ramp coherence ${i - 52}`);
      for (const t of [img, s]) t.dispose();
    });
    assert.equal(liveTensors(), before, 'no tensor leaked');
  });

  it('puts a gradient of each direction into its 22.5° bin of the orientation histogram, weighed by its strength', () => {
    const before = liveTensors();
    noGrad(() => {
      // ramps of slope (gx, gy): 0°, 26.6°, 45°, 90°, 116.6°, 135° and 168.7°, taken modulo 180°
      const cases: [number, number, number][] = [[1, 0, 0], [2, 1, 1], [1, 1, 2], [0, 1, 4], [1, -2, 5], [1, -1, 6], [-1, 0.2, 7]];
      const S = 12;
      const data = new Float32Array(cases.length * S * S);
      cases.forEach(([gx, gy], i) => { for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) data[i * S * S + y * S + x] = 0.5 + (gx * x + gy * y) / 64; });
      const img = ops.tensor(data, [cases.length, 1, S, S]);
      const s = imageStatistics(img);
      const v = s.toFloat32();
      const width = s.shape[1]!;
      cases.forEach(([gx, gy, bin], i) => {
        const histogram = [...v.subarray(i * width + 14, i * width + 22)];
        assert.deepEqual(histogram.map((h) => Math.round(h * 1e5) / 1e5), Array.from({ length: 8 }, (_, b) => (b === bin ? 1 : 0)), `slope (${gx}, ${gy})`);
      });
      // two halves: a strong horizontal ramp beside a weak vertical one share the histogram by strength
      const halves = new Float32Array(S * S);
      for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) halves[y * S + x] = x < S / 2 ? 0.03 * x : 0.01 * y;
      const h = tidy(() => imageStatistics(ops.tensor(halves, [1, 1, S, S])).toFloat32());
      assert.ok(h[14]! > 2 * h[18]! && h[18]! > 0.1, `the strong direction outweighs the weak: ${h[14]} against ${h[18]}`);
      // edges that point every way (noise) are far less coherent than one ramp's
      const noise = tidy(() => imageStatistics(ops.rand([1, 1, 24, 24])).toFloat32());
      assert.ok(noise[38]! < 0.6 && noise[39]! < 0.6, `noise coherence ${noise[38]}, ${noise[39]}`);
      assert.ok(h[38]! > 0.8, `two ramps' coherence (lower only where their windows meet) ${h[38]}`);
      for (const t of [img, s]) t.dispose();
    });
    assert.equal(liveTensors(), before, 'no tensor leaked');
  });

  it('comes first in the density\'s input, in the groups and sizes the manifest checks', () => {
    const arch = { latent: 8, filters: [4, 8], channels: 3 };
    assert.deepEqual(densityInputGroups('image+stats', arch), [18, 12, 12, 8, 8, 8, 6, 8, 16]);
    assert.equal(densityInputSize('image+stats', arch), 18 + 12 + 12 + 24 + 6 + 24);
    assert.deepEqual(densityInputGroups('stats', arch), [8, 16]);
    assert.equal(densityInputSize('stats', arch), 24);
    assert.equal(densityInputGroups('code', arch), undefined);
    assert.equal(densityInputSize('code', arch), 8);
  });
});

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
    assert.equal(autoSettings({ height: 150, width: 150, count: 576 }).densityInput, 'image+stats');
    assert.equal(autoSettings({ height: 50, width: 50, count: 2160 }).densityInput, 'image+stats');
    assert.equal(autoSettings({ height: 28, width: 28, count: 6000, fixedSize: true }).densityInput, 'code');
    assert.equal(autoSettings({ height: 640, width: 640, count: 300, lostDetail: 0.04 }).densityInput, 'code');
    assert.equal(autoSettings({ height: 150, width: 150, count: 576 }, { densityInput: 'code' }).densityInput, 'code');
    assert.ok(autoSettings({ height: 150, width: 150, count: 576 }).reasons.some((r) => r.startsWith("density on the image's and the encoder's")));
    assert.equal(autoSettings({ height: 150, width: 150, count: 576 }, { densityInput: 'stats' }).densityEstimator, 'knn');
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
    assert.equal(manifest.densityInput, 'image+stats');
    assert.equal(manifest.density.d, 3 * (6 + 4 + 4) + 3 * 8 + 6 + 2 * (4 + 8), 'the density was fitted on the image\'s and the encoder\'s statistics');
    assert.equal(manifest.density.estimator, 'knn', 'the statistics get the kNN estimate');
    assert.equal(manifest.density.k, 5);
    assert.deepEqual(manifest.density.groups, [18, 12, 12, 8, 8, 8, 6, 8, 16], 'one group per scale of the image\'s gradients and of its orientations, one for its coherence, one per encoder block');
    assert.throws(() => validateManifest({ ...manifest, density: { ...manifest.density, groups: [8, 8] } }, 'm/manifest.json'), /'density.groups'/);
    assert.throws(() => validateManifest({ ...manifest, densityInput: 'stats' }, 'm/manifest.json'), /'density.d'/, 'the size must be the input\'s');
    const older = { ...manifest, density: { ...manifest.density, d: manifest.density.d - 30, groups: undefined } };
    assert.throws(() => validateManifest(older, 'm/manifest.json'), /saved before the image statistics gained edge directions: train it again/, 'a model of session 11\'s layout is told apart');
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

    const encoderOnly = await Detector.fit(stripesSource(40), { ...options, densityInput: 'stats' });
    encoderOnly.save(join(dir, 's'));
    const m4 = JSON.parse(readFileSync(join(dir, 's', 'manifest.json'), 'utf8'));
    assert.equal(m4.densityInput, 'stats');
    assert.equal(m4.density.d, 2 * (4 + 8), 'the encoder\'s statistics alone');
    assert.deepEqual(m4.density.groups, [8, 16], 'one group per encoder block');
    const sLoaded = Detector.load(join(dir, 's'), { device: 'cpu' });
    assert.deepEqual((await sLoaded.score(test)).map((r) => r.scores.density), (await encoderOnly.score(test)).map((r) => r.scores.density));
    encoderOnly.dispose(); sLoaded.dispose();

    const gaussian = await Detector.fit(stripesSource(40), { ...options, densityInput: 'stats', densityEstimator: 'gaussian' });
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
