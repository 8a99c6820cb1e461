/** The decoders refuse what they cannot decode right: malformed BMP bit fields, and images over the pixel budget (before decoding). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, renameSync } from 'node:fs';
import { deflateSync } from 'node:zlib';
import { join } from 'node:path';
import { decodeBmp } from '../../src/data/bmp.js';
import { CorruptImageError } from '../../src/data/errors.js';
import { decodeImage, probeImage, setMaxPixels, getMaxPixels, DEFAULT_MAX_PIXELS } from '../../src/data/preprocess.js';
import { fileSource, folderSource } from '../../src/data/folder.js';
import { batches } from '../../src/data/loader.js';
import { tempDir, writeBytes, digitFolder } from './helpers.js';

/** A BMP with a 56-byte (V3) header: bpp, compression and the four masks given; every pixel (50, 100, 200) where the layout allows. */
function bmp(o: { bpp: 16 | 24 | 32; compression: number; masks: [number, number, number, number]; width?: number; height?: number; dataOffset?: number }): Buffer {
  const w = o.width ?? 8, h = o.height ?? 8;
  const stride = Math.floor((o.bpp * w + 31) / 32) * 4;
  const header = 14 + 56;
  const b = Buffer.alloc(header + stride * h);
  b.write('BM', 0);
  b.writeUInt32LE(b.length, 2);
  b.writeUInt32LE(o.dataOffset ?? header, 10);
  b.writeUInt32LE(56, 14);
  b.writeInt32LE(w, 18);
  b.writeInt32LE(h, 22);
  b.writeUInt16LE(1, 26);
  b.writeUInt16LE(o.bpp, 28);
  b.writeUInt32LE(o.compression, 30);
  o.masks.forEach((m, k) => b.writeUInt32LE(m >>> 0, 54 + 4 * k));
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const p = header + y * stride + (o.bpp / 8) * x;
    if (o.bpp === 24) { b[p] = 200; b[p + 1] = 100; b[p + 2] = 50; }
    if (o.bpp === 32) b.writeUInt32LE(((0xff << 24) | (50 << 16) | (100 << 8) | 200) >>> 0, p);
  }
  return b;
}

test('BMP bit fields it cannot decode exactly are refused with the reason; the file is named when read from disk', async () => {
  const alpha24 = bmp({ bpp: 24, compression: 3, masks: [0xff0000, 0xff00, 0xff, 0xff000000] });
  assert.throws(() => decodeBmp(alpha24), /BI_BITFIELDS compression with 24 bits per pixel \(bit fields apply to 16- and 32-bit images only\)/);
  assert.throws(() => decodeBmp(bmp({ bpp: 32, compression: 3, masks: [0xf0f000, 0xff00, 0xff, 0] })), /red mask 0xf0f000 is not one run of bits/);
  assert.throws(() => decodeBmp(bmp({ bpp: 32, compression: 3, masks: [0xff0000, 0xffff00, 0xff, 0] })), /green mask 0xffff00 overlaps another channel's/);
  assert.throws(() => decodeBmp(bmp({ bpp: 16, compression: 3, masks: [0x7c0000, 0x3e0, 0x1f, 0] })), /red mask 0x7c0000 has bits beyond the 16-bit pixel/);
  assert.throws(() => decodeBmp(bmp({ bpp: 32, compression: 3, masks: [0xff0000, 0xff00, 0xff, 0], dataOffset: 40 })), /pixel data offset 40 lies inside the 70-byte header/);
  // a well-formed 32-bit BI_BITFIELDS with alpha still decodes, to the right pixels
  const ok = decodeBmp(bmp({ bpp: 32, compression: 3, masks: [0xff0000, 0xff00, 0xff, 0xff000000] }));
  assert.equal(ok.channels, 4);
  assert.deepEqual([...ok.data.subarray(0, 4)], [50, 100, 200, 255]);

  const { dir } = { dir: tempDir() };
  const path = writeBytes(join(dir, 'bf24.bmp'), alpha24);
  await assert.rejects(decodeImage(path, 3), (e: unknown) => e instanceof CorruptImageError && e.path === path && /24 bits per pixel/.test(e.reason));
  // in a folder: skipped with a warning naming it, the good image kept
  await digitFolder(dir, 1);
  const warnings: string[] = [];
  const src = await folderSource(dir, { validate: true, onWarning: (m) => warnings.push(m) });
  assert.equal(src.items.length, 1);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, new RegExp(`skipping ${path}: invalid BMP: BI_BITFIELDS compression with 24 bits`));
});

