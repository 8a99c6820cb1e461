import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { ops, type Tensor } from '../../src/engine/index.js';
import { TiledAutoencoder, randomTiles, checkTileSpec } from '../../src/models/tiled.js';
import type { ConvAutoencoder } from '../../src/models/autoencoder.js';
import { blurredPeak } from '../../src/scoring/reconstruction.js';
import { createRng } from '../../src/data/random.js';
import { autoSettings, needsLostDetail, DETAIL_LIMIT, TILE_SIDE, TILE_STEPS, TILED_MAX_SIDE } from '../../src/config/auto.js';
import { validateManifest } from '../../src/bundle/manifest.js';
import { Detector, type DetectorOptions } from '../../src/detector.js';
import { tempDir } from '../fixtures.js';

/** A stand-in model whose code is the tile itself: a perfect reconstruction, to test the cutting and stitching. */
function identityModel(c: number, t: number): ConvAutoencoder {
  return {
    encode: (x: Tensor) => ops.flatten(x, 1),
    decode: (z: Tensor) => ops.reshape(z, [-1, c, t, t]),
    eval() { return this; },
  } as unknown as ConvAutoencoder;
}

describe('TiledAutoencoder: cutting an image into tiles and putting it back', () => {
  for (const [h, w, c, size, stride] of [[40, 40, 1, 16, 8], [50, 70, 3, 16, 8], [33, 47, 1, 16, 16], [20, 20, 1, 32, 16]] as const) {
    it(`returns the image itself through a perfect model (${h}x${w}x${c}, tiles ${size} every ${stride})`, () => {
      const x = ops.rand([2, c, h, w]);
      const tiled = new TiledAutoencoder(identityModel(c, size), { size, stride, sigma: 2 });
      const { recon, code, maps } = tiled.reconstruct(x, (r, t) => [ops.mean(ops.sub(r, t), 1, true), ops.full([t.shape[0]!, 1, size, size], 0.5)]);
      assert.deepEqual(recon.shape, [2, c, h, w]);
      assert.deepEqual(maps.map((m) => m.shape), [[2, 1, h, w], [2, 1, h, w]], 'per-tile maps put together at the image size');
      assert.ok(ops.max(ops.abs(ops.sub(maps[1]!, 0.5))).item() < 1e-6, 'overlapping tiles averaged');
      assert.equal(code.shape[0], 2, 'one code per image');
      assert.ok(ops.max(ops.abs(ops.sub(recon, x))).item() < 1e-6, 'overlaps averaged, padding cut away');
    });
  }

  it('refuses bad tile settings with the value', () => {
    assert.throws(() => checkTileSpec({ size: 4, stride: 2, sigma: 1 }), /size must be an integer from 8/);
    assert.throws(() => checkTileSpec({ size: 32, stride: 40, sigma: 1 }), /stride must be .* got 40/);
    assert.throws(() => checkTileSpec({ size: 32, stride: 16, sigma: 0 }), /sigma/);
  });
});

describe('randomTiles: the training batch of a tiled model', () => {
  it('draws the asked number of distinct tiles that are pieces of the images', () => {
    const x = ops.reshape(ops.arange(2 * 64 * 64), [2, 1, 64, 64]);
    const tiles = randomTiles(x, 16, 10, createRng(3));
    assert.deepEqual(tiles.shape, [10, 1, 16, 16]);
    const v = tiles.toFloat32();
    const starts = new Set<number>();
    for (let i = 0; i < 10; i++) {
      const t = v.subarray(i * 256, (i + 1) * 256);
      starts.add(t[0]!);
      // consecutive pixels of a row and of a column of one image
      assert.equal(t[1]! - t[0]!, 1);
      assert.equal(t[16]! - t[0]!, 64);
    }
    assert.equal(starts.size, 10, 'no tile twice');
  });

  it('is deterministic for a seed and gives all tiles when fewer than asked', () => {
    const x = ops.rand([1, 3, 40, 40]);
    assert.deepEqual(randomTiles(x, 8, 5, createRng(1)).toFloat32(), randomTiles(x, 8, 5, createRng(1)).toFloat32());
    assert.equal(randomTiles(x, 16, 100, createRng(2)).shape[0]! <= 4, true, 'at most the 2x2 grid that fits');
  });
});

describe('blurredPeak: the image score of a tiled model', () => {
  it('is the value of a constant map, and finds a small spot the mean would miss', () => {
    assert.ok(Math.abs(blurredPeak(ops.full([1, 1, 30, 30], 0.25), 3).item() - 0.25) < 1e-6);
    const spot = ops.zeros([2, 1, 64, 64]).toFloat32();
    spot[4096 + 20 * 64 + 30] = 1; // one hot pixel in the second image
    const peaks = blurredPeak(ops.tensor(spot, [2, 1, 64, 64]), 2).toFloat32();
    assert.equal(peaks[0], 0);
    // the centre tap of a 2-px Gaussian, squared (two passes): about 1 / (2 pi sigma^2)
    assert.ok(Math.abs(peaks[1]! - 1 / (2 * Math.PI * 4)) < 0.005, `peak ${peaks[1]}`);
  });
});

