/**
 * The web pages in real headless Chromium (Debian's `chromium`, driven by playwright-core): the
 * scoring page (upload a normal and an anomalous image, verdicts, heatmaps, threshold slider,
 * model card) and the live training page. Screenshots go to test-artifacts/.
 * Without Chromium the tests are skipped with a message, except in CI, where they fail.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { Detector } from '../../src/detector.js';
import { setNumThreads } from '../../src/engine/runtime.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { watchTraining } from '../../src/server/watch.js';
import { tempDir } from '../fixtures.js';
import { anomalousPng, normalPng, tinyModel, writeNormals } from './helpers.js';

const CHROMIUM = process.env.VIGIL_CHROMIUM ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI) throw new Error(`${CHROMIUM} is missing: CI runs the browser tests (scripts/setup.sh installs the Debian package chromium)`);
const skip = haveChromium ? false : `no Chromium at ${CHROMIUM} (apt-get install chromium, or set VIGIL_CHROMIUM)`;
if (skip) process.stderr.write(`# browser tests skipped: ${skip}\n`);

const ARTIFACTS = join(process.cwd(), 'test-artifacts');
let browser: Browser;
let server: RunningServer;

before(async () => {
  if (skip) return;
  mkdirSync(ARTIFACTS, { recursive: true });
  setNumThreads(1);
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  const dir = await tinyModel();
  server = await startServer({ models: [`tiny=${dir}`], port: 0, device: 'cpu', signals: false, say: () => {}, token: 'page-token' });
  await server.loaded;
});
after(async () => {
  await browser?.close();
  await server?.close();
});

async function newPage(): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1100, height: 760 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  (page as Page & { errors: string[] }).errors = errors;
  return page;
}
const errorsOf = (page: Page) => (page as Page & { errors: string[] }).errors;

test('the scoring page: upload a normal and an anomalous image, verdicts, heatmaps, threshold slider, model card', { skip }, async () => {
  const page = await newPage();
  await page.goto(`${server.url}/?token=page-token`);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
  assert.equal(new URL(page.url()).search, '', 'the token leaves the address bar');
  const card = await page.textContent('[data-testid="model-card"]');
  assert.match(card!, /tiny/);
  assert.match(card!, /16×16, gray, stretch/);
  assert.match(card!, /36 images \(4 held out\)/);
  assert.equal(await page.locator('[data-testid="card-curve"] polyline').count(), 2, 'training and validation loss curves');

  await page.setInputFiles('[data-testid="files"]', [
    { name: 'normal.png', mimeType: 'image/png', buffer: await normalPng(100) },
    { name: 'checker.png', mimeType: 'image/png', buffer: await anomalousPng() },
  ]);
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="result"][data-verdict]').length === 2, undefined, { timeout: 20_000 });
  const verdicts = await page.$$eval('[data-testid="result"]', (els) => els.map((e) => [e.querySelector('.name')!.textContent, (e as HTMLElement).dataset.verdict]));
  assert.deepEqual(verdicts, [['normal.png', 'normal'], ['checker.png', 'anomaly']]);
  const heatmaps = await page.$$eval('[data-testid="overlay"]', (imgs) => imgs.map((i) => [(i as HTMLImageElement).complete, (i as HTMLImageElement).naturalWidth]));
  assert.deepEqual(heatmaps, [[true, 128], [true, 128]], 'both heatmaps decoded and drawn');
  assert.match((await page.textContent('[data-testid="summary"]'))!, /2 images, 1 anomalous/);
  await page.screenshot({ path: join(ARTIFACTS, 'serve-page.png'), fullPage: true });

  // slider to its top: nothing is anomalous; to its bottom: everything is
  await page.focus('[data-testid="threshold"]');
  await page.keyboard.press('End');
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="result"]')].every((e) => (e as HTMLElement).dataset.verdict === 'normal'));
  assert.match((await page.textContent('[data-testid="summary"]'))!, /2 images, 0 anomalous/);
  await page.keyboard.press('Home');
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="result"]')].every((e) => (e as HTMLElement).dataset.verdict === 'anomaly'));
  await page.screenshot({ path: join(ARTIFACTS, 'serve-page-threshold-low.png'), fullPage: true });
  await page.click('#reset');
  assert.match((await page.textContent('[data-testid="summary"]'))!, /2 images, 1 anomalous/);
  assert.deepEqual(errorsOf(page), []);
  await page.close();
});

test('the live training page shows every epoch as it ends: loss curves and reconstructions', { skip }, async () => {
  const root = tempDir('vigil-watch-');
  const data = await writeNormals(join(root, 'normal'), 30);
  const checkpointDir = join(root, 'ckpt');
  const epochs = 3;
  const options = { size: 16, channels: 1 as const, epochs, batchSize: 8, lr: 5e-3, architecture: { filters: [8, 16], latent: 8 }, device: 'cpu', seed: 1 };
  const watch = await watchTraining({ port: 0, title: 'generated gradients', epochs, input: data, size: 16, channels: 1, seed: 1, valFraction: 0.1, checkpointDir, architecture: options.architecture, count: 3 });
  const page = await newPage();
  await page.goto(`${watch.url}/`);
  await page.waitForFunction(() => /waiting/.test(document.querySelector('[data-testid="progress"]')!.textContent!), undefined, { timeout: 10_000 });
  let seenByPage = 0;
  const det = await Detector.fit(data, {
    ...options, checkpointDir,
    onEpochEnd: async (r) => {
      await watch.onEpochEnd(r);
      // the page has this epoch before the next one starts
      await page.waitForFunction((n) => document.querySelectorAll('[data-testid="epochs"] tr').length === n, r.epoch, { timeout: 10_000 });
      seenByPage++;
    },
  });
  det.dispose();
  assert.equal(seenByPage, epochs);
  assert.equal(await page.textContent('[data-testid="progress"]'), `epoch ${epochs} of ${epochs}`);
  assert.equal(await page.locator('[data-testid="curve"] polyline[data-series="trainLoss"]').count(), 1);
  assert.equal(await page.locator('[data-testid="curve"] polyline[data-series="valLoss"]').count(), 1);
  const strips = await page.$$eval('[data-testid="originals"] img, [data-testid="recons"] img', (imgs) => imgs.map((i) => (i as HTMLImageElement).naturalWidth));
  assert.deepEqual(strips, [96, 96, 96, 96, 96, 96], '3 validation images and their reconstructions');
  assert.equal(await page.textContent('[data-testid="recon-epoch"]'), `(epoch ${epochs})`);
  await page.screenshot({ path: join(ARTIFACTS, 'watch-page.png'), fullPage: true });
  await watch.finish();
  await page.waitForSelector('body[data-done="true"]');
  assert.match((await page.textContent('[data-testid="progress"]'))!, /training finished/);
  assert.deepEqual(errorsOf(page), []);
  await page.close();
});