/** A PNG whose header says width x height; its pixel data is a few bytes (decoding would fail, but the header is read first). */
function pngHeader(width: number, height: number): Buffer {
  const table = Array.from({ length: 256 }, (_, n) => { let c = n; for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; return c >>> 0; });
  const crc = (b: Buffer) => { let c = 0xffffffff; for (const x of b) c = table[(c ^ x) & 0xff]! ^ (c >>> 8); return (c ^ 0xffffffff) >>> 0; };
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
    const c = Buffer.alloc(4); c.writeUInt32BE(crc(body));
    return Buffer.concat([len, body, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0); ihdr.writeUInt32BE(height, 4); ihdr[8] = 8; ihdr[9] = 2;
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.alloc(64))), chunk('IEND', Buffer.alloc(0))]);
}

test('an image over the pixel budget is refused from its header, naming the file, in the probe and in the decoder', async () => {
  assert.equal(getMaxPixels(), DEFAULT_MAX_PIXELS);
  assert.ok(DEFAULT_MAX_PIXELS <= 50e6);
  const dir = tempDir();
  const huge = writeBytes(join(dir, 'huge.png'), pngHeader(16000, 16000));
  const over = /16000x16000 pixels \(256\.0 Mpx\) is over the pixel budget of 50\.0 Mpx; raise it with maxPixels \(vigil --max-pixels\)/;
  await assert.rejects(probeImage(huge), (e: unknown) => e instanceof CorruptImageError && e.path === huge && over.test(e.reason));
  await assert.rejects(decodeImage(huge, 3), (e: unknown) => e instanceof CorruptImageError && e.path === huge && over.test(e.reason));
  // scoring a folder (lazy): skipped with a warning, the others read
  await digitFolder(dir, 3);
  const warnings: string[] = [];
  const src = await folderSource(dir, { onWarning: (m) => warnings.push(m) });
  let n = 0;
  for await (const b of batches(src, { preprocessing: { height: 28, width: 28, channels: 1, resize: 'stretch' }, batchSize: 8, onWarning: (m) => warnings.push(m) })) n += b.items.length;
  assert.equal(n, 3);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, new RegExp(`skipping ${huge}: 16000x16000 pixels`));
  // per source, and for the process
  const small = await folderSource(dir, { validate: true, maxPixels: 784, onWarning: () => {} });
  assert.equal(small.items.length, 3, 'the 28x28 digits are within a budget of 784 px');
  assert.deepEqual(small.skipped.map((s) => s.path), [huge]);
  await assert.rejects(folderSource(dir, { validate: true, maxPixels: 783, onWarning: () => {} }), /all 4 files are unreadable/);
  const before = setMaxPixels(700);
  try {
    await assert.rejects(decodeImage(src.items[0]!.id, 1), /28x28 pixels \(784 px\) is over the pixel budget of 700 px/);
  } finally {
    setMaxPixels(before);
  }
  assert.throws(() => setMaxPixels(0), /maxPixels must be a positive integer, got 0/);
});

test('a file named explicitly with an extension folders skip is read, with a warning saying so', async () => {
  const dir = tempDir();
  await digitFolder(dir, 1);
  const real = join(dir, readdirSync(dir)[0]!);
  const gif = join(dir, 'digit.gif');
  renameSync(real, gif);
  const warnings: string[] = [];
  const src = await fileSource('', [{ id: gif }], { validate: true, onWarning: (m) => warnings.push(m) });
  assert.equal(src.items.length, 1);
  assert.match(warnings.join('\n'), new RegExp(`${gif}: not \\.png, .*\\.webp; folders skip such files, this is read as named`));
  assert.deepEqual(await folderSource(dir).catch((e: Error) => e.message), `no images found in ${dir} (looked for .png, .jpg, .jpeg, .bmp, .tif, .tiff, .webp, recursively)`);
});

test('vigil --max-pixels sets the budget from the command line: 28x28 digits over 0.0007 MP are refused, 0 is a usage error', async () => {
  const { vigil, TINY_ARGS } = await import('./helpers.js');
  const dir = tempDir();
  await digitFolder(dir, 3);
  const r = vigil(['train', dir, ...TINY_ARGS, '--max-pixels', '0.0007', '--out', join(tempDir(), 'never')]);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /over the pixel budget of 700 px/);
  const bad = vigil(['train', dir, ...TINY_ARGS, '--max-pixels', '0', '--out', join(tempDir(), 'never')]);
  assert.equal(bad.status, 2, bad.stderr);
  assert.match(bad.stderr, /--max-pixels/);
});
