/**
 * The offline HTML report of a detector (see data.ts for what it holds and html.ts for the page).
 *
 * ```ts
 * import { Detector, writeReport } from 'vigil';
 * const det = Detector.load('cells-model');
 * const { path, bytes } = await writeReport('cells-report.html', det, { images: 'cells/', normalClass: 'Uninfected', modelDir: 'cells-model' });
 * ```
 */
import type { Detector } from '../detector.js';
import { writeFileAtomic } from '../util/fs.js';
import { reportData, type ReportData, type ReportOptions } from './data.js';
import { renderReport } from './html.js';

export { reportData, thresholdRule, type ReportData, type ReportOptions, type ScoreSection, type GalleryGroup, type GalleryItem, type ClassRow, type Population } from './data.js';
export { renderReport, SECTIONS } from './html.js';
export { lossSpec, histogramSpec, rocSpec, prSpec, latentSpec, legendSpec, toSvg } from './charts.js';

/** The report's data and its HTML page. */
export async function buildReport(det: Detector, options: ReportOptions = {}): Promise<{ data: ReportData; html: string }> {
  const data = await reportData(det, options);
  return { data, html: await renderReport(data) };
}

/** Builds the report and writes it atomically to `path`. */
export async function writeReport(path: string, det: Detector, options: ReportOptions = {}): Promise<{ path: string; bytes: number; data: ReportData }> {
  const { data, html } = await buildReport(det, options);
  writeFileAtomic(path, html);
  return { path, bytes: Buffer.byteLength(html), data };
}
