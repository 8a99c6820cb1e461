import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import sharp from 'sharp';
import { decodeBmp } from '../../src/data/bmp.js';
import { CorruptImageError } from '../../src/data/errors.js';
import {
  checkPreprocessing,
  decodeImage,
  defaultPreprocessing,
  loadImageTensor,
  loadMaskTensor,
  probeImage,
  rawToTensor,
} from '../../src/data/preprocess.js';
import { sourceBox } from '../../src/data/resample.js';
import type { Preprocessing } from '../../src/data/types.js';
import { assertClose, encodeBmp, tempDir, u8, writeFile, writeImage } from './helpers.js';

const { dir, cleanup } = tempDir();
after(cleanup);

const gray = (height: number, width: number, resize: Preprocessing['resize'] = 'stretch'): Preprocessing => ({ height, width, channels: 1, resize });
const rgb = (height: number, width: number, resize: Preprocessing['resize'] = 'stretch'): Preprocessing => ({ height, width, channels: 3, resize });

// A 4 (wide) x 2 (high) gray image with known pixels.
const W4H2 = [0, 50, 100, 150, 200, 250, 10, 20];

describe('resize geometry', () => {
  const raw = { data: Uint8Array.from(W4H2), width: 4, height: 2, channels: 1 };

  it("'crop' keeps the centre at the output aspect ratio", () => {
    assert.deepEqual(sourceBox(4, 2, 2, 2, 'crop'), { x: 1, y: 0, width: 2, height: 2 });
    assert.deepEqual(sourceBox(4, 2, 2, 2, 'stretch'), { x: 0, y: 0, width: 4, height: 2 });
    // Scale 1 and an integer offset: the middle two columns, exactly.
    assertClose(rawToTensor(raw, gray(2, 2, 'crop')), u8([50, 100, 250, 10]));
  });

  it("'stretch' maps the whole image with the antialiased triangle filter", () => {
    // Halving the width: each output pixel weighs 3 inputs 0.75/0.75/0.25 (Pillow BILINEAR).
    const e = (a: number, b: number, c: number) => (0.75 * a + 0.75 * b + 0.25 * c) / 1.75;
    assertClose(rawToTensor(raw, gray(2, 2)), u8([e(0, 50, 100), e(150, 100, 50), e(200, 250, 10), e(20, 10, 250)]), 1e-6);
  });

  it('gives the requested dimensions in both modes', () => {
    for (const mode of ['stretch', 'crop'] as const) {
      assert.equal(rawToTensor(raw, gray(3, 5, mode)).length, 15);
      assert.equal(rawToTensor(raw, rgb(7, 3, mode)).length, 63);
    }
    // Crop upscaling 4x2 to 4x4 maps the centre 2x2 block; the first output centre falls at source
    // x = 1.25, three quarters of the way from column 0's centre (0.5) to column 1's (1.5): 0.25*c0 + 0.75*c1.
    const up = rawToTensor(raw, gray(4, 4, 'crop'));
    assertClose([up[0]!, up[3]!, up[12]!, up[15]!], u8([37.5, 112.5, 237.5, 12.5]), 1e-6);
    const s = rawToTensor(raw, gray(4, 4, 'stretch'));
    assertClose([s[0]!, s[3]!, s[12]!, s[15]!], u8([0, 150, 200, 20]), 1e-6);
  });

  it('keeps values in [0, 1] for strong down- and upscaling', () => {
    const noise = Uint8Array.from({ length: 37 * 23 * 3 }, (_, i) => (i * 7919) % 256);
    const big = { data: noise, width: 37, height: 23, channels: 3 };
    for (const pre of [rgb(5, 4), rgb(64, 90), rgb(9, 9, 'crop'), gray(50, 3, 'crop')]) {
      const t = rawToTensor(big, pre);
      assert.equal(t.length, pre.channels * pre.height * pre.width);
      for (const v of t) assert.ok(v >= 0 && v <= 1);
    }
  });
});

