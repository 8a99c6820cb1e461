/**
 * The report's charts as Vega-Lite specifications, and their rendering to SVG in Node by Vega
 * (its SVG renderer needs no canvas and no browser). The specs are exported so a web page can
 * render the same charts itself (vega-embed).
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { ERROR_SCHEME } from './colormap.js';

export const GROUP_COLOURS: Record<string, string> = {
  normal: '#4c78a8', anomalous: '#e45756', 'normal (validation)': '#4c78a8', scored: '#f58518', training: '#4c78a8', validation: '#f58518',
};

const CONFIG = {
  font: 'system-ui, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif',
  view: { stroke: '#d0d4da' },
  axis: { labelColor: '#4a5060', titleColor: '#2a3040', gridColor: '#eceef2', domainColor: '#a0a6b0', tickColor: '#a0a6b0', titleFontWeight: 500 },
  legend: { labelColor: '#4a5060', titleColor: '#2a3040', orient: 'top' as const, titleFontWeight: 500 },
  title: { color: '#1d2330', fontSize: 13, fontWeight: 600 as const, anchor: 'start' as const },
};

function colourScale(groups: string[]) {
  return { domain: groups, range: groups.map((g) => GROUP_COLOURS[g] ?? '#72b7b2') };
}

/** A Vega-Lite specification (plain JSON; typed as vega-lite's TopLevelSpec where it is compiled, so the published types need no DOM lib). */
export type Spec = Record<string, unknown>;

/** Training and validation loss per epoch; a log axis when the loss falls by more than 20x. */
export function lossSpec(rows: { epoch: number; loss: number; split: string }[]): Spec {
  const v = rows.map((r) => r.loss).filter((x) => x > 0);
  const log = v.length > 0 && Math.max(...v) / Math.min(...v) > 20;
  const groups = [...new Set(rows.map((r) => r.split))];
  return {
    config: CONFIG, width: 420, height: 220,
    title: 'Loss per epoch', data: { values: rows },
    mark: { type: 'line', point: { size: 36 }, strokeWidth: 2 },
    encoding: {
      x: { field: 'epoch', type: 'quantitative', title: 'epoch', axis: { tickMinStep: 1, format: 'd' } },
      y: { field: 'loss', type: 'quantitative', title: 'loss', scale: log ? { type: 'log' } : { zero: false } },
      color: { field: 'split', type: 'nominal', title: null, scale: colourScale(groups) },
    },
  } as Spec;
}

/**
 * Scores of two or three groups as overlaid histograms, each bar the share of its own group (so
 * 100 normal and 9,000 anomalous images compare), with the threshold as a rule.
 */
export function histogramSpec(kind: string, rows: { score: number; group: string }[], threshold: number, domain: [number, number]): Spec {
  const groups = [...new Set(rows.map((r) => r.group))];
  const step = (domain[1] - domain[0]) / 40 || 1;
  return {
    config: CONFIG, width: 340, height: 240, autosize: { type: 'fit', contains: 'padding' },
    title: { text: `${kind}: score distribution`, subtitle: `threshold ${fmt(threshold)} (dashed)`, subtitleColor: '#6a7080' },
    layer: [
      {
        data: { values: rows },
        transform: [
          { bin: { extent: domain, step }, field: 'score', as: ['b0', 'b1'] },
          { aggregate: [{ op: 'count', as: 'n' }], groupby: ['b0', 'b1', 'group'] },
          { joinaggregate: [{ op: 'sum', field: 'n', as: 'total' }], groupby: ['group'] },
          { calculate: 'datum.n / datum.total', as: 'share' },
        ],
        mark: { type: 'bar', opacity: 0.55, binSpacing: 0 },
        encoding: {
          x: { field: 'b0', type: 'quantitative', bin: { binned: true, step }, title: `${kind} score (higher = more anomalous)`, scale: { domain } },
          x2: { field: 'b1' },
          y: { field: 'share', type: 'quantitative', stack: null, title: 'share of group', axis: { format: '%' } },
          color: { field: 'group', type: 'nominal', title: null, scale: colourScale(groups) },
        },
      },
      {
        data: { values: [{ t: threshold }] },
        mark: { type: 'rule', strokeDash: [5, 3], strokeWidth: 2, color: '#1d2330' },
        encoding: { x: { field: 't', type: 'quantitative' } },
      },
    ],
  } as Spec;
}

export function rocSpec(kind: string, points: { fpr: number; tpr: number }[], auroc: number, at?: { fpr: number; tpr: number }): Spec {
  return {
    config: CONFIG, width: 250, height: 240, autosize: { type: 'fit', contains: 'padding' },
    title: { text: `ROC: AUROC ${fmt(auroc, 4)}`, subtitle: at ? 'dot: the threshold' : '', subtitleColor: '#6a7080' },
    layer: [
      { data: { values: [{ a: 0 }, { a: 1 }] }, mark: { type: 'line', strokeDash: [3, 3], color: '#b0b5be' }, encoding: { x: { field: 'a', type: 'quantitative' }, y: { field: 'a', type: 'quantitative' } } },
      {
        data: { values: points.map((p, i) => ({ ...p, i })) },
        mark: { type: 'area', line: { color: '#4c78a8', strokeWidth: 2 }, color: '#4c78a8', opacity: 0.12 },
        encoding: {
          x: { field: 'fpr', type: 'quantitative', title: 'false positive rate', scale: { domain: [0, 1] } },
          y: { field: 'tpr', type: 'quantitative', title: 'true positive rate', scale: { domain: [0, 1] }, stack: null },
          order: { field: 'i', type: 'quantitative' },
        },
      },
      ...(at ? [{ data: { values: [at] }, mark: { type: 'point' as const, filled: true, size: 70, color: '#e45756' }, encoding: { x: { field: 'fpr', type: 'quantitative' as const }, y: { field: 'tpr', type: 'quantitative' as const } } }] : []),
    ],
  } as Spec;
}

