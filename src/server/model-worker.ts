/**
 * The worker thread behind a ModelHost (model-host.ts): loads one model, warms it, then scores
 * the batches the main thread sends, decoding the uploaded bytes here too, and frees the model
 * when asked to close. Everything it answers is plain data (maps move back without a copy).
 * It exports nothing: it is a worker's entry, and importing it elsewhere would run main().
 */
import { parentPort, workerData } from 'node:worker_threads';
import sharp from 'sharp';
import { Detector } from '../detector.js';
import { memorySource } from '../data/memory.js';
import { setNumThreads } from '../engine/runtime.js';
import type { FromWorker, HostInfo, HostJob, HostOutcome, ToWorker, WorkerInit } from './model-host.js';

/** Multiplier of the per-image threshold that tops the overlay's colour map. */
const MAP_SCALE_FACTOR = 4;

/** What a client needs to know of a model: the manifest's settings and training summary, without its tensors. */
function modelSummary(d: Detector): Record<string, unknown> {
  const t = d.training;
  return {
    model: d.modelKind, device: d.device, preprocessing: d.preprocessing, architecture: d.architecture,
    score: d.scoreKind, scores: d.scoreKinds, combine: d.combine,
    thresholds: Object.fromEntries(Object.entries(d.thresholds).map(([k, v]) => [k, v?.value])),
    ...(t ? {
      training: {
        items: t.items, validationItems: t.validationItems, epochs: t.epochs, bestEpoch: t.bestEpoch, seconds: t.seconds,
        device: t.device, engine: t.engine, stoppedEarly: t.stoppedEarly, skipped: t.skipped.length,
        ...(t.normalClass !== undefined ? { normalClass: t.normalClass } : {}),
        history: t.history.map((h) => ({ epoch: h.epoch, trainLoss: h.trainLoss, ...(h.valLoss !== undefined ? { valLoss: h.valLoss } : {}) })),
      },
    } : {}),
  };
}

/** One forward pass on a mid-gray image of the model's size: the first request does not pay for start-up. */
async function warm(detector: Detector): Promise<void> {
  const { width, height } = detector.preprocessing;
  const png = await sharp({ create: { width, height, channels: 3, background: { r: 128, g: 128, b: 128 } } }).png().toBuffer();
  const r = await detector.score(memorySource([png], ['warm-up']), { maps: detector.mapKind, batchSize: 1 });
  if (r.length !== 1 || !Number.isFinite(r[0]!.score)) throw new Error('warm-up forward pass gave no score');
}

/** Scores one batch of uploads: an outcome per image, a 422 failure for each that does not decode. */
async function scoreUploads(det: Detector, jobs: HostJob[]): Promise<HostOutcome[]> {
  const failed = new Map<number, string>();
  // ids are the batch positions: clients may send two images of the same name
  const source = memorySource(jobs.map((j) => j.bytes), jobs.map((_, i) => String(i)), { onError: (i, reason) => failed.set(i, reason) });
  const mapKind = det.mapKind;
  let results: Awaited<ReturnType<typeof det.score>>;
  try {
    results = await det.score(source, { maps: jobs.some((j) => j.map) ? mapKind : false, batchSize: jobs.length });
  } catch (err) {
    // a batch of only unreadable images is an error of the scorer; here each image gets its own 422
    if (failed.size !== jobs.length) throw err;
    results = [];
  }
  const threshold = det.thresholds[det.scoreKind]!.value;
  const mapScale = MAP_SCALE_FACTOR * det.thresholds[mapKind]!.value;
  const byIndex = new Map(results.map((r) => [Number(r.id), r]));
  return jobs.map((j, i): HostOutcome => {
    const r = byIndex.get(i);
    if (!r) return { failed: { status: 422, code: 'corrupt_image', message: `cannot decode the image: ${failed.get(i) ?? 'unreadable'}` } };
    return {
      score: r.score, isAnomaly: r.isAnomaly, threshold, scores: r.scores, flags: r.flags,
      ...(j.map && r.map ? { map: r.map, mapScale } : {}),
    };
  });
}

async function main(): Promise<void> {
  const port = parentPort!;
  const init = workerData as WorkerInit;
  const send = (m: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);
  // libtorch's OpenMP threads are set per calling thread: the main thread's setting does not reach here
  if (init.threads !== undefined) setNumThreads(init.threads);
  let det: Detector;
  try {
    det = Detector.load(init.dir, { device: init.device });
    try {
      await warm(det);
    } catch (err) {
      det.dispose();
      throw err;
    }
  } catch (err) {
    send({ type: 'failed', message: (err as Error).message });
    port.close();
    return;
  }
  const info: HostInfo = { summary: modelSummary(det), scoreKind: det.scoreKind, preprocessing: det.preprocessing };
  // batches run one at a time, in the order they came (the batcher sends one at a time anyway)
  let queue = Promise.resolve();
  port.on('message', (m: ToWorker) => {
    if (m.type === 'close') {
      queue = queue.then(() => {
        det.dispose();
        port.close();
      });
      return;
    }
    queue = queue.then(async () => {
      try {
        const outcomes = await scoreUploads(det, m.jobs);
        // maps may be views of one batch buffer: each buffer moves once
        const maps = new Set(outcomes.flatMap((o) => ('map' in o && o.map ? [o.map.buffer as ArrayBuffer] : [])));
        send({ type: 'scored', id: m.id, outcomes }, [...maps]);
      } catch (err) {
        send({ type: 'error', id: m.id, message: (err as Error).message });
      }
    });
  });
  send({ type: 'ready', info });
}

void main();
