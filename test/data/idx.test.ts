import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { idxSource, labelsPathFor, readIdx } from '../../src/data/idx.js';
import { assertClose, encodeIdx, tempDir, u8, writeFile } from './helpers.js';

const { dir, cleanup } = tempDir();
after(cleanup);

// Three 2x3 images with distinct pixels, labels 7, 1, 7.
const pixels = Uint8Array.from({ length: 18 }, (_, i) => i * 10);
const labels = Uint8Array.from([7, 1, 7]);
const imagesRaw = encodeIdx(0x08, [3, 2, 3], pixels);
const labelsRaw = encodeIdx(0x08, [3], labels);

describe('readIdx', () => {
  it('reads raw and gzipped files alike, detecting gzip by content not name', () => {
    const raw = writeFile(join(dir, 'raw-images-idx3-ubyte'), imagesRaw);
    // A gzipped file without .gz and a raw file with .gz: names must not matter.
    const gz = writeFile(join(dir, 'gz-images-idx3-ubyte'), gzipSync(imagesRaw));
    const misnamed = writeFile(join(dir, 'plain-images-idx3-ubyte.gz'), imagesRaw);
    for (const path of [raw, gz, misnamed]) {
      const r = readIdx(path);
      assert.deepEqual(r.dims, [3, 2, 3]);
      assert.deepEqual(Array.from(r.data), Array.from(pixels));
    }
    const lab = readIdx(writeFile(join(dir, 'l-labels-idx1-ubyte.gz'), gzipSync(labelsRaw)), 'labels');
    assert.deepEqual(lab.dims, [3]);
    assert.deepEqual(Array.from(lab.data), [7, 1, 7]);
  });

  it('rejects a bad magic number, naming the file and the expected magic', () => {
    const bad = writeFile(join(dir, 'bad-magic'), encodeIdx(0x0d, [3], labels)); // 0x0d = float data
    assert.throws(() => readIdx(bad), (e: Error) => e.message.includes(bad) && /magic/.test(e.message) && e.message.includes('0x00000803'));
    const text = writeFile(join(dir, 'not-idx.txt'), 'hello world, definitely not IDX');
    assert.throws(() => readIdx(text), (e: Error) => e.message.startsWith(text) && /magic/.test(e.message));
  });

  it('rejects truncated and oversized files, naming the file and the sizes', () => {
    const short = writeFile(join(dir, 'short-images-idx3-ubyte'), imagesRaw.subarray(0, imagesRaw.length - 5));
    assert.throws(() => readIdx(short), (e: Error) => e.message.includes(short) && /truncated/.test(e.message) && /3x2x3/.test(e.message));
    const shortGz = writeFile(join(dir, 'short2-images-idx3-ubyte.gz'), gzipSync(imagesRaw.subarray(0, 10)));
    assert.throws(() => readIdx(shortGz), (e: Error) => e.message.includes(shortGz) && /truncated/.test(e.message));
    const long = writeFile(join(dir, 'long-images-idx3-ubyte'), Buffer.concat([imagesRaw, Buffer.from([1, 2])]));
    assert.throws(() => readIdx(long), (e: Error) => e.message.includes(long) && /oversized/.test(e.message));
    const brokenGz = writeFile(join(dir, 'broken.gz'), gzipSync(imagesRaw).subarray(0, 20));
    assert.throws(() => readIdx(brokenGz), (e: Error) => e.message.includes(brokenGz) && /gzip/.test(e.message));
    assert.throws(() => readIdx(join(dir, 'missing')), (e: Error) => e.message.includes(join(dir, 'missing')) && /no such file/.test(e.message));
  });

  it('checks images vs labels when asked', () => {
    const lab = writeFile(join(dir, 'x-labels-idx1-ubyte'), labelsRaw);
    assert.throws(() => readIdx(lab, 'images'), (e: Error) => e.message.includes(lab) && /expected an IDX images file/.test(e.message));
  });

  it('pairs images and labels file names', () => {
    assert.equal(labelsPathFor('/d/train-images-idx3-ubyte.gz'), '/d/train-labels-idx1-ubyte.gz');
    assert.equal(labelsPathFor('/d/t10k-images.idx3-ubyte'), '/d/t10k-labels.idx1-ubyte');
    assert.equal(labelsPathFor('/d/whatever.bin'), undefined);
  });
});

describe('idxSource', () => {
  const pre = { height: 2, width: 3, channels: 1 as const, resize: 'stretch' as const };

  it('lists items with ids, class names and labels from the normal classes', () => {
    const s = idxSource(pixels, labels, { height: 2, width: 3, name: 'toy', split: 'test', normal: [7] });
    assert.deepEqual(s.items, [
      { id: 'toy:test:0', className: '7', label: 0 },
      { id: 'toy:test:1', className: '1', label: 1 },
      { id: 'toy:test:2', className: '7', label: 0 },
    ]);
    assert.deepEqual(s.nativeSize, { height: 2, width: 3, channels: 1 });
    const sub = idxSource(pixels, labels, { height: 2, width: 3, indices: [2], normal: (c) => c === 1 });
    assert.deepEqual(sub.items, [{ id: 'idx:all:2', className: '7', label: 1 }]);
    const unlabelled = idxSource(pixels, undefined, { height: 2, width: 3 });
    assert.deepEqual(unlabelled.items[0], { id: 'idx:all:0' });
  });

  it('loads native size exactly in [0, 1], and replicates gray to RGB', async () => {
    const s = idxSource(pixels, labels, { height: 2, width: 3, indices: [1, 0] });
    assertClose(await s.load(0, pre), u8([60, 70, 80, 90, 100, 110]));
    const rgb = await s.load(1, { ...pre, channels: 3 });
    assert.equal(rgb.length, 18);
    const plane = u8([0, 10, 20, 30, 40, 50]);
    assertClose(rgb, [...plane, ...plane, ...plane]);
  });

  it('resizes when the preprocessing size differs', async () => {
    // Constant image: any correct resampling keeps the value; check sizes for stretch and crop.
    const flat = new Uint8Array(2 * 3).fill(128);
    const s = idxSource(flat, undefined, { height: 2, width: 3 });
    const up = await s.load(0, { height: 4, width: 6, channels: 1, resize: 'stretch' });
    assertClose(up, new Array(24).fill(128 / 255), 1e-6);
    const crop = await s.load(0, { height: 5, width: 5, channels: 3, resize: 'crop' });
    assertClose(crop, new Array(75).fill(128 / 255), 1e-6);
    // Upsampling x2 vertically of rows [a, b] gives a, .75a+.25b, .25a+.75b, b (half-pixel centres).
    const two = Uint8Array.from([0, 0, 0, 200, 200, 200]);
    const v = await idxSource(two, undefined, { height: 2, width: 3 }).load(0, { height: 4, width: 3, channels: 1, resize: 'stretch' });
    assertClose(v, u8([0, 0, 0, 50, 50, 50, 150, 150, 150, 200, 200, 200]), 1e-6);
  });

  it('rejects inconsistent inputs', () => {
    assert.throws(() => idxSource(pixels, labels, { height: 4, width: 4 }), /whole number/);
    assert.throws(() => idxSource(pixels, Uint8Array.from([1]), { height: 2, width: 3 }), /3 images but 1 labels/);
    assert.throws(() => idxSource(pixels, labels, { height: 2, width: 3, indices: [3] }), /out of range/);
    assert.throws(() => idxSource(pixels, undefined, { height: 2, width: 3, normal: [1] }), /no labels/);
  });
});
