/**
 * The command line without training: help, version, exit codes, environment variables and the
 * checks of option values and output paths, all answered before any work (and, for help and
 * usage errors, without loading the native engine).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../fixtures.js';
import { defaultArchitecture, validateArchitecture } from '../../src/models/autoencoder.js';
import { epochLine, consoleProgress, clearProgressLine, statusLine } from '../../src/train/progress.js';
import { warn } from '../../src/cli/shared.js';
import { parseShard, shardRange } from '../../src/cli/commands/score.js';
import { runCommand } from '../../src/cli/main.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const bin = join(repo, 'dist', 'src', 'cli', 'bin.js');
const baseEnv = { ...process.env, VIGIL_THREADS: '2' };
const run = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...baseEnv, ...env } });

/** An addon path that cannot load: a command that touches the engine fails, one that does not passes. */
const root = tempDir('vigil-cli-opts-');
const brokenAddon = join(root, 'broken.node');
writeFileSync(brokenAddon, 'not a shared library');
const noEngine = { VIGIL_NATIVE: brokenAddon };
// the in-process runs below share this: any of them that loaded the engine would fail
process.env.VIGIL_NATIVE = brokenAddon;

/** runCommand in this process (fast: no node start-up per case), with its output captured. */
async function vigil(args: string[], env: Record<string, string> = {}): Promise<{ status: number; stdout: string; stderr: string }> {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  let stdout = '', stderr = '';
  Object.assign(process.env, env);
  try {
    const status = await runCommand(args, { out: (s) => { stdout += s; }, err: (s) => { stderr += s; } });
    return { status, stdout, stderr };
  } finally {
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  }
}

test('--help, help <cmd>, usage errors and --version answer without loading the native engine', async () => {
  const main = run(['--help'], noEngine);
  assert.equal(main.status, 0, main.stderr);
  assert.match(main.stdout, /Commands:[\s\S]*train[\s\S]*score[\s\S]*Environment:[\s\S]*VIGIL_DEVICE[\s\S]*VIGIL_THREADS/);
  const spawned = run(['train', '--help'], noEngine);
  assert.equal(spawned.status, 0, spawned.stderr);
  assert.match(spawned.stdout, /^Usage: vigil train/);
  const bad = run(['score', 'model', 'x', '--batch-size', '0'], noEngine);
  assert.equal(bad.status, 2);
  assert.doesNotMatch(bad.stderr, /native engine/);
  for (const c of ['train', 'score', 'evaluate', 'demo', 'info']) {
    const h = await vigil([c, '--help']);
    assert.equal(h.status, 0, `${c} --help: ${h.stderr}`);
    assert.match(h.stdout, new RegExp(`^Usage: vigil ${c}`));
    const viaHelp = await vigil(['help', c]);
    assert.equal(viaHelp.status, 0, viaHelp.stderr);
    assert.equal(viaHelp.stdout, h.stdout, `vigil help ${c} prints the help of ${c}`);
  }
  assert.match((await vigil(['help', 'train'])).stdout, /--epochs <n>/);
  const version = run(['--version'], noEngine);
  assert.equal(version.status, 0);
  assert.equal(version.stdout.trim(), JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')).version);
  // and the engine is what failed when a command does need it
  const info = run(['info'], noEngine);
  assert.equal(info.status, 1);
  assert.equal(JSON.parse(info.stdout).engine.ok, false);
  assert.match(info.stderr, /could not load the native engine .*broken\.node[\s\S]*apt-get install libtorch-dev[\s\S]*LIBTORCH/);
});

test('exit code 2 for every usage error, 1 for a runtime error', async () => {
  const usage: [string[], RegExp][] = [
    [[], /Usage: vigil <command>/],
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['help', 'nope'], /unknown command 'nope'/],
    [['--frob'], /unknown option --frob/],
    [['train', 'x', '--epoch', '3'], /unknown option '--epoch'/],
    [['train'], /missing required argument 'images'/],
    [['train', 'a', 'b'], /too many arguments/],
    [['train', 'x', '--loss', 'l1'], /--loss must be one of mse, ssim, mse\+ssim; got 'l1'/],
    [['train', 'x', '--prior', 'gmm'], /--prior applies to the robust adversarial autoencoder only/],
    [['train', 'x', '--from', 'm'], /--from adds the transformation classifier to a trained model: add --transforms/],
  ];
  for (const [args, message] of usage) {
    const r = await vigil(args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message, args.join(' '));
  }
  const missing = run(['score', join(root, 'no-model'), root]);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /^vigil score: error: model folder .*no-model does not exist/m);
  const empty = join(root, 'empty');
  mkdirSync(empty, { recursive: true });
  const noImages = run(['train', empty, '--out', join(root, 'm'), '--size', '16', '--epochs', '1', '--quiet']);
  assert.equal(noImages.status, 1);
  assert.match(noImages.stderr, /no images found/);
});

