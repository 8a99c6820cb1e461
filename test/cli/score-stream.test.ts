/**
 * `vigil score` on a tiny model: rows are written as each chunk is scored (JSON lines, CSV and
 * the JSON document), `--shard i/N` parts are disjoint and cover the input, a closed pipe ends
 * quietly with exit code 0, and --threads / VIGIL_DEVICE / VIGIL_OUT behave as documented.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { tempDir } from '../fixtures.js';

const bin = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'bin.js');
const env = { ...process.env, VIGIL_THREADS: '2' };
const vigil = (args: string[], extra: Record<string, string> = {}) =>
  spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...env, ...extra }, maxBuffer: 64 << 20 });

const IMAGES = 600; // three chunks of 256
const root = tempDir('vigil-cli-stream-');
const images = join(root, 'images');
const model = join(root, 'model');

/** 16x16 grayscale blobs: a bright square at a position that varies with i. */
async function writeImages(dir: string, n: number): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const jobs: Promise<unknown>[] = [];
  for (let i = 0; i < n; i++) {
    const px = Buffer.alloc(16 * 16, 20);
    const x = i % 10, y = Math.floor(i / 10) % 10;
    for (let r = y; r < y + 6; r++) for (let c = x; c < x + 6; c++) px[r * 16 + c] = 230;
    jobs.push(sharp(px, { raw: { width: 16, height: 16, channels: 1 } }).png().toFile(join(dir, `img${String(i).padStart(4, '0')}.png`)));
    if (jobs.length >= 50) await Promise.all(jobs.splice(0));
  }
  await Promise.all(jobs);
}

before(async () => {
  await writeImages(images, IMAGES);
  await writeImages(join(root, 'train'), 40);
  const t = vigil(['train', join(root, 'train'), '--out', model, '--size', '16', '--epochs', '1', '--batch-size', '16', '--filters', '4,8', '--latent', '4', '--device', 'cpu', '--quiet', '--threads', '1']);
  assert.equal(t.status, 0, t.stderr);
  assert.equal(JSON.parse(t.stdout).threads, 1, '--threads reaches libtorch (VIGIL_THREADS=2 is in the environment)');
});
after(() => rmSync(root, { recursive: true, force: true }));

test('jsonl: the first rows arrive while later chunks are still being scored', async () => {
  const child = spawn(process.execPath, [bin, 'score', model, images, '--format', 'jsonl', '--device', 'cpu', '--batch-size', '64'], { env });
  let stdout = '', stderr = '', stderrAtFirstRow: string | undefined;
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    if (stderrAtFirstRow === undefined) stderrAtFirstRow = stderr;
    stdout += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const code = await new Promise<number | null>((res) => child.on('close', res));
  assert.equal(code, 0, stderr);
  const rows = stdout.trim().split('\n').map((l) => JSON.parse(l) as { id: string; score: number; isAnomaly: boolean });
  assert.equal(rows.length, IMAGES);
  assert.equal(new Set(rows.map((r) => r.id)).size, IMAGES);
  for (const r of rows) assert.ok(Number.isFinite(r.score) && typeof r.isAnomaly === 'boolean');
  assert.doesNotMatch(stderrAtFirstRow!, /images scored/, 'rows were written before scoring ended');
  assert.match(stderr, /scored 256\/600 images/, 'a progress line on stderr');
  assert.match(stderr, /600 images scored, \d+ flagged/);

  // the JSON document and CSV hold the same rows, written the same way
  const json = vigil(['score', model, images, '--device', 'cpu', '--quiet']);
  assert.equal(json.status, 0, json.stderr);
  const doc = JSON.parse(json.stdout);
  assert.equal(doc.results.length, IMAGES);
  assert.equal(typeof doc.threshold, 'number');
  assert.deepEqual(doc.results.map((r: { id: string; score: number }) => [r.id, r.score]), rows.map((r) => [r.id, r.score]));
  assert.equal(json.stderr, '', '--quiet: nothing on stderr');
  const out = join(root, 'scores.csv');
  const csv = vigil(['score', model, images, '--device', 'cpu', '--format', 'csv', '--out', out]);
  assert.equal(csv.status, 0, csv.stderr);
  assert.equal(csv.stdout, '');
  assert.equal(readFileSync(out, 'utf8').trim().split('\n').length, IMAGES + 1);
});

test('--shard i/N: disjoint parts that together are the whole input, in path order', () => {
  const ids: string[][] = [];
  for (let i = 0; i < 3; i++) {
    const r = vigil(['score', model, images, '--format', 'jsonl', '--shard', `${i}/3`, '--device', 'cpu']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`\\(shard ${i}/3\\)`));
    ids.push(r.stdout.trim().split('\n').map((l) => JSON.parse(l).id as string));
  }
  assert.deepEqual(ids.map((p) => p.length), [200, 200, 200]);
  const all = ids.flat();
  assert.equal(new Set(all).size, IMAGES, 'no image in two shards');
  assert.deepEqual(all, [...all].sort(), 'shard 0 holds the first paths, shard 2 the last');
  // more shards than images: the extra ones are empty, not an error
  const small = vigil(['score', model, join(images, 'img0000.png'), join(images, 'img0001.png'), '--format', 'jsonl', '--shard', '0/3', '--device', 'cpu']);
  assert.equal(small.status, 0, small.stderr);
  assert.equal(small.stdout, '');
});

test('a closed pipe (| head -1) ends quietly with exit code 0', () => {
  const r = spawnSync('bash', ['-c', `"${process.execPath}" "${bin}" score "${model}" "${images}" --format csv --device cpu | head -1; echo "vigil exit \${PIPESTATUS[0]}" >&2`],
    { encoding: 'utf8', env });
  assert.equal(r.stdout.trim(), 'id,score,isAnomaly,mse,ssim,density,combined,label,className');
  assert.match(r.stderr, /vigil exit 0/);
  assert.doesNotMatch(r.stderr, /EPIPE|Error|at /);
});

test('VIGIL_OUT is not read; VIGIL_DEVICE is', () => {
  const target = join(root, 'should-not-exist.json');
  const r = vigil(['score', model, join(images, 'img0000.png'), '--device', 'cpu'], { VIGIL_OUT: target, VIGIL_FORMAT: 'csv' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).results.length, 1, 'JSON on stdout: neither VIGIL_OUT nor VIGIL_FORMAT applied');
  assert.ok(!existsSync(target));
  const cuda = vigil(['score', model, join(images, 'img0000.png')], { VIGIL_DEVICE: 'cuda:7' });
  assert.equal(cuda.status, 1);
  assert.match(cuda.stderr, /device cuda:7 requested/);
  const flag = vigil(['score', model, join(images, 'img0000.png'), '--device', 'cpu'], { VIGIL_DEVICE: 'cuda:7' });
  assert.equal(flag.status, 0, 'the flag beats the variable');
});
