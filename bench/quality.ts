/**
 * bench/quality: detection quality on the standard one-class protocol, vigil's default
 * configuration and its best one side by side, next to the PyTorch reference script and the
 * published numbers (docs/BENCHMARKS.md has the tables, the machines and the sources).
 *
 *   node dist/bench/quality.js [--device cpu|cuda|auto] [--jobs N] [--quick]
 *       [--datasets mnist,fashion-mnist] [--classes 0-9] [--seeds 3] [--epochs N] [--configs default,best]
 *       [--torch PATH | --no-torch] [--torch-epochs N] [--torch-parallel] [--python python3]
 *       [--malaria DIR | --no-malaria] [--malaria-seeds N] [--json results.json]
 *
 * Protocol (Ruff et al. 2018; Golan & El-Yaniv 2018): for each class k of MNIST / Fashion-MNIST,
 * train on the official training images of class k only (`oneClassSource(name, 'train', k)`),
 * score the whole official test set (`builtinSource(name, 'test', { normal: [k] })`: class k
 * normal, the other nine anomalous), AUROC per class, mean over the classes; every (class, seed)
 * is a fresh fit. Seeds 0..S-1 (default 3); the tables show per-class means over the seeds and,
 * for the mean over classes, mean ± standard deviation over the seeds. One configuration per
 * dataset for all ten classes; no anomalous image is used for training.
 *
 * Configurations (`CONFIGS` below): 'default' is `Detector.fit(source, {})` (nothing set but seed
 * and device); 'best' is the best configuration found per dataset (docs/BENCHMARKS.md says how it
 * was chosen); the other names are the candidates that were tried. A configuration with
 * `members: n` is a `DetectorEnsemble` of n seeds; when its other options equal another
 * configuration's, that configuration's detector is reused as member 0 (exactly the detector
 * `DetectorEnsemble.fit` trains first). Likewise a configuration that only adds `transforms` to
 * another one's options (best = default + the transformation classifier) gets that detector with
 * the classifier added (`Detector.withTransforms`: the autoencoder is not trained twice; on the
 * CPU the result is exactly what `Detector.fit` with `transforms` gives; seconds include the
 * reused detector's). For each configuration the tables give the AUROC of its
 * ranking score (bold) and of every single score (mse, ssim, density) of the same models.
 *
 * PyTorch reference (when `python3 -c 'import torch'` works, or /usr/bin/python3's does):
 * `../shared/reference/torch_oneclass.py` (or --torch PATH) on the same official files (a temp
 * DATA_DIR of links), the same number of seeds, --torch-epochs (default: vigil's epochs, 30), one
 * process per dataset; --torch-parallel runs it at the same time as vigil's trainings.
 *
 * Malaria (when ../shared/data/malaria or --malaria DIR exists, or DIR.images + DIR.labels, the
 * same images decoded to bytes; NIH cell images, a 50x50 grayscale copy): normal = Uninfected; a
 * seeded 80% of Uninfected for training, the other 20% (normal) and all Parasitized (anomalous)
 * for testing. MVTec AD is not available here.
 *
 * --jobs N: N worker processes of this script, each taking every N-th (dataset, class, seed);
 * worth it on a GPU, where one process is bound by its host-side work (VIGIL_THREADS sets each
 * worker's CPU threads). --quick (CPU quick mode, labelled as such in every table): classes 0,4,8
 * of each dataset (unless --classes), 1 seed, 3 epochs for vigil and PyTorch (unless --epochs /
 * --torch-epochs), malaria 1 seed, and the transformation classifier (config best) at 1 epoch of 8
 * transformations (flips x quarter turns, no shifts). Prints the wall time of each part and in all.
 */
