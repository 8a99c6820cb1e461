import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import {
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_DEFAULT_DIR,
  builtinFiles,
  builtinSource,
  loadBuiltin,
  oneClassSource,
  resolveClasses,
} from '../../src/data/builtin.js';
import { tempDir } from './helpers.js';

function classCounts(labels: Uint8Array): number[] {
  const counts = new Array(10).fill(0);
  for (const l of labels) counts[l]++;
  return counts;
}

describe('built-in MNIST', () => {
  it('has the official splits: 60000 train, 10000 test, sane class counts', () => {
    const train = loadBuiltin('mnist', 'train');
    assert.equal(train.count, 60000);
    assert.equal(train.images.length, 60000 * 28 * 28);
    assert.equal(train.height, 28);
    assert.equal(train.width, 28);
    const tc = classCounts(train.labels);
    assert.deepEqual(tc, [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
    const test = loadBuiltin('mnist', 'test');
    assert.equal(test.count, 10000);
    const sc = classCounts(test.labels);
    assert.equal(sc.reduce((a, b) => a + b), 10000);
    for (const c of sc) assert.ok(c > 800 && c < 1200, `class count ${c}`);
    // First training labels of MNIST are 5, 0, 4, 1, 9.
    assert.deepEqual(Array.from(train.labels.subarray(0, 5)), [5, 0, 4, 1, 9]);
    assert.equal(loadBuiltin('mnist', 'train'), train, 'cached per process');
  });

  it('makes labelled and one-class sources', async () => {
    const test = builtinSource('mnist', 'test', { normal: [3] });
    assert.equal(test.items.length, 10000);
    assert.equal(test.items.filter((i) => i.label === 0).length, 1010);
    assert.ok(test.items.every((i) => (i.className === '3') === (i.label === 0)));
    assert.match(test.items[0]!.id, /^mnist:test:0$/);
    const x = await test.load(0, { height: 28, width: 28, channels: 1, resize: 'stretch' });
    assert.equal(x.length, 784);
    assert.ok(Math.min(...x) >= 0 && Math.max(...x) <= 1 && Math.max(...x) > 0.9);

    const clean = oneClassSource('mnist', 'train', 3);
    assert.equal(clean.items.length, 6131);
    assert.ok(clean.items.every((i) => i.label === 0));

    const dirty = oneClassSource('mnist', 'train', '3', { contamination: 0.1, seed: 5 });
    const anomalies = dirty.items.filter((i) => i.label === 1);
    assert.equal(dirty.items.length, Math.round(6131 / 0.9));
    assert.equal(anomalies.length, dirty.items.length - 6131);
    assert.ok(anomalies.every((i) => i.className !== '3'));
    const again = oneClassSource('mnist', 'train', 3, { contamination: 0.1, seed: 5 });
    assert.deepEqual(again.imageIndices, dirty.imageIndices, 'same seed, same contamination');
    const other = oneClassSource('mnist', 'train', 3, { contamination: 0.1, seed: 6 });
    assert.notDeepEqual(other.imageIndices, dirty.imageIndices);

    const limited = oneClassSource('mnist', 'train', 3, { contamination: 0.2, limit: 100 });
    assert.equal(limited.items.length, 100);
    assert.equal(limited.items.filter((i) => i.label === 1).length, 20);

    const sub = builtinSource('mnist', 'train', { classes: [1, 7], limit: 50, seed: 1 });
    assert.equal(sub.items.length, 50);
    assert.ok(sub.items.every((i) => i.className === '1' || i.className === '7'));
    assert.equal(sub.items[0]!.label, undefined);
    assert.throws(() => oneClassSource('mnist', 'train', 3, { contamination: 1 }), /contamination/);
    assert.throws(() => resolveClasses('mnist', [10]), /unknown class 10/);
  });
});

const haveFashion = existsSync(FASHION_MNIST_DEFAULT_DIR) || !!process.env['VIGIL_FASHION_MNIST_DIR'];

describe('built-in Fashion-MNIST', () => {
  it('has the official splits with 6000/1000 images per class', { skip: haveFashion ? false : `${FASHION_MNIST_DEFAULT_DIR} missing (apt-get install dataset-fashion-mnist)` }, () => {
    const train = loadBuiltin('fashion-mnist', 'train');
    assert.equal(train.count, 60000);
    assert.deepEqual(classCounts(train.labels), new Array(10).fill(6000));
    const test = loadBuiltin('fashion-mnist', 'test');
    assert.equal(test.count, 10000);
    assert.deepEqual(classCounts(test.labels), new Array(10).fill(1000));
    assert.equal(train.classNames[9], 'Ankle boot');
    const s = builtinSource('fashion-mnist', 'test', { normal: ['sneaker'] });
    assert.equal(s.items.filter((i) => i.label === 0).length, 1000);
    assert.ok(s.items.filter((i) => i.label === 0).every((i) => i.className === 'Sneaker'));
    assert.equal(s.items[0]!.id, 'fashion-mnist:test:0');
    assert.equal(FASHION_MNIST_CLASSES.length, 10);
  });

  it('names the missing path and the fix', () => {
    const { dir, cleanup } = tempDir();
    const saved = process.env['VIGIL_FASHION_MNIST_DIR'];
    try {
      process.env['VIGIL_FASHION_MNIST_DIR'] = dir;
      assert.throws(
        () => builtinFiles('fashion-mnist', 'train'),
        (e: Error) => e.message.includes(`${dir}/train-images-idx3-ubyte`) && /VIGIL_FASHION_MNIST_DIR/.test(e.message),
      );
      delete process.env['VIGIL_FASHION_MNIST_DIR'];
      // The default location's message names the Debian package.
      if (!existsSync(FASHION_MNIST_DEFAULT_DIR)) {
        assert.throws(() => builtinFiles('fashion-mnist', 'test'), /apt-get install dataset-fashion-mnist/);
      }
    } finally {
      if (saved === undefined) delete process.env['VIGIL_FASHION_MNIST_DIR'];
      else process.env['VIGIL_FASHION_MNIST_DIR'] = saved;
      cleanup();
    }
  });
});
