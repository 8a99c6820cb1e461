/** File writes that never leave a half-written file behind: write a temporary beside, fsync, rename. */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync, mkdirSync, existsSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';

export function writeFileAtomic(path: string, data: Uint8Array | string | Uint8Array[]): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  const fd = openSync(tmp, 'w');
  try {
    const parts = Array.isArray(data) ? data : [typeof data === 'string' ? Buffer.from(data) : data];
    for (const p of parts) {
      let off = 0;
      while (off < p.byteLength) off += writeSync(fd, p, off, p.byteLength - off);
    }
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
}

/**
 * Replaces a whole folder atomically: fill(tmpDir) writes the new contents, then the folder is
 * swapped in with renames, so readers see the old folder or the new one, never a mix.
 */
export function writeDirAtomic(dir: string, fill: (tmpDir: string) => void): void {
  const parent = dirname(dir);
  mkdirSync(parent, { recursive: true });
  const tmp = join(parent, `.${basename(dir)}.${process.pid}.${Date.now()}.tmp`);
  mkdirSync(tmp);
  try {
    fill(tmp);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  if (existsSync(dir)) {
    const old = join(parent, `.${basename(dir)}.${process.pid}.${Date.now()}.old`);
    renameSync(dir, old);
    renameSync(tmp, dir);
    rmSync(old, { recursive: true, force: true });
  } else {
    renameSync(tmp, dir);
  }
}
