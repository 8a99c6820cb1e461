import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { Detector } from '../../src/detector.js';
import { buildReport, reportData, renderReport, thresholdRule } from '../../src/report/index.js';
import { errorLut, ERROR_SCHEME } from '../../src/report/colormap.js';
import { mapRgb, rgbToPng } from '../../src/report/render.js';
import { labelledUnion, subsetSource } from '../../src/report/select.js';
import { liveTensors } from '../../src/engine/index.js';
import { tempDir, writeClassFolders, writeDigits } from '../fixtures.js';
import { SMALL, SMALL_ARGS, checkReport, expectedCharts, writeMvtec } from './helpers.js';
import * as vega from 'vega';

const bin = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'bin.js');
const vigil = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, VIGIL_THREADS: '2' } });
const KINDS = ['mse', 'ssim', 'density', 'combined'];

test('labelled class folders, plain AE: every section and chart, metrics that match evaluate, the gallery groups, the stored error scale', async () => {
  const root = tempDir();
  await writeClassFolders(join(root, 'data'), 40, 12);
  const before = liveTensors();
  const det = await Detector.fit(join(root, 'data'), { ...SMALL, normalClass: 'normal' });
  const scale = det.training!.errorScale!;
  assert.ok(scale.q99 > scale.q90 && scale.q90 >= scale.q50 && scale.max >= scale.q99, `quantiles in order: ${JSON.stringify(scale)}`);
  assert.equal(scale.images, det.training!.validationItems);
  assert.equal(det.training!.data, join(root, 'data'));
  const { data, html } = await buildReport(det, { images: join(root, 'data'), normalClass: 'normal' });
  const page = checkReport(html, expectedCharts(KINDS, true));
  assert.equal(data.population, 'labelled');
  const { summary } = await det.evaluate(join(root, 'data'), { normalClass: 'normal' });
  for (const s of data.scores) {
    assert.equal(s.metrics!.auroc, summary[s.kind]!.auroc, `${s.kind} AUROC as evaluate`);
    assert.deepEqual(s.metrics!.confusion, summary[s.kind]!.confusion);
    assert.equal(s.values.normal!.length, 40);
    assert.equal(s.values.anomalous!.length, 12);
  }
  assert.deepEqual(data.gallery.map((g) => g.key), ['most-anomalous', 'most-normal', 'borderline', 'misclassified']);
  const top = data.gallery[0]!.items.map((i) => i.score);
  assert.deepEqual(top, [...top].sort((a, b) => b - a), 'most anomalous first');
  assert.ok(Math.min(...top) >= Math.max(...data.gallery[1]!.items.map((i) => i.score)));
  for (const i of data.gallery.find((g) => g.key === 'misclassified')!.items) assert.notEqual(i.label === 1, i.isAnomaly, 'misclassified are wrong');
  const cards = page.querySelectorAll('#gallery figure.card');
  assert.equal(cards.length, data.gallery.reduce((a, g) => a + g.items.length, 0));
  assert.ok(cards.length <= 60);
  for (const c of cards) assert.equal(c.querySelectorAll('img').length, 3, 'image, reconstruction, overlay');
  const png = await sharp(Buffer.from(data.gallery[0]!.items[0]!.overlay.split(',')[1]!, 'base64')).metadata();
  assert.equal(png.width, 96, 'thumbnails are 96 px');
  assert.equal(data.errorScale.source, 'model');
  assert.equal(data.errorScale.top, scale.q99);
  assert.match(page.querySelector('#gallery .legendbox')!.text, /99th percentile .* normal validation images/);
  assert.deepEqual(data.classes!.map((c) => [c.name, c.label, c.images]), [['normal', 0, 40], ['odd', 1, 12]]);
  assert.ok(data.classes![1]!.auroc! > 0.5);
  assert.match(page.querySelector('#threshold .rule')!.text, /95% quantile of the normal validation scores/);
  assert.ok(page.querySelector('#threshold table.confusion'));
  assert.equal(data.latent!.points.length, 52);
  assert.ok(data.latent!.density.length > 0);
  assert.ok(!page.querySelector('#training .rejected'), 'no rejected images for the plain AE');
  assert.ok(Buffer.byteLength(html) < 3e6, `a few MB at most: ${Buffer.byteLength(html)}`);
  // the data round-trips through JSON (the service sends it) and renders the same page
  // (Vega numbers its gradients per process, so those ids differ between two renderings)
  const again = await renderReport(JSON.parse(JSON.stringify(data)));
  const plain = (h: string) => h.replace(/gradient_\d+/g, 'gradient');
  assert.ok(plain(again) === plain(html), 'the same page from the data after JSON');
  det.dispose();
  assert.ok(liveTensors() <= before + 1, `tensors leaked: ${liveTensors() - before}`);
  rmSync(root, { recursive: true, force: true });
});

