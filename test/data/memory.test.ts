/**
 * Streaming must not hold on to decoded images: memory after 20,000 images is about what it was
 * after the first 2,000. The fixture (20,000 copies of one 8x8 PNG) is made once and cached in the
 * OS temp dir, since writing it is most of this test's cost on a cold run.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import sharp from 'sharp';
import { folderSource } from '../../src/data/folder.js';
import { batches } from '../../src/data/loader.js';

const COUNT = 20000;
const PER_FOLDER = 1000;
const MB = 1024 * 1024;

async function fixture(): Promise<string> {
  const root = join(tmpdir(), `vigil-data-stream-${COUNT}-v1`);
  const done = join(root, '.complete');
  if (existsSync(done)) return root;
  const png = await sharp(Buffer.from(Array.from({ length: 64 * 3 }, (_, i) => (i * 13) % 256)), { raw: { width: 8, height: 8, channels: 3 } })
    .png()
    .toBuffer();
  for (let f = 0; f < COUNT / PER_FOLDER; f++) {
    const sub = join(root, `part${String(f).padStart(2, '0')}`);
    mkdirSync(sub, { recursive: true });
    for (let i = 0; i < PER_FOLDER; i++) writeFileSync(join(sub, `${String(i).padStart(4, '0')}.png`), png);
  }
  writeFileSync(done, '');
  return root;
}

async function collectGarbage(): Promise<void> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  // Array buffers are released by weak callbacks that run after a collection; two rounds with a
  // turn of the event loop between them let those run, so 'external' reflects what is still held.
  for (let round = 0; round < 2; round++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
}

it(`streams ${COUNT} images in bounded memory`, { timeout: 120_000 }, async () => {
  const root = await fixture();
  const source = await folderSource(root, { onWarning: (m) => assert.fail(m) });
  assert.equal(source.items.length, COUNT);
  const pre = { height: 32, width: 32, channels: 3 as const, resize: 'stretch' as const };
  let seen = 0;
  let baseline: NodeJS.MemoryUsage | undefined;
  let peakRss = 0;
  const started = Date.now();
  for await (const batch of batches(source, { preprocessing: pre, batchSize: 256, shuffle: true, seed: 1 })) {
    seen += batch.shape[0];
    assert.equal(batch.data.length, batch.shape[0] * 3 * 32 * 32);
    if (!baseline && seen >= 2000) {
      await collectGarbage();
      baseline = process.memoryUsage();
    }
    if (baseline) peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }
  const seconds = (Date.now() - started) / 1000;
  await collectGarbage();
  const end = process.memoryUsage();
  assert.equal(seen, COUNT);
  const rssGrowth = (end.rss - baseline!.rss) / MB;
  const peakGrowth = (peakRss - baseline!.rss) / MB;
  const heapGrowth = (end.heapUsed - baseline!.heapUsed) / MB;
  const external = (end.external + end.arrayBuffers - baseline!.external - baseline!.arrayBuffers) / MB;
  process.stderr.write(
    `# ${COUNT} images in ${seconds.toFixed(1)} s; growth after the first 2000: rss ${rssGrowth.toFixed(1)} MB ` +
      `(peak ${peakGrowth.toFixed(1)}), heap ${heapGrowth.toFixed(1)} MB, buffers ${external.toFixed(1)} MB\n`,
  );
  // All decoded data of the run is 20000 x 12 KB = 240 MB; keeping it, in JS or native memory, would
  // exceed these bounds tenfold. A few 3 MB batches in flight at either measurement are normal (CI saw
  // 8.7 MB once on 2 busy cores), so the bounds leave room for them.
  assert.ok(heapGrowth < 24, `heap grew ${heapGrowth.toFixed(1)} MB`);
  assert.ok(external < 24, `buffers grew ${external.toFixed(1)} MB`);
  // RSS is noisy (allocator arenas of sharp's threads, garbage not yet collected), hence looser bounds.
  assert.ok(rssGrowth < 48, `rss grew ${rssGrowth.toFixed(1)} MB`);
  assert.ok(peakGrowth < 120, `rss grew ${peakGrowth.toFixed(1)} MB at peak`);
});
