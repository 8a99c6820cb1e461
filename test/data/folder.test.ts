import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { classFolderSource } from '../../src/data/classfolders.js';
import { CorruptImageError, folderSource, listImages } from '../../src/data/folder.js';
import { loadAll } from '../../src/data/loader.js';
import { mvtecSource } from '../../src/data/mvtec.js';
import type { Preprocessing } from '../../src/data/types.js';
import { encodeBmp, tempDir, writeFile, writeImage, writeSolid } from './helpers.js';

const { dir, cleanup } = tempDir();
after(cleanup);
const pre: Preprocessing = { height: 4, width: 4, channels: 3, resize: 'stretch' };

describe('folderSource', () => {
  const root = join(dir, 'plain');
  before(async () => {
    await writeSolid(join(root, 'b.png'), 5, 5, [10, 20, 30]);
    await writeSolid(join(root, 'A.JPG'), 6, 4, [200, 200, 200]);
    await writeSolid(join(root, 'sub', 'c.tiff'), 3, 3, [0, 0, 0]);
    await writeSolid(join(root, 'sub', 'deeper', 'd.webp'), 8, 2, [255, 255, 255]);
    writeFile(join(root, 'sub', 'e.bmp'), encodeBmp({ width: 2, height: 2, bpp: 24, pixels: new Array(12).fill(77) }));
    writeFile(join(root, 'notes.txt'), 'ignored');
    writeFile(join(root, '.hidden.png'), 'ignored, hidden');
    writeFile(join(root, '._b.png'), 'macOS resource fork, ignored');
    symlinkSync(join(root, 'sub'), join(root, 'sub', 'loop')); // must not recurse forever
  });

  it('lists images recursively in a fixed order, by extension case-insensitively', async () => {
    const paths = await listImages(root);
    assert.deepEqual(paths.map((p) => p.slice(root.length + 1)), ['A.JPG', 'b.png', 'sub/c.tiff', 'sub/deeper/d.webp', 'sub/e.bmp']);
    const flat = await listImages(root, { recursive: false });
    assert.equal(flat.length, 2);
  });

  it('loads every format into CHW [0, 1] at the requested size', async () => {
    const s = await folderSource(root, { label: 0, className: 'ok' });
    assert.equal(s.items.length, 5);
    assert.deepEqual(s.items[1], { id: join(root, 'b.png'), label: 0, className: 'ok' });
    const expected = [200, 10, 0, 255, 77];
    for (let i = 0; i < 5; i++) {
      const t = await s.load(i, pre);
      assert.equal(t.length, 48);
      assert.ok(Math.abs(t[0]! - expected[i]! / 255) < 0.02, `${s.items[i]!.id}: ${t[0]}`);
    }
    assert.equal(s.nativeSize, undefined);
  });

  it('errors clearly on a missing folder, a file, and a folder without images', async () => {
    const missing = join(dir, 'nope');
    await assert.rejects(folderSource(missing), (e: Error) => e.message === `image folder not found: ${missing}`);
    await assert.rejects(folderSource(join(root, 'b.png')), /is not a folder/);
    const empty = join(dir, 'empty');
    mkdirSync(join(empty, 'sub'), { recursive: true });
    writeFile(join(empty, 'readme.md'), 'no images');
    await assert.rejects(
      folderSource(empty),
      (e: Error) => e.message.startsWith(`no images found in ${empty} (looked for .png, .jpg, .jpeg, .bmp, .tif, .tiff, .webp`),
    );
  });

  it('reports a corrupt file once when load fails, or fails in strict mode', async () => {
    const bad = join(dir, 'withbad');
    await writeSolid(join(bad, '0.png'), 4, 4, [1, 2, 3]);
    const badPath = writeFile(join(bad, '1.png'), 'this is not a png');
    const warnings: string[] = [];
    const s = await folderSource(bad, { onWarning: (m) => warnings.push(m) });
    assert.equal(s.items.length, 2, 'lazy: not checked up front');
    await s.load(0, pre);
    for (let k = 0; k < 2; k++) {
      await assert.rejects(s.load(1, pre), (e: unknown) => e instanceof CorruptImageError && e.path === badPath);
    }
    assert.equal(warnings.length, 1);
    assert.ok(warnings[0]!.includes(badPath));
    assert.deepEqual(s.skipped.map((x) => x.path), [badPath]);

    const strict = await folderSource(bad, { strict: true, onWarning: (m) => assert.fail(m) });
    await assert.rejects(strict.load(1, pre), (e: Error) => !(e instanceof CorruptImageError) && e.message.includes(badPath) && /strict/.test(e.message));

    const validated: string[] = [];
    const v = await folderSource(bad, { validate: true, onWarning: (m) => validated.push(m) });
    assert.deepEqual(v.items.map((i) => i.id), [join(bad, '0.png')]);
    assert.equal(validated.length, 1);
    assert.ok(validated[0]!.includes(badPath));
    await assert.rejects(folderSource(bad, { validate: true, strict: true }), (e: Error) => e.message.includes(badPath));
  });
});

