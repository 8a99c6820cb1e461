import type { Command } from '../main.js';
import { dataOptions, deviceOption, applyThreads, csvField } from '../shared.js';
import { writeFileAtomic } from '../../util/fs.js';
import { SCORE_KINDS } from '../../detector.js';
import { warnToStderr } from '../../data/errors.js';

const command: Command = {
  spec: {
    name: 'score',
    summary: 'score images with a trained model: one row per image with its scores and verdict',
    usage: 'vigil score <model> <images...> [--format json|csv] [--out file]',
    positionals: [
      { name: 'model', help: 'Model folder written by vigil train', required: true },
      { name: 'images', help: 'Image files, folders, or a spec such as builtin:mnist:test', required: true, variadic: true },
    ],
    options: {
      score: { type: 'string', help: "Rank and decide by this score instead of the model's own (recon = the training loss's error)", choices: ['recon', ...SCORE_KINDS], value: 'kind' },
      rule: { type: 'string', help: 'Verdicts: score (the ranking score above its threshold) or either (density below or reconstruction error above its own threshold)', choices: ['score', 'either'], default: 'score' },
      format: { type: 'string', alias: 'f', help: 'Output format', choices: ['json', 'csv'], default: 'json' },
      out: { type: 'string', alias: 'o', help: 'Write results to this file (atomically) instead of stdout', value: 'file' },
      maps: { type: 'string', help: 'Also write per-pixel error maps (PNG heatmaps) into this folder', value: 'dir' },
      'map-kind': { type: 'string', help: 'Error map', choices: ['mse', 'ssim'], default: 'mse' },
      'batch-size': { type: 'number', help: 'Images per batch', default: 256, value: 'n' },
      ...dataOptions,
      ...deviceOption,
    },
    examples: [
      'vigil score model photos/new --format csv > scores.csv',
      'vigil score model a.png b.jpg',
      'vigil score model builtin:mnist:test --out mnist.json --maps maps/',
    ],
  },
  async run(a) {
    applyThreads(a.threads);
    const { Detector } = await import('../../detector.js');
    const det = Detector.load(a._[0], { device: a.device as string });
    const inputs = a._.slice(1);
    const { statSync } = await import('node:fs');
    const files = inputs.filter((p) => { try { return statSync(p).isFile() && !/idx\d-ubyte/.test(p); } catch { return false; } });
    const groups: (string | string[])[] = files.length === inputs.length ? [files] : inputs.map((p) => (files.includes(p) ? [p] : p));
    const results = [];
    for (const g of groups) {
      results.push(...(await det.score(g, {
        normalClass: a['normal-class'] as string[] | undefined, strict: a.strict as boolean, onWarning: warnToStderr,
        batchSize: a['batch-size'] as number, score: a.score as 'recon' | undefined, rule: a.rule as 'score' | 'either', maps: a.maps ? (a['map-kind'] as 'mse' | 'ssim') : false,
      })));
    }
    if (a.maps) {
      const { writeHeatmaps } = await import('../../report/heatmap.js');
      await writeHeatmaps(a.maps as string, results, det.preprocessing);
    }
    const kind = det.resolveKind(a.score as 'recon' | undefined);
    const rows = results.map((r) => ({
      id: r.id, score: r.score, isAnomaly: r.isAnomaly, mse: r.scores.mse, ssim: r.scores.ssim, density: r.scores.density,
      ...(r.scores.transform !== undefined ? { transform: r.scores.transform } : {}), combined: r.scores.combined,
      ...(r.label !== undefined ? { label: r.label } : {}), ...(r.className !== undefined ? { className: r.className } : {}),
    }));
    let text: string;
    if (a.format === 'csv') {
      const cols = ['id', 'score', 'isAnomaly', ...det.scoreKinds, 'label', 'className'];
      text = [cols.join(','), ...rows.map((r) => cols.map((c) => csvField((r as Record<string, unknown>)[c])).join(','))].join('\n') + '\n';
    } else {
      text = JSON.stringify({ model: a._[0], score: kind, threshold: det.thresholds[kind]!.value, results: rows }, null, 1) + '\n';
    }
    if (a.out) writeFileAtomic(a.out as string, text);
    else await new Promise<void>((res) => process.stdout.write(text, () => res()));
    const n = rows.filter((r) => r.isAnomaly).length;
    process.stderr.write(`${rows.length} images scored, ${n} flagged as anomalous (threshold ${det.thresholds[kind]!.value.toPrecision(4)} on ${kind})\n`);
    det.dispose();
  },
};
export default command;