test('no labels: the normal validation images (found again from the manifest) against the images scored; no ROC/PR', async () => {
  const root = tempDir();
  await writeDigits(join(root, 'train'), 1, 40);
  await writeDigits(join(root, 'new'), 7, 10);
  const det = await Detector.fit(join(root, 'train'), SMALL);
  const nVal = det.training!.validationItems;
  assert.ok(nVal > 0);
  const only = await reportData(det);
  assert.equal(only.population, 'validation');
  assert.equal(only.scores[0]!.values['normal (validation)']!.length, nVal);
  // the validation images are those fit held out: their scores reproduce the thresholds
  const combined = only.scores.find((s) => s.kind === 'combined')!;
  assert.ok(Math.abs(combined.flagged['normal (validation)']! - 0.05) <= 1 / nVal + 1e-9, `about 5% of validation above the 95% threshold: ${combined.flagged['normal (validation)']}`);
  const page = checkReport(await renderReport(only), expectedCharts(KINDS, false));
  assert.equal(page.querySelectorAll('figure[data-chart^="roc-"]').length, 0);
  assert.match(page.querySelector('#scores')!.text, /ROC and precision-recall curves need labelled/);

  const scored = await reportData(det, { images: join(root, 'new') });
  assert.equal(scored.population, 'unlabelled');
  assert.equal(scored.scores[0]!.values.scored!.length, 10);
  assert.equal(scored.scores[0]!.values['normal (validation)']!.length, nVal);
  assert.ok(scored.gallery.flatMap((g) => g.items).every((i) => i.id.includes(`${join(root, 'new')}`)), 'the gallery shows the images scored');
  checkReport(await renderReport(scored), expectedCharts(KINDS, false));
  // the training data moved: a clear warning, and the report still comes out
  rmSync(join(root, 'train'), { recursive: true, force: true });
  const moved = await reportData(det, { images: join(root, 'new') });
  assert.ok(moved.warnings.some((w) => /could not be opened again/.test(w)), moved.warnings.join('; '));
  det.dispose();
  rmSync(root, { recursive: true, force: true });
});

