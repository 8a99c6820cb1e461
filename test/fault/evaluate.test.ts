/** `evaluate` on the model's own training images warns; on held-out images it does not. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Detector } from '../../src/detector.js';
import { sketchIds, overlap } from '../../src/data/fingerprint.js';
import { writeDigits, TINY } from '../fixtures.js';
import { tempDir, vigil } from './helpers.js';

test('the id sketch: exact for small sets, an estimate from 256 hashes for large ones', () => {
  const small = sketchIds(['a.png', 'b.png', 'c.png']);
  assert.deepEqual(overlap(small, ['b.png', 'x.png'])!, { found: ['b.png'], estimate: 1 });
  const ids = Array.from({ length: 20000 }, (_, i) => `mnist:train:${i}`);
  const big = sketchIds(ids);
  assert.ok(Buffer.from(big.hashes, 'base64').length === 1024);
  const half = overlap(big, ids.slice(0, 10000))!;
  assert.ok(Math.abs(half.estimate - 10000) < 2500, `estimate ${half.estimate}`);
  assert.equal(overlap(big, Array.from({ length: 5000 }, (_, i) => `mnist:test:${i}`))!.estimate, 0);
});

test('evaluate warns when it is given the images the model was trained on', async () => {
  const root = tempDir();
  const seen = join(root, 'seen');
  await writeDigits(join(seen, 'normal'), 1, 30);
  await writeDigits(join(seen, 'odd'), 7, 10);
  const held = join(root, 'held');
  await writeDigits(join(held, 'normal'), 1, 15, 30);
  await writeDigits(join(held, 'odd'), 7, 10, 10);
  const det = await Detector.fit(seen, { ...TINY, epochs: 1, normalClass: 'normal' });
  const model = join(root, 'm');
  det.save(model);
  det.dispose();
  const own = vigil(['evaluate', model, seen, '--normal-class', 'normal', '--device', 'cpu']);
  assert.equal(own.status, 0, own.stderr);
  assert.match(own.stderr, /warning: 27 of the 40 images evaluated \(e\.g\. .*normal\/d1_\d+\.png\) are images this model was trained on; .*evaluate on held-out images/);
  const fresh = vigil(['evaluate', model, held, '--normal-class', 'normal', '--device', 'cpu']);
  assert.equal(fresh.status, 0, fresh.stderr);
  assert.doesNotMatch(fresh.stderr, /trained on/);
});
