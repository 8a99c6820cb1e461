/**
 * Fuzz: 300 mutated PNG, JPEG and BMP files (seeded byte flips, truncations, scrambled headers,
 * repeated slices) scored by the CLI. Nothing crashes; every file is either scored or skipped
 * with a warning naming it, never both, never neither.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { Detector } from '../../src/detector.js';
import { oneClassSource } from '../../src/data/builtin.js';
import { createRng, type Rng } from '../../src/data/random.js';
import { encodeBmp } from '../data/helpers.js';
import { TINY } from '../fixtures.js';
import { tempDir, vigil, writeBytes } from './helpers.js';

function mutate(base: Uint8Array, rng: Rng): Uint8Array {
  const b = Uint8Array.from(base);
  const pick = (n: number) => Math.floor(rng() * n);
  switch (pick(4)) {
    case 0: { // flip a few bits anywhere
      for (let k = 1 + pick(8); k > 0; k--) b[pick(b.length)] ^= 1 << pick(8);
      return b;
    }
    case 1: // truncate
      return b.subarray(0, pick(b.length));
    case 2: { // scramble part of the header
      const start = pick(Math.min(64, b.length));
      for (let i = start; i < Math.min(b.length, start + 1 + pick(12)); i++) b[i] = pick(256);
      return b;
    }
    default: { // insert a copy of a slice somewhere else
      const from = pick(b.length), to = pick(b.length);
      return Buffer.concat([b.subarray(0, to), b.subarray(from, from + 1 + pick(64)), b.subarray(to)]);
    }
  }
}

test('300 mutated PNG/JPEG/BMP files: no crash, each scored or skipped with a warning naming it', async () => {
  const root = tempDir();
  const w = 16, h = 16;
  const rgb = Buffer.alloc(w * h * 3);
  for (let i = 0; i < w * h; i++) rgb.set([(i * 7) % 256, (i * 3) % 256, 255 - (i % 256)], 3 * i);
  const raw = { raw: { width: w, height: h, channels: 3 as const } };
  const bases: Record<string, Uint8Array> = {
    png: await sharp(rgb, raw).png().toBuffer(),
    jpg: await sharp(rgb, raw).jpeg({ quality: 90 }).toBuffer(),
    bmp: encodeBmp({ width: w, height: h, bpp: 24, pixels: [...rgb] }),
  };
  const rng = createRng(20261201);
  const dir = join(root, 'fuzz');
  for (let i = 0; i < 300; i++) {
    const ext = (['png', 'jpg', 'bmp'] as const)[i % 3]!;
    writeBytes(join(dir, `f${String(i).padStart(3, '0')}.${ext}`), mutate(bases[ext]!, rng));
  }
  const det = await Detector.fit(oneClassSource('mnist', 'train', 1, { limit: 40 }), { ...TINY, size: 16, channels: 3, epochs: 1 });
  const model = join(root, 'm');
  det.save(model);
  det.dispose();

  const r = vigil(['score', model, dir, '--device', 'cpu']);
  assert.equal(r.status, 0, r.stderr.slice(-2000));
  assert.doesNotMatch(r.stderr, /TypeError|RangeError|at .*\.js:\d+/);
  const scored = new Set<string>(JSON.parse(r.stdout).results.map((x: { id: string }) => x.id));
  const skipped = new Map<string, number>();
  for (const m of r.stderr.matchAll(/skipping (\S+): (.+)/g)) skipped.set(m[1]!, (skipped.get(m[1]!) ?? 0) + 1);
  const files = readdirSync(dir).map((n) => join(dir, n));
  for (const f of files) {
    const n = skipped.get(f) ?? 0;
    assert.ok(scored.has(f) !== (n === 1), `${f}: scored ${scored.has(f)}, warned ${n} times`);
  }
  assert.equal(scored.size + skipped.size, 300);
  assert.ok(scored.size > 30 && skipped.size > 30, `both outcomes occur: ${scored.size} scored, ${skipped.size} skipped`);
});
