/**
 * bench/real: vigil on real photographs, with its defaults and with the best configuration found,
 * beside the plain PyTorch autoencoder a user would write (bench/torch_real.py, same images, same
 * input size, decoded by vigil's own preprocessing), in the same run.
 *
 *   node dist/bench/real.js [--data ../shared/data] [--sets mpdd,pcb,intel,malaria] [--seeds 3]
 *       [--configs default,best,mean,tiles,whole] [--variants JSON] [--device cpu|cuda] [--quick] [--no-torch] [--python python3] [--json out.json]
 *       [--jobs N] [--timing] [--timing-folders scenes,boards] [--fusions ssim+segment+density:mean,...]
 *
 * Sets (docs/BENCHMARKS.md, "Real photographs"; the data's README says where they come from):
 * - mpdd: MPDD metal_plate, MVTec layout: train on train/good, test on test/ (good vs three defect
 *   types), pixel AUROC from the masks;
 * - pcb: DeepPCB, MVTec layout with box masks;
 * - intel: Intel scenes, forest normal: train on a seeded 80% of forest, test on the other 20%
 *   against the five other scene classes;
 * - malaria: NIH cells (50x50 gray copy), Uninfected normal: the same 80/20 protocol.
 * --quick (CPU quick mode, labelled in every table): 1 seed and a quarter of the default training
 * length. Every table row is a mean over seeds with its standard deviation.
 * --jobs N: runs the (set, seed, configuration) triples in N child processes at once (a GPU has
 * room for several of these small models; per-run training seconds are then measured under that
 * contention).
 * --variants '{"name": {detector options, "sets": {"pcb": {options for that set}}}}': further named
 *   configurations for an exploration (run with --configs name, or all of them by default).
 * --fusions: further fusions of each run's own base scores, read from the same trained models (no
 *   training of their own): each `a+b+c:mean|max` is the fusion of those scores' z-scores by their
 *   validation statistics, as 'combined' is made (src/postprocess/postprocessor.ts), and gets a
 *   column of its own; a score the run lacks leaves its cell empty.
 * --timing: afterwards, alone, times the defaults' training on two folders of 1,000 images: the
 * first 1,000 scenes of a seeded shuffle of all six scene classes (150 px RGB) and the 500
 * circuit-board images listed twice (640 px: tiles, as the defaults choose for them), against the issue's targets
 * (10 minutes on 2 CPU cores, 1 minute on a GPU); --timing-folders scenes (or boards) times one of them.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, readdirSync, statSync, existsSync, openSync, writeSync, closeSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Detector, type DetectorOptions, type ImageScore } from '../src/detector.js';
import { fileSource, listImages } from '../src/data/folder.js';
import { mvtecSource } from '../src/data/mvtec.js';
import { isMaskSource } from '../src/data/masks.js';
import { probeImage } from '../src/data/preprocess.js';
import { createRng, shuffle } from '../src/data/random.js';
import type { ImageItem, ImageSource } from '../src/data/types.js';
import { autoSettings, needsLostDetail, AUTO_MAX_SIDE, type AutoSettings, type ImageFacts, type UserChoices } from '../src/config/auto.js';
import { sourceLostDetail } from '../src/data/detail.js';
import { auroc } from '../src/eval/metrics.js';
import { fuse, checkFusion, type Fusion } from '../src/postprocess/postprocessor.js';
import type { BaseScore } from '../src/postprocess/kinds.js';
import { engineInfo } from '../src/engine/index.js';
import { arg, flag, list } from './args.js';

type SetName = 'mpdd' | 'pcb' | 'intel' | 'malaria';
type ConfigName = 'default' | 'best' | 'mean' | 'tiles' | 'whole' | (string & {});

/** 'best': the configuration the exploration found best per set (docs/BENCHMARKS.md says how). */
const CONFIGS: Record<ConfigName, Record<SetName, DetectorOptions>> = {
  default: { mpdd: {}, pcb: {}, intel: {}, malaria: {} },
  // the plates' and cells' defaults now rank by ssim alone, as their best does
  best: { mpdd: { score: 'ssim' }, pcb: { tiles: { stride: 8 } }, intel: { loss: 'mse', score: 'density' }, malaria: { score: 'ssim' } },
  // the tiled model (option tiles) for the large images, with the loss that suits each best (the
  // tiles' default loss is mse); the scenes and cells are already at their own size
  tiles: { mpdd: { tiles: true, loss: 'mse+ssim' }, pcb: { tiles: true }, intel: {}, malaria: {} },
  // the whole image, shrunk to 256 px, whatever the images' detail (option tiles: false)
  whole: { mpdd: { tiles: false }, pcb: { tiles: false }, intel: { tiles: false }, malaria: { tiles: false } },
  // the fusion of the defaults before session 6 (now 'max' from 48 px on), for comparison
  mean: { mpdd: { fusion: 'mean' }, pcb: { fusion: 'mean' }, intel: { fusion: 'mean' }, malaria: { fusion: 'mean' } },
};

