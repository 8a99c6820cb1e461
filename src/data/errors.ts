/**
 * Errors the data layer throws on purpose, so callers can tell "this one file is bad" (skip it)
 * from "the dataset or the call is wrong" (stop); and where warnings about skipped files go.
 */

/**
 * One image could not be read or decoded. Thrown by a source's `load`; the loader catches it,
 * drops the item from its batch and reports it, unless it runs in strict mode.
 */
export class CorruptImageError extends Error {
  /** The file (or item id) that failed. */
  readonly path: string;
  /** What went wrong, without the path. */
  readonly reason: string;
  /** Set once the source has already warned about this file, so the loader does not warn again. */
  reported = false;

  constructor(path: string, reason: string, options?: { cause?: unknown }) {
    super(`${path}: cannot decode image: ${reason}`, options);
    this.name = 'CorruptImageError';
    this.path = path;
    this.reason = reason;
  }
}

/** Message of any thrown value, for wrapping third-party errors into ours. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The default warning sink: one line on stderr, so results on stdout stay clean. */
export function warnToStderr(message: string): void {
  process.stderr.write(`vigil: warning: ${message}\n`);
}
