/**
 * The subcommands: name, one-line summary (for `vigil --help`), and the file that implements it,
 * loaded only when the command runs, so help and usage errors never start the engine.
 * A new command is one line here and one file beside this one.
 */
import type { Command } from '../main.js';

export interface CommandEntry {
  summary: string;
  load: () => Promise<Command>;
}

export const COMMANDS: Record<string, CommandEntry> = {
  train: { summary: 'train a detector on a folder of normal images', load: async () => (await import('./train.js')).default },
  score: { summary: 'score images with a trained model (JSON, JSON lines or CSV, one row per image)', load: async () => (await import('./score.js')).default },
  evaluate: { summary: 'measure a model on labelled images (AUROC, AP, F1, confusion matrix)', load: async () => (await import('./evaluate.js')).default },
  demo: { summary: 'train and evaluate on built-in data (Fashion-MNIST vs MNIST, one-class Fashion-MNIST)', load: async () => (await import('./demo.js')).default },
  info: { summary: 'show the engine (libtorch version, threads, CUDA) and a model folder', load: async () => (await import('./info.js')).default },
  serve: { summary: 'serve models over HTTP: scoring API, metrics and a web page', load: async () => (await import('./serve.js')).default },
  report: { summary: 'write an offline HTML report: scores, curves, threshold, gallery with error overlays', load: async () => (await import('./report.js')).default },
};
