/** Fixtures and checks shared by the report tests. */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { parse, type HTMLElement } from 'node-html-parser';
import assert from 'node:assert/strict';
import { SECTIONS } from '../../src/report/index.js';
import type { DetectorOptions } from '../../src/detector.js';

/** Tiny report-test settings: 16 px, 2 epochs. */
export const SMALL: DetectorOptions = { size: 16, epochs: 2, lr: 5e-3, batchSize: 16, architecture: { filters: [8, 16], latent: 8 }, device: 'cpu', seed: 1 };
export const SMALL_ARGS = ['--size', '16', '--epochs', '2', '--lr', '5e-3', '--batch-size', '16', '--filters', '8,16', '--latent', '8', '--device', 'cpu', '--quiet'];

/** A smooth 20x20 RGB texture; `defect` paints a bright square and returns its mask. */
async function texture(path: string, seed: number, defect?: { x: number; y: number; s: number }, maskPath?: string): Promise<void> {
  const w = 20, h = 20;
  const px = Buffer.alloc(w * h * 3);
  const mask = Buffer.alloc(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = 90 + 40 * Math.sin((x + seed) / 3) + 30 * Math.cos((y * 2 + seed) / 5) + ((x * 7 + y * 13 + seed * 31) % 9);
      const inside = defect && x >= defect.x && x < defect.x + defect.s && y >= defect.y && y < defect.y + defect.s;
      px.set(inside ? [250, 240, 40] : [v, v * 0.8, v * 0.6], (y * w + x) * 3);
      if (inside) mask[y * w + x] = 255;
    }
  }
  await sharp(px, { raw: { width: w, height: h, channels: 3 } }).png().toFile(path);
  if (maskPath) await sharp(mask, { raw: { width: w, height: h, channels: 1 } }).png().toFile(maskPath);
}

/** An MVTec AD category: train/good, test/good, test/spot with ground_truth/spot/*_mask.png. */
export async function writeMvtec(root: string, o: { train?: number; good?: number; defects?: number } = {}): Promise<void> {
  for (const d of ['train/good', 'test/good', 'test/spot', 'ground_truth/spot']) mkdirSync(join(root, d), { recursive: true });
  for (let i = 0; i < (o.train ?? 40); i++) await texture(join(root, 'train/good', `${String(i).padStart(3, '0')}.png`), i);
  for (let i = 0; i < (o.good ?? 8); i++) await texture(join(root, 'test/good', `${String(i).padStart(3, '0')}.png`), 100 + i);
  for (let i = 0; i < (o.defects ?? 8); i++) {
    const name = String(i).padStart(3, '0');
    await texture(join(root, 'test/spot', `${name}.png`), 200 + i, { x: 2 + (i % 4) * 3, y: 3 + (i % 3) * 3, s: 6 }, join(root, 'ground_truth/spot', `${name}_mask.png`));
  }
}

/**
 * Parses a report and checks its structure: every section, the named charts each with an <svg>,
 * and no http:/https: anywhere. The renderer drops SVG's xmlns attributes (namespace names, not
 * requests, and unneeded in HTML), so nothing is exempt: the fixtures' paths carry no URL either.
 */
export function checkReport(html: string, charts: string[]): HTMLElement {
  const root = parse(html);
  assert.match(html, /^<!DOCTYPE html>/);
  for (const id of SECTIONS) assert.ok(root.querySelector(`section#${id}`), `section #${id}`);
  const found = root.querySelectorAll('figure.chart').map((f) => f.getAttribute('data-chart'));
  for (const c of charts) {
    const fig = root.querySelector(`figure.chart[data-chart="${c}"]`);
    assert.ok(fig, `chart ${c} (found: ${found.join(', ')})`);
    assert.ok(fig.querySelector('svg'), `chart ${c} has an svg`);
    assert.ok(fig.querySelectorAll('path, line, rect').length > 0, `chart ${c} has marks`);
  }
  assert.doesNotMatch(html, /https?:/i, 'no http: or https: reference');
  for (const el of root.querySelectorAll('[src], [href]')) {
    const v = el.getAttribute('src') ?? el.getAttribute('href')!;
    assert.ok(v.startsWith('data:image/png;base64,') || v.startsWith('#'), `only inline images and in-page links: ${v.slice(0, 40)}`);
  }
  assert.equal(root.querySelectorAll('script, link, iframe, object, embed').length, 0, 'no scripts or external resources');
  return root;
}

/** The charts a report shows for the given score kinds: histograms always, ROC and PR with labels. */
export function expectedCharts(kinds: string[], labelled: boolean): string[] {
  return ['loss', 'legend', 'latent', ...kinds.flatMap((k) => [`hist-${k}`, ...(labelled ? [`roc-${k}`, `pr-${k}`] : [])])];
}