describe('autoSettings with tiles', () => {
  it('keeps the images at their own size up to 1024 px and trains at least 3000 steps of 256 tiles', () => {
    const s = autoSettings({ height: 640, width: 640, count: 270 }, { tiles: true });
    assert.deepEqual(s.size, [640, 640]);
    assert.equal(s.tiles!.size, TILE_SIDE);
    assert.equal(s.tiles!.stride, TILE_SIDE / 2);
    assert.equal(s.tiles!.perStep, 256);
    assert.ok(s.steps >= TILE_STEPS);
    const big = autoSettings({ height: 3000, width: 4000, count: 50 }, { tiles: { size: 64 } });
    assert.equal(Math.max(...big.size), TILED_MAX_SIDE);
    assert.equal(big.tiles!.size, 64);
  });

  it('is off for large images whose detail the shrinking keeps, and says how much it loses', () => {
    const s = autoSettings({ height: 512, width: 512, count: 49, lostDetail: 0.008 });
    assert.equal(s.tiles, undefined);
    assert.ok(s.reasons[0]!.includes('--tiles') && s.reasons[0]!.includes('0.8%'), s.reasons[0]);
    assert.equal(autoSettings({ height: 640, width: 640, count: 270 }).tiles, undefined, 'not measured: the whole image');
  });

  it('is on for large images that would lose more than DETAIL_LIMIT of their detail, with the MSE loss', () => {
    const s = autoSettings({ height: 640, width: 640, count: 270, lostDetail: 0.036 });
    assert.equal(s.tiles!.size, TILE_SIDE);
    assert.deepEqual(s.size, [640, 640]);
    assert.equal(s.loss, 'mse');
    assert.ok(s.reasons[0]!.startsWith('tiles: shrinking the images to 256 px would lose 3.6%'), s.reasons[0]);
    assert.equal(autoSettings({ height: 640, width: 640, count: 270, lostDetail: DETAIL_LIMIT }).tiles, undefined, 'at the limit: the whole image');
    assert.equal(autoSettings({ height: 640, width: 640, count: 270, lostDetail: 0.5 }, { tiles: false }).tiles, undefined, 'tiles: false keeps the whole image');
    assert.equal(autoSettings({ height: 640, width: 640, count: 270, lostDetail: 0.5 }, { size: 128 }).tiles, undefined, 'a size asked for keeps the whole image');
    assert.equal(autoSettings({ height: 640, width: 640, count: 270, lostDetail: 0.5 }, { tiles: true, loss: 'mse+ssim' }).loss, 'mse+ssim');
  });

  it('measures the detail only when the choice is the rules\' and the images are larger than the whole-image input', () => {
    assert.equal(needsLostDetail({ height: 640, width: 640, count: 9 }, {}), true);
    assert.equal(needsLostDetail({ height: 256, width: 640, count: 9 }, {}), false, 'the smaller side fits');
    assert.equal(needsLostDetail({ height: 640, width: 640, count: 9, fixedSize: true }, {}), false);
    assert.equal(needsLostDetail({ height: 640, width: 640, count: 9 }, { tiles: false }), false);
    assert.equal(needsLostDetail({ height: 640, width: 640, count: 9 }, { tiles: true }), false);
    assert.equal(needsLostDetail({ height: 640, width: 640, count: 9 }, { size: 64 }), false);
  });
});

