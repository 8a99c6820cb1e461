import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { liveTensors } from '../../src/engine/index.js';
import { planBatches } from '../../src/train/batches.js';
import { CorruptImageError } from '../../src/data/errors.js';
import type { ImageSource, Preprocessing } from '../../src/data/types.js';

const pre: Preprocessing = { channels: 1, height: 2, width: 2, resize: 'stretch' };

/** Image i is the constant i / 10; the images listed in `broken` cannot be decoded. */
function constantSource(count: number, broken: number[]): ImageSource {
  return {
    items: Array.from({ length: count }, (_, i) => ({ id: `img${i}.png`, label: 0 as const })),
    async load(i: number, p: Preprocessing): Promise<Float32Array> {
      if (broken.includes(i)) throw new CorruptImageError(`img${i}.png`, 'truncated file');
      return new Float32Array(p.channels * p.height * p.width).fill(i / 10);
    },
  };
}

describe('the cached batch plan (images decoded once and kept on the device)', () => {
  it('gives each cached image its own source index after an unreadable one, and reports the unreadable one', async () => {
    const before = liveTensors();
    const warnings: string[] = [];
    const plan = await planBatches({ source: constantSource(6, [1]), indices: [0, 1, 2, 3, 5], preprocessing: pre, batchSize: 2, device: 'cpu', seed: 0, cache: true, onWarning: (m) => warnings.push(m) });
    assert.equal(plan.itemCount, 5);
    assert.equal(plan.usableCount, 4);
    assert.equal(plan.batchCount, 2);
    const seen: number[] = [];
    for (const pass of [0, 1]) {
      for await (const b of plan.pass(pass, pass === 1)) {
        const v = b.x.toFloat32();
        b.indices.forEach((index, k) => {
          assert.ok(Math.abs(v[k * 4]! - index / 10) < 1 / 255, `image ${index} holds its own pixels, as bytes (${v[k * 4]})`);
          if (pass === 0) seen.push(index);
        });
        b.x.dispose();
      }
    }
    assert.deepEqual(seen, [0, 2, 3, 5]);
    assert.deepEqual(plan.skipped(), [{ id: 'img1.png', reason: 'truncated file' }]);
    assert.ok(warnings.some((w) => w.includes('img1.png')), 'the unreadable image is named in a warning');
    plan.dispose();
    assert.equal(liveTensors(), before, 'no tensor leaked');
  });

  it('refuses a plan in which not one image can be read, naming the first', async () => {
    await assert.rejects(
      planBatches({ source: constantSource(2, [0, 1]), indices: [0, 1], preprocessing: pre, batchSize: 2, device: 'cpu', seed: 0, cache: true, onWarning: () => {} }),
      /none of the 2 images could be read \(img0\.png: truncated file/,
    );
  });
});
