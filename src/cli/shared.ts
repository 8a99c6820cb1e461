/** Option fragments shared by several commands, and small output helpers. */
import type { OptSpec } from './args.js';
import { SCORE_KINDS } from '../postprocess/kinds.js';

export const deviceOption: Record<string, OptSpec> = {
  device: { type: 'string', help: "Where to compute: auto (CUDA when available), cpu, cuda, cuda:N", default: 'auto', value: 'name' },
  threads: { type: 'number', help: 'CPU threads for libtorch (default: all cores)', value: 'n' },
};

export const dataOptions: Record<string, OptSpec> = {
  'normal-class': { type: 'list', help: 'Normal class(es) in a class-per-folder layout or a built-in set (e.g. Uninfected, or 0 for digits)', value: 'name' },
  strict: { type: 'boolean', help: 'Stop at the first unreadable image instead of skipping it with a warning' },
};

export const scoreKindOption: OptSpec = { type: 'string', help: 'Score that ranks images and decides verdicts', choices: SCORE_KINDS as string[], value: 'kind' };

export function applyThreads(n: unknown): void {
  if (typeof n === 'number') process.env.VIGIL_THREADS = String(n);
}

/** CSV field quoting (RFC 4180). */
export function csvField(v: unknown): string {
  const s = v === undefined || v === null ? '' : typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toPrecision(7)) : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
