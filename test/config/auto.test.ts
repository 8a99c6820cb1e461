import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { autoSettings, autoSide, autoBatchSize, autoEpochs, segmenterRule, AUTO_MAX_SIDE, AUTO_MIN_STEPS, TILE_WIDTH } from '../../src/config/auto.js';

describe('autoSettings: defaults from the images', () => {
  it('keeps the native size of fixed-size data (IDX) and the 30-epoch training of small images', () => {
    const s = autoSettings({ height: 28, width: 28, count: 5400, fixedSize: true });
    assert.deepEqual(s.size, [28, 28]);
    assert.equal(s.batchSize, 128);
    assert.equal(s.epochs, 30, 'MNIST-sized data trains as before: 30 epochs (1,290 steps > 600)');
    assert.equal(s.loss, 'mse');
    assert.equal(s.fusion, 'mean', 'digits and clothes keep the mean fusion');
  });

  it('shrinks large photographs to at most 256 px and trains at least 600 steps', () => {
    const s = autoSettings({ height: 512, width: 512, count: 49 });
    assert.deepEqual(s.size, [AUTO_MAX_SIDE, AUTO_MAX_SIDE]);
    assert.equal(s.batchSize, 8, '16 by size, but at most a quarter of 49 images (as a power of two)');
    assert.equal(s.epochs, Math.ceil(AUTO_MIN_STEPS / Math.ceil(49 / 8)));
    assert.ok(s.steps >= AUTO_MIN_STEPS);
    assert.equal(s.loss, 'mse+ssim');
    assert.equal(s.fusion, 'max', 'photographs: the largest z-score');
    assert.ok(s.reasons.some((r) => r.includes('512x512')), 'says why');
    assert.ok(s.reasons.some((r) => r.startsWith('fusion max')));
  });

  it('keeps images of at most 256 px at their own smaller side (even)', () => {
    assert.equal(autoSide(150, 150), 150);
    assert.equal(autoSide(113, 150), 112);
    assert.equal(autoSide(50, 50), 50);
    assert.equal(autoSide(640, 480), 256);
    assert.equal(autoSide(undefined, undefined), 64, 'unknown size: 64');
  });

  it('picks the batch by input size, never more than a quarter of the images', () => {
    assert.equal(autoBatchSize(28, 6000), 128);
    assert.equal(autoBatchSize(64, 6000), 64);
    assert.equal(autoBatchSize(128, 6000), 32);
    assert.equal(autoBatchSize(256, 6000), 16);
    assert.equal(autoBatchSize(256, 10), 2);
  });

  it('counts training length in optimizer steps: many epochs for few images, few for many', () => {
    assert.equal(autoEpochs(256, 16, 4), 150);
    assert.equal(autoEpochs(256, 16000, 16), 1);
    assert.equal(autoEpochs(50, 2160, 64), 30, 'small images: at least 30 epochs');
  });

  it('learns tiles with a net half as wide, unless the filters are given', () => {
    const s = autoSettings({ height: 640, width: 640, count: 300, lostDetail: 0.036 });
    assert.equal(s.tiles?.width, TILE_WIDTH);
    assert.equal(TILE_WIDTH, 0.5);
    assert.ok(s.reasons.some((r) => r.startsWith('filters: half of a whole 32-px image')), s.reasons.join('; '));
    assert.ok(!autoSettings({ height: 640, width: 640, count: 300 }, { tiles: true, filters: [8, 8] }).reasons.some((r) => r.startsWith('filters')));
  });

  it('never overrides what the user gave', () => {
    const s = autoSettings({ height: 512, width: 512, count: 100 }, { size: [64, 96], batchSize: 5, epochs: 3, loss: 'ssim', fusion: 'mean', densityInput: 'code' });
    assert.deepEqual(s.size, [64, 96]);
    assert.equal(s.densityInput, 'code');
    assert.equal(s.batchSize, 5);
    assert.equal(s.epochs, 3);
    assert.equal(s.loss, 'ssim');
    assert.equal(s.fusion, 'mean');
    assert.deepEqual(s.reasons, []);
  });
});

describe('segmenterRule: the synthetic-anomaly segmenter by the pasted-patch check', () => {
  const photo = autoSettings({ height: 50, width: 50, count: 2000 });
  const digits = autoSettings({ height: 28, width: 28, count: 5400, fixedSize: true });
  it('joins photographs whose errors see pasted patches, fused by the mean, and says why', () => {
    const r = segmenterRule(photo, {}, ['ssim']);
    assert.equal(r.train, true);
    assert.equal(r.fusion, 'mean');
    assert.match(r.reason!, /segmenter.*fused by the mean.*local/);
  });
  it('stays out where the density alone ranks (scenes) and where no check runs (digits, tiles)', () => {
    assert.equal(segmenterRule(photo, {}, ['density']).train, false);
    assert.equal(segmenterRule(photo, {}, ['density']).fusion, photo.fusion);
    assert.equal(segmenterRule(digits, {}, ['ssim', 'density']).train, false);
    const tiled = autoSettings({ height: 640, width: 640, count: 300 }, { tiles: true });
    assert.equal(segmenterRule(tiled, {}, ['ssim']).train, false);
  });
  it("follows the caller's choice, and a fusion the caller gave", () => {
    assert.equal(segmenterRule(photo, { segmenter: false }, ['ssim']).train, false);
    assert.equal(segmenterRule(digits, { segmenter: true }, ['ssim', 'density']).train, true);
    assert.equal(segmenterRule(photo, { fusion: 'max' }, ['ssim']).fusion, 'max');
  });
});
