// scoreStream: the records of score, in input order, one batch at a time, with flat memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Detector } from '../../src/detector.js';
import { SMALL, stripesSource } from './helpers.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
/** Live JS memory: the heap plus the typed arrays' buffers (maps live there). */
function live(): number {
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

test('scoreStream yields the records of score, in input order', async () => {
  const det = await Detector.fit(stripesSource(120), SMALL);
  const images = stripesSource(300, (i) => i % 10 === 3);
  const all = await det.score(images, { maps: 'mse', batchSize: 64 });
  const streamed = [];
  for await (const r of det.scoreStream(images, { maps: 'mse', batchSize: 64 })) streamed.push(r);
  assert.deepEqual(streamed, all);
  assert.deepEqual(streamed.map((r) => r.id), images.items.map((i) => i.id));
  assert.ok(streamed.some((r) => r.isAnomaly) && streamed.some((r) => !r.isAnomaly));
  det.dispose();
});

test('scoreStream memory stays flat over thousands of images', async () => {
  const det = await Detector.fit(stripesSource(120), SMALL);
  const n = 8000;
  const samples: { at: number; bytes: number }[] = [];
  let count = 0;
  let sum = 0;
  for await (const r of det.scoreStream(stripesSource(n, (i) => i % 50 === 0), { maps: 'mse', batchSize: 128 })) {
    sum += r.map!.length; // each record carries a 16 x 16 error map: 1 KiB, 8 MiB if they were all kept
    if (++count % 250 === 0) samples.push({ at: count, bytes: live() });
  }
  assert.equal(count, n);
  assert.equal(sum, n * 256);
  // batches in flight come and go (prefetch, buffers freed lazily): compare the lows of the first and last thousand images
  const low = (xs: typeof samples) => Math.min(...xs.map((x) => x.bytes));
  const growth = low(samples.slice(-4)) - low(samples.slice(0, 4));
  const held = (n - 1000) * 1024;
  assert.ok(growth < held / 4, `memory grew ${(growth / 2 ** 20).toFixed(2)} MiB over ${n - 1000} images (keeping their maps alone would take ${(held / 2 ** 20).toFixed(1)} MiB); samples ${samples.map((s) => (s.bytes / 2 ** 20).toFixed(1)).join(' ')}`);
  det.dispose();
});