test('option values are checked up front, each error names the option and the accepted range', async () => {
  const cases: [string[], RegExp][] = [
    [['--epochs', '1.5'], /--epochs expects an integer of at least 1, got '1\.5'/],
    [['--epochs', '0'], /--epochs must be an integer of at least 1, got 0/],
    [['--threads', '0'], /--threads must be an integer of at least 1, got 0/],
    [['--threads', '-1'], /--threads must be an integer of at least 1, got -1/],
    [['--threads', '2.5'], /--threads expects an integer of at least 1, got '2\.5'/],
    [['--patience', '-1'], /--patience must be an integer of at least 0, got -1/],
    [['--size', '7'], /--size must be an integer from 8 to 512, got 7/],
    [['--size', '513'], /--size must be an integer from 8 to 512, got 513/],
    [['--batch-size', '0'], /--batch-size must be an integer of at least 1/],
    [['--lr', '0'], /--lr must be a number above 0, got 0/],
    [['--val-split', '1'], /--val-split must be a number from 0 to 1 \(exclusive\), got 1/],
    [['--dropout', '1'], /--dropout must be a number from 0 to 1 \(exclusive\)/],
    [['--filters', '8,x'], /--filters expects integers of at least 1, separated by commas; got 'x'/],
    [['--augment', 'hflip,spin'], /--augment 'spin' is not one of hflip, vflip/],
    [['--combine', 'mse,bogus'], /--combine 'bogus' is not one of mse, ssim, density, transform/],
    [['--threshold', 'quantile:1.5'], /--threshold quantile must be in \(0, 1\), got 1\.5/],
    [['--channels', '2'], /--channels must be one of 1, 3; got '2'/],
    [['--model', 'aae', '--reject', '2'], /--reject must be a fraction in \[0, 1\) or auto, got '2'/],
    [['--device', 'gpu'], /--device must be auto, cpu, cuda or cuda:N; got 'gpu'/],
  ];
  for (const [args, message] of cases) {
    const r = await vigil(['train', root, ...args]);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message, args.join(' '));
    assert.match(r.stderr, /see vigil train --help/);
  }
  const env = await vigil(['info'], { VIGIL_THREADS: '0' });
  assert.equal(env.status, 2);
  assert.match(env.stderr, /VIGIL_THREADS: --threads must be an integer of at least 1, got 0/);
  for (const [args, message] of [
    [['--shard', '3/3'], /--shard i must be from 0 to N-1 \(2\); got '3\/3'/],
    [['--shard', '1-3'], /--shard must look like i\/N/],
    [['--format', 'xml'], /--format must be one of json, jsonl, csv/],
  ] as [string[], RegExp][]) {
    const r = await vigil(['score', 'model', 'images', ...args]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, message);
  }
});

test('--size: help, error and the model agree on 8 to 512', async () => {
  const help = (await vigil(['train', '--help'])).stdout.replace(/\s+/g, ' ');
  assert.match(help, /--size <px> Model input size in pixels: an integer from 8 to 512/);
  const arch = (side: number) => validateArchitecture(defaultArchitecture({ height: side, width: side, channels: 1 }));
  assert.doesNotThrow(() => arch(8));
  assert.doesNotThrow(() => arch(27));
  assert.doesNotThrow(() => arch(512));
  assert.throws(() => arch(7), /from 8 to 512/);
  assert.throws(() => arch(513), /from 8 to 512/);
});

