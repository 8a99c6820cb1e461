import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from '../main.js';
import { deviceOption, applyThreads, warn } from '../shared.js';
import { checkOutputPath } from '../validate.js';
import { resolveClasses } from '../../data/builtin.js';
import { writeFileAtomic } from '../../util/fs.js';

const command: Command = {
  spec: {
    name: 'demo',
    summary: 'train and evaluate on built-in data: Fashion-MNIST vs MNIST digits, and one-class Fashion-MNIST',
    usage: 'vigil demo [--out dir]',
    positionals: [],
    options: {
      out: { type: 'string', alias: 'o', help: 'Folder for the models, scores and heatmaps', default: 'vigil-demo', value: 'dir' },
      class: { type: 'string', help: 'Normal Fashion-MNIST class of the one-class experiment (number or name)', default: '0', value: 'class', validate: (c) => { resolveClasses('fashion-mnist', [c]); } },
      'train-images': { type: 'integer', help: 'Fashion-MNIST training images for the first experiment', default: 6000, value: 'n', min: 10 },
      'test-images': { type: 'integer', help: 'Test images per dataset in the first experiment', default: 2000, value: 'n', min: 1 },
      epochs: { type: 'integer', help: 'Training epochs per experiment', default: 4, value: 'n', min: 1 },
      seed: { type: 'integer', help: 'Random seed', default: 0, value: 'n', min: 0 },
      ...deviceOption,
    },
    examples: ['vigil demo', 'vigil demo --class Trouser --epochs 10 --out /tmp/demo'],
  },
  async run(a) {
    checkOutputPath(a.out as string, '--out', 'folder');
    const t0 = Date.now();
    const { Detector } = await import('../../detector.js');
    await applyThreads(a.threads);
    const { builtinSource, oneClassSource, FASHION_MNIST_CLASSES } = await import('../../data/builtin.js');
    const { auroc } = await import('../../eval/metrics.js');
    const { writeHeatmaps } = await import('../../report/heatmap.js');
    const out = resolve(a.out as string);
    mkdirSync(out, { recursive: true });
    const seed = a.seed as number;
    const epochs = a.epochs as number;
    const common = { epochs, batchSize: 64, device: a.device as string, seed, progress: true, onWarning: warn } as const;
    const log = (s: string) => process.stderr.write(`${s}\n`);
    const table = (rows: { score: string; auroc: number }[]) => rows.map((r) => `    ${r.score.padEnd(9)} AUROC ${r.auroc.toFixed(4)}`).join('\n');
    const kinds = ['mse', 'ssim', 'density', 'combined'] as const;

    // 1. Clothes are normal, digits are anomalies.
    const nTrain = a['train-images'] as number, nTest = a['test-images'] as number;
    log(`\n[1/2] Fashion-MNIST (normal) vs MNIST digits (anomalies): training on ${nTrain} Fashion-MNIST images`);
    const fashionTrain = builtinSource('fashion-mnist', 'train', { limit: nTrain, seed });
    const det1 = await Detector.fit(fashionTrain, common);
    const fashionTest = builtinSource('fashion-mnist', 'test', { limit: nTest, seed });
    const digits = builtinSource('mnist', 'test', { limit: nTest, seed });
    const r1 = [...(await det1.score(fashionTest, { maps: 'mse' })).map((r) => ({ ...r, label: 0 as const })),
      ...(await det1.score(digits, { maps: 'mse' })).map((r) => ({ ...r, label: 1 as const }))];
    const auc1 = kinds.map((k) => ({ score: k, auroc: auroc(r1.map((r) => r.scores[k]), r1.map((r) => r.label)) }));
    det1.save(join(out, 'fashion-vs-mnist-model'));
    writeFileAtomic(join(out, 'fashion-vs-mnist-scores.json'), JSON.stringify(r1.map(({ map, ...r }) => r), null, 1));
    const few = [...(await det1.inspect(fashionTest, { indices: [0, 1, 2, 3] })), ...(await det1.inspect(digits, { indices: [nTest - 4, nTest - 3, nTest - 2, nTest - 1] }))];
    await writeHeatmaps(join(out, 'fashion-vs-mnist-heatmaps'), few, det1.preprocessing, { scale: det1.training?.errorScale });
    const { writeReport } = await import('../../report/index.js');
    const { labelledUnion } = await import('../../report/select.js');
    const report1 = await writeReport(join(out, 'fashion-vs-mnist-report.html'), det1, {
      modelDir: join(out, 'fashion-vs-mnist-model'), title: 'Fashion-MNIST (normal) vs MNIST digits (anomalies)', trainingName: `builtin:fashion-mnist:train (${nTrain} images)`,
      images: labelledUnion([{ source: fashionTest, label: 0, className: 'Fashion-MNIST' }, { source: digits, label: 1, className: 'MNIST digit' }]), scores: r1.map((r) => ({ ...r, className: r.label ? 'MNIST digit' : 'Fashion-MNIST' })), dataName: `builtin:fashion-mnist:test + builtin:mnist:test (${nTest} + ${nTest})`,
    });
    det1.dispose();

    // 2. One class of Fashion-MNIST is normal, the other nine are anomalies (the standard protocol).
    const [cls] = resolveClasses('fashion-mnist', [a.class as string]);
    log(`\n[2/2] one-class Fashion-MNIST: normal = class ${cls} (${FASHION_MNIST_CLASSES[cls]}), anomalies = the other nine classes`);
    const det2 = await Detector.fit(oneClassSource('fashion-mnist', 'train', cls), common);
    const test2 = builtinSource('fashion-mnist', 'test', { normal: [cls] });
    const r2 = await det2.score(test2);
    const auc2 = kinds.map((k) => ({ score: k, auroc: auroc(r2.map((r) => r.scores[k]), r2.map((r) => r.label!)) }));
    det2.save(join(out, 'one-class-model'));
    const report2 = await writeReport(join(out, 'one-class-report.html'), det2, {
      modelDir: join(out, 'one-class-model'), title: `One-class Fashion-MNIST: normal = ${FASHION_MNIST_CLASSES[cls]}`, trainingName: `builtin:fashion-mnist:train, class ${FASHION_MNIST_CLASSES[cls]}`,
      images: test2, scores: r2, dataName: 'builtin:fashion-mnist:test (10,000 images)',
    });
    writeFileAtomic(join(out, 'one-class-scores.json'), JSON.stringify(r2.map(({ map, ...r }) => r), null, 1));
    det2.dispose();

    const summary = {
      fashionVsMnist: { trainImages: nTrain, testImages: { fashion: nTest, mnist: nTest }, auroc: Object.fromEntries(auc1.map((r) => [r.score, r.auroc])) },
      oneClass: { normalClass: FASHION_MNIST_CLASSES[cls], auroc: Object.fromEntries(auc2.map((r) => [r.score, r.auroc])) },
      epochs, seconds: (Date.now() - t0) / 1000,
    };
    writeFileAtomic(join(out, 'summary.json'), JSON.stringify(summary, null, 1) + '\n');
    process.stdout.write([
      '',
      'vigil demo results',
      `  Fashion-MNIST vs MNIST digits (${nTest} + ${nTest} test images):`,
      table(auc1),
      `  one-class Fashion-MNIST, normal = ${FASHION_MNIST_CLASSES[cls]} (10,000 test images):`,
      table(auc2),
      `  (the detector's default score is 'combined')`,
      '',
      `outputs in ${out}:`,
      '  fashion-vs-mnist-model/, one-class-model/   model folders (vigil score <folder> <images>)',
      '  *-scores.json                               per-image scores and verdicts',
      '  fashion-vs-mnist-heatmaps/                  error maps of a few images, over the images (legend.svg)',
      `  fashion-vs-mnist-report.html                the report of experiment 1 (${(report1.bytes / 1e6).toFixed(1)} MB, opens offline)`,
      `  one-class-report.html                       the report of experiment 2 (${(report2.bytes / 1e6).toFixed(1)} MB)`,
      '  summary.json',
      `finished in ${summary.seconds.toFixed(0)}s`,
      '',
    ].join('\n'));
  },
};
export default command;
