import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CorruptImageError } from '../../src/data/errors.js';
import { folderSource } from '../../src/data/folder.js';
import { idxSource } from '../../src/data/idx.js';
import { batches, loadAll } from '../../src/data/loader.js';
import type { MaskSource } from '../../src/data/masks.js';
import type { Batch, ImageSource, Preprocessing } from '../../src/data/types.js';
import { tempDir, writeFile, writeSolid } from './helpers.js';

const { dir, cleanup } = tempDir();
after(cleanup);

const pre: Preprocessing = { height: 2, width: 2, channels: 1, resize: 'stretch' };
/** n 2x2 images whose pixels all equal their index, so a batch's data tells which items it holds. */
function counting(n: number) {
  const images = new Uint8Array(n * 4);
  for (let i = 0; i < n; i++) images.fill(i, 4 * i, 4 * i + 4);
  return idxSource(images, undefined, { height: 2, width: 2, name: 'count' });
}
async function collect(it: AsyncIterable<Batch>): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of it) out.push(b);
  return out;
}
const firstPixels = (b: Batch) => b.indices.map((_, k) => Math.round(b.data[k * 4]! * 255));

describe('batches', () => {
  it('keeps a smaller last batch and the given order without shuffle', async () => {
    const s = counting(10);
    const stream = batches(s, { preprocessing: pre, batchSize: 4 });
    assert.equal(stream.batchCount, 3);
    const bs = await collect(stream);
    assert.deepEqual(bs.map((b) => b.shape), [[4, 1, 2, 2], [4, 1, 2, 2], [2, 1, 2, 2]]);
    assert.deepEqual(bs.flatMap((b) => b.indices), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.deepEqual(bs.flatMap(firstPixels), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'data matches indices');
    assert.equal(bs[2]!.items[1], s.items[9]);
    const sub = await collect(batches(s, { preprocessing: pre, batchSize: 3, indices: [9, 2, 5] }));
    assert.deepEqual(sub.map((b) => b.indices), [[9, 2, 5]]);
  });

  it('shuffles deterministically per seed and epoch, covering every index once', async () => {
    const s = counting(50);
    const order = async (seed: number, epoch = 0) =>
      (await collect(batches(s, { preprocessing: pre, batchSize: 7, shuffle: true, seed, epoch, concurrency: 3 }))).flatMap((b) => b.indices);
    const a = await order(1);
    assert.deepEqual(a, await order(1));
    assert.deepEqual([...a].sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => i));
    assert.notDeepEqual(a, Array.from({ length: 50 }, (_, i) => i));
    assert.notDeepEqual(a, await order(2));
    assert.notDeepEqual(a, await order(1, 1));
    // Iterating the same stream again repeats the pass.
    const stream = batches(s, { preprocessing: pre, batchSize: 7, shuffle: true, seed: 1 });
    assert.deepEqual((await collect(stream)).flatMap((b) => b.indices), (await collect(stream)).flatMap((b) => b.indices));
  });

  it('decodes at most `prefetch` batches ahead and `concurrency` images at once', async () => {
    const inner = counting(40);
    let started = 0;
    let active = 0;
    let maxActive = 0;
    const slow: ImageSource = {
      items: inner.items,
      async load(i, p) {
        started++;
        active++;
        maxActive = Math.max(maxActive, active);
        await sleep(1);
        active--;
        return inner.load(i, p);
      },
    };
    const stream = batches(slow, { preprocessing: pre, batchSize: 4, prefetch: 2, concurrency: 3 });
    let consumed = 0;
    for await (const b of stream) {
      consumed++;
      await sleep(15); // a slow consumer: the loader must not run ahead unboundedly
      assert.ok(started <= (consumed + 2) * 4, `started ${started} loads with ${consumed} batches consumed`);
      assert.equal(b.shape[0], 4);
      if (consumed === 4) break;
    }
    await sleep(30);
    assert.ok(started <= (4 + 2) * 4, `decoding continued after break: ${started}`);
    assert.ok(maxActive <= 3, `max concurrent loads ${maxActive}`);

    started = 0;
    const onDemand = batches(slow, { preprocessing: pre, batchSize: 4, prefetch: 0 });
    for await (const _ of onDemand) {
      await sleep(5);
      assert.ok(started <= 4, 'prefetch 0 decodes only the batch asked for');
      break;
    }
  });

  it('gives the same augmented data for the same seed regardless of decode timing', async () => {
    const images = Uint8Array.from({ length: 12 * 16 }, (_, i) => (i * 37) % 256);
    const inner = idxSource(images, undefined, { height: 4, width: 4 });
    const jittery: ImageSource = { items: inner.items, load: async (i, p) => (await sleep(Math.random() * 3), inner.load(i, p)) };
    const p4: Preprocessing = { height: 4, width: 4, channels: 1, resize: 'stretch' };
    const run = async (seed: number) =>
      (await collect(batches(jittery, { preprocessing: p4, batchSize: 5, shuffle: true, seed, concurrency: 4, augment: { hflip: true, rotate: 20, brightness: 0.1 } })))
        .map((b) => Array.from(b.data));
    const a = await run(3);
    assert.deepEqual(a, await run(3));
    assert.notDeepEqual(a, await run(4));
    const plain = await collect(batches(inner, { preprocessing: p4, batchSize: 12, augment: {} }));
    assert.deepEqual(Array.from(plain[0]!.data), Array.from((await loadAll(inner, undefined, p4)).data), 'empty augment options are the identity');
  });

  it('applies the same flip to masks', async () => {
    const inner = counting(2);
    const masked: MaskSource = {
      items: inner.items,
      load: (i, p) => inner.load(i, p),
      loadMask: async () => Float32Array.from([1, 0, 0, 0]),
    };
    const [b] = await collect(batches(masked, { preprocessing: pre, batchSize: 2, augment: { hflip: 1 } }));
    assert.deepEqual(Array.from(b!.masks!), [0, 1, 0, 0, 0, 1, 0, 0]);
    const [noMasks] = await collect(batches(masked, { preprocessing: pre, batchSize: 2, masks: false }));
    assert.equal(noMasks!.masks, undefined);
  });

  it('drops a corrupt file from its batch with a warning naming it; strict makes it an error', async () => {
    const folder = join(dir, 'some-bad');
    for (let i = 0; i < 5; i++) await writeSolid(join(folder, `${i}.png`), 3, 3, [i * 40, 0, 0]);
    const badPath = writeFile(join(folder, '2b.png'), Buffer.from('garbage bytes, not a PNG'));
    const warnings: string[] = [];
    const source = await folderSource(folder, { onWarning: (m) => warnings.push(m) });
    assert.equal(source.items.length, 6);
    const skips: number[] = [];
    const stream = batches(source, { preprocessing: pre, batchSize: 4, onSkip: (s) => skips.push(s.index) });
    const bs = await collect(stream);
    assert.deepEqual(bs.map((b) => b.shape[0]), [3, 2]);
    assert.deepEqual(bs[0]!.items.map((i) => i.id.slice(folder.length + 1)), ['0.png', '1.png', '2.png']);
    assert.equal(bs[0]!.data.length, 3 * 4);
    assert.deepEqual(stream.skipped.map((s) => s.item.id), [badPath]);
    assert.deepEqual(skips, [3]);
    assert.equal(warnings.length, 1);
    assert.ok(warnings[0]!.includes(badPath));

    await assert.rejects(collect(batches(source, { preprocessing: pre, batchSize: 4, strict: true })), (e: Error) => e.message.includes(badPath) && /strict/.test(e.message));
    const strictSource = await folderSource(folder, { strict: true });
    await assert.rejects(collect(batches(strictSource, { preprocessing: pre, batchSize: 4 })), (e: Error) => e.message.includes(badPath));
  });

  it('warns for corrupt items the source did not report, and passes other errors through', async () => {
    const inner = counting(3);
    const custom: ImageSource = {
      items: inner.items,
      load: async (i, p) => {
        if (i === 1) throw new CorruptImageError('item-1', 'bad bytes');
        return inner.load(i, p);
      },
    };
    const warnings: string[] = [];
    const bs = await collect(batches(custom, { preprocessing: pre, batchSize: 2, onWarning: (m) => warnings.push(m) }));
    assert.deepEqual(bs.map((b) => b.indices), [[0], [2]]);
    assert.deepEqual(warnings, ['skipping item-1: bad bytes']);

    const broken: ImageSource = { items: inner.items, load: async () => { throw new Error('disk on fire'); } };
    await assert.rejects(collect(batches(broken, { preprocessing: pre, batchSize: 2 })), /disk on fire/);
    const wrongSize: ImageSource = { items: inner.items, load: async () => new Float32Array(3) };
    await assert.rejects(collect(batches(wrongSize, { preprocessing: pre, batchSize: 2 })), /gave 3 values, expected 1x2x2/);
  });

  it('validates its options', () => {
    const s = counting(3);
    assert.throws(() => batches(s, { preprocessing: pre, batchSize: 0 }), /batchSize/);
    assert.throws(() => batches(s, { preprocessing: pre, batchSize: 2, indices: [3] }), /index 3 out of range/);
    assert.throws(() => batches(s, { preprocessing: { ...pre, width: 0 }, batchSize: 2 }), /width/);
    assert.throws(() => batches(s, { preprocessing: pre, batchSize: 2, augment: { rotate: -1 } }), /rotate/);
  });

  it('loadAll returns one batch, empty when everything was skipped', async () => {
    const s = counting(5);
    const all = await loadAll(s, [4, 0], pre);
    assert.deepEqual(all.indices, [4, 0]);
    assert.deepEqual(all.shape, [2, 1, 2, 2]);
    const none: ImageSource = { items: s.items, load: async (i) => { throw new CorruptImageError(`x${i}`, 'bad'); } };
    const empty = await loadAll(none, undefined, pre, { onWarning: () => {} });
    assert.deepEqual(empty.shape, [0, 1, 2, 2]);
  });
});