describe('decoding files', () => {
  // 3x2 RGB with distinct colours, including gray ones.
  const px = [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 10, 10, 128, 128, 128, 250, 250, 250];
  const planes = (p: number[]) => [0, 1, 2].flatMap((c) => [0, 1, 2, 3, 4, 5].map((i) => p[3 * i + c]! / 255));

  it('reads PNG, TIFF and lossless WebP exactly, JPEG closely, as RGB CHW', async () => {
    for (const ext of ['png', 'tif', 'webp', 'PNG']) {
      const path = await writeImage(join(dir, `rgb.${ext}`), px, 3, 2, 3);
      assertClose(await loadImageTensor(path, rgb(2, 3)), planes(px), 1e-6, ext);
    }
    const jpg = await writeImage(join(dir, 'rgb.jpg'), px, 3, 2, 3);
    assertClose(await loadImageTensor(jpg, rgb(2, 3)), planes(px), 0.08, 'jpeg');
  });

  it('converts to grayscale, keeping gray pixels exact', async () => {
    const path = await writeImage(join(dir, 'g.png'), px, 3, 2, 3);
    const g = await loadImageTensor(path, gray(2, 3));
    assert.equal(g.length, 6);
    assertClose(g.subarray(3), u8([10, 128, 250]), 1e-6);
    // Pure red/green/blue become distinct mid/low grays; green is brightest.
    assert.ok(g[1]! > g[0]! && g[0]! > g[2]! && g[2]! > 0);
    // A gray file asked for as RGB: three equal planes.
    const gpath = await writeImage(join(dir, 'gray.png'), [0, 60, 120, 180, 240, 255], 3, 2, 1);
    const t = await loadImageTensor(gpath, rgb(2, 3));
    const plane = u8([0, 60, 120, 180, 240, 255]);
    assertClose(t, [...plane, ...plane, ...plane]);
  });

  it('flattens alpha onto black', async () => {
    const path = await writeImage(join(dir, 'alpha.png'), [255, 255, 255, 255, 255, 0, 0, 128, 0, 0, 255, 0], 3, 1, 4);
    assertClose(await loadImageTensor(path, rgb(1, 3)), u8([255, 128, 0, 255, 0, 0, 255, 0, 0]), 1 / 255);
    const ga = await writeImage(join(dir, 'ga.png'), [200, 255, 200, 0], 2, 1, 2);
    assertClose(await loadImageTensor(ga, gray(1, 2)), u8([200, 0]), 1e-6);
  });

  it('reduces 16-bit PNGs to the same 8-bit values', async () => {
    const path = join(dir, 'deep.png');
    await sharp(Buffer.from(px), { raw: { width: 3, height: 2, channels: 3 } }).toColourspace('rgb16').png().toFile(path);
    assert.equal((await sharp(path).metadata()).depth, 'ushort');
    assertClose(await loadImageTensor(path, rgb(2, 3)), planes(px), 1 / 255 + 1e-6);
  });

  it('applies EXIF orientation', async () => {
    // 4x2, left half black, right half white, stored with orientation 6 (display rotated 90 deg clockwise).
    const path = join(dir, 'rotated.jpg');
    await sharp(Buffer.from([0, 0, 255, 255, 0, 0, 255, 255]), { raw: { width: 4, height: 2, channels: 1 } })
      .jpeg({ quality: 100 }).withMetadata({ orientation: 6 }).toFile(path);
    const t = await loadImageTensor(path, gray(4, 2));
    // Displayed 2 wide x 4 high: the black left half is now on top.
    assert.ok(t[0]! < 0.2 && t[1]! < 0.2 && t[6]! > 0.8 && t[7]! > 0.8, Array.from(t).join(','));
  });

  it('turns unreadable files into CorruptImageError naming the file', async () => {
    const good = await writeImage(join(dir, 'ok.png'), new Array(64 * 64 * 3).fill(0).map((_, i) => i % 251), 64, 64, 3);
    const bytes = (await import('node:fs')).readFileSync(good);
    const cases = [
      writeFile(join(dir, 'truncated.png'), bytes.subarray(0, bytes.length >> 1)),
      writeFile(join(dir, 'text.png'), 'not an image at all'),
      writeFile(join(dir, 'empty.jpg'), new Uint8Array(0)),
      join(dir, 'missing.png'),
    ];
    for (const path of cases) {
      await assert.rejects(loadImageTensor(path, rgb(8, 8)), (e: unknown) => e instanceof CorruptImageError && e.path === path && e.message.includes(path));
    }
    await assert.rejects(probeImage(cases[1]!), CorruptImageError);
    assert.deepEqual(await probeImage(good), { width: 64, height: 64, channels: 3 });
  });
});