const here = dirname(fileURLToPath(import.meta.url));
const dataDir = arg('data', '../shared/data')!;
const sets = arg('sets', 'mpdd,pcb,intel,malaria').split(',').filter(Boolean) as SetName[];
const quick = flag('quick');
const seedCount = Number(arg('seeds', quick ? '1' : '3'));
// --variants '{"name": {detector options, "sets": {"mpdd": {per-set options}}}}': further named
// configurations for an exploration, each run with --configs name (all of them if --configs is not given)
type Variant = DetectorOptions & { sets?: Partial<Record<SetName, DetectorOptions>> };
const variants = JSON.parse(arg('variants', '{}')!) as Record<string, Variant>;
for (const [name, { sets: perSet, ...all }] of Object.entries(variants)) {
  CONFIGS[name] = { mpdd: { ...all, ...perSet?.mpdd }, pcb: { ...all, ...perSet?.pcb }, intel: { ...all, ...perSet?.intel }, malaria: { ...all, ...perSet?.malaria } };
}
const configs = arg('configs', Object.keys(variants).length ? Object.keys(variants).join(',') : 'default,best').split(',').filter(Boolean) as ConfigName[];
for (const c of configs) if (!CONFIGS[c]) throw new Error(`unknown configuration '${c}' (known: ${Object.keys(CONFIGS).join(', ')})`);
const device = arg('device', 'cpu')!;
const withTorch = !flag('no-torch');
const python = arg('python', 'python3')!;
const jsonOut = arg('json');
const jobs = Math.max(1, Number(arg('jobs', '1')));
const timing = flag('timing');
// set by a parent running with --jobs: this process runs one seed and hands its runs back in a file
const onlySeed = arg('only-seed');
const runsOut = arg('runs-out');
const fusions = list(arg('fusions', '')).map((spec) => {
  const [names, how = 'mean'] = spec.split(':');
  checkFusion(how);
  return { spec, combine: names!.split('+') as BaseScore[], fusion: how as Fusion };
});

interface Protocol { train: string | string[]; test: ImageSource; trainCount: number; firstImage: string }

/** The 80/20 protocol of a class-folder set: a seeded 80% of the normal class trains. */
async function classProtocol(root: string, normal: string, seed: number): Promise<Protocol> {
  const classes = readdirSync(root).filter((d) => statSync(join(root, d)).isDirectory()).sort();
  const normals = await listImages(join(root, normal));
  const order = normals.slice();
  shuffle(order, createRng(1000 + seed));
  const k = Math.round(order.length * 0.8);
  const train = order.slice(0, k).sort();
  const items: ImageItem[] = order.slice(k).sort().map((id) => ({ id, label: 0, className: normal }));
  for (const c of classes) if (c !== normal) for (const id of await listImages(join(root, c))) items.push({ id, label: 1, className: c });
  return { train, test: await fileSource(root, items), trainCount: train.length, firstImage: train[0]! };
}

async function protocol(set: SetName, seed: number): Promise<Protocol> {
  if (set === 'mpdd' || set === 'pcb') {
    const root = set === 'mpdd' ? join(dataDir, 'mpdd/metal_plate') : join(dataDir, 'deeppcb/pcb');
    const train = await mvtecSource(root, 'train');
    return { train: root, test: await mvtecSource(root, 'test'), trainCount: train.items.length, firstImage: train.items[0]!.id };
  }
  return set === 'intel' ? classProtocol(join(dataDir, 'intel_scenes'), 'forest', seed) : classProtocol(join(dataDir, 'malaria'), 'Uninfected', seed);
}

interface Run { set: SetName; config: string; seed: number; scores: Record<string, number>; pixel?: number; perClass: Record<string, number>; trainSeconds: number; settings?: string[] }
const runs: Run[] = [];

function perClass(results: ImageScore[], kind: string): Record<string, number> {
  const out: Record<string, number> = {};
  const normal = results.filter((r) => r.label === 0);
  const classes = [...new Set(results.filter((r) => r.label === 1).map((r) => r.className!))].sort();
  if (classes.length < 2) return out;
  for (const c of classes) {
    const sel = [...normal, ...results.filter((r) => r.className === c)];
    out[c] = auroc(sel.map((r) => (r.scores as Record<string, number>)[kind]!), sel.map((r) => r.label!));
  }
  return out;
}

