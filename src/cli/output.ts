/**
 * Where a command's results go: stdout, or a file given with --out. Both are written piece by
 * piece, so results of any size stream with flat memory; a file is written under a temporary
 * name beside it and renamed into place only when complete, so a failed run leaves the old file.
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { writeOut } from './shared.js';

export interface Output {
  write(text: string): Promise<void>;
  /** Completes the output (renames the file into place). */
  close(): void;
  /** Drops a partial file. */
  abort(): void;
}

export function openOutput(path: string | undefined): Output {
  if (path === undefined) return { write: writeOut, close() {}, abort() {} };
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  const fd = openSync(tmp, 'w');
  let open = true;
  return {
    async write(text) {
      const buf = Buffer.from(text);
      let off = 0;
      while (off < buf.byteLength) off += writeSync(fd, buf, off, buf.byteLength - off);
    },
    close() {
      fsyncSync(fd);
      closeSync(fd);
      open = false;
      renameSync(tmp, path);
    },
    abort() {
      if (open) closeSync(fd);
      open = false;
      rmSync(tmp, { force: true });
    },
  };
}