describe('BMP decoder', () => {
  const px = [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30, 128, 128, 128, 250, 240, 230]; // 3x2, rows need padding at 24 bpp
  const planes = (p: number[]) => [0, 1, 2].flatMap((c) => [0, 1, 2, 3, 4, 5].map((i) => p[3 * i + c]! / 255));

  it('decodes 24-bit bottom-up and top-down rows with padding', async () => {
    for (const topDown of [false, true]) {
      const bmp = encodeBmp({ width: 3, height: 2, bpp: 24, pixels: px, topDown });
      assert.deepEqual(Array.from(decodeBmp(bmp).data), px);
      const path = writeFile(join(dir, `c24${topDown ? 'td' : ''}.BMP`), bmp);
      assertClose(await loadImageTensor(path, rgb(2, 3)), planes(px), 1e-6);
    }
  });

  it('decodes 32-bit BI_RGB (fourth byte ignored) and BI_BITFIELDS with alpha', async () => {
    const r = decodeBmp(encodeBmp({ width: 3, height: 2, bpp: 32, pixels: px }));
    assert.equal(r.channels, 3);
    assert.deepEqual(Array.from(r.data), px);
    const rgba = [255, 0, 0, 255, 0, 255, 0, 128, 0, 0, 255, 0, 10, 20, 30, 255, 128, 128, 128, 255, 250, 240, 230, 255];
    const a = decodeBmp(encodeBmp({ width: 3, height: 2, bpp: 32, pixels: rgba, alpha: true }));
    assert.equal(a.channels, 4);
    assert.deepEqual(Array.from(a.data), rgba);
    const path = writeFile(join(dir, 'a32.bmp'), encodeBmp({ width: 3, height: 2, bpp: 32, pixels: rgba, alpha: true }));
    const t = await loadImageTensor(path, rgb(2, 3));
    assertClose([t[0]!, t[6 + 1]!, t[2]!], [1, 128 / 255, 0], 1 / 255 + 1e-6);
  });

  it('decodes 8-bit palettes, gray palettes to one channel', async () => {
    const palette: Array<[number, number, number]> = [[0, 0, 0], [255, 0, 0], [0, 0, 255], [9, 99, 199]];
    const indices = [0, 1, 2, 3, 2, 1];
    const r = decodeBmp(encodeBmp({ width: 3, height: 2, bpp: 8, palette, indices }));
    assert.equal(r.channels, 3);
    assert.deepEqual(Array.from(r.data), indices.flatMap((i) => palette[i]!));
    const grays: Array<[number, number, number]> = Array.from({ length: 256 }, (_, i) => [i, i, i]);
    const gi = [0, 17, 34, 200, 255, 128];
    const g = decodeBmp(encodeBmp({ width: 3, height: 2, bpp: 8, palette: grays, indices: gi }));
    assert.equal(g.channels, 1);
    assert.deepEqual(Array.from(g.data), gi);
    const path = writeFile(join(dir, 'p8.bmp'), encodeBmp({ width: 3, height: 2, bpp: 8, palette: grays, indices: gi }));
    assertClose(await loadImageTensor(path, gray(2, 3)), u8(gi), 1e-6);
  });

  it('rejects truncated, RLE and non-BMP data with a reason', async () => {
    const bmp = encodeBmp({ width: 3, height: 2, bpp: 24, pixels: px });
    assert.throws(() => decodeBmp(bmp.subarray(0, bmp.length - 10)), /truncated BMP pixel data/);
    const rle = bmp.slice();
    new DataView(rle.buffer).setUint32(30, 1, true);
    assert.throws(() => decodeBmp(rle), /RLE/);
    const path = writeFile(join(dir, 'rle.bmp'), rle);
    await assert.rejects(loadImageTensor(path, rgb(2, 3)), (e: unknown) => e instanceof CorruptImageError && e.path === path && /RLE/.test(e.message));
  });
});

describe('masks and policy', () => {
  it('resizes masks with nearest neighbour and binarises at 0.5', async () => {
    // 4x4 mask: top-left 2x2 block white, one pixel at 100 (below half), one at 200 (above).
    const m = [255, 255, 0, 0, 255, 255, 0, 100, 0, 0, 0, 0, 0, 0, 200, 0];
    const path = await writeImage(join(dir, 'mask.png'), m, 4, 4, 1);
    assert.deepEqual(Array.from(await loadMaskTensor(path, gray(4, 4))), m.map((v) => (v > 127.5 ? 1 : 0)));
    assert.deepEqual(Array.from(await loadMaskTensor(path, rgb(2, 2))), [1, 0, 0, 0], 'one plane even for RGB models');
    const up = await loadMaskTensor(path, gray(8, 8));
    assert.ok(up.every((v) => v === 0 || v === 1));
    assert.equal(up.reduce((a, b) => a + b, 0), 16 + 4);
  });

  it('picks defaults from the native size', () => {
    assert.deepEqual(defaultPreprocessing({ height: 28, width: 28, channels: 1 }), gray(28, 28));
    assert.deepEqual(defaultPreprocessing({ height: 768, width: 1024, channels: 3 }), rgb(192, 256));
    assert.deepEqual(defaultPreprocessing(), rgb(256, 256));
    assert.deepEqual(defaultPreprocessing(undefined, { maxSide: 64 }), rgb(64, 64));
    assert.throws(() => checkPreprocessing({ height: 0, width: 3, channels: 1, resize: 'stretch' }), /height/);
    assert.throws(() => checkPreprocessing({ height: 3, width: 3, channels: 2 as 1, resize: 'stretch' }), /channels/);
  });

  it('decodes buffers and raw pixels too', async () => {
    const png = await sharp(Buffer.from([1, 2, 3, 4]), { raw: { width: 2, height: 2, channels: 1 } }).png().toBuffer();
    const raw = await decodeImage(png, 1);
    assert.deepEqual([raw.width, raw.height, raw.channels, ...raw.data], [2, 2, 1, 1, 2, 3, 4]);
    const three = await decodeImage({ data: Uint8Array.from([1, 2, 3, 4]), width: 2, height: 2, channels: 1 }, 3);
    assert.equal(three.channels, 3);
    await assert.rejects(decodeImage(Uint8Array.from([1, 2, 3]), 1, 'item-7'), (e: unknown) => e instanceof CorruptImageError && e.path === 'item-7');
  });
});
