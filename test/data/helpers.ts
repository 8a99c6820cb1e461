/** Fixture builders shared by the data tests: temp folders, images written with sharp, hand-made BMPs. */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import assert from 'node:assert/strict';
import sharp from 'sharp';

/** A fresh temp dir, removed by the returned cleanup. */
export function tempDir(prefix = 'vigil-data-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function writeFile(path: string, data: Uint8Array | string): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, data);
  return path;
}

/** Encodes interleaved uint8 pixels with sharp in the format implied by `path`'s extension. */
export async function writeImage(
  path: string,
  pixels: Uint8Array | number[],
  width: number,
  height: number,
  channels: 1 | 2 | 3 | 4,
): Promise<string> {
  mkdirSync(dirname(path), { recursive: true });
  const img = sharp(Buffer.from(pixels), { raw: { width, height, channels } });
  const ext = path.slice(path.lastIndexOf('.') + 1).toLowerCase();
  const enc =
    ext === 'png' ? img.png() :
    ext === 'jpg' || ext === 'jpeg' ? img.jpeg({ quality: 100, chromaSubsampling: '4:4:4' }) :
    ext === 'tif' || ext === 'tiff' ? img.tiff({ compression: 'none' }) :
    ext === 'webp' ? img.webp({ lossless: true }) :
    undefined;
  if (!enc) throw new Error(`writeImage: unsupported extension ${ext}`);
  await enc.toFile(path);
  return path;
}

/** A solid-colour image file. */
export async function writeSolid(path: string, width: number, height: number, rgb: [number, number, number]): Promise<string> {
  const px = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) px.set(rgb, 3 * i);
  return writeImage(path, px, width, height, 3);
}

export interface BmpSpec {
  width: number;
  height: number;
  /** 8 = palette (give `palette` and `indices`), 24 = BGR, 32 = BGRX or BGRA (with `alpha`). */
  bpp: 8 | 24 | 32;
  /** RGB (24/32) or RGBA (32 with alpha) pixels, top row first. */
  pixels?: number[];
  palette?: Array<[number, number, number]>;
  indices?: number[];
  topDown?: boolean;
  /** 32-bit only: write a V4 header with BI_BITFIELDS and an alpha mask. */
  alpha?: boolean;
}

/** Encodes a BMP by hand (sharp cannot write BMP): INFO or V4 header, rows padded to 4 bytes. */
export function encodeBmp(spec: BmpSpec): Uint8Array {
  const { width, height, bpp } = spec;
  const v4 = bpp === 32 && spec.alpha === true;
  const dibSize = v4 ? 108 : 40;
  const paletteSize = bpp === 8 ? (spec.palette ?? []).length * 4 : 0;
  const stride = Math.floor((bpp * width + 31) / 32) * 4;
  const dataOffset = 14 + dibSize + paletteSize;
  const buf = new Uint8Array(dataOffset + stride * height);
  const dv = new DataView(buf.buffer);
  buf[0] = 0x42;
  buf[1] = 0x4d;
  dv.setUint32(2, buf.length, true);
  dv.setUint32(10, dataOffset, true);
  dv.setUint32(14, dibSize, true);
  dv.setInt32(18, width, true);
  dv.setInt32(22, spec.topDown ? -height : height, true);
  dv.setUint16(26, 1, true);
  dv.setUint16(28, bpp, true);
  dv.setUint32(30, v4 ? 3 : 0, true);
  dv.setUint32(34, stride * height, true);
  dv.setUint32(46, bpp === 8 ? (spec.palette ?? []).length : 0, true);
  if (v4) {
    dv.setUint32(54, 0x00ff0000, true);
    dv.setUint32(58, 0x0000ff00, true);
    dv.setUint32(62, 0x000000ff, true);
    dv.setUint32(66, 0xff000000, true);
  }
  (spec.palette ?? []).forEach(([r, g, b], i) => {
    const o = 14 + dibSize + 4 * i;
    buf[o] = b;
    buf[o + 1] = g;
    buf[o + 2] = r;
  });
  const per = bpp === 32 ? (spec.alpha ? 4 : 3) : 3;
  for (let y = 0; y < height; y++) {
    const fileRow = spec.topDown ? y : height - 1 - y;
    const o = dataOffset + fileRow * stride;
    for (let x = 0; x < width; x++) {
      if (bpp === 8) {
        buf[o + x] = spec.indices![y * width + x]!;
        continue;
      }
      const p = spec.pixels!.slice((y * width + x) * per, (y * width + x + 1) * per);
      const bytes = bpp / 8;
      buf[o + x * bytes] = p[2]!;
      buf[o + x * bytes + 1] = p[1]!;
      buf[o + x * bytes + 2] = p[0]!;
      if (bpp === 32) buf[o + x * bytes + 3] = spec.alpha ? p[3]! : 0;
    }
    // Padding bytes get garbage so a decoder that reads them shows up in the pixels.
    for (let k = o + Math.ceil((bpp * width) / 8); k < o + stride; k++) buf[k] = 0xee;
  }
  return buf;
}

/** Asserts every element of `actual` is within `tol` of `expected`. */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-6, what = 'values'): void {
  assert.equal(actual.length, expected.length, `${what}: length ${actual.length} != ${expected.length}`);
  for (let i = 0; i < actual.length; i++) {
    if (!(Math.abs(actual[i]! - expected[i]!) <= tol)) {
      assert.fail(`${what}[${i}] = ${actual[i]}, expected ${expected[i]} (tolerance ${tol})\nactual:   ${Array.from(actual).map((v) => +v.toFixed(4)).join(',')}\nexpected: ${Array.from(expected).map((v) => +v.toFixed(4)).join(',')}`);
    }
  }
}

/** Builds an IDX file image in memory. */
export function encodeIdx(magicType: number, dims: number[], data: Uint8Array): Uint8Array {
  const header = new Uint8Array(4 + 4 * dims.length);
  const dv = new DataView(header.buffer);
  header[2] = magicType;
  header[3] = dims.length;
  dims.forEach((d, i) => dv.setUint32(4 + 4 * i, d, false));
  const out = new Uint8Array(header.length + data.length);
  out.set(header);
  out.set(data, header.length);
  return out;
}

/** Values scaled to [0, 1] from bytes. */
export function u8(values: number[]): number[] {
  return values.map((v) => v / 255);
}