import { existsSync, mkdtempSync, mkdirSync, symlinkSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join, basename } from 'node:path';
import { spawnSync, spawn } from 'node:child_process';
import { Detector, defaultCombine, type ScoreKind } from '../src/detector.js';
import { DetectorEnsemble, type EnsembleOptions } from '../src/detector/ensemble.js';
import { oneClassSource, builtinSource, builtinFiles, FASHION_MNIST_CLASSES, MNIST_CLASSES, type BuiltinName } from '../src/data/builtin.js';
import { idxSource } from '../src/data/idx.js';
import { splitIndices } from '../src/data/split.js';
import { engineInfo, resolveDevice, getNumThreads } from '../src/engine/index.js';
import type { ImageSource } from '../src/data/types.js';
import { decodeMalaria } from './malaria.js';
import { arg, flag, list, range } from './args.js';

type DatasetName = BuiltinName | 'malaria';
type ConfigName = 'default' | 'best' | 'max' | 'ens3' | 'msessim' | 'msessim-ens3' | 'fuse3' | 'transforms' | 'transforms-ens3';

/**
 * The configurations. 'default' is vigil's defaults (nothing set). 'best' is the configuration
 * this bench found best per dataset, fixed before the full runs (docs/BENCHMARKS.md says how).
 */
export const CONFIGS: Record<ConfigName, Record<DatasetName, EnsembleOptions>> = {
  default: { mnist: {}, 'fashion-mnist': {}, malaria: {} },
  best: {
    // the default detector plus the transformation classifier (3 epochs), its score fused with
    // the default ones: combined = ssim + density + transform
    mnist: { transforms: true },
    'fashion-mnist': { transforms: true },
    malaria: { loss: 'mse+ssim', score: 'ssim' },
  },
  // candidates tried while choosing 'best' (docs/BENCHMARKS.md); same for every dataset
  max: each({ fusion: 'max' }),
  ens3: each({ members: 3 }),
  msessim: each({ loss: 'mse+ssim' }),
  'msessim-ens3': each({ loss: 'mse+ssim', members: 3 }),
  fuse3: each({ combine: ['mse', 'ssim', 'density'] }),
  transforms: each({ transforms: true }),
  'transforms-ens3': each({ transforms: true, members: 3 }),
};
function each(o: EnsembleOptions): Record<DatasetName, EnsembleOptions> {
  return { mnist: o, 'fashion-mnist': o, malaria: o };
}

const quick = flag('quick');
const datasets = list(arg('datasets', 'mnist,fashion-mnist')!) as BuiltinName[];
const QUICK_CLASSES = '0,4,8';
const classes = range(arg('classes', quick ? QUICK_CLASSES : '0-9')!);
const seedsArg = arg('seeds', quick ? '1' : '3')!;
const seeds = seedsArg.includes(',') ? list(seedsArg).map(Number) : Array.from({ length: Number(seedsArg) }, (_, i) => i);
const epochsArg = arg('epochs', quick ? '3' : undefined);
const epochs = epochsArg === undefined ? undefined : Number(epochsArg);
const device = resolveDevice(arg('device', 'auto')!);
const configs = list(arg('configs', 'default,best')!) as ConfigName[];
const torchScript = flag('no-torch') ? undefined : arg('torch', findTorchScript());
const torchEpochs = Number(arg('torch-epochs', String(epochs ?? 30)));
const malariaDir = flag('no-malaria') ? undefined : arg('malaria', '../shared/data/malaria');
const malariaSeedsArg = arg('malaria-seeds', quick ? '1' : String(seeds.length))!;
const malariaSeeds = Array.from({ length: Number(malariaSeedsArg) }, (_, i) => i);
const jsonOut = arg('json');
const jobs = Number(arg('jobs', '1'));
const shard = arg('shard'); // 'i/N': worker mode, used by --jobs
const torchParallel = flag('torch-parallel');
const deadline = Number(arg('deadline', '0')); // seconds; 0 = none. At the deadline the workers and PyTorch are stopped and the tables print what finished.
const children: { kill: (s?: NodeJS.Signals) => boolean }[] = [];
let incomplete = false;
if (deadline > 0 && !shard) setTimeout(() => { incomplete = true; for (const c of children) c.kill('SIGTERM'); }, deadline * 1000).unref();
for (const c of configs) if (!(c in CONFIGS)) throw new Error(`unknown config '${c}' (use ${Object.keys(CONFIGS).join(', ')})`);

