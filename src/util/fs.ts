/**
 * File writes that never leave a half-written file or folder behind.
 *
 * - writeFileAtomic: a temporary beside the file, fsync, one rename.
 * - commitFolder / readCommitted: a folder whose contents switch in one step. The bulky payload
 *   is written under a name that carries its checksum (`weights.<sha>.safetensors`), then a small
 *   pointer file (`manifest.json`) naming it is renamed into place: that single rename is the
 *   switch. Until it happens readers see the old pointer and the old payload, which is removed
 *   only afterwards, so a kill at any point leaves the old contents or the new, never neither.
 * - writeDirAtomic: the older swap of a whole folder by two renames (still used for folders of
 *   folders, such as ensembles); recoverInterrupted puts back what a kill between them left.
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync, mkdirSync, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, basename, join, extname } from 'node:path';
import { lockFolder } from './lock.js';

/**
 * Test hook: `VIGIL_TEST_FAULT=<point>[:<n>]` kills this process with SIGKILL the n-th time (default
 * the first) it reaches `point`, so tests can stop a writer exactly between two steps.
 */
const faultHits = new Map<string, number>();
export function faultPoint(point: string): void {
  const spec = process.env.VIGIL_TEST_FAULT;
  if (!spec) return;
  const [, name, nth] = /^(.*?)(?::(\d+))?$/.exec(spec)!;
  if (name !== point) return;
  const hits = (faultHits.get(point) ?? 0) + 1;
  faultHits.set(point, hits);
  if (hits === Number(nth ?? 1)) process.kill(process.pid, 'SIGKILL');
}

/** True when a process with this id exists (on this machine). */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function writeAll(fd: number, parts: Uint8Array[]): void {
  for (const p of parts) {
    let off = 0;
    while (off < p.byteLength) off += writeSync(fd, p, off, p.byteLength - off);
  }
}

function toParts(data: Uint8Array | string | Uint8Array[]): Uint8Array[] {
  return Array.isArray(data) ? data : [typeof data === 'string' ? Buffer.from(data) : data];
}

/** Makes a rename in `dir` durable (best effort: some file systems cannot fsync a folder). */
function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch { /* not supported here */ } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** The temporary name writeFileAtomic uses for `path`: hidden, with the writer's pid so a later writer can tell it is stale. */
function tempName(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
}

