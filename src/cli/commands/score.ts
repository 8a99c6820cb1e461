import type { Command } from '../main.js';
import { dataOptions, deviceOption, applyThreads, applyMaxPixels, csvField, warn } from '../shared.js';
import { checkOutputPath } from '../validate.js';
import { openOutput } from '../output.js';
import { SCORE_KINDS, type ImageScore } from '../../detector.js';
import type { ImageItem, ImageSource } from '../../data/types.js';
import { NothingReadableError } from '../../train/batches.js';

/** Images per call of Detector.score: each chunk's rows are written before the next is scored. */
const CHUNK = 256;

/** `i/N`: part i (0 to N-1) of N. */
export function parseShard(raw: string): { index: number; count: number } {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(raw);
  if (!m) throw new Error(`must look like i/N (part i of N, i from 0 to N-1, e.g. 0/4); got '${raw}'`);
  const index = Number(m[1]), count = Number(m[2]);
  if (count < 1) throw new Error(`N must be at least 1; got '${raw}'`);
  if (index >= count) throw new Error(`i must be from 0 to N-1 (${count - 1}); got '${raw}'`);
  return { index, count };
}

/** Part `index` of `count` contiguous, disjoint parts that together cover `n` items. */
export function shardRange(n: number, index: number, count: number): [number, number] {
  return [Math.floor((index * n) / count), Math.floor(((index + 1) * n) / count)];
}

interface Entry { source: ImageSource; index: number; item: ImageItem }

