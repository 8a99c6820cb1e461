import type { Command } from '../main.js';
import { dataOptions, deviceOption, applyThreads, applyMaxPixels, warn } from '../shared.js';
import { checkOutputPath } from '../validate.js';
import { writeFileAtomic } from '../../util/fs.js';

const command: Command = {
  spec: {
    name: 'evaluate',
    summary: 'measure a model on labelled images: AUROC, average precision, F1, confusion matrix (and pixel AUROC with masks)',
    usage: 'vigil evaluate <model> <labelled-images> [--normal-class name] [--json]',
    positionals: [
      { name: 'model', help: 'Model folder written by vigil train', required: true },
      { name: 'labelled-images', help: 'Class folders (with --normal-class), an MVTec category (its test split), or builtin:<set>:test with --normal-class', required: true },
    ],
    options: {
      ...dataOptions,
      json: { type: 'boolean', help: 'Print the full report as JSON' },
      out: { type: 'string', alias: 'o', help: 'Also write the JSON report to this file', value: 'file' },
      report: { type: 'string', help: 'Also write the offline HTML report (as vigil report) to this file', value: 'file' },
      'batch-size': { type: 'integer', help: 'Images per batch (default 256; 8 for a model of tiles, whose images hold thousands of tiles)', value: 'n', min: 1 },
      ...deviceOption,
    },
    examples: [
      'vigil evaluate cell-model cells/ --normal-class Uninfected',
      'vigil evaluate bottle-model mvtec/bottle',
      'vigil evaluate fmnist-model builtin:fashion-mnist:test --normal-class 1',
    ],
  },
  async run(a) {
    if (a.out !== undefined) checkOutputPath(a.out as string, '--out', 'file');
    const { Detector } = await import('../../detector.js');
    await applyThreads(a.threads);
    await applyMaxPixels(a['max-pixels']);
    const det = Detector.load(a._[0], { device: a.device as string });
    const { summary, pixelAuroc, results } = await det.evaluate(a._[1], {
      normalClass: a['normal-class'] as string[] | undefined, strict: a.strict as boolean, batchSize: a['batch-size'] as number, onWarning: warn,
    });
    const report = { model: a._[0], data: a._[1], images: results.length, score: det.scoreKind, metrics: summary, pixelAuroc };
    if (a.out) writeFileAtomic(a.out as string, JSON.stringify(report, null, 1) + '\n');
    if (a.report) {
      const { writeReport } = await import('../../report/index.js');
      const r = await writeReport(a.report as string, det, { modelDir: a._[0], images: a._[1], normalClass: a['normal-class'] as string[] | undefined, strict: a.strict as boolean, batchSize: a['batch-size'] as number });
      process.stderr.write(`report: ${r.path} (${(r.bytes / 1e6).toFixed(1)} MB)\n`);
    }
    if (a.json) {
      process.stdout.write(JSON.stringify(report, null, 1) + '\n');
    } else {
      const main = summary[det.scoreKind]!;
      const lines = [
        `${results.length} images: ${main.nNormal} normal, ${main.nAnomalous} anomalous`,
        '',
        `score      AUROC   AP      F1      precision recall  threshold`,
        ...det.scoreKinds.map((k) => {
          const s = summary[k]!;
          const f = (v: number) => (Number.isFinite(v) ? v.toFixed(4) : '  -   ');
          return `${(k + (k === det.scoreKind ? '*' : '')).padEnd(10)} ${f(s.auroc)}  ${f(s.averagePrecision)}  ${f(s.f1)}  ${f(s.precision)}    ${f(s.recall)}  ${s.threshold?.toPrecision(4) ?? '-'}`;
        }),
        '',
        `confusion matrix (${det.scoreKind}, anomaly = positive): TP ${main.confusion.tp}  FP ${main.confusion.fp}  TN ${main.confusion.tn}  FN ${main.confusion.fn}`,
      ];
      if (pixelAuroc !== undefined) lines.push(`pixel-level AUROC: ${pixelAuroc.toFixed(4)}`);
      process.stdout.write(lines.join('\n') + '\n');
    }
    det.dispose();
  },
};
export default command;
