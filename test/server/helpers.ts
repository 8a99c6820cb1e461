/** Shared by the server tests: a tiny model trained on generated images, and test images. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { crc32, deflateSync } from 'node:zlib';
import { join } from 'node:path';
import sharp from 'sharp';
import { Detector } from '../../src/detector.js';
import { ModelRegistry } from '../../src/server/models.js';
import { createApp, type ServiceOptions } from '../../src/server/app.js';
import { tempDir } from '../fixtures.js';

/** Deterministic pseudo-random numbers in [0, 1). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

/** A normal image: a soft horizontal gradient with a little noise, 32x32 gray PNG. */
export async function normalPng(seed = 0, size = 32): Promise<Buffer> {
  const r = rng(seed + 1);
  const px = Buffer.alloc(size * size);
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) px[y * size + x] = Math.round(60 + 80 * (x / size) + 12 * r());
  return sharp(px, { raw: { width: size, height: size, channels: 1 } }).png().toBuffer();
}

/** An anomalous image: a high-contrast checkerboard. */
export async function anomalousPng(size = 32): Promise<Buffer> {
  const px = Buffer.alloc(size * size);
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) px[y * size + x] = ((x >> 2) + (y >> 2)) % 2 ? 255 : 0;
  return sharp(px, { raw: { width: size, height: size, channels: 1 } }).png().toBuffer();
}

/** A folder of `n` normal images. */
export async function writeNormals(dir: string, n = 40): Promise<string> {
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < n; i++) writeFileSync(join(dir, `n${String(i).padStart(3, '0')}.png`), await normalPng(i));
  return dir;
}

/** Trains and saves a tiny model (16 px, gray, a few epochs); returns its folder. */
export async function tinyModel(root = tempDir('vigil-serve-'), name = 'tiny', epochs = 3): Promise<string> {
  const data = await writeNormals(join(root, 'normal'));
  const det = await Detector.fit(data, {
    size: 16, channels: 1, epochs, batchSize: 8, lr: 5e-3, architecture: { filters: [8, 16], latent: 8 }, device: 'cpu', seed: 1,
  });
  const dir = join(root, name);
  det.save(dir);
  det.dispose();
  return dir;
}

/** A service on `dir` (not listening), its models loaded. */
export async function testApp(dir: string, o: Partial<ServiceOptions> = {}) {
  const models = o.models ?? new ModelRegistry([{ name: 'tiny', dir }], { device: 'cpu' });
  const app = await createApp({ processMetrics: false, ...o, models });
  await models.loadAll();
  return { app, models };
}

/** A multipart/form-data body of image files. */
export function multipart(files: { name: string; bytes: Buffer; type?: string }[], field = 'images'): { payload: Buffer; headers: Record<string, string> } {
  const boundary = `----vigil${Math.random().toString(16).slice(2)}`;
  const parts: Buffer[] = [];
  for (const f of files) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="${f.name}"\r\nContent-Type: ${f.type ?? 'image/png'}\r\n\r\n`));
    parts.push(f.bytes, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return { payload: Buffer.concat(parts), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}

/**
 * A decompression bomb: a valid PNG header declaring `side` x `side` pixels, followed by a few
 * bytes of compressed data. Decoding it would allocate side^2 pixels; its file is under 100 bytes.
 */
export function pngBomb(side = 50_000): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(td) >>> 0);
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(side, 0); ihdr.writeUInt32BE(side, 4);
  ihdr[8] = 8; ihdr[9] = 0; ihdr[10] = 0; ihdr[11] = 0; ihdr[12] = 0;
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.alloc(side + 1))), chunk('IEND', Buffer.alloc(0))]);
}