/** The quick mode's training length: a quarter of what the defaults choose for these images. */
async function quickEpochs(p: Protocol, o: DetectorOptions): Promise<number> {
  const { height, width } = await probeImage(p.firstImage);
  const facts: ImageFacts = { height, width, count: Math.round(p.trainCount * 0.9) };
  const user: UserChoices = { size: o.size, batchSize: o.batchSize, tiles: o.tiles };
  // the same choice of tiles as the fit makes (there on a seeded order of the images; here the first ones)
  if (needsLostDetail(facts, user)) {
    const source = typeof p.train === 'string' ? await mvtecSource(p.train, 'train') : await fileSource('', p.train.map((id) => ({ id })));
    facts.lostDetail = await sourceLostDetail(source, source.items.map((_, i) => i), { height, width }, AUTO_MAX_SIDE);
  }
  const auto = autoSettings(facts, user);
  return Math.max(1, Math.round(auto.epochs / 4));
}

async function runVigil(set: SetName, config: ConfigName, seed: number, p: Protocol): Promise<{ det: Detector; settings: AutoSettings }> {
  const o: DetectorOptions = { ...CONFIGS[config][set], seed, device };
  if (quick) o.epochs = await quickEpochs(p, o);
  let settings: AutoSettings | undefined;
  const t0 = Date.now();
  const det = await Detector.fit(p.train, { ...o, onSettings: (s) => { settings = s; }, onWarning: () => {} });
  const trainSeconds = (Date.now() - t0) / 1000;
  const ev = await det.evaluate(p.test);
  const kind = det.scoreKind;
  const scores: Record<string, number> = {};
  for (const k of det.scoreKinds) scores[k] = ev.summary[k]!.auroc;
  scores.score = ev.summary[kind]!.auroc;
  const stats = det.postprocessor.stats;
  const base = (k: BaseScore) => ev.results.map((r) => (r.scores as Record<string, number>)[k]!);
  for (const f of fusions) {
    if (!f.combine.every((k) => stats[k] !== undefined)) continue;
    const record = Object.fromEntries(f.combine.map((k) => [k, base(k)])) as Record<BaseScore, number[]>;
    scores[f.spec] = auroc(Array.from(fuse(Object.assign({ mse: base('mse') }, record), f.combine, stats, f.fusion)), ev.results.map((r) => r.label!));
  }
  runs.push({ set, config, seed, scores, pixel: ev.pixelAuroc, perClass: perClass(ev.results, kind), trainSeconds, settings: settings?.reasons });
  // what the pasted-patch check saw, when it ran (its settings line; the fit adds it after onSettings)
  const check = settings?.reasons.find((r) => r.includes('pasted patches'))?.match(/mse [\d.]+, ssim [\d.]+/)?.[0];
  process.stderr.write(`${set} ${config} seed ${seed}: ${kind} ${scores.score!.toFixed(4)}${ev.pixelAuroc !== undefined ? ` pixel ${ev.pixelAuroc.toFixed(4)}` : ''} (${trainSeconds.toFixed(0)} s training${check ? `; patch check ${check}` : ''})\n`);
  return { det, settings: settings! };
}

/** Writes images (CHW float32, vigil's preprocessing) of a source to one raw file. */
async function dump(source: ImageSource, indices: number[], pre: Detector['preprocessing'], file: string, masksFile?: string): Promise<boolean[]> {
  const fd = openSync(file, 'w');
  const fm = masksFile ? openSync(masksFile, 'w') : undefined;
  const known: boolean[] = [];
  try {
    for (const i of indices) {
      writeSync(fd, Buffer.from((await source.load(i, pre)).buffer));
      if (fm !== undefined && isMaskSource(source)) {
        const m = await source.loadMask(i, pre);
        known.push(m !== undefined);
        writeSync(fm, Buffer.from((m ?? new Float32Array(pre.height * pre.width)).buffer));
      }
    }
  } finally {
    closeSync(fd);
    if (fm !== undefined) closeSync(fm);
  }
  return known;
}

