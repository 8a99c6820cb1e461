import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { openSource } from '../../src/data/index.js';
import { encodeIdx, tempDir, writeFile, writeImage, writeSolid } from './helpers.js';

const { dir, cleanup } = tempDir();
after(cleanup);

describe('openSource', () => {
  before(async () => {
    writeFile(join(dir, 'toy', 'train-images-idx3-ubyte.gz'), gzipSync(encodeIdx(8, [4, 2, 2], Uint8Array.from({ length: 16 }, (_, i) => i))));
    writeFile(join(dir, 'toy', 'train-labels-idx1-ubyte.gz'), gzipSync(encodeIdx(8, [4], Uint8Array.from([0, 1, 0, 2]))));
    writeFile(join(dir, 'nolabels', 't10k-images-idx3-ubyte'), encodeIdx(8, [1, 2, 2], new Uint8Array(4)));
    await writeSolid(join(dir, 'cat', 'train', 'good', '000.png'), 4, 4, [1, 1, 1]);
    await writeSolid(join(dir, 'cat', 'test', 'good', '000.png'), 4, 4, [1, 1, 1]);
    await writeSolid(join(dir, 'cat', 'test', 'hole', '000.png'), 4, 4, [9, 9, 9]);
    await writeImage(join(dir, 'cat', 'ground_truth', 'hole', '000_mask.png'), new Array(16).fill(255), 4, 4, 1);
    await writeSolid(join(dir, 'classes', 'ok', 'a.png'), 2, 2, [1, 1, 1]);
    await writeSolid(join(dir, 'classes', 'bad', 'b.png'), 2, 2, [1, 1, 1]);
    writeFile(join(dir, 'image.png'), 'x');
  });

  it('opens built-in datasets by name, with split and one-class options', async () => {
    const train = await openSource('builtin:mnist');
    assert.equal(train.kind, 'builtin');
    assert.equal(train.items.length, 60000);
    assert.deepEqual(train.nativeSize, { height: 28, width: 28, channels: 1 });
    const test = await openSource('builtin:mnist:test', { normalClass: '3' });
    assert.equal(test.items.length, 10000);
    assert.equal(test.items.filter((i) => i.label === 0).length, 1010);
    const oneClass = await openSource('builtin:mnist', { normalClass: '3', contamination: 0 });
    assert.equal(oneClass.items.length, 6131);
    assert.equal((await openSource('builtin:fashion-mnist', { split: 'test' })).items.length, 10000);
    await assert.rejects(openSource('builtin:cifar'), /unknown built-in dataset 'cifar'.*builtin:mnist/);
    await assert.rejects(openSource('builtin:mnist:val'), /unknown split/);
    await assert.rejects(openSource('builtin:mnist:test', { split: 'train' }), /split/);
  });

  it('opens IDX files with the labels file beside them', async () => {
    const s = await openSource(join(dir, 'toy', 'train-images-idx3-ubyte.gz'), { normalClass: '0' });
    assert.equal(s.kind, 'idx');
    assert.deepEqual(s.items.map((i) => [i.id, i.label, i.className]), [
      ['toy:train:0', 0, '0'], ['toy:train:1', 1, '1'], ['toy:train:2', 0, '0'], ['toy:train:3', 1, '2'],
    ]);
    const bare = await openSource(join(dir, 'nolabels', 't10k-images-idx3-ubyte'));
    assert.deepEqual(bare.items, [{ id: 'nolabels:test:0' }]);
    await assert.rejects(openSource(join(dir, 'nolabels', 't10k-images-idx3-ubyte'), { normalClass: '1' }), /no labels file/);
  });

  it('recognises MVTec, class folders and plain folders', async () => {
    const mv = await openSource(join(dir, 'cat'), { split: 'test' });
    assert.equal(mv.kind, 'mvtec');
    assert.deepEqual(mv.items.map((i) => i.className), ['good', 'hole']);
    assert.equal((await openSource(join(dir, 'cat'))).items.length, 1);
    const cf = await openSource(join(dir, 'classes'), { normalClass: 'ok' });
    assert.equal(cf.kind, 'classfolders');
    assert.deepEqual(cf.items.map((i) => [i.className, i.label]), [['bad', 1], ['ok', 0]]);
    const plain = await openSource(join(dir, 'classes'));
    assert.equal(plain.kind, 'folder');
    assert.equal(plain.items.length, 2);
  });

  it('says what it expected for unknown paths', async () => {
    await assert.rejects(openSource(join(dir, 'missing')), (e: Error) => e.message.includes(join(dir, 'missing')) && /not found/.test(e.message));
    await assert.rejects(openSource(join(dir, 'image.png')), /unsupported source file .*expected builtin:mnist/);
  });
});