function findTorchScript(): string | undefined {
  for (const p of ['../shared/reference/torch_oneclass.py', 'shared/reference/torch_oneclass.py']) if (existsSync(p)) return p;
  return undefined;
}

const SCORES: ScoreKind[] = ['combined', 'mse', 'ssim', 'density', 'transform'];
interface Run { dataset: DatasetName; config: ConfigName; cls: number; seed: number; score: ScoreKind; auroc: Record<ScoreKind, number>; seconds: number }
interface TorchRow { dataset: string; class: number; seed: number; auroc_mse: number; auroc_ssim: number; auroc_kde: number; auroc_mse_kde: number; seconds: number }
const runs: Run[] = [];
let torchRows: TorchRow[] = [];
const wall: Record<string, number> = {};
const t0 = Date.now();

const fmt = (v: number, d = 3) => (Number.isFinite(v) ? v.toFixed(d) : '-');
const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
const sd = (xs: number[]) => (xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean(xs)) ** 2, 0) / (xs.length - 1)) : 0);

function optionsFor(config: ConfigName, dataset: DatasetName, seed: number): EnsembleOptions {
  const o: EnsembleOptions = { ...CONFIGS[config][dataset], seed, device, progress: false, onWarning: () => {} };
  if (epochs !== undefined) o.epochs = epochs;
  // CPU quick mode: the transformation classifier's 72 passes per image would take most of the
  // half hour on 2 cores; one epoch of the 8 flips and quarter turns (no shifts) keeps the idea
  if (quick && o.transforms) o.transforms = { ...(o.transforms === true ? {} : o.transforms), ...QUICK_TRANSFORMS };
  return o;
}
const QUICK_TRANSFORMS = { epochs: 1, shifts: 0 } as const;

function describe(o: EnsembleOptions): string {
  const keys = Object.entries(o).filter(([k]) => !['seed', 'device', 'progress', 'onWarning'].includes(k));
  return keys.length ? keys.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ') : '(vigil defaults)';
}

function header(): void {
  const info = engineInfo();
  console.log(`# vigil detection-quality benchmark${quick ? ` -- QUICK MODE (CPU quick mode: ${classes.length} classes, ${seeds.length} seed${seeds.length > 1 ? 's' : ''}, ${epochs} epochs; NOT the full protocol)` : ''}`);
  console.log(`# ${new Date().toISOString()}  node ${process.version}  libtorch ${info.torch}  device ${device}  threads ${getNumThreads()}  cpus ${cpus().length} x ${cpus()[0]?.model ?? '?'}`);
  console.log(`# datasets ${datasets.join(',')}  classes ${classes.join(',')}  seeds ${seeds.join(',')}  epochs ${epochs ?? 'config default (30)'}  configs ${configs.join(',')}`);
  for (const c of configs) for (const d of [...datasets, 'malaria' as const]) console.log(`# config ${c} ${d}: ${describe(CONFIGS[c][d])}`);
  console.log(`# command: node ${process.argv.slice(1).map((a) => a.replace(/^.*\/dist\//, 'dist/')).join(' ')}`);
}

interface Task { dataset: DatasetName; cls: number; seed: number }

function allTasks(withMalaria: boolean): Task[] {
  const t: Task[] = [];
  for (const dataset of datasets) for (const cls of classes) for (const seed of seeds) t.push({ dataset, cls, seed });
  if (withMalaria) for (const seed of malariaSeeds) t.push({ dataset: 'malaria', cls: 0, seed });
  return t;
}

let malariaCache: Awaited<ReturnType<typeof loadMalaria>> | undefined;
/**
 * Trains and evaluates every configuration for one (dataset, class, seed). A configuration that is
 * a seed ensemble of another one's exact options (e.g. best = { members: 3 } over default = {})
 * reuses that configuration's detector as its member 0 (`DetectorEnsemble.from`), which is the
 * detector `DetectorEnsemble.fit` would train first; its seconds include member 0's.
 */
