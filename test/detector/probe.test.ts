// One image-header probe for every format: gray BMPs train as 1 channel, like the same images as PNG.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { Detector, probeSource } from '../../src/detector.js';
import { folderSource } from '../../src/data/folder.js';
import { probeImage } from '../../src/data/preprocess.js';
import { tempDir } from '../fixtures.js';
import { SMALL } from './helpers.js';

/** An uncompressed bottom-up BMP: 8-bit with a gray palette (1 byte a pixel) or 24-bit BGR. */
function bmp(width: number, height: number, pixel: (x: number, y: number) => number, bits: 8 | 24): Buffer {
  const rowBytes = Math.ceil((width * bits) / 8 / 4) * 4;
  const palette = bits === 8 ? 256 * 4 : 0;
  const offset = 14 + 40 + palette;
  const buf = Buffer.alloc(offset + rowBytes * height);
  buf.write('BM', 0, 'latin1');
  buf.writeUInt32LE(buf.length, 2);
  buf.writeUInt32LE(offset, 10);
  buf.writeUInt32LE(40, 14);
  buf.writeInt32LE(width, 18);
  buf.writeInt32LE(height, 22);
  buf.writeUInt16LE(1, 26);
  buf.writeUInt16LE(bits, 28);
  buf.writeUInt32LE(rowBytes * height, 34);
  if (bits === 8) for (let i = 0; i < 256; i++) buf.writeUInt32LE(i * 0x010101, 54 + 4 * i);
  for (let y = 0; y < height; y++) {
    const row = offset + (height - 1 - y) * rowBytes;
    for (let x = 0; x < width; x++) {
      const v = pixel(x, y);
      if (bits === 8) buf[row + x] = v;
      else buf.fill(v, row + 3 * x, row + 3 * x + 3);
    }
  }
  return buf;
}

const pattern = (i: number) => (x: number, y: number) => Math.round(127 + 120 * Math.sin((x + y + i) / 3));

async function writeFolders(root: string, n: number): Promise<{ bmp8: string; bmp24: string; png: string }> {
  const dirs = { bmp8: join(root, 'bmp8'), bmp24: join(root, 'bmp24'), png: join(root, 'png') };
  for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
  for (let i = 0; i < n; i++) {
    const p = pattern(i);
    writeFileSync(join(dirs.bmp8, `${i}.bmp`), bmp(16, 16, p, 8));
    writeFileSync(join(dirs.bmp24, `${i}.bmp`), bmp(16, 16, p, 24));
    const gray = Buffer.alloc(256);
    for (let y = 0; y < 16; y++) for (let x = 0; x < 16; x++) gray[y * 16 + x] = p(x, y);
    await sharp(gray, { raw: { width: 16, height: 16, channels: 1 } }).toColourspace('b-w').png().toFile(join(dirs.png, `${i}.png`));
  }
  return dirs;
}

test('the probe reads BMP and PNG headers alike: gray is 1 channel, colour 3', async () => {
  const root = tempDir();
  const dirs = await writeFolders(root, 3);
  assert.deepEqual(await probeImage(join(dirs.bmp8, '0.bmp')), { width: 16, height: 16, channels: 1 });
  assert.deepEqual(await probeImage(join(dirs.png, '0.png')), { width: 16, height: 16, channels: 1 });
  assert.equal((await probeImage(join(dirs.bmp24, '0.bmp'))).channels, 3);
  assert.deepEqual(await probeSource(await folderSource(dirs.bmp8)), { width: 16, height: 16, channels: 1 });
  assert.deepEqual(await probeSource(await folderSource(dirs.png)), { width: 16, height: 16, channels: 1 });
  assert.equal((await probeSource(await folderSource(dirs.bmp24)))!.channels, 3);
  rmSync(root, { recursive: true, force: true });
});

test('a folder of 8-bit gray BMPs trains as 1 channel, as the same images as PNG, with the same scores', async () => {
  const root = tempDir();
  const dirs = await writeFolders(root, 24);
  const fromBmp = await Detector.fit(dirs.bmp8, { ...SMALL, epochs: 1 });
  const fromPng = await Detector.fit(dirs.png, { ...SMALL, epochs: 1 });
  assert.equal(fromBmp.preprocessing.channels, 1);
  assert.equal(fromPng.preprocessing.channels, 1);
  const a = (await fromBmp.score(dirs.bmp8)).map((r) => r.scores);
  const b = (await fromPng.score(dirs.png)).map((r) => r.scores);
  assert.deepEqual(a, b, 'the same pixels give the same model and scores');
  fromBmp.dispose();
  fromPng.dispose();
  rmSync(root, { recursive: true, force: true });
});
