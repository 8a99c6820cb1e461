/**
 * The MVTec AD layout, one category per root (as anomalib's MVTecAD dataset):
 *
 *   <root>/train/good/*.png             normal training images
 *   <root>/test/good/*.png              normal test images
 *   <root>/test/<defect>/*.png          anomalous test images, className = defect
 *   <root>/ground_truth/<defect>/<stem>_mask.png   one mask per defect image, paired by stem
 *
 * Masks are optional, as in anomalib's Folder dataset: a defect type without a ground_truth/<defect>
 * folder (or a category without ground_truth/ at all) gives image-level labels only, and evaluation
 * then reports image-level metrics for it. A ground_truth/<defect> folder that lacks the mask of one
 * of its images is a layout error.
 */
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { basename, extname, join, resolve } from 'node:path';
import { checkFolder, fileSource, listImages, type FileSource, type FileSourceOptions } from './folder.js';
import { isImageFile } from './preprocess.js';
import type { ImageItem } from './types.js';

export type MvtecSplit = 'train' | 'test';

const LAYOUT =
  'expected <category>/train/good/*.png, <category>/test/<defect>/*.png and ' +
  '<category>/ground_truth/<defect>/<stem>_mask.png';

/** True when `dir` looks like an MVTec AD category (has train/good). */
export function isMvtecRoot(dir: string): boolean {
  return existsSync(join(dir, 'train', 'good'));
}

function stem(path: string): string {
  const name = basename(path);
  return name.slice(0, name.length - extname(name).length);
}

export async function mvtecSource(dir: string, split: MvtecSplit, options: FileSourceOptions = {}): Promise<FileSource> {
  const root = resolve(dir);
  if (split !== 'train' && split !== 'test') throw new Error(`MVTec split must be 'train' or 'test', got '${split}'`);
  await checkFolder(root, 'MVTec AD root');
  if (!isMvtecRoot(root)) {
    throw new Error(`${root} is not an MVTec AD category: train/good is missing (${LAYOUT})`);
  }
  const splitDir = join(root, split);
  await checkFolder(splitDir, `MVTec AD ${split} folder of ${root}`);

  const defects = (await readdir(splitDir, { withFileTypes: true }))
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => e.name)
    // 'good' first, then defects by name, so normal items lead and the order is fixed.
    .sort((a, b) => (a === 'good' ? -1 : b === 'good' ? 1 : a < b ? -1 : a > b ? 1 : 0));
  const items: ImageItem[] = [];
  // As in anomalib, training reads only train/good even if other folders sit beside it.
  for (const defect of split === 'train' ? ['good'] : defects) {
    const images = await listImages(join(splitDir, defect), { recursive: false });
    if (defect === 'good') {
      for (const id of images) items.push({ id, label: 0, className: 'good' });
      continue;
    }
    const gtDir = join(root, 'ground_truth', defect);
    if (!existsSync(gtDir)) {
      for (const id of images) items.push({ id, label: 1, className: defect });
      continue;
    }
    const masks = new Map<string, string>();
    for (const name of await readdir(gtDir)) if (isImageFile(name)) masks.set(stem(name), join(gtDir, name));
    for (const id of images) {
      const maskPath = masks.get(`${stem(id)}_mask`);
      if (!maskPath) {
        throw new Error(
          `MVTec AD root ${root}: no ground-truth mask for test/${defect}/${basename(id)}; expected ` +
            `ground_truth/${defect}/${stem(id)}_mask.png (masks are paired by file stem: <stem>_mask.<ext> ` +
            `in ground_truth/<defect>/)`,
        );
      }
      items.push({ id, label: 1, className: defect, maskPath });
    }
  }
  if (items.length === 0) {
    throw new Error(`no images found in MVTec AD root ${root} for split '${split}' (${LAYOUT})`);
  }
  return fileSource(root, items, options);
}