async function runTorch(set: SetName, seed: number, p: Protocol, det: Detector, settings: AutoSettings): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'vigil-real-'));
  try {
    const pre = det.preprocessing;
    const trainSource = typeof p.train === 'string' ? await mvtecSource(p.train, 'train') : await fileSource('', p.train.map((id) => ({ id })));
    const trainIdx = trainSource.items.map((_, i) => i);
    await dump(trainSource, trainIdx, pre, join(tmp, 'train.f32'));
    const testIdx = p.test.items.map((_, i) => i);
    const hasMasks = p.test.items.some((i) => i.maskPath);
    const known = await dump(p.test, testIdx, pre, join(tmp, 'test.f32'), hasMasks ? join(tmp, 'masks.f32') : undefined);
    const spec = {
      train: join(tmp, 'train.f32'), test: join(tmp, 'test.f32'), nTrain: trainIdx.length, nTest: testIdx.length,
      shape: [pre.channels, pre.height, pre.width], labels: p.test.items.map((i) => i.label),
      batchSize: settings.batchSize, epochs: settings.epochs, seed, device,
      ...(hasMasks ? { masks: join(tmp, 'masks.f32'), maskKnown: known } : {}),
    };
    writeFileSync(join(tmp, 'spec.json'), JSON.stringify(spec));
    const script = existsSync(join(here, 'torch_real.py')) ? join(here, 'torch_real.py') : join(here, '../../bench/torch_real.py');
    const r = spawnSync(python, [script, join(tmp, 'spec.json')], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: process.env.VIGIL_THREADS ?? String(cpus().length) } });
    if (r.status !== 0) { process.stderr.write(`pytorch failed on ${set}: ${r.stderr.slice(-500)}\n`); return; }
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    const best = Math.max(out.mse, out.ssim, out.density);
    runs.push({ set, config: 'pytorch', seed, scores: { mse: out.mse, ssim: out.ssim, density: out.density, score: best }, pixel: out.pixel, perClass: {}, trainSeconds: out.trainSeconds });
    process.stderr.write(`${set} pytorch seed ${seed}: mse ${out.mse.toFixed(4)} ssim ${out.ssim.toFixed(4)} density ${out.density.toFixed(4)} (${out.trainSeconds.toFixed(0)} s training)\n`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

const meanStd = (v: number[]) => {
  const m = v.reduce((a, b) => a + b, 0) / v.length;
  const s = v.length > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1)) : 0;
  return `${m.toFixed(3)} ± ${s.toFixed(3)}`;
};

/** argv without the given `--name value` options (and `--name` flags), for a child's own values. */
function argvWithout(names: string[]): string[] {
  const out: string[] = [];
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i]!.startsWith('--') ? argv[i]!.slice(2) : undefined;
    if (name !== undefined && names.includes(name)) {
      if (argv[i + 1] !== undefined && !argv[i + 1]!.startsWith('--')) i++;
      continue;
    }
    out.push(argv[i]!);
  }
  return out;
}

/** Runs every (set, seed, configuration) in a child process of this script, `jobs` at a time. */
async function runInChildren(pairs: { set: SetName; seed: number; config: ConfigName }[]): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'vigil-real-jobs-'));
  const rest = argvWithout(['jobs', 'json', 'sets', 'seeds', 'configs', 'only-seed', 'runs-out', 'timing', 'timing-folders']);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < pairs.length) {
      const { set, seed, config } = pairs[next++]!;
      const file = join(tmp, `${set}-${seed}-${config}.json`);
      const args = [fileURLToPath(import.meta.url), ...rest, '--sets', set, '--configs', config, '--seeds', String(seedCount), '--only-seed', String(seed), '--runs-out', file];
      const code = await new Promise<number>((resolve) => {
        spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] }).on('exit', (c) => resolve(c ?? 1));
      });
      if (code !== 0 || !existsSync(file)) { process.stderr.write(`${set} ${config} seed ${seed}: the child process failed (exit ${code})\n`); continue; }
      runs.push(...(JSON.parse(readFileSync(file, 'utf8')) as Run[]));
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(jobs, pairs.length) }, worker));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

interface Timing { folder: string; images: number; size: string; steps: number; seconds: number }
const timings: Timing[] = [];

/** The defaults' training alone on a folder of about 1,000 images (the issue's time target). */
async function timeFolders(): Promise<void> {
  const root = join(dataDir, 'intel_scenes');
  const scenes: string[] = [];
  for (const c of readdirSync(root).filter((d) => statSync(join(root, d)).isDirectory()).sort()) scenes.push(...(await listImages(join(root, c))));
  shuffle(scenes, createRng(7));
  const pcb = join(dataDir, 'deeppcb/pcb');
  const boards = (await Promise.all(['train/good', 'test/good', 'test/defect'].map((d) => listImages(join(pcb, d))))).flat();
  const known: Record<string, [string, string[]]> = {
    scenes: ['scenes: 1,000 of the six scene classes', scenes.slice(0, 1000)],
    boards: ['boards: the 500 circuit-board images listed twice', [...boards, ...boards]],
  };
  const folders = list(arg('timing-folders', 'scenes,boards')).flatMap((key) => known[key] ? [known[key]] : []);
  for (const [folder, files] of folders) {
    let settings: AutoSettings | undefined;
    const t = Date.now();
    const det = await Detector.fit(files, { seed: 0, device, onSettings: (s) => { settings = s; }, onWarning: () => {} });
    const seconds = (Date.now() - t) / 1000;
    det.dispose();
    timings.push({ folder, images: files.length, size: settings!.size.join('x'), steps: settings!.steps, seconds });
    process.stderr.write(`timing ${folder}: ${seconds.toFixed(0)} s\n`);
  }
}

