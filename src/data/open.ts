/**
 * `openSource`: picks the reader from a spec string, for the CLI and quick scripts.
 *
 *   builtin:mnist, builtin:fashion-mnist[:train|:test]   built-in datasets
 *   <dir> containing train/good                          MVTec AD category
 *   <file>-idx3-ubyte[.gz]                               IDX images (+ labels file beside it)
 *   <dir> + normalClass option                           class-per-folder layout
 *   <dir>                                                plain image folder
 */
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { BUILTIN_NAMES, builtinSource, oneClassSource, type BuiltinName, type BuiltinSplit } from './builtin.js';
import { classFolderSource } from './classfolders.js';
import { folderSource, type FileSourceOptions } from './folder.js';
import { idxSource, labelsPathFor, readIdx } from './idx.js';
import { isMvtecRoot, mvtecSource } from './mvtec.js';
import type { ImageSource } from './types.js';

export type SourceKind = 'builtin' | 'mvtec' | 'idx' | 'classfolders' | 'folder';

export interface OpenSourceOptions extends FileSourceOptions {
  /** 'train' or 'test' for built-in and MVTec sources (default 'train'; `builtin:x:test` also works). */
  split?: 'train' | 'test';
  /**
   * Normal class(es): a folder name (class folders), a digit or class name (built-in, IDX).
   * Items of these classes get label 0, the others 1.
   */
  normalClass?: string | readonly string[];
  /**
   * Built-in only, with normalClass: return the one-class training set (normal items plus this
   * fraction of other-class anomalies, seeded) instead of every class. 0 = normal items only.
   */
  contamination?: number;
  /** Built-in only: at most this many items (seeded sample). */
  limit?: number;
  /** Seed for `contamination` and `limit`. Default 0. */
  seed?: number;
}

export type OpenedSource = ImageSource & { readonly kind: SourceKind };

const USAGE =
  'expected builtin:mnist, builtin:fashion-mnist, an MVTec AD category folder (with train/good), ' +
  'an IDX images file (*-idx3-ubyte[.gz]), or a folder of images';

function list(v: string | readonly string[] | undefined): string[] | undefined {
  return v === undefined ? undefined : typeof v === 'string' ? [v] : [...v];
}

function tag<S extends ImageSource>(source: S, kind: SourceKind): S & { readonly kind: SourceKind } {
  return Object.assign(source, { kind });
}

function digits(normal: string[], spec: string): number[] {
  return normal.map((n) => {
    if (!/^\s*\d+\s*$/.test(n)) throw new Error(`${spec}: IDX classes are numbers; normal class ${JSON.stringify(n)} is not`);
    return Number(n);
  });
}

export async function openSource(spec: string, options: OpenSourceOptions = {}): Promise<OpenedSource> {
  const normal = list(options.normalClass);
  const builtin = /^builtin:([^:]+)(?::([^:]+))?$/.exec(spec);
  if (builtin) {
    const name = builtin[1]!;
    if (!(BUILTIN_NAMES as readonly string[]).includes(name)) {
      throw new Error(`unknown built-in dataset '${name}' in '${spec}'; available: ${BUILTIN_NAMES.map((n) => `builtin:${n}`).join(', ')}`);
    }
    const fromSpec = builtin[2];
    if (fromSpec !== undefined && fromSpec !== 'train' && fromSpec !== 'test') {
      throw new Error(`unknown split '${fromSpec}' in '${spec}'; use :train or :test`);
    }
    if (fromSpec && options.split && fromSpec !== options.split) {
      throw new Error(`'${spec}' names split '${fromSpec}' but the split option says '${options.split}'`);
    }
    const split: BuiltinSplit = (fromSpec as BuiltinSplit | undefined) ?? options.split ?? 'train';
    if (options.contamination !== undefined) {
      if (!normal) throw new Error(`${spec}: contamination needs a normal class`);
      return tag(
        oneClassSource(name as BuiltinName, split, normal, { contamination: options.contamination, limit: options.limit, seed: options.seed }),
        'builtin',
      );
    }
    return tag(builtinSource(name as BuiltinName, split, { normal, limit: options.limit, seed: options.seed }), 'builtin');
  }

  const path = resolve(spec);
  if (!existsSync(path)) throw new Error(`source not found: ${path} (${USAGE})`);
  if (statSync(path).isFile()) {
    if (!/-idx3-ubyte(\.gz)?$/i.test(path)) throw new Error(`unsupported source file ${path} (${USAGE})`);
    const images = readIdx(path, 'images');
    const labelsPath = labelsPathFor(path);
    const labels = labelsPath && existsSync(labelsPath) ? readIdx(labelsPath, 'labels') : undefined;
    if (normal && !labels) throw new Error(`${path}: normal classes given but no labels file ${labelsPath ?? '(unknown name)'}`);
    const file = basename(path);
    const [count, height, width] = images.dims as [number, number, number];
    if (labels && labels.dims[0] !== count) {
      throw new Error(`${labelsPath}: ${labels.dims[0]} labels for ${count} images in ${path}`);
    }
    return tag(
      idxSource(images.data, labels?.data, {
        height,
        width,
        name: basename(dirname(path)),
        split: /^train/i.test(file) ? 'train' : /^(t10k|test)/i.test(file) ? 'test' : file.replace(/-images-idx3-ubyte(\.gz)?$/i, ''),
        normal: normal ? digits(normal, path) : undefined,
      }),
      'idx',
    );
  }
  if (isMvtecRoot(path)) {
    if (normal && !(normal.length === 1 && normal[0] === 'good')) {
      throw new Error(`${path} is an MVTec AD category, where 'good' is the normal class; got normal class ${normal.join(', ')}`);
    }
    return tag(await mvtecSource(path, options.split ?? 'train', options), 'mvtec');
  }
  if (normal) return tag(await classFolderSource(path, { ...options, normal }), 'classfolders');
  return tag(await folderSource(path, options), 'folder');
}
