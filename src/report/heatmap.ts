/**
 * Error maps as PNG files (`vigil score --maps DIR`): by default blended over the image, or bare.
 * Colours run from 0 to the model's own 99th percentile of per-pixel error on its normal
 * validation images, so the same colour means the same error in every file and every run;
 * `legend.svg` beside them shows the scale and says where it comes from.
 */
import { mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Preprocessing } from '../data/types.js';
import type { ErrorScale } from '../scoring/report-facts.js';
import type { MapKind } from '../scoring/reconstruction.js';
import type { ImageSource } from '../data/types.js';
import { resolveImages, type Detector } from '../detector.js';
import { writeFileAtomic } from '../util/fs.js';
import { mapRgb, rgbToPng, type MapStyle } from './render.js';
import { legendSpec, toSvg } from './charts.js';

/** The "hot" colour map on [0, 1] (black, red, yellow, white). */
export function hot(v: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, v));
  return [Math.min(1, x * 3), Math.min(1, Math.max(0, x * 3 - 1)), Math.min(1, Math.max(0, x * 3 - 2))].map((c) => Math.round(c * 255)) as [number, number, number];
}

export interface MapFileOptions {
  /** 'overlay' (default where the item has its image) or 'bare'. */
  style?: MapStyle;
  /** The model's error scale: colours run over [0, q99]. Without it, over [0, the largest error of these maps]. */
  scale?: ErrorScale;
  /** File names already used in `dir` (for several calls into one folder). */
  names?: Set<string>;
}

/** The top of the colour scale and the words that say what it is. */
export function mapScale(items: readonly { map?: Float32Array }[], scale?: ErrorScale): { top: number; note: string } {
  if (scale) return { top: scale.q99, note: `0 to the 99th percentile of per-pixel squared error on the model's ${scale.images} normal validation images (same colour = same error in every map)` };
  let max = 1e-12;
  for (const r of items) if (r.map) for (const v of r.map) if (v > max) max = v;
  return { top: max, note: '0 to the largest error of these maps (the model stores no scale of its own for this map kind)' };
}

/** Writes one `<name>.heatmap.png` per item with a map, and legend.svg unless `legend` is false; returns the maps' paths. */
export async function writeHeatmaps(dir: string, items: readonly { id: string; map?: Float32Array; image?: Float32Array }[], pre: Preprocessing, o: MapFileOptions & { top?: number; legend?: boolean } = {}): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const scale = mapScale(items, o.scale);
  const top = o.top ?? scale.top;
  if (o.legend !== false) await writeMapLegend(dir, top, o.top === undefined ? scale.note : '');
  const written: string[] = [];
  const used = o.names ?? new Set<string>();
  for (const r of items) {
    if (!r.map) continue;
    let name = basename(r.id).replace(/[^A-Za-z0-9._-]/g, '_').replace(/\.[A-Za-z]+$/, '');
    while (used.has(name)) name += '_';
    used.add(name);
    const path = join(dir, `${name}.heatmap.png`);
    const style = o.style ?? (r.image ? 'overlay' : 'bare');
    writeFileAtomic(path, await rgbToPng(mapRgb(r.map, top, pre, style, r.image), pre));
    written.push(path);
  }
  return written;
}

/** `legend.svg`: the colour bar of the maps in `dir`, titled with what the scale is. */
export async function writeMapLegend(dir: string, top: number, note: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const spec = { ...legendSpec(top, 'per-pixel error'), title: { text: 'error colour scale', subtitle: note, subtitleColor: '#6a7080', anchor: 'start' } };
  const path = join(dir, 'legend.svg');
  writeFileAtomic(path, await toSvg(spec as Parameters<typeof toSvg>[0], { standalone: true }));
  return path;
}

/**
 * `vigil score --maps DIR`: the error maps of `inputs` (each a path, a spec, a list of files or a
 * source) as files in `dir`, 256 images at a time, plus legend.svg. 'mse' maps use the model's
 * stored scale; 'ssim' maps (1 - SSIM) run over [0, 1].
 */
export async function writeMapFiles(
  det: Pick<Detector, 'inspect' | 'preprocessing' | 'training' | 'mapKind'>, inputs: readonly (string | string[] | ImageSource)[], dir: string,
  o: { style?: MapStyle; map?: MapKind; normalClass?: string | string[]; strict?: boolean; batchSize?: number } = {},
): Promise<{ files: string[]; legend: string }> {
  const kind = o.map ?? det.mapKind;
  const stored = kind === 'mse' ? det.training?.errorScale : undefined;
  let scale: { top: number; note: string } | undefined = kind === 'ssim' ? { top: 1, note: '0 to 1 for 1 - SSIM (same colour = same error in every map)' } : stored ? mapScale([], stored) : undefined;
  const names = new Set<string>();
  const files: string[] = [];
  for (const input of inputs) {
    const source = await resolveImages(input, { normalClass: o.normalClass, strict: o.strict, split: 'test', onWarning: () => {} });
    for (let s = 0; s < source.items.length; s += 256) {
      const indices = Array.from({ length: Math.min(256, source.items.length - s) }, (_, i) => s + i);
      const ins = await det.inspect(source, { indices, map: kind, strict: o.strict, batchSize: o.batchSize });
      if (!scale) {
        const m = mapScale(ins);
        scale = { top: m.top, note: `0 to the largest error of the first ${ins.length} maps (this model folder stores no error scale: retrain with this vigil to get the model's own)` };
      }
      files.push(...(await writeHeatmaps(dir, o.style === 'bare' ? ins.map(({ image, ...r }) => r) : ins, det.preprocessing, { top: scale.top, names, style: o.style, legend: false })));
    }
  }
  const legend = await writeMapLegend(dir, scale?.top ?? 1, scale?.note ?? '');
  return { files, legend };
}