test('robust AAE: the rejected training images as ranked thumbnails', async () => {
  const root = tempDir();
  await writeDigits(join(root, 'train'), 1, 36);
  await writeDigits(join(root, 'train'), 7, 4);
  const det = await Detector.fit(join(root, 'train'), { ...SMALL, epochs: 3, model: 'aae', aae: { reject: 0.1, warmup: 1 } });
  const rj = det.training!.rejected!;
  assert.ok(rj.count > 0);
  const { data, html } = await buildReport(det, { images: join(root, 'train') });
  const page = checkReport(html, expectedCharts(KINDS, false));
  assert.equal(data.rejected!.count, rj.count);
  assert.equal(data.rejected!.images.length, Math.min(24, rj.count));
  assert.deepEqual(data.rejected!.images.map((i) => i.rank), data.rejected!.images.map((_, k) => k + 1));
  const s = data.rejected!.images.map((i) => i.score);
  assert.deepEqual(s, [...s].sort((a, b) => b - a), 'rank 1 = highest score');
  assert.deepEqual(new Set(data.rejected!.images.map((i) => i.id)), new Set(rj.ids.slice(0, 24)));
  assert.equal(page.querySelectorAll('#training .rejected figure.thumb').length, data.rejected!.images.length);
  assert.match(page.querySelector('#training')!.text, /left out of the last epoch \(epoch 3\)/);
  assert.match(page.querySelector('#training')!.text, /Left out per epoch: 1: 0, 2: [1-9]\d*, 3: [1-9]/, 'none in the warm-up epoch');
  assert.match(page.querySelector('#run')!.text, /robust adversarial autoencoder/);
  det.dispose();
  rmSync(root, { recursive: true, force: true });
});

test('MVTec with masks through the CLI: train --report, evaluate --report, report; the mask outline is drawn; score --maps overlays and bare maps', async () => {
  const root = tempDir();
  const mv = join(root, 'cat');
  await writeMvtec(mv);
  const model = join(root, 'model');
  const tr = vigil('train', mv, '--out', model, '--report', ...SMALL_ARGS);
  assert.equal(tr.status, 0, tr.stderr);
  assert.ok(existsSync(join(model, 'report.html')), 'train --report writes into the model folder');
  checkReport(readFileSync(join(model, 'report.html'), 'utf8'), expectedCharts(KINDS, false));

  const ev = vigil('evaluate', model, mv, '--report', join(root, 'ev.html'));
  assert.equal(ev.status, 0, ev.stderr);
  assert.match(ev.stderr, /report: .*ev\.html/);
  const rep = vigil('report', model, mv, '--out', join(root, 'r.html'));
  assert.equal(rep.status, 0, rep.stderr);
  assert.deepEqual(Object.keys(JSON.parse(rep.stdout)), ['report', 'bytes']);
  for (const f of ['ev.html', 'r.html']) {
    const html = readFileSync(join(root, f), 'utf8');
    const page = checkReport(html, expectedCharts(KINDS, true));
    assert.match(page.querySelector('#gallery')!.text, /white outline is the ground-truth mask/);
    assert.match(page.querySelector('#classes')!.text, /spot/);
    assert.match(page.querySelector('header')!.text, /pixel AUROC/);
  }

  // score --maps: overlays by default, bare maps on request, one legend beside them
  const spot = join(mv, 'test', 'spot');
  const o = vigil('score', model, spot, '--maps', join(root, 'ov'));
  assert.equal(o.status, 0, o.stderr);
  const b = vigil('score', model, spot, '--maps', join(root, 'bare'), '--maps-style', 'bare');
  assert.equal(b.status, 0, b.stderr);
  const help = vigil('report', '--help');
  assert.equal(help.status, 0);
  assert.match(help.stdout, /Usage: vigil report <model> \[images\]/);
  const missing = vigil('report', join(root, 'no-such-model'), '--out', join(root, 'x.html'));
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /no-such-model/);
  assert.ok(!existsSync(join(root, 'x.html')), 'nothing written on failure');
  for (const d of ['ov', 'bare']) {
    const files = readdirSync(join(root, d));
    assert.equal(files.filter((f) => f.endsWith('.heatmap.png')).length, 8);
    assert.ok(files.includes('legend.svg'));
    assert.match(readFileSync(join(root, d, 'legend.svg'), 'utf8'), /99th percentile/);
  }
  const a = await sharp(join(root, 'ov', '000.heatmap.png')).raw().toBuffer();
  const c = await sharp(join(root, 'bare', '000.heatmap.png')).raw().toBuffer();
  assert.notDeepEqual(a, c, 'the overlay differs from the bare map');
  assert.ok(statSync(join(root, 'ov', '000.heatmap.png')).size > 0);
  rmSync(root, { recursive: true, force: true });
});