async function runTask(t: Task): Promise<Run[]> {
  let train: ImageSource, test: ImageSource;
  if (t.dataset === 'malaria') {
    malariaCache ??= await loadMalaria(malariaDir!);
    const { images, labels, n } = malariaCache;
    const uninfected = Array.from({ length: n }, (_, i) => i).filter((i) => labels[i] === 0);
    const parasitized = Array.from({ length: n }, (_, i) => i).filter((i) => labels[i] === 1);
    const src = (indices: number[]) => idxSource(images, labels, { height: 50, width: 50, name: 'malaria', split: 'all', indices, classNames: ['Uninfected', 'Parasitized'], normal: [0] });
    const { train: tr, val: held } = splitIndices(uninfected, { fraction: 0.2, seed: t.seed });
    train = src(tr);
    test = src([...held, ...parasitized].sort((a, b) => a - b));
  } else {
    train = oneClassSource(t.dataset, 'train', t.cls);
    test = builtinSource(t.dataset, 'test', { normal: [t.cls] });
  }
  const names = t.dataset === 'mnist' ? MNIST_CLASSES : t.dataset === 'fashion-mnist' ? FASHION_MNIST_CLASSES : ['Uninfected'];
  const out: Run[] = [];
  const singles = new Map<string, { det: Detector; seconds: number }>();
  const key = (o: EnsembleOptions) => JSON.stringify({ ...o, members: undefined });
  const withoutTransforms = (o: EnsembleOptions) => JSON.stringify({ ...o, members: undefined, transforms: undefined });
  try {
    for (const config of configs) {
      const opts = optionsFor(config, t.dataset, t.seed);
      const members = opts.members ?? 1;
      const s0 = Date.now();
      let det: Detector | DetectorEnsemble;
      let reused = 0;
      const transforms = opts.transforms || undefined;
      const plain = transforms && members <= 1 ? singles.get(withoutTransforms(opts)) : undefined;
      if (plain && transforms) {
        // the same detector plus the classifier: add it to that one's copy (Detector.withTransforms)
        det = await plain.det.withTransforms(train, transforms, { batchSize: opts.batchSize });
        reused = plain.seconds;
      } else if (members <= 1) {
        det = await Detector.fit(train, opts);
      } else {
        const base = singles.get(key(opts));
        const dets: Detector[] = [];
        if (base) { dets.push(base.det); reused = base.seconds; }
        const { members: _m, ...single } = opts;
        for (let i = dets.length; i < members; i++) dets.push(await Detector.fit(train, { ...single, seed: t.seed + 1000 * i }));
        det = DetectorEnsemble.from(dets, dets.map((_, i) => t.seed + 1000 * i));
        if (base) singles.delete(key(opts)); // now owned by the ensemble
      }
      const { summary } = await det.evaluate(test);
      const auroc = Object.fromEntries(SCORES.filter((k) => summary[k]).map((k) => [k, summary[k]!.auroc])) as Record<ScoreKind, number>;
      const seconds = (Date.now() - s0) / 1000 + reused;
      const r: Run = { ...t, config, score: det.scoreKind, auroc, seconds };
      out.push(r);
      if (det instanceof Detector && !singles.has(key(opts))) singles.set(key(opts), { det, seconds });
      else det.dispose();
      process.stderr.write(`${t.dataset} class ${t.cls} (${names[t.cls]}) seed ${t.seed} ${config}: ` +
        SCORES.filter((k) => auroc[k] !== undefined).map((k) => `${k} ${fmt(auroc[k], 4)}`).join(' ') + ` ${seconds.toFixed(1)}s\n`);
    }
  } finally {
    for (const { det } of singles.values()) det.dispose();
  }
  return out;
}

