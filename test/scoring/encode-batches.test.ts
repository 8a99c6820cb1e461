import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { liveTensors, manualSeed } from '../../src/engine/index.js';
import { ConvAutoencoder, defaultArchitecture } from '../../src/models/autoencoder.js';
import { scorerFor } from '../../src/detector/fit.js';
import { encodeBatches, scoreBatches } from '../../src/scoring/reconstruction.js';
import { planBatches } from '../../src/train/batches.js';
import type { Preprocessing } from '../../src/data/types.js';
import { stripesSource } from '../detector/helpers.js';

const pre: Preprocessing = { channels: 3, height: 48, width: 48, resize: 'stretch' };

describe("the training images' density inputs without decoding (encodeBatches)", () => {
  for (const input of ['code', 'image+stats'] as const) {
    it(`gives what a full scoring pass gives the density, image for image (${input})`, async () => {
      manualSeed(3);
      const ae = new ConvAutoencoder(defaultArchitecture({ height: 48, width: 48, channels: 3 }, { filters: [4, 8], latent: 5 }));
      const scorer = scorerFor(ae, undefined, input);
      const source = stripesSource(11);
      const indices = [0, 1, 2, 3, 4, 5, 6, 7, 8, 10];
      const plan = await planBatches({ source, indices, preprocessing: pre, batchSize: 4, device: 'cpu', seed: 0 });
      try {
        const full = await scoreBatches(scorer, plan);
        const before = liveTensors(); // after the full pass, whose SSIM window stays cached
        const encoded = await encodeBatches(scorer, plan);
        assert.equal(liveTensors(), before, 'no tensor leaked');
        assert.deepEqual(encoded.indices, full.indices, 'the same images in the same order');
        assert.equal(encoded.latent, full.latent);
        assert.equal(encoded.latent, input === 'code' ? 5 : 3 * 14 + 30 + 2 * (4 + 8));
        assert.equal(encoded.codes.length, indices.length * encoded.latent);
        const most = encoded.codes.reduce((m, v, i) => Math.max(m, Math.abs(v - full.codes[i]!)), 0);
        assert.ok(most < 1e-5, `codes differ by ${most}`);
      } finally {
        plan.dispose();
        ae.dispose();
      }
    });
  }

  it("gives a tiled model's codes (the mean of its tiles') without decoding a tile", async () => {
    manualSeed(4);
    const ae = new ConvAutoencoder(defaultArchitecture({ height: 16, width: 16, channels: 3 }, { filters: [4, 8], latent: 3 }));
    // 48 px images, 16 px tiles every 12 px: the last tile row and column need the padding
    const scorer = scorerFor(ae, { size: 16, stride: 12, sigma: 4 });
    const plan = await planBatches({ source: stripesSource(5), indices: [0, 1, 2, 3, 4], preprocessing: pre, batchSize: 2, device: 'cpu', seed: 0 });
    try {
      const full = await scoreBatches(scorer, plan);
      const before = liveTensors();
      const encoded = await encodeBatches(scorer, plan);
      assert.equal(liveTensors(), before, 'no tensor leaked');
      assert.deepEqual(encoded.indices, full.indices);
      assert.equal(encoded.latent, 3);
      const most = encoded.codes.reduce((m, v, i) => Math.max(m, Math.abs(v - full.codes[i]!)), 0);
      assert.ok(most < 1e-5, `codes differ by ${most}`);
      assert.ok(encoded.codes.some((v) => v !== 0), 'codes were computed');
    } finally {
      plan.dispose();
      ae.dispose();
    }
  });

  it('stops at an aborted signal', async () => {
    const ae = new ConvAutoencoder(defaultArchitecture({ height: 48, width: 48, channels: 3 }, { filters: [4], latent: 2 }));
    const plan = await planBatches({ source: stripesSource(4), indices: [0, 1, 2, 3], preprocessing: pre, batchSize: 2, device: 'cpu', seed: 0 });
    try {
      await assert.rejects(encodeBatches(ae, plan, { signal: AbortSignal.abort() }), { name: 'AbortError' });
    } finally {
      plan.dispose();
      ae.dispose();
    }
  });
});
