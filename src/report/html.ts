/**
 * The report as one self-contained HTML file: inline CSS, charts as inline SVG (Vega-Lite
 * compiled by Vega in Node), pictures as PNG data URIs. No script, no font, no request of any
 * kind: it opens offline and can be mailed as it is.
 *
 * Every section is a `<section id=...>` and every chart a `<figure class="chart" data-chart=...>`,
 * which the tests (and anyone scripting the page) look for.
 */
import { basename, dirname } from 'node:path';
import type { ReportData, ScoreSection, GalleryGroup } from './data.js';
import { fmt, histogramSpec, latentSpec, legendSpec, lossSpec, prSpec, rocSpec, toSvg } from './charts.js';

export const SECTIONS = ['run', 'training', 'scores', 'threshold', 'classes', 'gallery', 'latent'] as const;

export async function renderReport(d: ReportData): Promise<string> {
  const main = d.scores.find((s) => s.main) ?? d.scores[0]!;
  const body = [
    header(d, main),
    nav(d),
    section('run', 'The run', runSection(d)),
    section('training', 'Training', await trainingSection(d)),
    section('scores', 'Scores', await scoresSection(d)),
    section('threshold', 'At the threshold', thresholdSection(d, main)),
    section('classes', 'Per class', classesSection(d)),
    section('gallery', 'Gallery', await gallerySection(d)),
    section('latent', 'Latent codes', await latentSection(d)),
    d.warnings.length ? section('warnings', 'Warnings', `<ul class="warnings">${d.warnings.map((w) => `<li>${esc(w)}</li>`).join('')}</ul>`) : '',
    `<footer>vigil ${esc(d.vigilVersion)} · generated ${esc(d.generated.replace('T', ' ').slice(0, 19))} UTC · one self-contained file: no network requests</footer>`,
  ].join('\n');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="vigil ${esc(d.vigilVersion)}">
<title>${esc(d.title)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}

function header(d: ReportData, main: ScoreSection): string {
  const tiles: [string, string, string?][] = [];
  const ev = d.run.evaluated;
  if (ev) tiles.push(['images scored', ev.images.toLocaleString('en'), ev.normal + ev.anomalous ? `${ev.normal.toLocaleString('en')} normal · ${ev.anomalous.toLocaleString('en')} anomalous` : 'no labels']);
  else tiles.push(['normal validation images', String(main.values['normal (validation)']?.length ?? 0), 'no test images given']);
  if (main.metrics) {
    tiles.push([`AUROC (${main.kind})`, fmt(main.metrics.auroc, 4), 'ranking quality']);
    tiles.push([`AP (${main.kind})`, fmt(main.metrics.averagePrecision, 4), 'average precision']);
    tiles.push(['at the threshold', `F1 ${fmt(main.metrics.f1, 3)}`, `recall ${pct(main.metrics.recall)} · false alarms ${pct(main.metrics.fpr)}`]);
  } else {
    for (const [g, v] of Object.entries(main.flagged)) tiles.push([`flagged: ${g}`, pct(v), `above the ${main.kind} threshold`]);
  }
  if (ev?.pixelAuroc !== undefined) tiles.push(['pixel AUROC', fmt(ev.pixelAuroc, 4), 'error maps vs masks']);
  return `<header>
<div class="brand">vigil · anomaly detection report</div>
<h1>${esc(d.title)}</h1>
<p class="lede">Trained on <b>${esc(d.run.training.data)}</b> (${d.run.training.images.toLocaleString('en')} images, ${d.run.training.validationImages.toLocaleString('en')} held out)${ev ? `, evaluated on <b>${esc(ev.data)}</b>` : ''}. Ranking score <b>${esc(d.scoreKind)}</b>; anomalous above ${fmt(main.threshold.value, 4)} (${esc(main.rule)}).</p>
<div class="tiles">${tiles.map(([k, v, s]) => `<div class="tile"><div class="k">${esc(k)}</div><div class="v">${esc(v)}</div>${s ? `<div class="s">${esc(s)}</div>` : ''}</div>`).join('')}</div>
</header>`;
}

function nav(d: ReportData): string {
  const names: Record<string, string> = { run: 'Run', training: 'Training', scores: 'Scores', threshold: 'Threshold', classes: 'Classes', gallery: 'Gallery', latent: 'Latent' };
  return `<nav>${SECTIONS.map((s) => `<a href="#${s}">${names[s]}</a>`).join('')}${d.warnings.length ? '<a href="#warnings">Warnings</a>' : ''}</nav>`;
}

function section(id: string, title: string, inner: string): string {
  return `<section id="${id}"><h2>${esc(title)}</h2>\n${inner}\n</section>`;
}

function chart(name: string, svg: string, cls = ''): string {
  return `<figure class="chart ${cls}" data-chart="${esc(name)}">${svg}</figure>`;
}

function note(text: string): string {
  return `<p class="note">${esc(text)}</p>`;
}

function table(rows: [string, string][]): string {
  return `<table class="kv">${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('')}</table>`;
}

function runSection(d: ReportData): string {
  const r = d.run, tr = r.training, ev = r.evaluated;
  const data: [string, string][] = [
    ['training data', tr.data],
    ['training images', `${tr.images.toLocaleString('en')} (+ ${tr.validationImages.toLocaleString('en')} normal validation images)${tr.skipped ? `, ${tr.skipped} unreadable skipped` : ''}`],
    ...(ev ? [
      ['evaluated', ev.data] as [string, string],
      ['evaluated images', `${ev.images.toLocaleString('en')}: ${ev.normal.toLocaleString('en')} normal, ${ev.anomalous.toLocaleString('en')} anomalous${ev.unlabelled ? `, ${ev.unlabelled.toLocaleString('en')} unlabelled` : ''}`] as [string, string],
      ...(ev.pixelAuroc !== undefined ? [['pixel-level AUROC', `${fmt(ev.pixelAuroc, 4)} (${d.errorScale.map === 'ssim' ? '1 − SSIM' : 'squared-error'} maps against the ground-truth masks)`] as [string, string]] : []),
    ] : []),
    ['model input', `${r.input.width} × ${r.input.height} px, ${r.input.channels === 1 ? '1 channel (grayscale)' : '3 channels (RGB)'}, resize ${r.input.resize}`],
  ];
  const training: [string, string][] = [
    ['epochs', `${tr.epochs ?? '?'}${tr.stoppedEarly ? ' (stopped early)' : ''}${tr.bestEpoch !== undefined ? `, best validation loss at epoch ${tr.bestEpoch}` : ''}`],
    ['training time', tr.seconds !== undefined ? seconds(tr.seconds) : 'not recorded'],
    ['engine', r.engine ?? 'not recorded'],
    ['device', r.device ?? 'not recorded'],
  ];
  return `<div class="cols">
<div><h3>Data</h3>${table(data)}</div>
<div><h3>Model</h3>${table(r.model)}</div>
<div><h3>Settings</h3>${table(r.settings)}</div>
<div><h3>Training</h3>${table(training)}</div>
</div>`;
}

async function trainingSection(d: ReportData): Promise<string> {
  const rows = d.history.flatMap((h) => [
    { epoch: h.epoch, loss: h.trainLoss, split: 'training' },
    ...(h.valLoss !== undefined ? [{ epoch: h.epoch, loss: h.valLoss, split: 'validation' }] : []),
  ]);
  let out = rows.length ? chart('loss', await toSvg(lossSpec(rows))) : note('The model has no training history.');
  const rj = d.rejected;
  if (rj) {
    const setting = rj.reject === 'auto' ? `auto (estimated ${pct(rj.fraction)})` : pct(rj.fraction);
    out += `<h3>Rejected training images (robust AAE)</h3>
<p class="note">After ${rj.warmup} warm-up epoch${rj.warmup === 1 ? '' : 's'}, each epoch leaves out the ${setting} of training images that look least normal (ranked by ${esc(rj.rankedBy)}). These ${rj.count} were left out of the last epoch (epoch ${rj.lastEpoch}), shown by the final model's score, highest first (rank 1)${rj.images.length < rj.count ? `; the first ${rj.images.length} of ${rj.count}` : ''}. Left out per epoch: ${rj.perEpoch.map((e) => `${e.epoch}: ${e.rejected}`).join(', ')}.</p>`;
    out += rj.images.length
      ? `<div class="rejected">${rj.images.map((i) => `<figure class="thumb"><div class="pair"><img src="${i.image}" alt="rejected image ${i.rank}"><img src="${i.overlay}" alt="error map"></div><figcaption><b>#${i.rank}</b> ${esc(fmt(i.score, 3))}<br><span title="${esc(i.id)}">${esc(short(i.id))}</span></figcaption></figure>`).join('')}</div>`
      : note(rj.count ? 'The rejected images could not be found again.' : 'No image was rejected.');
  }
  return out;
}

async function scoresSection(d: ReportData): Promise<string> {
  const parts: string[] = [];
  if (d.population === 'labelled') parts.push(note('Normal against anomalous images by their labels. Histogram bars are shares of their own group, so groups of different sizes compare.'));
  else parts.push(note(`No labels: the histograms compare ${d.population === 'unlabelled' ? "the model's normal validation images with the images scored" : "the model's normal validation images"}; ROC and precision-recall curves need labelled normal and anomalous images (vigil report <model> <labelled images>).`));
  for (const s of d.scores) {
    const all = Object.values(s.values).flat();
    const rows = Object.entries(s.values).flatMap(([group, v]) => v.map((score) => ({ score, group })));
    const domain = clipDomain(all, s.threshold.value);
    const clipped = rows.map((r) => ({ ...r, score: Math.min(domain[1], Math.max(domain[0], r.score)) }));
    const figs = [chart(`hist-${s.kind}`, await toSvg(histogramSpec(s.kind, clipped, s.threshold.value, domain)))];
    if (s.roc && s.pr && s.metrics) {
      const m = s.metrics;
      figs.push(chart(`roc-${s.kind}`, await toSvg(rocSpec(s.kind, s.roc, m.auroc, { fpr: m.fpr, tpr: m.tpr }))));
      const base = m.nAnomalous / (m.nAnomalous + m.nNormal);
      figs.push(chart(`pr-${s.kind}`, await toSvg(prSpec(s.kind, s.pr, m.averagePrecision, base, { recall: m.recall, precision: m.precision }))));
    }
    const head = s.metrics
      ? `AUROC <b>${fmt(s.metrics.auroc, 4)}</b> · AP <b>${fmt(s.metrics.averagePrecision, 4)}</b> · F1 ${fmt(s.metrics.f1, 3)} at ${fmt(s.threshold.value, 4)}`
      : Object.entries(s.flagged).map(([g, v]) => `${esc(g)}: ${pct(v)} flagged`).join(' · ');
    parts.push(`<div class="score ${s.main ? 'main' : ''}${s.metrics ? '' : ' compact'}" id="score-${s.kind}"><h3>${esc(s.kind)}${s.main ? ' <span class="badge">ranking score</span>' : ''} <span class="sub">${head}</span></h3>
<div class="row">${figs.join('')}</div>
${(all.length && domain[1] < Math.max(...all)) || (all.length && domain[0] > Math.min(...all)) ? note('Scores beyond the axis are counted in the edge bins.') : ''}</div>`);
  }
  return d.population === 'labelled' ? parts.join('\n') : `${parts[0]}<div class="compacts">${parts.slice(1).join('\n')}</div>`;
}

function thresholdSection(d: ReportData, main: ScoreSection): string {
  const rule = `<p class="rule">An image is <b>anomalous</b> when its <b>${esc(main.kind)}</b> score is above <b>${fmt(main.threshold.value, 4)}</b>: ${esc(main.rule)}.</p>`;
  if (!main.metrics) {
    return `${rule}${note('Without labelled images there is no confusion matrix; the share of each group above the threshold:')}
<table class="grid"><tr><th>group</th><th>images</th><th>flagged</th></tr>${Object.entries(main.flagged).map(([g, v]) => `<tr><td>${esc(g)}</td><td>${main.values[g]!.length}</td><td>${pct(v)}</td></tr>`).join('')}</table>`;
  }
  const m = main.metrics, c = m.confusion;
  const matrix = `<table class="confusion">
<tr><td></td><th>flagged anomalous</th><th>passed as normal</th></tr>
<tr><th>anomalous</th><td class="tp"><b>${c.tp}</b><span>true positives</span></td><td class="fn"><b>${c.fn}</b><span>missed</span></td></tr>
<tr><th>normal</th><td class="fp"><b>${c.fp}</b><span>false alarms</span></td><td class="tn"><b>${c.tn}</b><span>true negatives</span></td></tr>
</table>`;
  const rates = table([
    ['recall (true positive rate)', pct(m.recall)], ['false positive rate', pct(m.fpr)], ['precision', pct(m.precision)],
    ['F1', fmt(m.f1, 3)], ['accuracy', pct(m.accuracy)],
  ]);
  const all = `<table class="grid"><tr><th>score</th><th>AUROC</th><th>AP</th><th>threshold</th><th>F1</th><th>precision</th><th>recall</th><th>false positive rate</th></tr>${d.scores.map((s) => s.metrics ? `<tr class="${s.main ? 'main' : ''}"><td>${esc(s.kind)}${s.main ? ' *' : ''}</td><td>${fmt(s.metrics.auroc, 4)}</td><td>${fmt(s.metrics.averagePrecision, 4)}</td><td>${fmt(s.threshold.value, 4)}</td><td>${fmt(s.metrics.f1, 3)}</td><td>${pct(s.metrics.precision)}</td><td>${pct(s.metrics.recall)}</td><td>${pct(s.metrics.fpr)}</td></tr>` : '').join('')}</table>`;
  return `${rule}<div class="cols two"><div><h3>Confusion matrix (${esc(main.kind)})</h3>${matrix}</div><div><h3>Rates</h3>${rates}</div></div><h3>Every score at its own threshold</h3>${all}${note('* the ranking score. Each score has its own threshold, fitted the same way on normal validation images.')}`;
}

function classesSection(d: ReportData): string {
  if (!d.classes) return note('The images have no classes (class folders, MVTec defect types or labelled built-in sets have).');
  const hasAuroc = d.classes.some((c) => c.auroc !== undefined);
  return `<table class="grid"><tr><th>class</th><th>kind</th><th>images</th><th>flagged</th><th>mean ${esc(d.scoreKind)} score</th>${hasAuroc ? '<th>AUROC vs normal</th>' : ''}</tr>
${d.classes.map((c) => `<tr><td>${esc(c.name)}</td><td>${c.label === undefined ? '–' : c.label === 1 ? '<span class="dot a"></span>anomalous' : '<span class="dot n"></span>normal'}</td><td>${c.images.toLocaleString('en')}</td><td>${bar(c.flagged, c.label === 0)}</td><td>${fmt(c.meanScore, 4)}</td>${hasAuroc ? `<td>${c.auroc !== undefined ? fmt(c.auroc, 4) : ''}</td>` : ''}</tr>`).join('\n')}
</table>${note('flagged: share above the threshold; for an anomalous class that is its recall, for a normal class its false-alarm rate.')}`;
}

async function gallerySection(d: ReportData): Promise<string> {
  const legend = chart('legend', await toSvg(legendSpec(d.errorScale.top, d.errorScale.label)), 'legend');
  const head = `<div class="legendbox">${legend}<p class="note">Each card: the image as the model sees it, its reconstruction, and the error map over the image (the colour covers the image more the larger the error). Colour scale ${esc(d.errorScale.note)}.${d.gallery.some((g) => g.items.some((i) => i.hasMask)) ? ' The white outline is the ground-truth mask.' : ''}</p></div>`;
  return head + d.gallery.map(galleryGroup).join('\n');
}

function galleryGroup(g: GalleryGroup): string {
  if (!g.items.length) return `<div class="group" id="gallery-${g.key}"><h3>${esc(g.title)}</h3>${note(`None: ${g.note}.`)}</div>`;
  return `<div class="group" id="gallery-${g.key}"><h3>${esc(g.title)} <span class="sub">${esc(g.note)}</span></h3><div class="cards">${g.items.map((i) => {
    const truth = i.label === undefined ? '' : i.label === 1 ? 'anomalous' : 'normal';
    const wrong = i.label !== undefined && (i.label === 1) !== i.isAnomaly;
    return `<figure class="card${wrong ? ' wrong' : ''}"><div class="imgs"><img src="${i.image}" alt="image"><img src="${i.recon}" alt="reconstruction"><img src="${i.overlay}" alt="error map"></div>
<figcaption><div class="line"><span class="verdict ${i.isAnomaly ? 'a' : 'n'}">${i.isAnomaly ? 'anomalous' : 'normal'}</span><span class="num">${esc(fmt(i.score, 4))}</span></div><div class="id" title="${esc(i.id)}">${esc(short(i.id))}</div>${truth ? `<div class="truth">truth: ${truth}${i.className !== undefined ? ` · ${esc(i.className)}` : ''}</div>` : i.className !== undefined ? `<div class="truth">${esc(i.className)}</div>` : ''}</figcaption></figure>`;
  }).join('')}</div><div class="colnames"><span>image</span><span>reconstruction</span><span>error</span></div></div>`;
}

async function latentSection(d: ReportData): Promise<string> {
  if (!d.latent) return note('Too few images for a latent view.');
  return `${chart('latent', await toSvg(latentSpec(d.latent.points, d.latent.density, d.latent.explained, d.latent.densityGroup)))}${note(`${d.latent.points.length.toLocaleString('en')} images' codes on their first two principal components (what the latent density reads: the bottleneck code, or for whole-image photographs the channel statistics of the image and of the encoder). Grey shading: a kernel density estimate of the ${d.latent.densityGroup} codes in this plane; the latent density score is high for codes far from them.`)}`;
}

/** The histogram axis: the 0.5-99.5% range of the scores, widened to show the threshold. */
function clipDomain(v: number[], threshold: number): [number, number] {
  if (!v.length) return [0, 1];
  const s = [...v].sort((a, b) => a - b);
  let lo = s[Math.floor(0.005 * (s.length - 1))]!, hi = s[Math.ceil(0.995 * (s.length - 1))]!;
  lo = Math.min(lo, threshold); hi = Math.max(hi, threshold);
  if (hi <= lo) { hi = lo + Math.abs(lo) * 0.1 + 1e-6; lo -= 1e-6; }
  const pad = (hi - lo) * 0.02;
  return [lo - pad, hi + pad];
}

function bar(v: number, normal: boolean): string {
  return `<span class="bar"><span class="${normal ? 'n' : 'a'}" style="width:${(100 * v).toFixed(1)}%"></span></span> ${pct(v)}`;
}

function pct(v: number): string {
  return Number.isFinite(v) ? `${(100 * v).toFixed(1)}%` : '–';
}

function seconds(s: number): string {
  return s < 90 ? `${s.toFixed(1)} s` : s < 5400 ? `${(s / 60).toFixed(1)} min` : `${(s / 3600).toFixed(2)} h`;
}

/** The file name with its folder (MVTec defect types and class folders tell apart images of the same name). */
function short(id: string): string {
  const b = id.includes('/') ? `${basename(dirname(id))}/${basename(id)}` : basename(id);
  return b.length > 30 ? `${b.slice(0, 12)}…${b.slice(-16)}` : b;
}

export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const CSS = `
:root{--ink:#1d2330;--muted:#6a7080;--line:#e3e6eb;--bg:#f6f7f9;--card:#fff;--n:#4c78a8;--a:#e45756;--accent:#3b5bdb}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
main{max-width:1180px;margin:0 auto;padding:28px 28px 40px}
header{background:linear-gradient(135deg,#1d2330,#2c3a5a);color:#fff;border-radius:14px;padding:26px 28px 22px;margin-bottom:14px}
header .brand{font-size:12px;letter-spacing:.08em;text-transform:uppercase;opacity:.7}
header h1{margin:4px 0 6px;font-size:24px;font-weight:650;word-break:break-all}
header .lede{margin:0 0 16px;opacity:.88;max-width:900px}
header b{font-weight:600}
.tiles{display:flex;flex-wrap:wrap;gap:10px}
.tile{background:rgba(255,255,255,.09);border:1px solid rgba(255,255,255,.14);border-radius:10px;padding:10px 14px;min-width:150px}
.tile .k{font-size:12px;opacity:.75}.tile .v{font-size:22px;font-weight:650;font-variant-numeric:tabular-nums}.tile .s{font-size:12px;opacity:.7}
nav{position:sticky;top:0;z-index:2;display:flex;gap:4px;background:rgba(246,247,249,.94);backdrop-filter:blur(6px);padding:8px 0;margin-bottom:6px;border-bottom:1px solid var(--line)}
nav a{color:var(--ink);text-decoration:none;padding:4px 10px;border-radius:6px;font-weight:500}
nav a:hover{background:#e6e9f0}
section{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:18px 22px;margin:14px 0}
h2{margin:0 0 12px;font-size:18px}
h3{margin:14px 0 8px;font-size:14px;font-weight:600}
h3 .sub{font-weight:400;color:var(--muted);margin-left:6px}
.note{color:var(--muted);margin:6px 0 10px;max-width:900px}
.cols{display:grid;grid-template-columns:repeat(auto-fit,minmax(460px,1fr));gap:4px 36px}
.cols.two{grid-template-columns:auto 1fr;align-items:start}
.cols h3{margin-top:4px}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}
table.kv{width:100%}table.kv th{text-align:left;font-weight:500;color:var(--muted);padding:3px 14px 3px 0;vertical-align:top;white-space:nowrap;width:34%}
table.kv td{padding:3px 0;word-break:break-word}
table.grid{width:100%;margin:4px 0}
table.grid th{text-align:left;font-weight:600;border-bottom:2px solid var(--line);padding:6px 10px}
table.grid td{border-bottom:1px solid var(--line);padding:5px 10px}
table.grid tr.main td{background:#f3f6ff}
table.confusion{margin:4px 0}
table.confusion th{font-weight:500;color:var(--muted);padding:6px 10px;text-align:right}
table.confusion tr:first-child th{text-align:center}
table.confusion td{width:150px;height:70px;text-align:center;border:3px solid #fff;border-radius:8px}
table.confusion td b{display:block;font-size:22px}
table.confusion td span{font-size:12px;color:var(--muted)}
td.tp,td.tn{background:#e7f4ea}td.fp,td.fn{background:#fdecea}
.rule{font-size:15px;background:#f3f6ff;border-left:4px solid var(--accent);padding:8px 12px;border-radius:4px}
.score{border-top:1px solid var(--line);padding-top:4px;margin-top:8px}
.score:first-of-type{border-top:0}
.compacts{display:flex;flex-wrap:wrap;gap:6px 28px}.compacts .score{border-top:0}
.badge{background:var(--accent);color:#fff;border-radius:10px;font-size:11px;padding:1px 8px;vertical-align:middle;font-weight:500}
.row{display:flex;flex-wrap:wrap;gap:10px 20px;align-items:flex-start}
figure{margin:0}
figure.chart svg{max-width:100%;height:auto;display:block}
.legendbox{display:flex;gap:22px;align-items:center;flex-wrap:wrap;background:#fafbfc;border:1px solid var(--line);border-radius:10px;padding:10px 14px}
.legendbox .note{flex:1;min-width:280px;margin:0}
.group{margin-top:10px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(306px,1fr));gap:10px}
.card{border:1px solid var(--line);border-radius:10px;padding:8px;background:#fff}
.card.wrong{border-color:#f2b8b5;background:#fffafa}
.imgs{display:flex;gap:4px}
.imgs img,.pair img{width:96px;height:96px;image-rendering:pixelated;border-radius:4px;background:#000;object-fit:contain}
.pair img{width:64px;height:64px}
.card figcaption{margin-top:6px;font-size:12px}
.line{display:flex;justify-content:space-between;align-items:center}
.num{font-variant-numeric:tabular-nums;font-weight:600}
.verdict{border-radius:9px;padding:0 8px;font-weight:600;font-size:11px;color:#fff}
.verdict.a{background:var(--a)}.verdict.n{background:var(--n)}
.id{color:var(--muted);white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.truth{color:var(--ink)}
.colnames{display:none}
.rejected{display:flex;flex-wrap:wrap;gap:8px}
.thumb{border:1px solid var(--line);border-radius:8px;padding:6px;font-size:11px;width:146px}
.pair{display:flex;gap:4px}
.thumb figcaption{margin-top:4px;color:var(--muted);overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.thumb b{color:var(--ink)}
.dot{display:inline-block;width:9px;height:9px;border-radius:50%;margin-right:6px}.dot.a{background:var(--a)}.dot.n{background:var(--n)}
.bar{display:inline-block;width:90px;height:8px;background:#eef0f3;border-radius:4px;overflow:hidden;vertical-align:middle;margin-right:6px}
.bar span{display:block;height:100%}.bar .a{background:var(--a)}.bar .n{background:var(--n)}
.warnings li{color:#8a5a00}
footer{color:var(--muted);font-size:12px;text-align:center;margin-top:18px}
@media print{nav{display:none}section{break-inside:avoid}}
`;
