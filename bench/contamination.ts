/**
 * bench/contamination: how much does a contaminated training set hurt, with and without the robust
 * adversarial autoencoder? (Beggel et al., ECML-PKDD 2019, protocol.)
 *
 *   node dist/bench/contamination.js [--datasets mnist,fashion-mnist] [--classes 0-9] [--levels 0,0.01,0.05,0.1]
 *       [--epochs 10] [--seeds 1] [--limit N] [--device cpu] [--quick] [--malaria DIR | --no-malaria]
 *       [--filters 16,32] [--latent 16] [--batch-size 64] [--lr 2e-3]
 *       [--reject 0.1|auto] [--reject-by prior|prior+recon|prior+recon+knn] [--warmup 2] [--prior normal|gmm] [--components 10]
 *       [--gen-lr R] [--disc-lr R] [--malaria-epochs N] [--malaria-filters 16,32,64] [--malaria-latent 32]
 *       [--json results.json]
 *
 * One-class protocol: for each dataset, class c and contamination level p, train on class c of the
 * official training split with a fraction p of images of the other classes mixed in
 * (`oneClassSource(name, 'train', c, { contamination: p, seed })`, optionally capped at `--limit`
 * images in all), then score the full official test split (10,000 images; class c normal, the
 * rest anomalous). Two models with the same architecture, epochs and learning rate:
 * - AE: the plain convolutional autoencoder (`model: 'ae'`);
 * - AAE: the robust adversarial autoencoder (`model: 'aae'`, rejection settings from the options).
 * For each, the AUROC of the reconstruction score (mse), of the latent density (KDE of the codes;
 * for the AAE fitted on the images it kept), and of the combined score (ssim + density, the
 * Detector's default). The table shows the mean over classes and seeds; the loss is the drop from
 * the model's own AUROC at 0% contamination. For the AAE, `rej.prec` is the share of contaminating
 * images among those it rejected in its last epoch and `rej.recall` the share of contaminating
 * images it rejected.
 *
 * Malaria (when `--malaria DIR` or ../shared/data/malaria exists): a seeded 80% of `Uninfected` for
 * training, the other 20% of `Uninfected` (normal) and all of `Parasitized` (anomalous) for testing;
 * AUROC of each score (mse, ssim, density, combined) for AE and AAE.
 *
 * `--quick`: classes 0,1,2 (unless --classes), levels 0,0.05,0.1 (unless --levels), 3 epochs
 * (unless --epochs), at most 2000 training images (unless --limit); the output says so.
 * Prints wall time per run and in all.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { Detector, type DetectorOptions, type ScoreKind } from '../src/detector.js';
import { oneClassSource, builtinSource, FASHION_MNIST_CLASSES, MNIST_CLASSES, type BuiltinName } from '../src/data/builtin.js';
import { idxSource } from '../src/data/idx.js';
import { splitIndices } from '../src/data/split.js';
import { engineInfo, resolveDevice, getNumThreads } from '../src/engine/index.js';
import type { ImageSource } from '../src/data/types.js';
import { decodeMalaria } from './malaria.js';
import type { RejectBy } from '../src/models/aae.js';
import { arg, flag, list, range } from './args.js';

const quick = flag('quick');
const datasets = list(arg('datasets', 'mnist,fashion-mnist')!) as BuiltinName[];
const classes = range(arg('classes', quick ? '0,1,2' : '0-9')!);
const levels = list(arg('levels', quick ? '0,0.05,0.1' : '0,0.01,0.05,0.1')!).map(Number);
const epochs = Number(arg('epochs', quick ? '3' : '10'));
const seedsArg = arg('seeds', '1')!;
const seeds = seedsArg.includes(',') ? list(seedsArg).map(Number) : Array.from({ length: Number(seedsArg) }, (_, i) => i);
const limitArg = arg('limit', quick ? '2000' : undefined);
const limit = limitArg === undefined ? undefined : Number(limitArg);
const device = resolveDevice(arg('device', 'cpu')!);
const filters = list(arg('filters', '16,32')!).map(Number);
const latent = Number(arg('latent', '16'));
const batchSize = Number(arg('batch-size', '64'));
const lr = Number(arg('lr', '2e-3'));
const rejectArg = arg('reject', '0.1')!;
const reject = rejectArg === 'auto' ? 'auto' as const : Number(rejectArg);
const rejectBy = arg('reject-by', 'prior+recon+knn') as RejectBy;
const warmup = Number(arg('warmup', '2'));
const prior = arg('prior', 'gmm') as 'normal' | 'gmm';
const components = Number(arg('components', '10'));
const genLr = arg('gen-lr') === undefined ? undefined : Number(arg('gen-lr'));
const discLr = arg('disc-lr') === undefined ? undefined : Number(arg('disc-lr'));
const plainAae = flag('with-plain-aae');
const malariaDir = flag('no-malaria') ? undefined : arg('malaria', '../shared/data/malaria');
const jsonOut = arg('json');
if (!(levels.includes(0))) throw new Error('--levels must include 0 (the reference for the AUROC loss)');

const common: DetectorOptions = {
  epochs, lr, batchSize, device, architecture: { filters, latent }, progress: false, onWarning: () => {},
};
const aaeOptions = { reject, rejectBy, warmup, prior, components, genLr, discLr };
const SCORES: ScoreKind[] = ['mse', 'ssim', 'density', 'combined'];

interface Run {
  dataset: string; cls: number; level: number; seed: number; model: 'ae' | 'aae' | 'aae0';
  auroc: Record<ScoreKind, number>; seconds: number; rejected?: number; rejPrecision?: number; rejRecall?: number; rejFraction?: number;
}
const runs: Run[] = [];
const t0 = Date.now();

const fmt = (v: number, d = 3) => (Number.isFinite(v) ? v.toFixed(d) : '  -  ');
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);

async function fitAndEvaluate(train: ImageSource, test: ImageSource, opts: DetectorOptions): Promise<{ auroc: Record<ScoreKind, number>; det: Detector; seconds: number }> {
  const s0 = Date.now();
  const det = await Detector.fit(train, opts);
  const { summary } = await det.evaluate(test);
  const auroc = Object.fromEntries(SCORES.map((k) => [k, summary[k]!.auroc])) as Record<ScoreKind, number>;
  return { auroc, det, seconds: (Date.now() - s0) / 1000 };
}

function header(): void {
  const info = engineInfo();
  console.log(`# vigil contamination benchmark${quick ? ' (QUICK MODE: a reduced configuration, not the full protocol)' : ''}`);
  console.log(`# ${new Date().toISOString()}  node ${process.version}  libtorch ${info.torch}  device ${device}  threads ${getNumThreads()}  cpus ${cpus().length} x ${cpus()[0]?.model ?? '?'}`);
  console.log(`# datasets ${datasets.join(',')}  classes ${classes.join(',')}  levels ${levels.join(',')}  seeds ${seeds.join(',')}  epochs ${epochs}` +
    `  train limit ${limit ?? 'all'}  arch strided filters [${filters}] latent ${latent}  batch ${batchSize}  lr ${lr}`);
  console.log(`# AAE: reject ${reject}  rejectBy ${rejectBy}  warmup ${warmup}  prior ${prior}${prior === 'gmm' ? ` (${components} components)` : ''}` +
    `  genLr ${genLr ?? 'lr/2'}  discLr ${discLr ?? 'lr/4'}${plainAae ? '  (+ AAE without rejection: aae0)' : ''}`);
  console.log(`# command: node ${process.argv.slice(1).map((a) => a.replace(/^.*\/dist\//, 'dist/')).join(' ')}`);
}

async function builtinStudy(name: BuiltinName): Promise<void> {
  const names = name === 'mnist' ? MNIST_CLASSES : FASHION_MNIST_CLASSES;
  for (const cls of classes) {
    const test = builtinSource(name, 'test', { normal: [cls] });
    for (const seed of seeds) {
      for (const level of levels) {
        const train = oneClassSource(name, 'train', cls, { contamination: level, seed, limit });
        const contaminant = new Set(train.items.filter((it) => it.label === 1).map((it) => it.id));
        for (const model of plainAae ? ['ae', 'aae', 'aae0'] as const : ['ae', 'aae'] as const) {
          const { auroc, det, seconds } = await fitAndEvaluate(train, test, {
            ...common, seed, model: model === 'ae' ? 'ae' : 'aae',
            ...(model === 'aae' ? { aae: aaeOptions } : model === 'aae0' ? { aae: { ...aaeOptions, reject: 0 } } : {}),
          });
          const run: Run = { dataset: name, cls, level, seed, model, auroc, seconds };
          const rj = det.training!.rejected;
          if (rj && model === 'aae') {
            const hits = rj.ids.filter((id) => contaminant.has(id)).length;
            // contaminants among the images the detector trained on (the rest went to validation)
            const inTrain = det.training!.items;
            run.rejected = rj.count;
            run.rejFraction = rj.fraction;
            run.rejPrecision = rj.count ? hits / rj.count : NaN;
            run.rejRecall = contaminant.size ? hits / Math.max(1, Math.round(contaminant.size * inTrain / train.items.length)) : NaN;
          }
          det.dispose();
          runs.push(run);
          process.stderr.write(`${name} class ${cls} (${names[cls]}) level ${level} seed ${seed} ${model}: ` +
            SCORES.map((k) => `${k} ${fmt(auroc[k])}`).join(' ') +
            (run.rejected !== undefined ? ` rejected ${run.rejected} (prec ${fmt(run.rejPrecision!, 2)})` : '') + ` ${seconds.toFixed(1)}s\n`);
        }
      }
    }
  }
  printTable(name);
}

function printTable(name: string): void {
  const sel = (model: string, level: number) => runs.filter((r) => r.dataset === name && r.model === model && r.level === level);
  const m = (model: string, level: number, k: ScoreKind) => mean(sel(model, level).map((r) => r.auroc[k]));
  console.log(`\n## ${name}: mean AUROC over classes ${classes.join(',')} x seeds ${seeds.join(',')} (${epochs} epochs${limit ? `, <= ${limit} training images` : ''})\n`);
  console.log('| contamination | AE mse | AAE mse | AE density | AAE density | AE combined | AAE combined | AAE rejected | rej. prec | rej. recall |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const level of levels) {
    const a = sel('aae', level);
    console.log(`| ${(level * 100).toFixed(0)}% | ${fmt(m('ae', level, 'mse'))} | ${fmt(m('aae', level, 'mse'))} | ${fmt(m('ae', level, 'density'))} | ${fmt(m('aae', level, 'density'))} | ` +
      `${fmt(m('ae', level, 'combined'))} | ${fmt(m('aae', level, 'combined'))} | ${fmt(mean(a.map((r) => r.rejected ?? 0)), 0)} | ` +
      `${level ? fmt(mean(a.map((r) => r.rejPrecision ?? NaN).filter(Number.isFinite)), 2) : '-'} | ${level ? fmt(mean(a.map((r) => r.rejRecall ?? NaN).filter(Number.isFinite)), 2) : '-'} |`);
  }
  console.log(`\nAUROC loss against 0% contamination (reconstruction score, mse; target: AAE loss <= half the AE loss):\n`);
  console.log('| contamination | AE loss | AAE loss | AAE / AE | AE loss (combined) | AAE loss (combined) | AE loss (density) | AAE loss (density) |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const level of levels.filter((l) => l > 0)) {
    const loss = (model: string, k: ScoreKind) => m(model, 0, k) - m(model, level, k);
    const ae = loss('ae', 'mse'), aae = loss('aae', 'mse');
    const ratio = ae > 1e-9 ? (aae / ae).toFixed(2) : 'AE lost nothing';
    console.log(`| ${(level * 100).toFixed(0)}% | ${fmt(ae)} | ${fmt(aae)} | ${ratio} | ${fmt(loss('ae', 'combined'))} | ${fmt(loss('aae', 'combined'))} | ${fmt(loss('ae', 'density'))} | ${fmt(loss('aae', 'density'))} |`);
  }
  if (plainAae) {
    console.log('\nAblation: the same AAE without rejection (reject 0), mean AUROC and loss against 0%:\n');
    console.log('| contamination | AAE-no-reject mse | loss | AAE-no-reject density | AAE-no-reject combined | loss (combined) |');
    console.log('| --- | --- | --- | --- | --- | --- |');
    for (const level of levels) {
      console.log(`| ${(level * 100).toFixed(0)}% | ${fmt(m('aae0', level, 'mse'))} | ${level ? fmt(m('aae0', 0, 'mse') - m('aae0', level, 'mse')) : '-'} | ` +
        `${fmt(m('aae0', level, 'density'))} | ${fmt(m('aae0', level, 'combined'))} | ${level ? fmt(m('aae0', 0, 'combined') - m('aae0', level, 'combined')) : '-'} |`);
    }
  }
  console.log('\nPer class, mse AUROC (AE / AAE) by contamination:\n');
  console.log(`| class | ${levels.map((l) => `${(l * 100).toFixed(0)}%`).join(' | ')} |`);
  console.log(`| --- | ${levels.map(() => '---').join(' | ')} |`);
  const names = name === 'mnist' ? MNIST_CLASSES : FASHION_MNIST_CLASSES;
  for (const cls of classes) {
    const cell = (level: number) => {
      const pick = (model: string) => mean(runs.filter((r) => r.dataset === name && r.cls === cls && r.level === level && r.model === model).map((r) => r.auroc.mse));
      return `${fmt(pick('ae'))} / ${fmt(pick('aae'))}`;
    };
    console.log(`| ${cls} ${names[cls]} | ${levels.map(cell).join(' | ')} |`);
  }
}



async function malariaStudy(dir: string): Promise<void> {
  const s0 = Date.now();
  const { images, labels, n } = await decodeMalaria(dir);
  const uninfected = Array.from({ length: n }, (_, i) => i).filter((i) => labels[i] === 0);
  const parasitized = Array.from({ length: n }, (_, i) => i).filter((i) => labels[i] === 1);
  const mEpochs = Number(arg('malaria-epochs', String(epochs)));
  const mFilters = list(arg('malaria-filters', '16,32,64')!).map(Number);
  const mLatent = Number(arg('malaria-latent', '32'));
  const results: { seed: number; model: string; auroc: Record<ScoreKind, number>; seconds: number; rejected?: number }[] = [];
  for (const seed of seeds) {
    const { train, val: held } = splitIndices(uninfected, { fraction: 0.2, seed });
    const src = (indices: number[]) => idxSource(images, labels, { height: 50, width: 50, name: 'malaria', split: 'all', indices, classNames: ['Uninfected', 'Parasitized'], normal: [0] });
    const trainSrc = src(train);
    const testSrc = src([...held, ...parasitized].sort((a, b) => a - b));
    for (const model of ['ae', 'aae'] as const) {
      const { auroc, det, seconds } = await fitAndEvaluate(trainSrc, testSrc, {
        ...common, epochs: mEpochs, architecture: { filters: mFilters, latent: mLatent }, seed, model, ...(model === 'aae' ? { aae: aaeOptions } : {}),
      });
      results.push({ seed, model, auroc, seconds, rejected: det.training!.rejected?.count });
      det.dispose();
      process.stderr.write(`malaria seed ${seed} ${model}: ${SCORES.map((k) => `${k} ${fmt(auroc[k])}`).join(' ')} ${seconds.toFixed(1)}s\n`);
    }
  }
  console.log(`\n## malaria (NIH cell images, 50x50 grayscale copy): train on a seeded 80% of Uninfected (${Math.round(uninfected.length * 0.8)}), ` +
    `test on the other 20% of Uninfected vs all ${parasitized.length} Parasitized; ${mEpochs} epochs, filters [${mFilters}] latent ${mLatent}; mean over seeds ${seeds.join(',')}\n`);
  console.log('| model | mse | ssim | density | combined | rejected | seconds |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const model of ['ae', 'aae']) {
    const r = results.filter((x) => x.model === model);
    console.log(`| ${model === 'ae' ? 'AE' : 'robust AAE'} | ${SCORES.map((k) => fmt(mean(r.map((x) => x.auroc[k])))).join(' | ')} | ${model === 'aae' ? fmt(mean(r.map((x) => x.rejected ?? 0)), 0) : '-'} | ${fmt(mean(r.map((x) => x.seconds)), 1)} |`);
  }
  console.log(`\nmalaria wall time ${((Date.now() - s0) / 1000).toFixed(0)} s`);
  for (const r of results) runs.push({ dataset: 'malaria', cls: 0, level: 0, seed: r.seed, model: r.model as 'ae' | 'aae', auroc: r.auroc, seconds: r.seconds, rejected: r.rejected });
}

header();
for (const name of datasets) await builtinStudy(name);
if (malariaDir && existsSync(malariaDir)) await malariaStudy(malariaDir);
else if (malariaDir) console.log(`\n(malaria section skipped: ${malariaDir} not found; pass --malaria DIR)`);
const total = (Date.now() - t0) / 1000;
console.log(`\ntotal wall time ${total.toFixed(0)} s (${(total / 60).toFixed(1)} min) for ${runs.length} trainings`);
if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ argv: process.argv.slice(2), runs, seconds: total }, null, 1));