export function prSpec(kind: string, points: { recall: number; precision: number }[], ap: number, baseline: number, at?: { recall: number; precision: number }): Spec {
  return {
    config: CONFIG, width: 250, height: 240, autosize: { type: 'fit', contains: 'padding' },
    title: { text: `Precision-recall: AP ${fmt(ap, 4)}`, subtitle: `chance ${fmt(baseline, 3)} (dotted)`, subtitleColor: '#6a7080' },
    layer: [
      { data: { values: [{ r: 0, p: baseline }, { r: 1, p: baseline }] }, mark: { type: 'line', strokeDash: [3, 3], color: '#b0b5be' }, encoding: { x: { field: 'r', type: 'quantitative' }, y: { field: 'p', type: 'quantitative' } } },
      {
        data: { values: points.map((p, i) => ({ ...p, i })) },
        mark: { type: 'line', color: '#54a24b', strokeWidth: 2, interpolate: 'step-before' },
        encoding: {
          x: { field: 'recall', type: 'quantitative', title: 'recall', scale: { domain: [0, 1] } },
          y: { field: 'precision', type: 'quantitative', title: 'precision', scale: { domain: [0, 1] } },
          order: { field: 'i', type: 'quantitative' },
        },
      },
      ...(at ? [{ data: { values: [at] }, mark: { type: 'point' as const, filled: true, size: 70, color: '#e45756' }, encoding: { x: { field: 'recall', type: 'quantitative' as const }, y: { field: 'precision', type: 'quantitative' as const } } }] : []),
    ],
  } as Spec;
}

/**
 * Latent codes on their first two principal components: every image as a dot over a shaded
 * estimate of the density of the normal codes (cells x0..x1, y0..y1, value d in [0, 1]).
 */
export function latentSpec(points: { x: number; y: number; group: string }[], cells: { x0: number; x1: number; y0: number; y1: number; d: number }[], explained: [number, number], densityGroup: string): Spec {
  const groups = [...new Set(points.map((p) => p.group))];
  return {
    config: CONFIG, width: 440, height: 340,
    title: { text: 'Latent codes (PCA)', subtitle: `shading: density of the ${densityGroup} codes · PC1 ${pct(explained[0])}, PC2 ${pct(explained[1])} of the variance`, subtitleColor: '#6a7080' },
    layer: [
      {
        data: { values: cells },
        mark: { type: 'rect', strokeWidth: 0 },
        encoding: {
          x: { field: 'x0', type: 'quantitative', title: 'PC1', scale: { zero: false, nice: false } },
          x2: { field: 'x1' },
          y: { field: 'y0', type: 'quantitative', title: 'PC2', scale: { zero: false, nice: false } },
          y2: { field: 'y1' },
          color: { field: 'd', type: 'quantitative', title: 'density', scale: { range: ['#f7f8fa', '#6b7385'], domain: [0, 1] }, legend: { orient: 'right', gradientLength: 110, format: '.1f' } },
        },
      },
      {
        data: { values: points },
        mark: { type: 'circle', size: 24, opacity: 0.85, stroke: '#fff', strokeWidth: 0.5 },
        encoding: {
          x: { field: 'x', type: 'quantitative' },
          y: { field: 'y', type: 'quantitative' },
          color: { field: 'group', type: 'nominal', title: null, scale: colourScale(groups), legend: { orient: 'top' } },
        },
      },
    ],
    resolve: { scale: { color: 'independent' } },
  } as Spec;
}

/** The colour bar of every error map: the same scheme and domain as the overlays. */
export function legendSpec(top: number, title: string): Spec {
  const n = 64;
  const values = Array.from({ length: n }, (_, i) => ({ a: (i / n) * top, b: ((i + 1) / n) * top }));
  return {
    config: { ...CONFIG, view: { stroke: null } }, width: 320, height: 14,
    data: { values }, mark: { type: 'rect' },
    encoding: {
      x: { field: 'a', type: 'quantitative', title, scale: { domain: [0, top], nice: false }, axis: { tickCount: 5, format: '.2~g', labelFlush: true } },
      x2: { field: 'b' },
      color: { field: 'a', type: 'quantitative', scale: { scheme: ERROR_SCHEME, domain: [0, top] }, legend: null },
    },
  } as Spec;
}

/**
 * Renders a Vega-Lite spec to an SVG string (no network: the data is inline). For inlining in
 * HTML the xmlns attributes are dropped: they name namespaces (they are not requests), and inline
 * SVG needs none; `standalone` keeps them for an .svg file.
 */
export async function toSvg(spec: Spec, o: { standalone?: boolean } = {}): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec as unknown as TopLevelSpec).spec), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    return o.standalone ? svg : svg.replace(/\s+xmlns(:\w+)?="[^"]*"/g, '');
  } finally {
    view.finalize();
  }
}

export function fmt(v: number, digits = 3): string {
  if (!Number.isFinite(v)) return '–';
  if (v !== 0 && (Math.abs(v) >= 1e4 || Math.abs(v) < 1e-3)) return v.toExponential(2);
  return Number(v.toPrecision(digits)).toString();
}

function pct(v: number): string {
  return `${(100 * v).toFixed(0)}%`;
}
