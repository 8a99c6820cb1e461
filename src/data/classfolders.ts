/**
 * The class-per-folder layout (`root/Parasitized/*.png`, `root/Uninfected/*.png`): each
 * subfolder is a class, the user says which are normal. Normal items get label 0, the rest 1,
 * and className is the folder name. Images lying directly in the root belong to no class and are
 * ignored; each class folder is searched recursively.
 */
import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { checkFolder, fileSource, listImages, noImagesError, type FileSource, type FileSourceOptions } from './folder.js';
import type { ImageItem } from './types.js';

export interface ClassFolderOptions extends FileSourceOptions {
  /** Name(s) of the normal class folder(s), matched exactly. */
  normal: string | readonly string[];
  /** Only these classes (folder names); default all. */
  classes?: readonly string[];
}

/** Subfolders of `root` (not hidden), sorted by code unit. */
export async function listClassFolders(root: string): Promise<string[]> {
  await checkFolder(root);
  const entries = await readdir(root, { withFileTypes: true });
  const names: string[] = [];
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const isDir = e.isSymbolicLink() ? (await stat(join(root, e.name)).catch(() => undefined))?.isDirectory() : e.isDirectory();
    if (isDir) names.push(e.name);
  }
  return names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

export async function classFolderSource(dir: string, options: ClassFolderOptions): Promise<FileSource> {
  const root = resolve(dir);
  const found = await listClassFolders(root);
  const normal = typeof options.normal === 'string' ? [options.normal] : [...options.normal];
  if (normal.length === 0) throw new Error(`${root}: name at least one normal class; classes found: ${found.join(', ') || '(none)'}`);
  const wanted = options.classes ? [...options.classes] : found;
  for (const name of [...normal, ...wanted]) {
    if (!found.includes(name)) {
      const near = found.find((f) => f.toLowerCase() === name.toLowerCase());
      throw new Error(
        `class '${name}' not found in ${root}; classes found: ${found.join(', ') || '(no subfolders)'}` +
          (near ? ` (did you mean '${near}'? names are case-sensitive)` : ''),
      );
    }
  }
  const items: ImageItem[] = [];
  for (const className of found) {
    if (!wanted.includes(className)) continue;
    const paths = await listImages(join(root, className));
    const label = normal.includes(className) ? 0 : 1;
    for (const id of paths) items.push({ id, label, className });
  }
  if (items.length === 0) throw noImagesError(root);
  if (!items.some((i) => i.label === 0)) {
    throw new Error(`${root}: normal class folder(s) ${normal.join(', ')} contain no images`);
  }
  return fileSource(root, items, options);
}
