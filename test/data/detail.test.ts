import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { lostDetail, sourceLostDetail } from '../../src/data/detail.js';
import type { RawImage } from '../../src/data/resample.js';
import type { ImageSource } from '../../src/data/types.js';

function image(side: number, value: (x: number, y: number) => number, channels = 1): RawImage {
  const data = new Uint8Array(side * side * channels);
  for (let y = 0; y < side; y++) for (let x = 0; x < side; x++) for (let c = 0; c < channels; c++) data[(y * side + x) * channels + c] = value(x, y);
  return { data, width: side, height: side, channels };
}

describe('lostDetail: the share of an image that a smaller input loses', () => {
  it('is 0 for a flat image and for an image already at most the size', () => {
    assert.equal(lostDetail(image(64, () => 128), 32), 0);
    assert.equal(lostDetail(image(32, (x) => x * 8), 32), 0);
    assert.equal(lostDetail(image(32, (x) => x * 8), 64), 0);
  });

  it('is near 0 for a smooth gradient and near 1 for a one-pixel checkerboard', () => {
    const smooth = lostDetail(image(128, (x, y) => x + y), 64);
    assert.ok(smooth < 0.005, `gradient ${smooth}`);
    const fine = lostDetail(image(128, (x, y) => ((x + y) % 2 ? 0 : 255)), 64);
    assert.ok(fine > 0.95, `checkerboard ${fine}`);
  });

  it('grows as the input shrinks, and reads every channel', () => {
    const texture = (x: number, y: number) => Math.round(127 + 60 * Math.sin(x / 2) + 60 * Math.cos(y / 3));
    const at = [96, 64, 32].map((s) => lostDetail(image(128, texture), s));
    assert.ok(at[0]! < at[1]! && at[1]! < at[2]!, `${at}`);
    const rgb = lostDetail(image(128, texture, 3), 64);
    assert.ok(Math.abs(rgb - at[1]!) < 1e-6, `3 equal channels ${rgb} vs gray ${at[1]}`);
  });
});

describe('sourceLostDetail', () => {
  const fine = image(64, (x, y) => ((x + y) % 2 ? 0 : 255));
  const asTensor = (img: RawImage) => Float32Array.from(img.data, (v) => v / 255);
  const source = (loads: (() => Float32Array)[]): ImageSource => ({
    items: loads.map((_, i) => ({ id: `img${i}.png` })),
    load: async (i: number) => loads[i]!(),
  } as unknown as ImageSource);

  it('averages the first images asked for, skips unreadable ones, and is undefined with none readable', async () => {
    const flat = image(64, () => 9);
    const broken = () => { throw new Error('corrupt'); };
    const s = source([broken, () => asTensor(fine), () => asTensor(flat), () => asTensor(fine)]);
    const two = await sourceLostDetail(s, [0, 1, 2, 3], { height: 64, width: 64 }, 32, 2);
    assert.ok(two !== undefined && Math.abs(two - lostDetail(fine, 32) / 2) < 1e-6, `the fine and the flat image: ${two}`);
    assert.equal(await sourceLostDetail(source([broken]), [0], { height: 64, width: 64 }, 32), undefined);
  });
});
