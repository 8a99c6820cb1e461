import type { Command } from '../main.js';
import { dataOptions, deviceOption, applyThreads, applyMaxPixels } from '../shared.js';

const command: Command = {
  spec: {
    name: 'report',
    summary: 'write one offline HTML report of a model: training, score distributions, ROC/PR, threshold, gallery with error overlays, latent codes',
    usage: 'vigil report <model> [images] [--normal-class name] [--out report.html]',
    positionals: [
      { name: 'model', help: 'Model folder written by vigil train', required: true },
      { name: 'images', help: 'Images to report on: labelled (class folders with --normal-class, an MVTec category, builtin:<set>:test with --normal-class) or not; without it, the normal validation images' },
    ],
    options: {
      out: { type: 'string', alias: 'o', help: 'HTML file to write', default: 'report.html', value: 'file' },
      'train-data': { type: 'string', help: "The model's training images, when they moved since training (for the normal validation images and the rejected images)", value: 'path' },
      title: { type: 'string', help: 'Report title (default: vigil report: <model>)', value: 'text' },
      'batch-size': { type: 'number', help: 'Images per batch (default 256; 8 for a model of tiles)', value: 'n' },
      ...dataOptions,
      ...deviceOption,
    },
    examples: [
      'vigil report cells-model cells/ --normal-class Uninfected --out cells.html',
      'vigil report bottle-model mvtec/bottle',
      'vigil report bottle-model            # normal validation images only',
    ],
  },
  async run(a) {
    applyThreads(a.threads);
    await applyMaxPixels(a['max-pixels']);
    const { Detector } = await import('../../detector.js');
    const { writeReport } = await import('../../report/index.js');
    const det = Detector.load(a._[0]!, { device: a.device as string });
    try {
      const r = await writeReport(a.out as string, det, {
        modelDir: a._[0], images: a._[1], normalClass: a['normal-class'] as string[] | undefined, trainingData: a['train-data'] as string | undefined,
        title: a.title as string | undefined, batchSize: a['batch-size'] as number, strict: a.strict as boolean,
        onWarning: (m) => process.stderr.write(`warning: ${m}\n`),
      });
      process.stdout.write(`${JSON.stringify({ report: r.path, bytes: r.bytes })}\n`);
    } finally {
      det.dispose();
    }
  },
};
export default command;
