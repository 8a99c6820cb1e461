/** Small image folders for end-to-end tests, made from built-in MNIST digits with sharp. */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { loadBuiltin } from '../src/data/builtin.js';
import type { DetectorOptions } from '../src/detector.js';

export function tempDir(prefix = 'vigil-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Writes `count` 28x28 PNGs of the given MNIST digit into dir; returns their paths. */
export async function writeDigits(dir: string, digit: number, count: number, offset = 0): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const data = loadBuiltin('mnist', 'train');
  const paths: string[] = [];
  for (let i = 0, found = 0; i < data.count && paths.length < count; i++) {
    if (data.labels[i] !== digit) continue;
    if (found++ < offset) continue;
    const p = join(dir, `d${digit}_${i}.png`);
    await sharp(Buffer.from(data.images.subarray(i * 784, (i + 1) * 784)), { raw: { width: 28, height: 28, channels: 1 } }).png().toFile(p);
    paths.push(p);
  }
  return paths;
}

/** A class-folder layout: normal/ with digit 1, odd/ with digit 7. */
export async function writeClassFolders(root: string, normal = 60, odd = 20): Promise<void> {
  await writeDigits(join(root, 'normal'), 1, normal);
  await writeDigits(join(root, 'odd'), 7, odd);
}

export function writeCorrupt(path: string): void {
  writeFileSync(path, Buffer.from('this is not a PNG at all'));
}

/** Tiny, fast model settings for tests. */
export const TINY: DetectorOptions = { size: 28, epochs: 15, lr: 5e-3, batchSize: 16, architecture: { filters: [8, 16], latent: 8 }, device: 'cpu', seed: 1 };
