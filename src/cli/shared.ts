/** Option fragments shared by several commands, and small output helpers. */
import type { OptSpec } from './args.js';
import { SCORE_KINDS } from '../postprocess/kinds.js';
import { clearProgressLine } from '../train/progress.js';

function checkDevice(raw: string): void {
  if (!/^(auto|cpu|cuda(:\d+)?)$/.test(raw)) throw new Error(`must be auto, cpu, cuda or cuda:N; got '${raw}'`);
}

export const deviceOption: Record<string, OptSpec> = {
  device: { type: 'string', help: 'Where to compute: auto (CUDA when available), cpu, cuda, cuda:N', default: 'auto', value: 'name', env: 'VIGIL_DEVICE', validate: checkDevice },
  threads: { type: 'integer', help: 'CPU threads for libtorch (default: all cores)', value: 'n', min: 1, env: 'VIGIL_THREADS' },
};

export const dataOptions: Record<string, OptSpec> = {
  'normal-class': { type: 'list', help: 'Normal class(es) in a class-per-folder layout or a built-in set (e.g. Uninfected, or 0 for digits)', value: 'name' },
  strict: { type: 'boolean', help: 'Stop at the first unreadable image instead of skipping it with a warning' },
  'max-pixels': { type: 'number', help: 'Largest image to decode, in megapixels; larger ones are skipped from their header', default: 50, value: 'MP', above: 0 },
};

/** Applies --max-pixels (megapixels) to the decoders' process-wide budget. */
export async function applyMaxPixels(megapixels: unknown): Promise<void> {
  if (typeof megapixels !== 'number') return;
  const { setMaxPixels } = await import('../data/budget.js');
  setMaxPixels(Math.max(1, Math.round(megapixels * 1e6)));
}

export const scoreKindOption: OptSpec = { type: 'string', help: 'Score that ranks images and decides verdicts', choices: SCORE_KINDS as string[], value: 'kind' };

/**
 * Applies --threads (or VIGIL_THREADS, which commander already put there) to libtorch. Called at
 * the start of each action, after the engine module is imported, so nothing set at import wins.
 */
export async function applyThreads(n: unknown): Promise<void> {
  if (typeof n !== 'number') return;
  const { setNumThreads } = await import('../engine/runtime.js');
  setNumThreads(n);
}

/** The one warning sink of the CLI: clears a live progress line, then `vigil: warning: ...` on stderr. */
export function warn(message: string): void {
  clearProgressLine();
  process.stderr.write(`vigil: warning: ${message}\n`);
}

/** Writes to stdout and waits until the stream takes more, so output of any size streams with flat memory. */
export function writeOut(text: string): Promise<void> {
  return new Promise((res) => {
    if (process.stdout.write(text)) res();
    else process.stdout.once('drain', res);
  });
}

/** CSV field quoting (RFC 4180). */
export function csvField(v: unknown): string {
  const s = v === undefined || v === null ? '' : typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toPrecision(7)) : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