test('--out: an existing file, an empty string, a missing or unwritable parent, a folder that is not a model', async () => {
  const file = join(root, 'a-file');
  writeFileSync(file, 'keep me');
  const notModel = join(root, 'photos');
  mkdirSync(notModel, { recursive: true });
  writeFileSync(join(notModel, 'holiday.jpg'), 'x');
  const cases: [string[], RegExp][] = [
    [['train', root, '--out', file], /--out .*a-file is an existing file, not a folder/],
    [['train', root, '--out', ''], /--out is empty; give a folder path/],
    [['train', root, '--out', join(root, 'missing', 'm')], /--out .*: the folder .*missing does not exist; create it first/],
    [['train', root, '--out', '/proc/vigil-model'], /--out \/proc\/vigil-model: cannot create files in \/proc/],
    [['train', root, '--out', notModel], /is a folder that is not a vigil model \(no manifest\.json\)/],
    [['demo', '--out', file], /--out .*a-file is an existing file/],
  ];
  for (const [args, message] of cases) {
    const r = await vigil(args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
  assert.equal(readFileSync(file, 'utf8'), 'keep me');
  assert.ok(existsSync(join(notModel, 'holiday.jpg')));
  const score = await vigil(['score', 'model', root, '--out', root]);
  assert.equal(score.status, 2);
  assert.match(score.stderr, /--out .* is a folder; give a file path/);
  const ev = await vigil(['evaluate', 'model', root, '--out', join(root, 'nope', 'r.json')]);
  assert.equal(ev.status, 2);
  assert.match(ev.stderr, /the folder .*nope does not exist/);
});

test('demo --class is checked before the first experiment', async () => {
  const t0 = Date.now();
  const r = await vigil(['demo', '--class', 'Nope', '--out', join(root, 'demo')]);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /--class fashion-mnist: unknown class "Nope"; classes are 0=T-shirt\/top, 1=Trouser/);
  assert.ok(!existsSync(join(root, 'demo')));
  assert.ok(Date.now() - t0 < 10_000);
  assert.equal((await vigil(['demo', '--help'])).status, 0);
});

test('environment variables: only the documented ones are read', async () => {
  // VIGIL_<OPTION> used to set every option; now VIGIL_EPOCHS and the like mean nothing
  const r = await vigil(['train', root, '--out', '', '--quiet'], { VIGIL_EPOCHS: 'x', VIGIL_SIZE: '3', VIGIL_OUT: join(root, 'x') });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--out is empty/, 'VIGIL_EPOCHS/VIGIL_SIZE are not read; the empty --out is the only complaint');
  const help = (await vigil(['score', '--help'])).stdout;
  assert.match(help, /--device <name>[\s\S]*env: VIGIL_DEVICE\)/);
  assert.match(help, /--threads <n>[\s\S]*env: VIGIL_THREADS\)/);
  assert.doesNotMatch(help, /VIGIL_OUT|VIGIL_<OPTION>/);
});

test('--threads and VIGIL_THREADS set libtorch threads; the flag wins', () => {
  const info = (args: string[], env: Record<string, string>) => JSON.parse(run(['info', ...args], env).stdout).engine.threads;
  assert.equal(info(['--threads', '1'], { VIGIL_THREADS: '3' }), 1);
  assert.equal(info([], { VIGIL_THREADS: '3' }), 3);
});

test('progress: the bar fits the terminal width and a warning clears it first', () => {
  for (const cols of [40, 60, 80, 200]) {
    const line = epochLine({ epoch: 11, epochs: 300, frac: 0.42, loss: 0.012345, elapsed: 754, eta: 3600 * 5 }, cols - 1);
    assert.ok(line.length <= cols - 1, `${cols} columns: ${line.length} chars: ${line}`);
    assert.match(line, /^epoch 12\/300/);
  }
  const written: string[] = [];
  const stream = { isTTY: true, columns: 60, write: (s: string) => { written.push(s); return true; } };
  const p = consoleProgress(stream);
  p.start(0, 3, 10);
  p.batch(5, 0.5);
  const drawn = written.at(-1)!;
  assert.ok(drawn.replace(/\r|\x1b\[K/g, '').length <= 59, drawn);
  const stderrWrite = process.stderr.write;
  let warned = '';
  process.stderr.write = ((s: string) => { warned += s; return true; }) as typeof process.stderr.write;
  try {
    warn('skipping a.png: truncated');
  } finally {
    process.stderr.write = stderrWrite;
  }
  assert.equal(written.at(-1), '\r\x1b[K', 'the live line is erased before the warning');
  assert.equal(warned, 'vigil: warning: skipping a.png: truncated\n');
  clearProgressLine();
  const s = statusLine(stream);
  s.update('x'.repeat(200));
  assert.ok(written.at(-1)!.replace(/\r|\x1b\[K/g, '').length <= 59);
  s.done();
});

test('shards are disjoint and cover the input', () => {
  assert.deepEqual(parseShard('2/5'), { index: 2, count: 5 });
  assert.throws(() => parseShard('5/5'), /0 to N-1/);
  assert.throws(() => parseShard('0/0'), /at least 1/);
  for (const n of [0, 1, 7, 100, 1001]) {
    for (const count of [1, 3, 8]) {
      let next = 0;
      for (let i = 0; i < count; i++) {
        const [from, to] = shardRange(n, i, count);
        assert.equal(from, next);
        assert.ok(to - from <= Math.ceil(n / count));
        next = to;
      }
      assert.equal(next, n);
    }
  }
});

after(() => rmSync(root, { recursive: true, force: true }));