export function writeFileAtomic(path: string, data: Uint8Array | string | Uint8Array[], hook?: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = tempName(path);
  const fd = openSync(tmp, 'w');
  try {
    const parts = toParts(data);
    if (hook) {
      // the fault hook stops half way through the data, as a kill during a large write would
      const half = Math.max(1, Math.floor(parts.length / 2));
      writeAll(fd, parts.slice(0, half));
      faultPoint(`${hook}:partial`);
      writeAll(fd, parts.slice(half));
    } else {
      writeAll(fd, parts);
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

/** What a pointer file records about its payload. */
export interface PayloadRef {
  /** File name inside the folder. */
  file: string;
  /** Hex sha256 of the whole file. */
  sha256: string;
  bytes: number;
}

export function sha256(parts: Uint8Array | Uint8Array[]): string {
  const h = createHash('sha256');
  for (const p of Array.isArray(parts) ? parts : [parts]) h.update(p);
  return h.digest('hex');
}

const TEMP_RE = /^\.(.+)\.(\d+)\.(\d+)\.(tmp|old)$/;

/**
 * Removes what dead writers left: `.name.PID.TIME.tmp` files and folders inside `dir`, and
 * payload files (`<stem>.<sha>.<ext>`) the pointer does not name. Call it holding the folder's lock.
 */
function cleanFolder(dir: string, stem: string, ext: string, keep: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  const payload = new RegExp(`^${escapeRe(stem)}\\.[0-9a-f]{8,64}${escapeRe(ext)}$`);
  for (const n of names) {
    const t = TEMP_RE.exec(n);
    if ((t && !isAlive(Number(t[2]))) || (payload.test(n) && n !== keep)) rmSync(join(dir, n), { recursive: true, force: true });
  }
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Puts back a folder that an interrupted two-rename swap (writeDirAtomic, or vigil before 0.2)
 * left missing: `.name.PID.TIME.old` is the previous contents, and a `.tmp` beside it the complete
 * new contents (the first rename happens only after it was filled). Only leftovers of dead
 * writers are touched; a stale `.tmp` whose swap never started is removed.
 */
export function recoverInterrupted(dir: string): void {
  const parent = dirname(dir);
  const base = basename(dir);
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return;
  }
  const mine = names
    .map((n) => ({ n, m: TEMP_RE.exec(n) }))
    .filter((e) => e.m && e.m[1] === base && !isAlive(Number(e.m[2])))
    .sort((a, b) => Number(b.m![3]) - Number(a.m![3])); // newest first
  if (mine.length === 0) return;
  if (!existsSync(dir)) {
    const olds = mine.filter((e) => e.m![4] === 'old');
    const tmps = mine.filter((e) => e.m![4] === 'tmp');
    // A .tmp is known complete only when its writer had already moved the old folder aside.
    const pick = olds.length ? (tmps.find((t) => t.m![2] === olds[0]!.m![2]) ?? olds[0]) : undefined;
    if (pick) {
      renameSync(join(parent, pick.n), dir);
      syncDir(parent);
    }
  }
  for (const e of mine) rmSync(join(parent, e.n), { recursive: true, force: true });
}

/**
 * Replaces a whole folder: fill(tmpDir) writes the new contents, then the folder is swapped in
 * with two renames. Between them the folder is missing; recoverInterrupted (called on the next
 * write or load) puts it back. Prefer commitFolder where the contents are a pointer and a payload.
 */
export function writeDirAtomic(dir: string, fill: (tmpDir: string) => void): void {
  const parent = dirname(dir);
  mkdirSync(parent, { recursive: true });
  recoverInterrupted(dir);
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
    faultPoint('swap:between-renames');
    renameSync(tmp, dir);
    rmSync(old, { recursive: true, force: true });
  } else {
    renameSync(tmp, dir);
  }
}

export interface CommitOptions {
  /** The payload's bytes, and the parts of its name: `<stem>.<sha256 prefix><ext>`. */
  payload: Uint8Array | Uint8Array[];
  stem: string;
  ext: string;
  /** Name of the pointer file, e.g. 'manifest.json'. */
  pointer: string;
  /** The pointer file's text, given the payload's reference. */
  render: (ref: PayloadRef) => string;
  /** Files of an older layout that the new contents replace, removed after the switch. */
  obsolete?: string[];
  /** Name for the fault hooks (tests): `<hook>:payload:partial`, `<hook>:before-pointer`, `<hook>:after-pointer`. */
  hook?: string;
}

/**
 * Writes `dir` as one commit (see the module comment): payload, then pointer by one rename,
 * then removal of older payloads and of temporaries left by dead writers. Holds the folder's
 * lock meanwhile, so two writers never interleave; a writer that finds a save under way waits.
 */
export function commitFolder(dir: string, o: CommitOptions): PayloadRef {
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new Error(`${dir} exists and is not a folder; choose another path`);
  mkdirSync(dir, { recursive: true });
  const lock = lockFolder(dir, { purpose: 'save', waitMs: 60_000 });
  try {
    recoverInterrupted(dir);
    const parts = toParts(o.payload);
    const digest = sha256(parts);
    const ref: PayloadRef = { file: `${o.stem}.${digest.slice(0, 16)}${o.ext}`, sha256: digest, bytes: parts.reduce((s, p) => s + p.byteLength, 0) };
    const hook = o.hook ?? 'commit';
    const target = join(dir, ref.file);
    writeFileAtomic(target, parts, `${hook}:payload`);
    faultPoint(`${hook}:before-pointer`);
    writeFileAtomic(join(dir, o.pointer), o.render(ref));
    syncDir(dir);
    faultPoint(`${hook}:after-pointer`);
    cleanFolder(dir, o.stem, o.ext, ref.file);
    for (const n of o.obsolete ?? []) rmSync(join(dir, n), { force: true });
    return ref;
  } finally {
    lock.release();
  }
}

/**
 * Reads a folder written by commitFolder: the pointer's text, and the payload it names (`refOf`
 * extracts the reference from the pointer text; undefined = an older layout, use `legacyFile`
 * without a checksum). The payload's size and sha256 are checked. A payload removed by a commit
 * that happened between the two reads is handled by reading the new pointer.
 */
export function readCommitted(
  dir: string,
  o: { pointer: string; refOf: (text: string) => PayloadRef | undefined; legacyFile: string; what: string },
): { text: string; payload: Buffer; path: string } {
  for (let attempt = 0; ; attempt++) {
    const pointerPath = join(dir, o.pointer);
    const text = readFileSync(pointerPath, 'utf8');
    const ref = o.refOf(text);
    const path = join(dir, ref?.file ?? o.legacyFile);
    let payload: Buffer;
    try {
      payload = readFileSync(path);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && attempt < 3 && readFileSync(pointerPath, 'utf8') !== text) continue; // a new commit replaced it
      throw new Error(code === 'ENOENT'
        ? `${dir}: damaged ${o.what}: ${basename(path)}, named by ${o.pointer}, is missing`
        : `${path}: cannot read ${o.what} (${code ?? (e as Error).message})`);
    }
    if (ref) {
      if (payload.byteLength !== ref.bytes) {
        throw new Error(`${path}: damaged ${o.what}: the file has ${payload.byteLength} bytes, ${o.pointer} says ${ref.bytes}${payload.byteLength < ref.bytes ? ' (truncated)' : ''}`);
      }
      const got = sha256(payload);
      if (got !== ref.sha256) {
        throw new Error(`${path}: damaged ${o.what}: checksum mismatch (sha256 ${got.slice(0, 16)}..., ${o.pointer} says ${ref.sha256.slice(0, 16)}...); the file was changed or corrupted after it was written`);
      }
    }
    return { text, payload, path };
  }
}

/** A payload reference read from untrusted JSON, or a message saying what is wrong with it. */
export function parsePayloadRef(v: unknown, ext: string): PayloadRef | string {
  const r = v as Partial<PayloadRef> | undefined;
  if (!r || typeof r !== 'object') return 'is missing';
  if (typeof r.file !== 'string' || basename(r.file) !== r.file || extname(r.file) !== ext || r.file.startsWith('.')) return `has a bad file name ${JSON.stringify(r.file)}`;
  if (typeof r.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(r.sha256)) return 'has a bad sha256';
  if (!Number.isInteger(r.bytes) || r.bytes! < 0) return 'has a bad byte count';
  return { file: r.file, sha256: r.sha256, bytes: r.bytes! };
}
