/**
 * The report in a real browser: headless Chromium (Debian's `chromium`, installed by
 * scripts/setup.sh) driven by playwright-core. Skipped only where Chromium is missing and CI is
 * not set; in CI a missing Chromium fails the test. Screenshots go to test-artifacts/.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Detector } from '../../src/detector.js';
import { writeReport } from '../../src/report/index.js';
import { tempDir, writeDigits } from '../fixtures.js';
import { SMALL, writeMvtec } from './helpers.js';

const CHROMIUM = process.env.VIGIL_CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test-artifacts');
const skip = !existsSync(CHROMIUM) && !process.env.CI
  ? `Chromium not found at ${CHROMIUM}: install it (apt-get install chromium, or bash scripts/setup.sh) to run the browser test; CI always runs it`
  : false;

interface PageCheck { errors: string[]; requests: string[]; charts: { name: string; marks: number; width: number }[]; images: number; broken: number; sections: string[] }

test('reports open in headless Chromium: no console errors, no requests, every chart has marks; screenshots saved', { skip }, async () => {
  const { chromium } = await import('playwright-core');
  const root = tempDir();
  mkdirSync(ARTIFACTS, { recursive: true });
  const mv = join(root, 'cat');
  await writeMvtec(mv, { train: 30, good: 6, defects: 6 });
  const ae = await Detector.fit(mv, SMALL);
  const labelled = await writeReport(join(ARTIFACTS, 'report-mvtec.html'), ae, { images: mv, title: 'test: MVTec layout with masks (plain AE)' });
  ae.dispose();
  await writeDigits(join(root, 'digits'), 1, 36);
  await writeDigits(join(root, 'digits'), 7, 4);
  const aae = await Detector.fit(join(root, 'digits'), { ...SMALL, epochs: 3, model: 'aae', aae: { reject: 0.1, warmup: 1 } });
  const unlabelled = await writeReport(join(ARTIFACTS, 'report-aae.html'), aae, { title: 'test: robust AAE, no labels' });
  aae.dispose();

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });
  try {
    for (const r of [labelled, unlabelled]) {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const url = pathToFileURL(r.path).href;
      const check: PageCheck = { errors: [], requests: [], charts: [], images: 0, broken: 0, sections: [] };
      page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') check.errors.push(`${m.type()}: ${m.text()}`); });
      page.on('pageerror', (e) => check.errors.push(String(e)));
      page.on('request', (q) => { if (q.url() !== url && !q.url().startsWith('data:')) check.requests.push(q.url()); });
      await page.goto(url, { waitUntil: 'load' });
      const seen = await page.evaluate(() => ({
        charts: [...document.querySelectorAll('figure.chart')].map((f) => {
          const svg = f.querySelector('svg');
          const marks = svg ? svg.querySelectorAll('g[class*="role-mark"] > path, g[class*="role-mark"] > line, g[class*="role-mark"] > rect').length : 0;
          return { name: f.getAttribute('data-chart') ?? '', marks, width: svg ? svg.getBoundingClientRect().width : 0 };
        }),
        images: document.images.length,
        broken: [...document.images].filter((i) => !i.complete || i.naturalWidth === 0).length,
        sections: [...document.querySelectorAll('section')].map((s) => s.id),
      }));
      Object.assign(check, seen);
      const shot = r.path.replace(/\.html$/, '.png');
      await page.screenshot({ path: shot, fullPage: true });
      await page.close();
      assert.deepEqual(check.errors, [], `console of ${r.path}`);
      assert.deepEqual(check.requests, [], 'no request besides the file itself');
      for (const s of ['run', 'training', 'scores', 'threshold', 'classes', 'gallery', 'latent']) assert.ok(check.sections.includes(s), `section ${s}`);
      assert.ok(check.charts.length >= 7, `charts: ${check.charts.map((c) => c.name).join(', ')}`);
      for (const c of check.charts) {
        assert.ok(c.marks > 0, `chart ${c.name} holds marks`);
        assert.ok(c.width > 50, `chart ${c.name} is drawn (${c.width} px wide)`);
      }
      assert.ok(check.images > 10 && check.broken === 0, `${check.images} images, ${check.broken} broken`);
      assert.ok(statSync(shot).size > 20_000, `screenshot ${shot}`);
    }
  } finally {
    await browser.close();
    rmSync(root, { recursive: true, force: true });
  }
  assert.ok(labelled.data.scores.every((s) => s.roc && s.pr), 'the labelled report has ROC and PR curves');
  assert.ok(unlabelled.data.rejected && unlabelled.data.rejected.images.length > 0, 'the AAE report shows rejected images');
});