/** Runs the tasks here (jobs 1) or in `jobs` worker processes of this script, each taking every jobs-th task. */
async function runAll(tasks: Task[]): Promise<void> {
  const s0 = Date.now();
  if (jobs <= 1) {
    for (const t of tasks) runs.push(...(await runTask(t)));
  } else {
    const self = process.argv[1]!;
    const base = process.argv.slice(2).filter((a, i, all) => a !== '--jobs' && all[i - 1] !== '--jobs' && a !== '--json' && all[i - 1] !== '--json');
    await Promise.all(Array.from({ length: jobs }, (_, i) => new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, [self, ...base, '--shard', `${i}/${jobs}`], { stdio: ['ignore', 'pipe', 'inherit'] });
      children.push(child);
      let buf = '';
      child.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line.startsWith('RUN ')) runs.push(JSON.parse(line.slice(4)) as Run);
        }
      });
      child.on('exit', (code) => (code === 0 || incomplete ? resolve() : reject(new Error(`worker ${i}/${jobs} exited with ${code}`))));
    })));
  }
  const seconds = (Date.now() - s0) / 1000;
  wall[`vigil (${jobs} job${jobs > 1 ? 's' : ''})`] = seconds;
}

/**
 * Runs the PyTorch reference script on the same official files, one process per dataset (at the
 * same time: the script is single-process and, on a GPU, bound by its host-side work).
 */
async function runTorch(): Promise<void> {
  if (!datasets.length) return;
  if (!torchScript) { console.log(`\n(PyTorch reference skipped: ${flag('no-torch') ? '--no-torch' : 'torch_oneclass.py not found; pass --torch PATH'})`); return; }
  const python = [arg('python'), 'python3', '/usr/bin/python3'].filter(Boolean).find((p) => spawnSync(p!, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0);
  if (!python) { console.log('\n(PyTorch reference skipped: no python3 with torch found)'); return; }
  const version = spawnSync(python, ['-c', 'import torch;print(torch.__version__, "cuda" if torch.cuda.is_available() else "cpu")'], { encoding: 'utf8' }).stdout.trim();
  const dir = mkdtempSync(join(tmpdir(), 'vigil-quality-'));
  const s0 = Date.now();
  try {
    await Promise.all(datasets.map((name) => new Promise<void>((resolve) => {
      const sub = name === 'mnist' ? 'mnist' : 'fashion';
      mkdirSync(join(dir, sub));
      for (const split of ['train', 'test'] as const) {
        const f = builtinFiles(name, split);
        for (const p of [f.images, f.labels]) symlinkSync(p, join(dir, sub, basename(p)));
      }
      const out = join(dir, `${sub}.json`);
      const argv = [torchScript, dir, '--datasets', sub, '--epochs', String(torchEpochs), '--seeds', String(seeds.length), '--out', out];
      console.error(`running ${python} ${argv.join(' ')}`);
      const child = spawn(python, argv, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, PYTHONUNBUFFERED: '1' } });
      children.push(child);
      // the script prints one JSON row per (class, seed) as it goes: keep them (a stopped run still counts what finished)
      const rows: TorchRow[] = [];
      let buf = '';
      child.stdout.on('data', (d: Buffer) => {
        process.stderr.write(d);
        buf += d.toString();
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (line.startsWith('{')) try { rows.push(JSON.parse(line) as TorchRow); } catch { /* not a row */ }
        }
      });
      child.on('exit', (code) => {
        if (code !== 0 && !incomplete) console.log(`\n(PyTorch reference on ${sub} failed: exit ${code})`);
        torchRows.push(...rows);
        resolve();
      });
    })));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  wall['pytorch'] = (Date.now() - s0) / 1000;
  torchLabel = `PyTorch ${version}, torch_oneclass.py, ${torchEpochs} epochs`;
}
let torchLabel = '';