test('with masks from the library: gallery cards carry the outline; reportData per class', async () => {
  const root = tempDir();
  const mv = join(root, 'cat');
  await writeMvtec(mv, { train: 30, good: 6, defects: 6 });
  const det = await Detector.fit(mv, SMALL);
  const data = await reportData(det, { images: mv });
  const withMask = data.gallery.flatMap((g) => g.items).filter((i) => i.hasMask);
  assert.ok(withMask.length > 0);
  assert.ok(withMask.every((i) => i.label === 1 && i.className === 'spot'));
  // the outline is drawn in white on the overlay
  const px = await sharp(Buffer.from(withMask[0]!.overlay.split(',')[1]!, 'base64')).raw().toBuffer();
  let white = 0;
  for (let i = 0; i < px.length; i += 3) if (px[i] === 255 && px[i + 1] === 255 && px[i + 2] === 255) white++;
  assert.ok(white > 20, `outline pixels: ${white}`);
  assert.deepEqual(data.classes!.map((c) => c.name), ['good', 'spot']);
  det.dispose();
  rmSync(root, { recursive: true, force: true });
});

test('pictures: the colour table is Vega\'s scheme; overlays show the image where the error is low and the colour where it is high', async () => {
  const lut = errorLut();
  const interp = vega.scheme(ERROR_SCHEME) as (t: number) => string;
  assert.equal(interp(1), `rgb(${lut[765]}, ${lut[766]}, ${lut[767]})`);
  const pre = { height: 2, width: 2, channels: 1, resize: 'stretch' } as const;
  const image = Float32Array.from([1, 1, 0, 0]);
  const map = Float32Array.from([0, 5, 0, 5]);
  const over = mapRgb(map, 1, pre, 'overlay', image);
  const bare = mapRgb(map, 1, pre, 'bare');
  assert.ok(over[0]! > 100 && over[0]! < 255, 'zero error: the (dimmed) image shows');
  assert.deepEqual([...over.subarray(3, 6)], [lut[765], lut[766], lut[767]], 'saturated error: the top colour');
  assert.deepEqual([...bare.subarray(0, 3)], [lut[0], lut[1], lut[2]]);
  const png = await rgbToPng(bare, pre, { size: 8, mask: Float32Array.from([1, 0, 0, 0]) });
  const m = await sharp(png).metadata();
  assert.equal(m.width, 8);
  assert.equal(thresholdRule({ method: 'quantile', value: 1, param: 0.99 }).startsWith('99% quantile of the normal validation scores'), true);
  assert.match(thresholdRule({ method: 'contamination', value: 1, param: 0.05 }), /5% of the training images/);
});

test('sources for reports: a subset keeps the order; a labelled union labels and names its parts', async () => {
  const root = tempDir();
  await writeDigits(join(root, 'a'), 1, 3);
  await writeDigits(join(root, 'b'), 7, 2);
  const { folderSource } = await import('../../src/data/folder.js');
  const a = await folderSource(join(root, 'a')), b = await folderSource(join(root, 'b'));
  const u = labelledUnion([{ source: a, label: 0, className: 'ones' }, { source: b, label: 1, className: 'sevens' }]);
  assert.deepEqual(u.items.map((i) => [i.label, i.className]), [[0, 'ones'], [0, 'ones'], [0, 'ones'], [1, 'sevens'], [1, 'sevens']]);
  const pre = { height: 28, width: 28, channels: 1, resize: 'stretch' } as const;
  assert.deepEqual(await u.load(3, pre), await b.load(0, pre));
  const s = subsetSource(u, [4, 0]);
  assert.deepEqual(s.items.map((i) => i.id), [u.items[4]!.id, u.items[0]!.id]);
  assert.deepEqual(await s.load(0, pre), await b.load(1, pre));
  void writeFileSync;
  rmSync(root, { recursive: true, force: true });
});
