/** Error maps as PNG heatmaps: black (no error) through red and yellow to white (largest error). */
import { mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import sharp from 'sharp';
import type { Preprocessing } from '../data/types.js';
import type { ImageScore } from '../detector.js';

/** The "hot" colour map on [0, 1]. */
export function hot(v: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, v));
  return [Math.min(1, x * 3), Math.min(1, Math.max(0, x * 3 - 1)), Math.min(1, Math.max(0, x * 3 - 2))].map((c) => Math.round(c * 255)) as [number, number, number];
}

/** Writes one PNG per result with a map; maps share one scale (the largest error) so they compare. */
export async function writeHeatmaps(dir: string, results: ImageScore[], pre: Preprocessing): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  let max = 1e-12;
  for (const r of results) if (r.map) for (const v of r.map) if (v > max) max = v;
  const written: string[] = [];
  const used = new Set<string>();
  for (const r of results) {
    if (!r.map) continue;
    const rgb = Buffer.alloc(pre.height * pre.width * 3);
    r.map.forEach((v, i) => rgb.set(hot(v / max), i * 3));
    let name = basename(r.id).replace(/[^A-Za-z0-9._-]/g, '_').replace(/\.[A-Za-z]+$/, '');
    while (used.has(name)) name += '_';
    used.add(name);
    const path = join(dir, `${name}.heatmap.png`);
    // small maps are enlarged (nearest) so a person can see them
    const scale = Math.max(1, Math.ceil(128 / Math.max(pre.width, pre.height)));
    await sharp(rgb, { raw: { width: pre.width, height: pre.height, channels: 3 } })
      .resize(pre.width * scale, pre.height * scale, { kernel: 'nearest' }).png().toFile(path);
    written.push(path);
  }
  return written;
}
