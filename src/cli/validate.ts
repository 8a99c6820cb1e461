/**
 * Checks of output paths, run before any work so that a bad `--out` fails in a second with exit
 * code 2, not with a raw ENOENT after an hour of training.
 */
import { existsSync, mkdtempSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { UsageError } from './args.js';

/**
 * - 'file': a file that is written or replaced whole (scores, a report).
 * - 'model': a model folder that is replaced whole: absent, empty, or a model folder already.
 * - 'folder': a folder that files are written into (created when missing).
 */
export type OutputKind = 'file' | 'model' | 'folder';

export function checkOutputPath(path: string, flag: string, kind: OutputKind): void {
  if (path.trim() === '') throw new UsageError(`${flag} is empty; give a ${kind === 'file' ? 'file' : 'folder'} path`);
  const full = resolve(path);
  let st;
  try { st = statSync(full); } catch { st = undefined; }
  if (st) {
    if (kind !== 'file' && !st.isDirectory()) {
      throw new UsageError(`${flag} ${path} is an existing file, not a folder; give another path or remove the file`);
    }
    if (kind === 'file' && st.isDirectory()) throw new UsageError(`${flag} ${path} is a folder; give a file path`);
    if (kind === 'model' && !looksLikeModelFolder(full) && !isEmptyDir(full)) {
      throw new UsageError(`${flag} ${path} is a folder that is not a vigil model (no manifest.json); ` +
        'the model folder replaces it whole, so give a new path or an existing model folder');
    }
  }
  const parent = dirname(full);
  let pst;
  try { pst = statSync(parent); } catch { pst = undefined; }
  if (!pst) throw new UsageError(`${flag} ${path}: the folder ${parent} does not exist; create it first`);
  if (!pst.isDirectory()) throw new UsageError(`${flag} ${path}: ${parent} is not a folder`);
  // access(W_OK) says yes to root everywhere, even where nothing can be created (/proc): try it
  try {
    rmdirSync(mkdtempSync(join(parent, '.vigil-write-check-')));
  } catch (e) {
    throw new UsageError(`${flag} ${path}: cannot create files in ${parent} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** A folder written by `vigil train` (the one place that knows the model folder's layout here). */
function looksLikeModelFolder(dir: string): boolean {
  return existsSync(join(dir, 'manifest.json'));
}

function isEmptyDir(dir: string): boolean {
  try {
    return readdirSync(dir).length === 0;
  } catch {
    return false;
  }
}