const t0 = Date.now();
if (runsOut === undefined) {
  console.log(`# vigil bench/real${quick ? ' -- QUICK MODE (1 seed, a quarter of the default training length: NOT the defaults)' : ''}`);
  console.log(`# device ${device}, libtorch ${engineInfo().torch}, ${cpus().length} cores, seeds 0..${seedCount - 1}, configs ${configs.join(',')}${withTorch ? ', PyTorch alongside' : ''}${jobs > 1 ? `, ${jobs} runs at a time` : ''}`);
}
const seeds = onlySeed !== undefined ? [Number(onlySeed)] : Array.from({ length: seedCount }, (_, i) => i);
if (jobs > 1 && runsOut === undefined) {
  await runInChildren(sets.flatMap((set) => seeds.flatMap((seed) => configs.map((config) => ({ set, seed, config })))));
} else {
  for (const set of sets) {
    for (const seed of seeds) {
      const p = await protocol(set, seed);
      for (const config of configs) {
        const { det, settings } = await runVigil(set, config, seed, p);
        if (config === 'default' && withTorch) await runTorch(set, seed, p, det, settings);
        det.dispose();
      }
    }
  }
}
if (runsOut !== undefined) {
  writeFileSync(runsOut, JSON.stringify(runs));
  process.exit(0);
}
if (timing) await timeFolders();

for (const set of sets) {
  const rows = runs.filter((r) => r.set === set);
  if (!rows.length) continue;
  console.log(`\n## ${set}: image AUROC (mean ± std over seeds)${quick ? ' -- QUICK MODE' : ''}\n`);
  const kinds = ['score', 'mse', 'ssim', 'density', 'segment', 'combined', ...fusions.map((f) => f.spec)];
  console.log(`| method | ${kinds.map((k) => (k === 'score' ? 'its score' : k)).join(' | ')} | pixel AUROC | training s |`);
  console.log(`| --- | ${kinds.map(() => '---').join(' | ')} | --- | --- |`);
  for (const config of [...configs, 'pytorch']) {
    const sel = rows.filter((r) => r.config === config);
    if (!sel.length) continue;
    const cell = (k: string) => (sel.every((r) => r.scores[k] !== undefined) ? meanStd(sel.map((r) => r.scores[k]!)) : '-');
    const pix = sel.every((r) => r.pixel !== undefined) ? meanStd(sel.map((r) => r.pixel!)) : '-';
    const label = config === 'pytorch' ? 'PyTorch plain AE (its best score)' : `vigil ${config}`;
    console.log(`| ${label} | ${kinds.map(cell).join(' | ')} | ${pix} | ${meanStd(sel.map((r) => r.trainSeconds)).split(' ± ')[0]} |`);
  }
  const classes = [...new Set(rows.flatMap((r) => Object.keys(r.perClass)))];
  if (classes.length) {
    console.log(`\nper defect type / class (vigil, its score):\n\n| method | ${classes.join(' | ')} |\n| --- | ${classes.map(() => '---').join(' | ')} |`);
    for (const config of configs) {
      const sel = rows.filter((r) => r.config === config);
      console.log(`| vigil ${config} | ${classes.map((c) => meanStd(sel.map((r) => r.perClass[c]!))).join(' | ')} |`);
    }
  }
  const st = rows.find((r) => r.config === 'default')?.settings;
  if (st) console.log(`\ndefault settings from the images: ${st.join('; ')}`);
}
if (timings.length) {
  console.log(`\n## Time: the defaults' training on 1,000 images, ${device}, ${cpus().length} cores (target: < 10 min on 2 CPU cores, < 1 min on a GPU)\n`);
  console.log('| folder | images | input | steps | training s |\n| --- | --- | --- | --- | --- |');
  for (const t of timings) console.log(`| ${t.folder} | ${t.images} | ${t.size} | ${t.steps} | ${t.seconds.toFixed(0)} |`);
}
console.log(`\nwall time ${((Date.now() - t0) / 60000).toFixed(1)} min`);
if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ runs, timings, quick, device, seeds: seedCount }, null, 1));