describe('classFolderSource', () => {
  const root = join(dir, 'cells');
  before(async () => {
    for (const n of ['a', 'b', 'c']) await writeSolid(join(root, 'Uninfected', `${n}.png`), 3, 3, [200, 180, 190]);
    for (const n of ['x', 'y']) await writeSolid(join(root, 'Parasitized', `${n}.png`), 3, 3, [120, 40, 90]);
    mkdirSync(join(root, '.cache'), { recursive: true });
  });

  it('labels the named normal class 0 and the others 1, className = folder', async () => {
    const s = await classFolderSource(root, { normal: 'Uninfected' });
    assert.deepEqual(
      s.items.map((i) => [i.id.slice(root.length + 1), i.label, i.className]),
      [['Parasitized/x.png', 1, 'Parasitized'], ['Parasitized/y.png', 1, 'Parasitized'], ['Uninfected/a.png', 0, 'Uninfected'], ['Uninfected/b.png', 0, 'Uninfected'], ['Uninfected/c.png', 0, 'Uninfected']],
    );
    const only = await classFolderSource(root, { normal: ['Uninfected'], classes: ['Uninfected'] });
    assert.equal(only.items.length, 3);
  });

  it('lists the classes found when the normal class is unknown', async () => {
    await assert.rejects(
      classFolderSource(root, { normal: 'Healthy' }),
      (e: Error) => e.message.includes("class 'Healthy' not found") && e.message.includes(root) && e.message.includes('Parasitized, Uninfected'),
    );
    await assert.rejects(classFolderSource(root, { normal: 'uninfected' }), /did you mean 'Uninfected'/);
  });
});

describe('mvtecSource', () => {
  const root = join(dir, 'bottle');
  const mask = (hot: boolean) => Array.from({ length: 16 }, (_, i) => (hot && (i === 0 || i === 1 || i === 4 || i === 5) ? 255 : 0));
  before(async () => {
    for (const n of ['000', '001']) await writeSolid(join(root, 'train', 'good', `${n}.png`), 4, 4, [100, 100, 100]);
    await writeSolid(join(root, 'test', 'good', '000.png'), 4, 4, [100, 100, 100]);
    for (const d of ['crack', 'scratch']) {
      for (const n of ['000', '001']) {
        await writeSolid(join(root, 'test', d, `${n}.png`), 4, 4, [200, 50, 50]);
        await writeImage(join(root, 'ground_truth', d, `${n}_mask.png`), mask(true), 4, 4, 1);
      }
    }
    writeFile(join(root, 'license.txt'), 'x');
  });

  it('reads train/good as normal', async () => {
    const s = await mvtecSource(root, 'train');
    assert.deepEqual(s.items.map((i) => [i.id.slice(root.length + 1), i.label, i.className]), [
      ['train/good/000.png', 0, 'good'],
      ['train/good/001.png', 0, 'good'],
    ]);
  });

  it('reads test with good first, defects labelled 1 with masks paired by stem', async () => {
    const s = await mvtecSource(root, 'test');
    assert.deepEqual(s.items.map((i) => [i.id.slice(root.length + 1), i.label, i.className, i.maskPath?.slice(root.length + 1)]), [
      ['test/good/000.png', 0, 'good', undefined],
      ['test/crack/000.png', 1, 'crack', 'ground_truth/crack/000_mask.png'],
      ['test/crack/001.png', 1, 'crack', 'ground_truth/crack/001_mask.png'],
      ['test/scratch/000.png', 1, 'scratch', 'ground_truth/scratch/000_mask.png'],
      ['test/scratch/001.png', 1, 'scratch', 'ground_truth/scratch/001_mask.png'],
    ]);
    const gray: Preprocessing = { height: 2, width: 2, channels: 1, resize: 'stretch' };
    const batch = await loadAll(s, [0, 1], gray);
    assert.deepEqual(batch.shape, [2, 1, 2, 2]);
    assert.deepEqual(Array.from(batch.masks!), [0, 0, 0, 0, 1, 0, 0, 0], 'good is all zeros; 4x4 mask block -> top-left pixel');
  });

  it('explains the naming convention when a mask is missing, and names the root', async () => {
    rmSync(join(root, 'ground_truth', 'scratch', '001_mask.png'));
    try {
      await assert.rejects(
        mvtecSource(root, 'test'),
        (e: Error) => e.message.includes(root) && e.message.includes('test/scratch/001.png') && e.message.includes('ground_truth/scratch/001_mask.png') && /paired by file stem/.test(e.message),
      );
      assert.equal((await mvtecSource(root, 'train')).items.length, 2, 'train does not need masks');
    } finally {
      await writeImage(join(root, 'ground_truth', 'scratch', '001_mask.png'), mask(true), 4, 4, 1);
    }
  });

  it('reads a category without ground_truth/ as image-level labels (as anomalib Folder)', async () => {
    const bare = join(dir, 'nomasks');
    await writeSolid(join(bare, 'train', 'good', '000.png'), 4, 4, [100, 100, 100]);
    await writeSolid(join(bare, 'test', 'good', '000.png'), 4, 4, [100, 100, 100]);
    await writeSolid(join(bare, 'test', 'dent', '000.png'), 4, 4, [200, 50, 50]);
    const s = await mvtecSource(bare, 'test');
    assert.deepEqual(s.items.map((i) => [i.id.slice(bare.length + 1), i.label, i.className, i.maskPath]), [
      ['test/good/000.png', 0, 'good', undefined],
      ['test/dent/000.png', 1, 'dent', undefined],
    ]);
    const batch = await loadAll(s, [0, 1], { height: 2, width: 2, channels: 1, resize: 'stretch' });
    assert.equal(batch.masks, undefined, 'no masks: an anomalous image without one leaves the batch unmasked');
  });

  it('names the root when the layout is wrong', async () => {
    const notMvtec = join(dir, 'plain');
    await assert.rejects(mvtecSource(notMvtec, 'train'), (e: Error) => e.message.includes(notMvtec) && /train\/good is missing/.test(e.message));
    const emptyCat = join(dir, 'emptycat');
    mkdirSync(join(emptyCat, 'train', 'good'), { recursive: true });
    await assert.rejects(mvtecSource(emptyCat, 'train'), (e: Error) => e.message.includes(emptyCat) && /no images found/.test(e.message));
  });
});