const command: Command = {
  spec: {
    name: 'score',
    summary: 'score images with a trained model: one row per image with its scores and verdict',
    usage: 'vigil score <model> <images...> [--format json|jsonl|csv] [--out file] [--shard i/N]',
    positionals: [
      { name: 'model', help: 'Model folder written by vigil train', required: true },
      { name: 'images', help: 'Image files, folders, or a spec such as builtin:mnist:test', required: true, variadic: true },
    ],
    options: {
      score: { type: 'string', help: "Rank and decide by this score instead of the model's own (recon = the training loss's error)", choices: ['recon', ...SCORE_KINDS], value: 'kind' },
      rule: { type: 'string', help: 'Verdicts: score (the ranking score above its threshold) or either (density below or reconstruction error above its own threshold)', choices: ['score', 'either'], default: 'score' },
      format: { type: 'string', alias: 'f', help: 'Output format: json (one document), jsonl (one JSON object per line), csv; rows are written as they are scored', choices: ['json', 'jsonl', 'csv'], default: 'json' },
      out: { type: 'string', alias: 'o', help: 'Write results to this file (atomically: complete or not at all) instead of stdout', value: 'file' },
      shard: { type: 'string', help: 'Score only part i of N (i from 0 to N-1) of the images, sorted by path: N runs with 0/N .. N-1/N split the input into disjoint parts with no coordination (a Kubernetes indexed job, a Slurm array)', value: 'i/N', validate: (s) => { parseShard(s); } },
      maps: { type: 'string', help: "Also write per-pixel error maps (PNG) into this folder, coloured on the model's own normal error scale (legend.svg)", value: 'dir' },
      'map-kind': { type: 'string', help: "Error map (default: the model's own: 1 - SSIM where its score rests on it, else the training loss's)", choices: ['mse', 'ssim'] },
      'maps-style': { type: 'string', help: 'Error maps blended over the image, or the bare map', choices: ['overlay', 'bare'], default: 'overlay' },
      'batch-size': { type: 'integer', help: 'Images per batch (default 256; 8 for a model of tiles, whose images hold thousands of tiles)', value: 'n', min: 1 },
      quiet: { type: 'boolean', alias: 'q', help: 'No progress line and no summary on stderr' },
      ...dataOptions,
      ...deviceOption,
    },
    examples: [
      'vigil score model photos/new --format csv > scores.csv',
      'vigil score model a.png b.jpg',
      'vigil score model builtin:mnist:test --out mnist.json --maps maps/',
      'vigil score model photos/ --format jsonl --shard $JOB_COMPLETION_INDEX/8 --out part-$JOB_COMPLETION_INDEX.jsonl',
    ],
  },
  async run(a) {
    if (a.out !== undefined) checkOutputPath(a.out as string, '--out', 'file');
    if (a.maps !== undefined) checkOutputPath(a.maps as string, '--maps', 'folder');
    const shard = a.shard !== undefined ? parseShard(a.shard as string) : undefined;
    const { Detector, resolveImages } = await import('../../detector.js');
    const { statSync } = await import('node:fs');
    await applyThreads(a.threads);
    await applyMaxPixels(a['max-pixels']);
    const det = Detector.load(a._[0]!, { device: a.device as string });
    try {
      const kind = det.resolveKind(a.score as 'recon' | undefined);
      const threshold = det.thresholds[kind]!.value;
      const inputs = a._.slice(1);
      const files = inputs.filter((p) => { try { return statSync(p).isFile() && !/idx\d-ubyte/.test(p); } catch { return false; } });
      const groups: (string | string[])[] = files.length === inputs.length ? [files] : inputs.map((p) => (files.includes(p) ? [p] : p));
      const normalClass = a['normal-class'] as string[] | undefined;
      let entries: Entry[] = [];
      for (const g of groups) {
        const source = await resolveImages(g, { normalClass, strict: a.strict as boolean, split: 'test', onWarning: warn });
        entries.push(...source.items.map((item, index) => ({ source, index, item })));
      }
      if (shard) {
        entries.sort((x, y) => (x.item.id < y.item.id ? -1 : x.item.id > y.item.id ? 1 : 0));
        const [from, to] = shardRange(entries.length, shard.index, shard.count);
        entries = entries.slice(from, to);
      }

      const cols = ['id', 'score', 'isAnomaly', ...det.scoreKinds, 'label', 'className'];
      const row = (r: ImageScore) => ({
        id: r.id, score: r.score, isAnomaly: r.isAnomaly, mse: r.scores.mse, ssim: r.scores.ssim, density: r.scores.density,
        ...(r.scores.transform !== undefined ? { transform: r.scores.transform } : {}),
        ...(r.scores.segment !== undefined ? { segment: r.scores.segment } : {}), combined: r.scores.combined,
        ...(r.label !== undefined ? { label: r.label } : {}), ...(r.className !== undefined ? { className: r.className } : {}),
      });
      const format = a.format as 'json' | 'jsonl' | 'csv';
      const out = openOutput(a.out as string | undefined);
      const { statusLine } = await import('../../train/progress.js');
      const status = a.quiet ? { update() {}, done() {} } : statusLine();
      let scored = 0, flagged = 0;
      const t0 = Date.now();
      try {
        if (format === 'csv') await out.write(cols.join(',') + '\n');
        // the JSON head is written with the first rows, so that input of which nothing can be read prints nothing
        let headWritten = format !== 'json';
        const head = async () => {
          if (headWritten) return;
          headWritten = true;
          await out.write(`{\n "model": ${JSON.stringify(a._[0])},\n "score": ${JSON.stringify(kind)},\n "threshold": ${JSON.stringify(threshold)},\n` +
            `${shard ? ` "shard": ${JSON.stringify(`${shard.index}/${shard.count}`)},\n` : ''} "results": [`);
        };
        let unreadable: NothingReadableError | undefined, unreadableCount = 0;
        for (let start = 0; start < entries.length; start += CHUNK) {
          const chunk = entries.slice(start, start + CHUNK);
          const source: ImageSource = {
            items: chunk.map((e) => e.item),
            load: (i, pre) => chunk[i]!.source.load(chunk[i]!.index, pre),
          };
          let results: ImageScore[];
          try {
            results = await det.score(source, {
              normalClass, strict: a.strict as boolean, batchSize: a['batch-size'] as number, score: a.score as 'recon' | undefined,
              rule: a.rule as 'score' | 'either', maps: false, onWarning: warn,
            });
          } catch (e) {
            // a chunk of only unreadable files (each named in a warning) is not the end of a big folder
            if (!(e instanceof NothingReadableError)) throw e;
            unreadable ??= e;
            unreadableCount += e.skipped;
            results = [];
          }
          let text = '';
          for (const r of results) {
            const o = row(r);
            if (format === 'csv') text += cols.map((c) => csvField((o as Record<string, unknown>)[c])).join(',') + '\n';
            else if (format === 'jsonl') text += JSON.stringify(o) + '\n';
            else text += `${scored === 0 ? '\n' : ',\n'}  ${JSON.stringify(o)}`;
            scored++;
            if (r.isAnomaly) flagged++;
          }
          if (results.length) await head();
          await out.write(text);
          const done = Math.min(start + CHUNK, entries.length);
          const rate = done / Math.max((Date.now() - t0) / 1000, 1e-3);
          status.update(`scored ${done}/${entries.length} images, ${flagged} flagged (${rate.toFixed(0)} images/s)`);
        }
        if (scored === 0 && unreadable) throw unreadableCount === unreadable.skipped ? unreadable : new Error(`none of the ${unreadableCount} images could be read; each is named in the warnings above`);
        await head();
        if (format === 'json') await out.write(`${scored ? '\n ' : ''}]\n}\n`);
        status.done();
        out.close();
      } catch (e) {
        status.done();
        out.abort();
        throw e;
      }
      if (a.maps) {
        // maps are written in a second pass (report/heatmap.ts), on the model's own error scale
        const { writeMapFiles } = await import('../../report/heatmap.js');
        const m = await writeMapFiles(det, shard ? [entries.map((e) => e.item.id)] : groups, a.maps as string, {
          style: a['maps-style'] as 'overlay' | 'bare', map: a['map-kind'] as 'mse' | 'ssim', normalClass,
          strict: a.strict as boolean, batchSize: a['batch-size'] as number,
        });
        if (!a.quiet) process.stderr.write(`${m.files.length} error maps in ${a.maps as string} (colour scale: ${m.legend})\n`);
      }
      if (!a.quiet) {
        process.stderr.write(`${scored} images scored${shard ? ` (shard ${shard.index}/${shard.count})` : ''}, ${flagged} flagged as anomalous ` +
          `(threshold ${threshold.toPrecision(4)} on ${kind})${a.out ? `; written to ${a.out as string}` : ''}\n`);
      }
    } finally {
      det.dispose();
    }
  },
};
export default command;