/** Published per-class AUROC (%) on the same protocol; see docs/BENCHMARKS.md for the sources. */
const PUBLISHED: Record<BuiltinName, { method: string; source: string; perClass?: number[]; mean: number }[]> = {
  mnist: [
    { method: 'Deep SVDD (one-class)', source: 'Ruff et al. 2018, Table 1', perClass: [98.0, 99.7, 91.7, 91.9, 94.9, 88.5, 98.3, 94.6, 93.9, 96.5], mean: 94.8 },
    { method: 'OCGAN', source: 'Perera et al. 2019', perClass: [99.8, 99.9, 94.2, 96.3, 97.5, 98.0, 99.1, 98.1, 93.9, 98.1], mean: 97.5 },
    { method: 'ARNet', source: 'Ye et al. 2020 (TMM)', perClass: [98.6, 99.9, 99.0, 99.1, 98.1, 98.1, 99.7, 99.0, 93.6, 97.8], mean: 98.3 },
  ],
  'fashion-mnist': [
    { method: 'GEOM', source: 'Golan & El-Yaniv 2018, Table 1', perClass: [99.4, 97.6, 91.1, 89.9, 92.1, 93.4, 83.3, 98.9, 90.8, 99.2], mean: 93.5 },
    { method: 'ARNet', source: 'Ye et al. 2020 (TMM)', perClass: [92.7, 99.3, 89.1, 93.6, 90.8, 93.1, 85.0, 98.4, 97.8, 98.4], mean: 93.9 },
  ],
};

function printTable(name: BuiltinName): void {
  const names = name === 'mnist' ? MNIST_CLASSES : FASHION_MNIST_CLASSES;
  const allTen = classes.length === 10;
  console.log(`\n## ${name}: AUROC per class (mean over seeds ${seeds.join(',')}); mean over classes ± std over seeds${quick ? ' -- QUICK MODE' : ''}${incomplete ? ' -- INCOMPLETE (stopped at --deadline; counts below)' : ''}\n`);
  console.log(`| method | score | ${classes.map((c) => (name === 'mnist' ? `${c}` : `${c} ${names[c]}`)).join(' | ')} | mean |`);
  console.log(`| --- | --- | ${classes.map(() => '---').join(' | ')} | --- |`);
  for (const config of configs) {
    const sel = runs.filter((r) => r.dataset === name && r.config === config);
    if (!sel.length) continue;
    const own = sel[0]!.score;
    const combineList = (CONFIGS[config][name].combine ?? defaultCombine(!!CONFIGS[config][name].transforms)).join('+');
    for (const k of [own, ...SCORES.filter((s) => s !== own && sel.every((r) => r.auroc[s] !== undefined))]) {
      const perClass = classes.map((c) => mean(sel.filter((r) => r.cls === c).map((r) => r.auroc[k])));
      const perSeed = seeds.map((s) => mean(sel.filter((r) => r.seed === s).map((r) => r.auroc[k])));
      const label = k === own ? `**vigil ${config}**` : `vigil ${config}`;
      const scoreLabel = k === 'combined' ? `combined (${combineList})` : k === 'density' ? 'density (latent KDE)' : k === 'transform' ? 'transform (classifier of flips, shifts, turns)' : k;
      const m = `${fmt(mean(perSeed))} ± ${fmt(sd(perSeed))}`;
      console.log(`| ${label} | ${k === own ? `**${scoreLabel}**` : scoreLabel} | ${perClass.map((v) => fmt(v)).join(' | ')} | ${k === own ? `**${m}**` : m} |`);
    }
  }
  const tsub = name === 'mnist' ? 'mnist' : 'fashion';
  const trows = torchRows.filter((r) => r.dataset === tsub);
  if (trows.length) {
    const keys: [keyof TorchRow, string][] = [['auroc_mse', 'mse'], ['auroc_ssim', 'ssim'], ['auroc_kde', 'density (latent KDE)'], ['auroc_mse_kde', 'mse+kde (rank mean)']];
    for (const [key, label] of keys) {
      const perClass = classes.map((c) => mean(trows.filter((r) => r.class === c).map((r) => r[key] as number)));
      const tseeds = [...new Set(trows.map((r) => r.seed))];
      const perSeed = tseeds.map((s) => mean(trows.filter((r) => r.seed === s && classes.includes(r.class)).map((r) => r[key] as number)));
      const tcls = [...new Set(trows.map((r) => r.class))];
      const all = allTen || tcls.length < 10 ? '' : ` (all ten: ${fmt(mean(tseeds.map((s) => mean(trows.filter((r) => r.seed === s).map((r) => r[key] as number)))))})`;
      console.log(`| ${torchLabel} | ${label} | ${perClass.map((v) => fmt(v)).join(' | ')} | ${fmt(mean(perSeed))} ± ${fmt(sd(perSeed))}${all} |`);
    }
  }
  for (const p of PUBLISHED[name]) {
    const perClass = classes.map((c) => (p.perClass ? fmt(p.perClass[c]! / 100) : '?'));
    console.log(`| published: ${p.method} (${p.source}) | - | ${perClass.join(' | ')} | ${allTen ? fmt(p.mean / 100) : `${fmt(mean(classes.map((c) => p.perClass![c]! / 100)))} (all ten: ${fmt(p.mean / 100)})`} |`);
  }
  console.log('');
  for (const config of configs) {
    const mine = runs.filter((r) => r.dataset === name && r.config === config);
    if (mine.length) console.log(`${config}: ${mine.length} runs on ${device}, ${fmt(mean(mine.map((r) => r.seconds)), 1)} s per run (fit${(CONFIGS[config][name].members ?? 1) > 1 ? ' of every member' : ''} + scoring the 10,000 test images)`);
  }
}