describe('a tiled detector end to end', () => {
  const dir = tempDir('vigil-tiles-');
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('fits on large images, finds a small defect, saves tiles in the manifest and scores the same after loading', async () => {
    const side = 96;
    const stripes = (seed: number, defect = false) => {
      const b = Buffer.alloc(side * side);
      for (let y = 0; y < side; y++) for (let x = 0; x < side; x++) b[y * side + x] = (x + seed) % 8 < 4 ? 50 : 200;
      if (defect) for (let y = 40; y < 46; y++) for (let x = 50; x < 56; x++) b[y * side + x] = 255;
      return sharp(b, { raw: { width: side, height: side, channels: 1 } }).png();
    };
    mkdirSync(join(dir, 'good'));
    for (let i = 0; i < 24; i++) await stripes(i).toFile(join(dir, 'good', `${i}.png`));
    await stripes(3).toFile(join(dir, 'ok.png'));
    await stripes(3, true).toFile(join(dir, 'bad.png'));
    const det = await Detector.fit(join(dir, 'good'), {
      tiles: { size: 16 }, epochs: 8, lr: 5e-3, architecture: { filters: [8, 16], latent: 8 }, device: 'cpu', seed: 1,
    });
    try {
      assert.deepEqual(det.tiles, { size: 16, stride: 8, sigma: 4 });
      assert.equal(det.architecture.height, 16, 'the network is the size of a tile');
      assert.equal(det.preprocessing.height, side, 'the images keep their size');
      assert.deepEqual(det.combine, ['ssim'], 'a tiled model is scored by the peak of its 1 - SSIM map');
      assert.equal(det.mapKind, 'ssim', 'and shows that map');
      const [ok, bad] = await det.score([join(dir, 'ok.png'), join(dir, 'bad.png')], { maps: det.mapKind });
      assert.equal(ok!.map!.length, side * side, 'a full-size error map');
      assert.ok(bad!.scores.mse > ok!.scores.mse, `defect ${bad!.scores.mse} vs normal ${ok!.scores.mse}`);
      assert.ok(bad!.scores.ssim > ok!.scores.ssim, `defect ${bad!.scores.ssim} vs normal ${ok!.scores.ssim}`);
      assert.ok(bad!.score > ok!.score, 'the combined score ranks the defect higher');
      det.save(join(dir, 'model'));
      const manifest = JSON.parse(readFileSync(join(dir, 'model', 'manifest.json'), 'utf8'));
      assert.deepEqual(manifest.tiles, { size: 16, stride: 8, sigma: 4 });
      const again = Detector.load(join(dir, 'model'));
      try {
        const [, bad2] = await again.score([join(dir, 'ok.png'), join(dir, 'bad.png')]);
        assert.deepEqual(bad2!.scores, bad!.scores);
      } finally {
        again.dispose();
      }
      manifest.tiles.stride = 99;
      assert.throws(() => validateManifest(manifest, 'm/manifest.json'), /m\/manifest.json: damaged model manifest: 'tiles'/);
    } finally {
      det.dispose();
    }
  });

  it('learns tiles by default for large images of fine detail, and the whole image for smooth ones, with the AAE or when told', async () => {
    const side = 288; // over the 256-px whole-image input
    const write = async (name: string, fine: boolean) => {
      mkdirSync(join(dir, name));
      for (let i = 0; i < 6; i++) {
        const b = Buffer.alloc(side * side);
        // fine: a one-pixel checkerboard, which shrinking blurs away; smooth: a gentle gradient
        for (let y = 0; y < side; y++) for (let x = 0; x < side; x++) b[y * side + x] = fine ? ((x + y + i) % 2 ? 40 : 210) : Math.round((x + y + i) * 200 / (2 * side));
        await sharp(b, { raw: { width: side, height: side, channels: 1 } }).png().toFile(join(dir, name, `${i}.png`));
      }
    };
    await write('fine', true);
    await write('smooth', false);
    // the synthetic-anomaly segmenter is not what this test is about (it would train 1,000 steps on the smooth images)
    const small: DetectorOptions = { epochs: 1, architecture: { filters: [4, 8], latent: 4 }, device: 'cpu', seed: 0, segmenter: false };
    const tiledBy = async (folder: string, extra: DetectorOptions = {}) => {
      let reasons: string[] = [];
      const det = await Detector.fit(join(dir, folder), { ...small, ...extra, onSettings: (s) => { reasons = s.reasons; } });
      try {
        return { tiles: det.tiles, reasons, filters: det.architecture.filters };
      } finally {
        det.dispose();
      }
    };
    const fine = await tiledBy('fine');
    assert.equal(fine.tiles?.size, TILE_SIDE, fine.reasons.join('; '));
    assert.ok(fine.reasons[0]!.startsWith('tiles: shrinking the images to 256 px would lose'), fine.reasons[0]);
    const smooth = await tiledBy('smooth');
    assert.equal(smooth.tiles, undefined, smooth.reasons.join('; '));
    assert.equal((await tiledBy('fine', { tiles: false })).tiles, undefined, 'tiles: false');
    assert.deepEqual(fine.filters, [4, 8], 'filters the caller gave are kept');
    assert.deepEqual((await tiledBy('fine', { architecture: { latent: 4 } })).filters, [16, 32], "the tile net: half a 32-px image's 32, 64");
    assert.equal((await tiledBy('fine', { model: 'aae' })).tiles, undefined, 'the AAE sees whole images');
  });

  it('refuses tiles with the robust AAE', async () => {
    await assert.rejects(Detector.fit(join(dir, 'good'), { tiles: true, model: 'aae', device: 'cpu' }), /tiles work with the plain autoencoder only/);
  });
});
