/**
 * Sources backed by image files: a plain folder (searched recursively), and the shared file
 * source that class-folder and MVTec layouts build on.
 *
 * Bad files are found either eagerly (`validate: true`, header-only probe of every file) or
 * lazily when `load` first fails. Either way the file is reported once through `onWarning` and
 * recorded in `skipped`; in `strict` mode it is an error naming the file instead. A lazy failure
 * is thrown as CorruptImageError so the loader can drop that one item from its batch and go on.
 */
import { readdir, realpath, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { CorruptImageError, errorMessage, warnToStderr } from './errors.js';
import type { MaskSource } from './masks.js';
import { mapLimit } from './pool.js';
import { IMAGE_EXTENSIONS, isImageFile, loadImageTensor, loadMaskTensor, probeImage, type DecodeOptions } from './preprocess.js';
import type { ImageItem, Preprocessing } from './types.js';

export { CorruptImageError } from './errors.js';

/** A file that was left out, and why. */
export interface SkippedFile {
  path: string;
  reason: string;
}

export interface FileSourceOptions {
  /** Make an unreadable or corrupt file an error instead of a skipped item. Default false. */
  strict?: boolean;
  /** Receives one message per skipped file. Default: written to stderr. */
  onWarning?: (message: string) => void;
  /**
   * Probe every file's header up front and leave out those that fail; a function probes only
   * the items it returns true for (e.g. the normal class that training reads). Default false (lazy).
   */
  validate?: boolean | ((item: ImageItem) => boolean);
  /** Refuse (skip, or fail in strict mode) images with more pixels than this. Default: the process-wide budget, 50 Mpx (preprocess.ts). */
  maxPixels?: number;
}

/** A file-backed source: items' ids are file paths. */
export interface FileSource extends MaskSource {
  /** The folder the source was made from. */
  readonly root: string;
  /** Files left out so far (by validation, or when `load` failed), one entry per file. */
  readonly skipped: readonly SkippedFile[];
}

function lookedFor(): string {
  return IMAGE_EXTENSIONS.join(', ');
}

/** Throws a clear error when `dir` is missing or not a directory. */
export async function checkFolder(dir: string, what = 'image folder'): Promise<void> {
  let st;
  try {
    st = await stat(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? `${what} not found: ${dir}` : `cannot read ${what} ${dir}: ${errorMessage(err)}`);
  }
  if (!st.isDirectory()) throw new Error(`${what} is not a folder: ${dir}`);
}

/**
 * Image files under `dir` (recursively unless `recursive: false`), as absolute paths sorted by
 * code unit so the order is the same on every machine and locale. Hidden entries (names starting
 * with '.', such as macOS `._x.png` resource forks) are ignored. Symbolic links are followed once.
 * Returns [] for a folder without images; throws if `dir` is missing.
 */
export async function listImages(dir: string, options: { recursive?: boolean } = {}): Promise<string[]> {
  const root = resolve(dir);
  await checkFolder(root);
  const recursive = options.recursive ?? true;
  const out: string[] = [];
  const seen = new Set<string>();
  const walk = async (folder: string): Promise<void> => {
    const real = await realpath(folder);
    if (seen.has(real)) return;
    seen.add(real);
    const entries = await readdir(folder, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const path = join(folder, e.name);
      let isDir = e.isDirectory();
      let isFile = e.isFile();
      if (e.isSymbolicLink()) {
        const st = await stat(path).catch(() => undefined);
        isDir = st?.isDirectory() ?? false;
        // A dangling link to an image name is kept so that it is reported as unreadable, not silently lost.
        isFile = st ? st.isFile() : true;
      }
      if (isDir) {
        if (recursive) await walk(path);
      } else if (isFile && isImageFile(e.name)) {
        out.push(path);
      }
    }
  };
  await walk(root);
  return out;
}

/** The error for a folder with no images, naming it and the extensions looked for. */
export function noImagesError(dir: string, recursive = true): Error {
  return new Error(`no images found in ${dir} (looked for ${lookedFor()}${recursive ? ', recursively' : ''})`);
}

/**
 * A source over the given items, whose ids are image paths (and maskPath, if set, mask paths).
 * Performs the optional validation pass, then returns the source.
 */
export async function fileSource(root: string, items: readonly ImageItem[], options: FileSourceOptions = {}): Promise<FileSource> {
  const strict = options.strict ?? false;
  const warn = options.onWarning ?? warnToStderr;
  const skipped: SkippedFile[] = [];
  const reported = new Set<string>();

  const report = (err: CorruptImageError): void => {
    if (reported.has(err.path)) return;
    reported.add(err.path);
    skipped.push({ path: err.path, reason: err.reason });
    warn(`skipping ${err.path}: ${err.reason}`);
  };
  const fail = (err: CorruptImageError): never => {
    if (strict) throw new Error(`${err.message} (strict mode: fix or remove the file)`, { cause: err });
    report(err);
    err.reported = true;
    throw err;
  };

  const decode: DecodeOptions = options.maxPixels !== undefined ? { maxPixels: options.maxPixels } : {};
  // Folders list only IMAGE_EXTENSIONS; a file named explicitly is read whatever its name, with a word.
  const odd = items.filter((i) => !isImageFile(i.id));
  if (odd.length) warn(`${odd.length === 1 ? odd[0]!.id : `${odd.length} files (e.g. ${odd[0]!.id})`}: not ${lookedFor()}; folders skip such files, this is read as named`);
  let kept = items.slice();
  if (options.validate) {
    const wanted = typeof options.validate === 'function' ? options.validate : () => true;
    const ok = await mapLimit(kept, 8, async (item) => {
      if (!wanted(item)) return true;
      try {
        await probeImage(item.id, decode);
        if (item.maskPath) await probeImage(item.maskPath, decode);
        return true;
      } catch (err) {
        if (!(err instanceof CorruptImageError)) throw err;
        if (strict) throw new Error(`${err.message} (strict mode: fix or remove the file)`, { cause: err });
        return err;
      }
    });
    // Reported after the pass, in item order, so warnings are deterministic despite concurrency.
    ok.forEach((r) => r instanceof CorruptImageError && report(r));
    kept = kept.filter((_, i) => ok[i] === true);
    if (kept.length === 0 && items.length > 0) {
      const first = skipped[0];
      throw new Error(`no readable images ${root ? `in ${root}` : `among the ${items.length} files given`}: ${items.length === 1 ? 'the one file is' : `all ${items.length} files are`} unreadable` +
        (first ? ` (${first.path}: ${first.reason}${items.length > 1 ? '; each is named in the warnings above' : ''})` : ''));
    }
  }
  const frozen: readonly ImageItem[] = kept;

  const itemAt = (index: number): ImageItem => {
    const item = frozen[index];
    if (!item) throw new Error(`${root}: item ${index} out of range 0..${frozen.length - 1}`);
    return item;
  };

  return {
    root,
    items: frozen,
    skipped,
    async load(index: number, pre: Preprocessing): Promise<Float32Array> {
      const item = itemAt(index);
      try {
        return await loadImageTensor(item.id, pre, undefined, decode);
      } catch (err) {
        if (err instanceof CorruptImageError) fail(err);
        throw err;
      }
    },
    async loadMask(index: number, pre: Preprocessing): Promise<Float32Array | undefined> {
      const item = itemAt(index);
      if (item.maskPath) {
        try {
          return await loadMaskTensor(item.maskPath, pre, undefined, decode);
        } catch (err) {
          if (err instanceof CorruptImageError) fail(err);
          throw err;
        }
      }
      return item.label === 0 ? new Float32Array(pre.height * pre.width) : undefined;
    },
  };
}

export interface FolderSourceOptions extends FileSourceOptions {
  /** Search subfolders. Default true. */
  recursive?: boolean;
  /** Label given to every item (e.g. 0 for a folder of known-good images). Default: unset. */
  label?: 0 | 1;
  /** className given to every item. Default: unset. */
  className?: string;
}

/** All images in a folder, in sorted path order. Throws if the folder is missing or has no images. */
export async function folderSource(dir: string, options: FolderSourceOptions = {}): Promise<FileSource> {
  const root = resolve(dir);
  const recursive = options.recursive ?? true;
  const paths = await listImages(root, { recursive });
  if (paths.length === 0) throw noImagesError(root, recursive);
  const items = paths.map((id) => {
    const item: ImageItem = { id };
    if (options.label !== undefined) item.label = options.label;
    if (options.className !== undefined) item.className = options.className;
    return item;
  });
  return fileSource(root, items, options);
}