/** Decodes the malaria folder once into memory (50x50 grayscale): labels 0 = Uninfected, 1 = Parasitized. */
async function loadMalaria(dir: string) {
  if (existsSync(`${dir}.images`)) {
    // the same bytes, decoded beforehand (for machines without an image decoder): PREFIX.images (n x 50 x 50) and PREFIX.labels
    const images = new Uint8Array(readFileSync(`${dir}.images`));
    const labels = new Uint8Array(readFileSync(`${dir}.labels`));
    return { images, labels, n: labels.length };
  }
  return decodeMalaria(dir);
}

function printMalaria(): void {
  const sel = runs.filter((x) => x.dataset === 'malaria');
  if (!sel.length) return;
  const n = 3000;
  console.log(`\n## malaria (NIH cell images, 50x50 grayscale copy): normal = Uninfected; train on a seeded 80% of Uninfected (${Math.round(n * 0.8)}), ` +
    `test on the other 20% (normal) vs all ${n} Parasitized; mean ± std over seeds ${malariaSeeds.join(',')}${quick ? ' -- QUICK MODE' : ''}\n`);
  console.log('| config | ranking score | combined | mse | ssim | density | seconds per run |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const config of configs) {
    const r = sel.filter((x) => x.config === config);
    if (!r.length) continue;
    const cell = (k: ScoreKind) => `${fmt(mean(r.map((x) => x.auroc[k])))} ± ${fmt(sd(r.map((x) => x.auroc[k])))}`;
    console.log(`| vigil ${config} | ${r[0]!.score} | ${SCORES.filter((k) => k !== 'transform').map(cell).join(' | ')} | ${fmt(mean(r.map((x) => x.seconds)), 1)} |`);
  }
  console.log('\n(MVTec AD is not available on this machine, so there is no MVTec table.)');
}

const withMalaria = !!malariaDir && (existsSync(malariaDir) || existsSync(`${malariaDir}.images`));
if (shard) {
  // worker: run every N-th task and print each result as a line
  const [i, n] = shard.split('/').map(Number) as [number, number];
  const tasks = allTasks(withMalaria).filter((_, k) => k % n === i);
  for (const t of tasks) for (const r of await runTask(t)) process.stdout.write(`RUN ${JSON.stringify(r)}\n`);
  process.exit(0);
}
header();
const torchDone = torchParallel ? runTorch() : undefined;
await runAll(allTasks(withMalaria));
await (torchDone ?? runTorch());
for (const name of datasets) printTable(name);
if (withMalaria) printMalaria();
else console.log(`\n(malaria skipped: ${malariaDir ? `${malariaDir} not found` : '--no-malaria'}. MVTec AD is not available here either.)`);
const total = (Date.now() - t0) / 1000;
console.log(`\nwall time: ${Object.entries(wall).map(([k, v]) => `${k} ${v.toFixed(0)} s`).join(', ')}; total ${total.toFixed(0)} s (${(total / 60).toFixed(1)} min)`);
if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ argv: process.argv.slice(2), device, configs: CONFIGS, runs, torch: torchRows, wall, seconds: total }, null, 1));
