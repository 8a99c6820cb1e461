/**
 * Folder locks: an exclusive lock file `.<name>.lock` beside the folder, holding the owner's pid,
 * host, start time and purpose. Two kinds of holders: a whole training run ('training'), which a
 * second run refuses to share, and a save ('save'), which lasts as long as a few file writes, so
 * a second writer waits for it. A lock whose owner is dead (killed, crashed) is taken over. Locks
 * are re-entrant within a process: a training that holds its output folder can save into it.
 */
import { openSync, closeSync, readFileSync, rmSync, writeSync, mkdirSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';

export interface LockOwner {
  pid: number;
  host: string;
  since: string;
  purpose: string;
}

export interface FolderLock {
  readonly path: string;
  release(): void;
}

/** Thrown when another live process holds the lock. */
export class FolderLockedError extends Error {
  constructor(readonly dir: string, readonly lockPath: string, readonly owner: LockOwner) {
    super(`${dir} is in use: process ${owner.pid}${owner.host !== hostname() ? ` on ${owner.host}` : ''} is ${owner.purpose === 'training' ? 'training into it' : 'writing it'} (since ${owner.since}; lock file ${lockPath}). ` +
      'Wait for it to finish or choose another output folder; if that process is gone, delete the lock file.');
    this.name = 'FolderLockedError';
  }
}

/** The lock file of a folder: beside it, hidden, so it survives the folder being replaced. */
export function lockPathOf(dir: string): string {
  const abs = resolve(dir);
  return join(dirname(abs), `.${basename(abs)}.lock`);
}

const held = new Map<string, { count: number; purpose: string }>();
let exitHook = false;

function alive(owner: LockOwner): boolean {
  if (owner.host !== hostname()) return true; // cannot tell: assume it is running
  try {
    process.kill(owner.pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readOwner(path: string): LockOwner | undefined {
  try {
    const o = JSON.parse(readFileSync(path, 'utf8')) as LockOwner;
    return Number.isInteger(o?.pid) ? o : undefined;
  } catch {
    return undefined; // missing, or half written by a writer killed at that instant
  }
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Takes the lock of `dir` (which need not exist yet). With `waitMs`, waits that long for a
 * holder whose purpose is 'save'; a 'training' holder is refused at once (FolderLockedError).
 */
export function lockFolder(dir: string, o: { purpose: 'training' | 'save'; waitMs?: number }): FolderLock {
  if (typeof dir !== 'string' || dir.trim() === '') throw new Error(`the output folder path is empty (got ${JSON.stringify(dir)})`);
  const path = lockPathOf(dir);
  const mine = held.get(path);
  if (mine) {
    mine.count++;
    return handle(path);
  }
  mkdirSync(dirname(path), { recursive: true });
  const deadline = Date.now() + (o.waitMs ?? 0);
  for (;;) {
    const me: LockOwner = { pid: process.pid, host: hostname(), since: new Date().toISOString(), purpose: o.purpose };
    let fd: number | undefined;
    try {
      fd = openSync(path, 'wx');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`cannot lock ${dir}: ${(e as Error).message}`);
    }
    if (fd !== undefined) {
      try {
        writeSync(fd, JSON.stringify(me));
      } finally {
        closeSync(fd);
      }
      held.set(path, { count: 1, purpose: o.purpose });
      if (!exitHook) {
        exitHook = true;
        process.on('exit', () => { for (const p of held.keys()) rmSync(p, { force: true }); });
      }
      return handle(path);
    }
    const owner = readOwner(path);
    if (owner && owner.pid === process.pid && owner.host === hostname()) {
      rmSync(path, { force: true }); // left by an earlier process that had our pid
      continue;
    }
    if (!owner) {
      // empty or half written: a writer is filling it this instant, or was killed doing so
      let st;
      try { st = statSync(path); } catch { continue; }
      if (st.size > 0 && Date.now() - st.mtimeMs > 2000) throw new Error(`cannot lock ${dir}: ${path} is not a vigil lock file; delete it`);
      if (Date.now() - st.mtimeMs > 2000) rmSync(path, { force: true });
      else sleep(20);
      continue;
    }
    if (!alive(owner)) {
      // stale: remove it unless another process took it over meanwhile, then race for it again
      const now = readOwner(path);
      if (now && now.pid === owner.pid && now.since === owner.since) rmSync(path, { force: true });
      continue;
    }
    if (owner.purpose === 'save' && Date.now() < deadline) {
      sleep(50);
      continue;
    }
    throw new FolderLockedError(dir, path, owner);
  }
}

function handle(path: string): FolderLock {
  let released = false;
  return {
    path,
    release() {
      if (released) return;
      released = true;
      const h = held.get(path);
      if (!h) return;
      if (--h.count > 0) return;
      held.delete(path);
      rmSync(path, { force: true });
    },
  };
}

/**
 * Holds the lock of an output folder for the rest of this process (released at exit): what
 * `vigil train` calls first, so a second training into the same folder refuses at the start.
 */
export function claimFolder(dir: string): FolderLock {
  return lockFolder(dir, { purpose: 'training' });
}
